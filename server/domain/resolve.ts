/**
 * Resolution: the merged variables and files of one workload for one scope
 * (docs/architecture.md, "Resolution rules").
 * Pure: the same snapshot always gives the same result, whatever order groups were created in.
 */
import { createHash, hash } from 'node:crypto';
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
  SecretFile,
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
 * for every watched identity on every change of its project, so it allocates little beyond
 * what it returns (the young generation's collections are most of a large fan-out's cost).
 */
function merged(project: string, workload: Workload, scope: ResolveScope, eligible: readonly PreparedGroup[], withEtag: boolean): Resolution {
  /** key -> the group that set it first (the winner); for keys set again at its priority, every tied group. */
  const winners = new Map<string, PreparedGroup>();
  let tiedKeys: Map<string, string[]> | undefined;
  let fileWinners: Map<string, { file: SecretFile; group: SecretGroup }> | undefined;
  let tiedFiles: Map<string, string[]> | undefined;
  for (const p of eligible) {
    const g = p.group;
    const values = p.values;
    for (const key of Object.keys(values)) {
      const winner = winners.get(key);
      if (!winner) winners.set(key, p);
      else if (winner.group.priority === g.priority) tiedKeys = tie(tiedKeys, key, winner.group.name, g.name);
    }
    for (const file of g.files) {
      const winner = (fileWinners ??= new Map()).get(file.path);
      if (!winner) fileWinners.set(file.path, { file, group: g });
      else if (winner.group.priority === g.priority) tiedFiles = tie(tiedFiles, file.path, winner.group.name, g.name);
    }
  }
  const own = scope === 'runtime' ? workload.runtimeVariables : workload.buildArguments;
  const keys = [...winners.keys()];
  for (const key of Object.keys(own)) if (!winners.has(key)) keys.push(key);
  keys.sort();

  const conflicts: Conflict[] = [];
  const contributing = new Set<string>();
  const variables: Vars = {};
  // The etag's text of the variables (see etagOf), written in the same pass.
  const text = withEtag ? new EtagText() : undefined;
  for (const key of keys) {
    let value: string;
    if (Object.hasOwn(own, key)) value = own[key]!;
    else {
      const winner = winners.get(key)!;
      value = winner.values[key]!;
      contributing.add(winner.group.name);
      const tied = tiedKeys?.get(key);
      if (tied) conflicts.push({ key, priority: winner.group.priority, groups: tied, winner: winner.group.name });
    }
    variables[key] = value;
    text?.add(key, value);
  }
  const files: ResolvedFile[] = [];
  if (fileWinners) {
    for (const path of [...fileWinners.keys()].sort()) {
      const { file, group } = fileWinners.get(path)!;
      files.push({ path: file.path, content: file.content, mode: file.mode });
      contributing.add(group.name);
      const tied = tiedFiles?.get(path);
      if (tied) conflicts.push({ key: path, priority: group.priority, groups: tied, winner: group.name });
    }
  }
  return {
    project,
    workload: workload.name,
    scope,
    variables,
    files,
    etag: text ? etagFrom(text.bytes(), files) : '',
    provenance: [],
    fileProvenance: [],
    conflicts,
    contributingGroups: [...contributing].sort(),
    eligibleGroups: eligible.map((p) => p.group.name).sort(),
  };
}

/** Records `name` as tied with `winner` on `key` (the winner first, then in merge order). */
function tie(ties: Map<string, string[]> | undefined, key: string, winner: string, name: string): Map<string, string[]> {
  const map = ties ?? new Map<string, string[]>();
  const list = map.get(key);
  if (list) list.push(name);
  else map.set(key, [winner, name]);
  return map;
}

/** Hash of the canonical content (sorted keys, files by path): equal content, equal etag. */
export function etagOf(variables: Vars, files: readonly ResolvedFile[]): string {
  const text = new EtagText();
  for (const key of Object.keys(variables).sort()) text.add(key, variables[key]!);
  return etagFrom(text.bytes(), files);
}

/**
 * The etag of the variables' text and the files. The digest is that of hashing each piece in
 * turn, as earlier releases did (agents hold etags across upgrades); without files, one
 * one-shot hash of the text.
 */
function etagFrom(text: Uint8Array, files: readonly ResolvedFile[]): string {
  if (files.length === 0) return hash('sha256', text, 'base64url').slice(0, 27);
  const h = createHash('sha256');
  h.update(text);
  for (const f of [...files].sort((a, b) => (a.path < b.path ? -1 : 1))) {
    h.update(`f${Buffer.byteLength(f.path)}:${f.path}${f.mode}:${f.content.byteLength}:`);
    h.update(f.content);
  }
  return h.digest('base64url').slice(0, 27);
}

/**
 * The etag of variables without files, given in key order: for callers that make a workload's
 * resolution from another one's bytes (the API's overlay). Used synchronously, like every
 * etag's text (one shared buffer).
 */
export class VariablesEtag {
  private readonly text = new EtagText();

  add(key: string, value: string): void {
    this.text.add(key, value);
  }

  /** A variable as UTF-8 in `bytes`; its key ASCII (so that its length in UTF-16 is its byte length). */
  addUtf8(bytes: Uint8Array, keyStart: number, keyEnd: number, valueStart: number, valueEnd: number): void {
    this.text.addUtf8(bytes, keyStart, keyEnd, valueStart, valueEnd);
  }

  etag(): string {
    return etagFrom(this.text.bytes(), []);
  }
}

/** Grown as needed, never shrunk: one etag's text at a time (written and hashed synchronously). */
let scratch = Buffer.allocUnsafeSlow(64 * 1024);

/**
 * The variables' part of the etag's text, `v<key length>:<key><value bytes>:<value>` per key in
 * key order, written as UTF-8 into a buffer shared by every resolution: building it as a string
 * made several intermediate strings per key, a third of a resolution's allocations.
 */
class EtagText {
  private length = 0;

  add(key: string, value: string): void {
    const valueBytes = Buffer.byteLength(value);
    // 'v', two numbers of at most 16 digits, two ':', the key (at most 3 bytes per UTF-16 unit).
    this.reserve(40 + key.length * 3 + valueBytes);
    const b = scratch;
    b[this.length++] = 0x76; // v
    this.digits(key.length);
    b[this.length++] = 0x3a; // :
    this.length += b.write(key, this.length, 'utf8');
    this.digits(valueBytes);
    b[this.length++] = 0x3a;
    this.length += b.write(value, this.length, 'utf8');
  }

  /** As add, from UTF-8 bytes; the key ASCII. */
  addUtf8(bytes: Uint8Array, keyStart: number, keyEnd: number, valueStart: number, valueEnd: number): void {
    this.reserve(40 + keyEnd - keyStart + valueEnd - valueStart);
    const b = scratch;
    b[this.length++] = 0x76; // v
    this.digits(keyEnd - keyStart);
    b[this.length++] = 0x3a; // :
    // Byte loops: keys and values are short, and a subarray per copy cost more than the copy.
    for (let i = keyStart; i < keyEnd; i++) b[this.length++] = bytes[i]!;
    this.digits(valueEnd - valueStart);
    b[this.length++] = 0x3a;
    for (let i = valueStart; i < valueEnd; i++) b[this.length++] = bytes[i]!;
  }

  /** The text so far: a view of the shared buffer, valid until the next EtagText writes. */
  bytes(): Uint8Array {
    return scratch.subarray(0, this.length);
  }

  /** A non-negative integer in decimal, written from its last digit back. */
  private digits(n: number): void {
    let count = 1;
    for (let rest = n; rest >= 10; rest = Math.floor(rest / 10)) count++;
    this.length += count;
    for (let at = this.length - 1, rest = n; at >= this.length - count; at--, rest = Math.floor(rest / 10)) scratch[at] = 0x30 + (rest % 10);
  }

  private reserve(bytes: number): void {
    if (this.length + bytes <= scratch.length) return;
    const grown = Buffer.allocUnsafeSlow(Math.max(scratch.length * 2, this.length + bytes));
    scratch.copy(grown, 0, 0, this.length);
    scratch = grown;
  }
}
