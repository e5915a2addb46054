/**
 * `sg group dependents` (the workloads a group reaches, and which of its keys win there) and
 * `sg group diff` (what changed between two revisions; values where the caller may read them:
 * always with --json, in human output only with --show-values).
 */
import type { Command } from 'commander';
import { Scope } from '../../gen/light/secretgroups/v1/resources.js';
import {
  DiffGroupRevisionsRequest,
  ListGroupDependentsRequest,
  type DiffGroupRevisionsResponse,
  type ListGroupDependentsResponse,
  SecretGroupServiceDefinition,
} from '../../gen/light/secretgroups/v1/secret_group_service.js';
import { parseResolveScope, parseRevision } from '../args.js';
import { withSession } from '../client.js';
import { usage } from '../errors.js';
import { emit, JSON_VALUES, withAddr, withJson } from '../kit.js';
import { list, table } from '../output.js';

interface Opts {
  addr?: string;
  json?: boolean;
  scope?: string;
  showValues?: boolean;
}

const scopeName = (s: Scope) => (s === Scope.SCOPE_BUILD ? 'build' : 'runtime');

export function dependentsJson(res: ListGroupDependentsResponse) {
  return {
    dependents: res.dependents.map((d) => ({
      workload: d.workload,
      scope: scopeName(d.scope),
      winningKeys: d.winningKeys,
      shadowedKeys: d.shadowedKeys,
      winningFiles: d.winningFiles,
      shadowedFiles: d.shadowedFiles,
    })),
  };
}

/** Each dependent workload once, with its scopes: "api (runtime, build)". */
export function dependentWorkloads(res: ListGroupDependentsResponse): { workload: string; scopes: string[] }[] {
  const by = new Map<string, string[]>();
  for (const d of res.dependents) by.set(d.workload, [...(by.get(d.workload) ?? []), scopeName(d.scope)]);
  return [...by].map(([workload, scopes]) => ({ workload, scopes }));
}

export const dependentsLine = (ws: { workload: string; scopes: string[] }[]): string =>
  ws.length ? `${ws.length} workload(s): ${ws.map((w) => `${w.workload} (${w.scopes.join(', ')})`).join(', ')}` : 'no workload';

export function dependentsHuman(res: ListGroupDependentsResponse): string {
  if (!res.dependents.length) return 'No workload inherits this group.\n';
  return table(
    ['WORKLOAD', 'SCOPE', 'WINS', 'SHADOWED'],
    res.dependents.map((d) => [d.workload, scopeName(d.scope), list([...d.winningKeys, ...d.winningFiles]), list([...d.shadowedKeys, ...d.shadowedFiles])]),
  );
}

export function diffJson(d: DiffGroupRevisionsResponse) {
  return {
    fromRevision: d.fromRevision,
    toRevision: d.toRevision,
    addedKeys: d.addedKeys,
    removedKeys: d.removedKeys,
    changedKeys: d.changedKeys,
    addedFiles: d.addedFiles,
    removedFiles: d.removedFiles,
    changedFiles: d.changedFiles,
    settings: d.settings.map((s) => ({ name: s.name, from: s.from, to: s.to })),
    valuesRedacted: d.valuesRedacted,
    // null where the caller may see keys only
    fromValues: d.valuesRedacted ? null : d.fromValues,
    toValues: d.valuesRedacted ? null : d.toValues,
  };
}

export function diffHuman(d: DiffGroupRevisionsResponse, asked: boolean): string {
  const v = (map: Record<string, string>, k: string) => (d.valuesRedacted ? '' : `=${map[k] ?? ''}`);
  const lines = [
    `revision ${d.fromRevision} → ${d.toRevision}`,
    ...d.addedKeys.map((k) => `+ ${k}${v(d.toValues, k)}`),
    ...d.removedKeys.map((k) => `- ${k}${v(d.fromValues, k)}`),
    ...d.changedKeys.map((k) => (d.valuesRedacted ? `~ ${k}` : `~ ${k}: ${d.fromValues[k] ?? ''} → ${d.toValues[k] ?? ''}`)),
    ...d.addedFiles.map((p) => `+ file ${p}`),
    ...d.removedFiles.map((p) => `- file ${p}`),
    ...d.changedFiles.map((p) => `~ file ${p}`),
    ...d.settings.map((s) => `~ ${s.name}: ${s.from || '(none)'} → ${s.to || '(none)'}`),
  ];
  if (lines.length === 1) lines.push('(no difference)');
  if (asked && d.valuesRedacted) lines.push('(values hidden: this token may see only the keys of this group)');
  return `${lines.join('\n')}\n`;
}

export function registerGroupInsights(group: Command): void {
  withJson(
    withAddr(
      group
        .command('dependents')
        .description('the workloads a group reaches, and which of its keys win there (keys only)')
        .argument('<project>', 'project name')
        .argument('<group>', 'group name')
        .option('--scope <scope>', 'runtime or build (default: both)'),
    ),
    '{"dependents": [...]}',
  ).action((project: string, name: string, opts: Opts) => {
    const scope = opts.scope === undefined ? Scope.SCOPE_UNSPECIFIED : parseResolveScope(opts.scope);
    return withSession(opts, async (s) => {
      const res = await s.call(SecretGroupServiceDefinition, 'listGroupDependents', ListGroupDependentsRequest.fromPartial({ project, name, scope }));
      emit(opts, () => dependentsJson(res), () => dependentsHuman(res));
    });
  });

  withJson(
    withAddr(
      group
        .command('diff')
        .description('keys, files and settings that differ between two revisions (REV2 defaults to the current one)')
        .argument('<project>', 'project name')
        .argument('<group>', 'group name')
        .argument('<rev>', 'the earlier revision (see `sg group history`)')
        .argument('[rev2]', 'the later revision (default: current)')
        .option('--show-values', `print the values of the keys that differ, where the token may read them; ${JSON_VALUES}`),
    ),
    'the difference',
  ).action((project: string, name: string, rev: string, rev2: string | undefined, opts: Opts) => {
    const fromRevision = parseRevision('REV', rev);
    if (fromRevision === 0) throw usage('REV must be a positive integer');
    const toRevision = parseRevision('REV2', rev2);
    // --json is the machine form: it asks for values like every --json (docs/architecture.md, "Values in client output").
    const keysOnly = !opts.json && !opts.showValues;
    const req = DiffGroupRevisionsRequest.fromPartial({ project, name, fromRevision, toRevision, keysOnly });
    return withSession(opts, async (s) => {
      const res = await s.call(SecretGroupServiceDefinition, 'diffGroupRevisions', req);
      emit(opts, () => diffJson(res), () => diffHuman(res, Boolean(opts.showValues)));
    });
  });
}
