/**
 * Resolution: the merged variables and files of one workload for one scope
 * (docs/architecture.md, "Resolution rules").
 * Pure: the same snapshot always gives the same result, whatever order groups were created in.
 */
import { createHash } from 'node:crypto';
import { addonValues } from './addon-links.js';
import { DomainError, notFound, precondition } from './errors.js';
import { LIMITS } from './limits.js';
import { expandAll } from './templates.js';
import type {
  Conflict,
  ProjectSnapshot,
  Provenance,
  ResolveScope,
  ResolvedFile,
  Resolution,
  SecretGroup,
  Source,
  Vars,
  Workload,
} from './types.js';

/** A group with its templates expanded and addon links applied; independent of the workload. */
export interface PreparedGroup {
  group: SecretGroup;
  /**
   * Expanded on first use, so only groups that reach some resolved workload are expanded.
   * Throws FAILED_PRECONDITION naming the group when its expansion is over the group limit
   * (refused at save; only older data gets here): the workloads it reaches fail, no other.
   */
  readonly values: Vars;
  /** alias -> addon, for keys that came from an addon link. */
  addonOrigin: Map<string, string>;
}

/** Merge order: priority descending, then name ascending (the deterministic tie-break). */
export function mergeOrder(a: SecretGroup, b: SecretGroup): number {
  return b.priority - a.priority || (a.name < b.name ? -1 : a.name > b.name ? 1 : 0);
}

export function prepareGroup(group: SecretGroup, snapshot: Pick<ProjectSnapshot, 'addons'>): PreparedGroup {
  const { values: linked, origin } = addonValues(group.addonLinks, snapshot.addons);
  let values: Vars | undefined;
  let failure: DomainError | undefined;
  return {
    group,
    addonOrigin: origin,
    get values(): Vars {
      if (values) return values;
      if (failure) throw failure;
      try {
        values = { ...linked, ...expandAll(group.variables, linked, LIMITS.groupBytes) };
        return values;
      } catch (e) {
        failure = precondition(`group ${group.name} cannot be resolved: ${(e as Error).message}; fix or delete the group`);
        throw failure;
      }
    },
  };
}

/** Every group of the project, expanded, in merge order. Cache this per snapshot. */
export function prepareGroups(snapshot: ProjectSnapshot): PreparedGroup[] {
  return [...snapshot.groups.values()].sort(mergeOrder).map((g) => prepareGroup(g, snapshot));
}

/** Scope and restriction rules: whether a group reaches a workload for a scope. */
export function isEligible(group: SecretGroup, workload: Workload, scope: ResolveScope): boolean {
  if (group.scope !== 'both' && group.scope !== scope) return false;
  const r = group.restrictions;
  if (!r.restricted) return true;
  if (r.workloads.includes(workload.name)) return true;
  return r.tags.some((tag) => workload.tags.includes(tag));
}

export function resolve(
  snapshot: ProjectSnapshot,
  workloadName: string,
  scope: ResolveScope,
  prepared: readonly PreparedGroup[] = prepareGroups(snapshot),
): Resolution {
  const workload = snapshot.workloads.get(workloadName);
  if (!workload) throw notFound(`workload ${snapshot.project.name}/${workloadName}`);
  return resolveWorkload(snapshot.project.name, workload, scope, prepared);
}

export function resolveWorkload(
  project: string,
  workload: Workload,
  scope: ResolveScope,
  prepared: readonly PreparedGroup[],
  /**
   * Per-key provenance (for Explain; off, the result is much smaller to keep cached);
   * `etag: false` skips hashing every value (previews compare values directly).
   */
  opts: { provenance?: boolean; etag?: boolean } = {},
): Resolution {
  const withProvenance = opts.provenance ?? true;
  const eligible = prepared.filter((p) => isEligible(p.group, workload, scope));
  if (!withProvenance) return merged(project, workload, scope, eligible, opts.etag !== false);

  const variables: Vars = {};
  const varSources = new Map<string, Source[]>();
  const fileByPath = new Map<string, ResolvedFile>();
  const fileSources = new Map<string, Source[]>();
  for (const p of eligible) {
    const g = p.group;
    const values = p.values;
    for (const key of Object.keys(values)) {
      const addon = p.addonOrigin.get(key);
      const source: Source = addon
        ? { kind: 'addon', group: g.name, priority: g.priority, addon }
        : { kind: 'group', group: g.name, priority: g.priority };
      const list = varSources.get(key);
      if (list) list.push(source);
      else {
        varSources.set(key, [source]);
        variables[key] = values[key]!;
      }
    }
    for (const file of g.files) {
      const source: Source = { kind: 'group', group: g.name, priority: g.priority };
      const list = fileSources.get(file.path);
      if (list) list.push(source);
      else {
        fileSources.set(file.path, [source]);
        fileByPath.set(file.path, { path: file.path, content: file.content, mode: file.mode });
      }
    }
  }

  const own = scope === 'runtime' ? workload.runtimeVariables : workload.buildArguments;
  const ownKeys = new Set(Object.keys(own));
  for (const key of ownKeys) variables[key] = own[key]!;

  const conflicts: Conflict[] = [];
  const provenance: Provenance[] = [];
  const contributing = new Set<string>();
  for (const key of [...new Set([...varSources.keys(), ...ownKeys])].sort()) {
    const sources = varSources.get(key) ?? [];
    if (ownKeys.has(key)) {
      provenance.push({ key, winner: { kind: 'workload' }, shadowed: sources, conflict: false });
      continue;
    }
    const [winner, ...shadowed] = sources as [Source, ...Source[]];
    const tied = sources.filter((s) => s.priority === winner.priority);
    const conflict = tied.length > 1;
    if (conflict) {
      conflicts.push({ key, priority: winner.priority!, groups: tied.map((s) => s.group!), winner: winner.group! });
    }
    contributing.add(winner.group!);
    provenance.push({ key, winner, shadowed, conflict });
  }
  const fileProvenance: Provenance[] = [];
  for (const path of [...fileSources.keys()].sort()) {
    const [winner, ...shadowed] = fileSources.get(path)! as [Source, ...Source[]];
    const tied = [winner, ...shadowed].filter((s) => s.priority === winner.priority);
    if (tied.length > 1) {
      conflicts.push({ key: path, priority: winner.priority!, groups: tied.map((s) => s.group!), winner: winner.group! });
    }
    contributing.add(winner.group!);
    fileProvenance.push({ key: path, winner, shadowed, conflict: tied.length > 1 });
  }

  const files = [...fileByPath.values()].sort((a, b) => (a.path < b.path ? -1 : 1));
  const sortedVars: Vars = {};
  for (const key of Object.keys(variables).sort()) sortedVars[key] = variables[key]!;
  return {
    project,
    workload: workload.name,
    scope,
    variables: sortedVars,
    files,
    etag: opts.etag === false ? '' : etagOf(sortedVars, files),
    provenance: withProvenance ? provenance : [],
    fileProvenance: withProvenance ? fileProvenance : [],
    conflicts,
    contributingGroups: [...contributing].sort(),
    eligibleGroups: eligible.map((p) => p.group.name).sort(),
  };
}

/**
 * The resolution without provenance (what Resolve and Watch cache): the same variables, files,
 * conflicts and groups as the provenance path above, without a source list per key. It runs
 * for every watched identity on every change of its project, so it allocates per key only
 * what it returns.
 */
function merged(project: string, workload: Workload, scope: ResolveScope, eligible: readonly PreparedGroup[], withEtag: boolean): Resolution {
  const variables: Vars = {};
  /** key -> the group that set it first (the winner); for keys set again at its priority, every tied group. */
  const winners = new Map<string, SecretGroup>();
  const tiedKeys = new Map<string, string[]>();
  const fileWinners = new Map<string, { file: ResolvedFile; group: SecretGroup }>();
  const tiedFiles = new Map<string, string[]>();
  for (const p of eligible) {
    const g = p.group;
    const values = p.values;
    for (const key of Object.keys(values)) {
      const winner = winners.get(key);
      if (!winner) {
        winners.set(key, g);
        variables[key] = values[key]!;
      } else if (winner.priority === g.priority) tie(tiedKeys, key, winner.name, g.name);
    }
    for (const file of g.files) {
      const winner = fileWinners.get(file.path);
      if (!winner) fileWinners.set(file.path, { file: { path: file.path, content: file.content, mode: file.mode }, group: g });
      else if (winner.group.priority === g.priority) tie(tiedFiles, file.path, winner.group.name, g.name);
    }
  }
  const own = scope === 'runtime' ? workload.runtimeVariables : workload.buildArguments;
  for (const key of Object.keys(own)) variables[key] = own[key]!;

  const conflicts: Conflict[] = [];
  const contributing = new Set<string>();
  const sortedVars: Vars = {};
  for (const key of Object.keys(variables).sort()) {
    sortedVars[key] = variables[key]!;
    if (Object.hasOwn(own, key)) continue;
    const winner = winners.get(key)!;
    contributing.add(winner.name);
    const tied = tiedKeys.get(key);
    if (tied) conflicts.push({ key, priority: winner.priority, groups: tied, winner: winner.name });
  }
  const paths = [...fileWinners.keys()].sort();
  const files: ResolvedFile[] = [];
  for (const path of paths) {
    const { file, group } = fileWinners.get(path)!;
    files.push(file);
    contributing.add(group.name);
    const tied = tiedFiles.get(path);
    if (tied) conflicts.push({ key: path, priority: group.priority, groups: tied, winner: group.name });
  }
  return {
    project,
    workload: workload.name,
    scope,
    variables: sortedVars,
    files,
    etag: withEtag ? etagOf(sortedVars, files) : '',
    provenance: [],
    fileProvenance: [],
    conflicts,
    contributingGroups: [...contributing].sort(),
    eligibleGroups: eligible.map((p) => p.group.name).sort(),
  };
}

/** Records `name` as tied with `winner` on `key` (the winner first, then in merge order). */
function tie(ties: Map<string, string[]>, key: string, winner: string, name: string): void {
  const list = ties.get(key);
  if (list) list.push(name);
  else ties.set(key, [winner, name]);
}

/** Hash of the canonical content (sorted keys, files by path): equal content, equal etag. */
export function etagOf(variables: Vars, files: readonly ResolvedFile[]): string {
  const h = createHash('sha256');
  // The variables as one string, hashed in one call: the same bytes as one call per piece (the
  // digest is unchanged), without a crossing into the hash's native code per key and value.
  let text = '';
  for (const key of Object.keys(variables).sort()) {
    const value = variables[key]!;
    text += `v${key.length}:${key}${Buffer.byteLength(value)}:${value}`;
  }
  h.update(text);
  for (const f of [...files].sort((a, b) => (a.path < b.path ? -1 : 1))) {
    h.update(`f${Buffer.byteLength(f.path)}:${f.path}${f.mode}:${f.content.byteLength}:`);
    h.update(f.content);
  }
  return h.digest('base64url').slice(0, 27);
}
