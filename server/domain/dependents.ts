/**
 * Which workloads a group reaches and which of its keys win there: the eligibility rule picks
 * the workloads, each one's provenance (from the resolver, passed in) splits the group's keys
 * into winning and shadowed. Keys and paths only.
 */
import { isEligible } from './resolve.js';
import type { Provenance, ProjectSnapshot, ResolveScope } from './types.js';

export interface GroupDependent {
  workload: string;
  scope: ResolveScope;
  winningKeys: string[];
  shadowedKeys: string[];
  winningFiles: string[];
  shadowedFiles: string[];
}

/** The provenance of one workload's resolution for one scope. */
export type ExplainFn = (workload: string, scope: ResolveScope) => { provenance: Provenance[]; fileProvenance: Provenance[] };

function split(group: string, entries: Provenance[]): [winning: string[], shadowed: string[]] {
  const winning: string[] = [];
  const shadowed: string[] = [];
  for (const e of entries) {
    if (e.winner.kind !== 'workload' && e.winner.group === group) winning.push(e.key);
    else if (e.shadowed.some((s) => s.group === group)) shadowed.push(e.key);
  }
  return [winning, shadowed];
}

export function groupDependents(snapshot: ProjectSnapshot, group: string, scopes: readonly ResolveScope[], explain: ExplainFn): GroupDependent[] {
  const g = snapshot.groups.get(group);
  if (!g) return [];
  const out: GroupDependent[] = [];
  for (const w of [...snapshot.workloads.values()].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0))) {
    for (const scope of scopes) {
      if (!isEligible(g, w, scope)) continue;
      const r = explain(w.name, scope);
      const [winningKeys, shadowedKeys] = split(group, r.provenance);
      const [winningFiles, shadowedFiles] = split(group, r.fileProvenance);
      out.push({ workload: w.name, scope, winningKeys, shadowedKeys, winningFiles, shadowedFiles });
    }
  }
  return out;
}
