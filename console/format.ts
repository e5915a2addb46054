/** Display names for enums and small summaries; plain functions over generated types. */
import { GroupType, Scope, WorkloadKind, type Restrictions, type SecretGroup } from './gen.js';

export const groupTypeName = (t: GroupType): string => (t === GroupType.GROUP_TYPE_SECRET ? 'secret' : t === GroupType.GROUP_TYPE_CONFIG ? 'config' : '?');
export const scopeName = (s: Scope): string =>
  s === Scope.SCOPE_RUNTIME ? 'runtime' : s === Scope.SCOPE_BUILD ? 'build' : s === Scope.SCOPE_BOTH ? 'both' : '?';
export const kindName = (k: WorkloadKind): string => (k === WorkloadKind.WORKLOAD_KIND_JOB ? 'job' : 'service');

export function restrictionSummary(r: Restrictions | undefined): string {
  if (!r?.restricted) return 'all workloads';
  const parts: string[] = [];
  if (r.workloads.length) parts.push(`workloads: ${r.workloads.join(', ')}`);
  if (r.tags.length) parts.push(`tags: ${r.tags.join(', ')}`);
  return parts.length ? parts.join('; ') : 'nobody (restricted, empty)';
}

export const keyCount = (g: SecretGroup): number => Object.keys(g.variables).length;

export const KEY_RE = /^[A-Za-z_][A-Za-z0-9_]*$/;
export function keyProblem(key: string): string | undefined {
  if (key === '') return 'A key is required.';
  if (!KEY_RE.test(key)) return 'Keys start with a letter or "_" and hold only letters, digits and "_".';
  return undefined;
}

export const time = (ms: number): string => (ms ? new Date(ms).toISOString().replace('T', ' ').replace(/\.\d+Z$/, 'Z') : '—');
export const octal = (mode: number): string => '0' + (mode || 0o600).toString(8);
