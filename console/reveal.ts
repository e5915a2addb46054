/**
 * Revealing one masked value: one RevealValue call per value, which the server records as an
 * audited read. Pages load keys only and never hold a value they were not asked to show.
 */
import { call } from './api.js';
import { RevealKind, Scope, SecretGroupServiceDefinition } from './gen.js';

export type RevealTarget =
  | { kind: 'group'; project: string; group: string; key: string }
  | { kind: 'addon'; project: string; addon: string; key: string }
  | { kind: 'workload'; project: string; workload: string; key: string; build: boolean }
  | { kind: 'resolved'; project: string; workload: string; key: string; scope: Scope };

export async function reveal(t: RevealTarget): Promise<string> {
  const req =
    t.kind === 'group'
      ? { kind: RevealKind.REVEAL_KIND_GROUP_VARIABLE, name: t.group }
      : t.kind === 'addon'
        ? { kind: RevealKind.REVEAL_KIND_ADDON_DETAIL, name: t.addon }
        : t.kind === 'workload'
          ? { kind: t.build ? RevealKind.REVEAL_KIND_WORKLOAD_BUILD_ARGUMENT : RevealKind.REVEAL_KIND_WORKLOAD_RUNTIME_VARIABLE, name: t.workload }
          : { kind: RevealKind.REVEAL_KIND_RESOLVED_VARIABLE, name: t.workload, scope: t.scope };
  const res = await call(SecretGroupServiceDefinition, 'revealValue', { project: t.project, key: t.key, ...req });
  return res.value;
}
