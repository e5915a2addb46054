/**
 * Sizes as resolution sees them, computed without expanding anything: a group's expanded size
 * (bounded by LIMITS.groupBytes at save) and a workload's resolution size (bounded by
 * LIMITS.resolutionBytes at save). Sizes are UTF-8 bytes of keys and values plus file paths
 * and contents.
 */
import { addonValues } from './addon-links.js';
import { tooLarge } from './errors.js';
import { LIMITS } from './limits.js';
import { isEligible, mergeOrder } from './resolve.js';
import { expandedSizes } from './templates.js';
import type { Addon, ProjectSnapshot, ResolveScope, SecretGroup, Vars, Workload } from './types.js';

export interface GroupSizes {
  /** Keys, expanded values, linked addon keys and files, in bytes. */
  bytes: number;
  /** Each variable and addon alias: its key plus its expanded value, in bytes. */
  vars: ReadonlyMap<string, number>;
  /** Each file: its path plus its content, in bytes. */
  files: ReadonlyMap<string, number>;
  /** The variable with the largest expansion ('' when the group has none). */
  largest: string;
}

/**
 * Per-key sizes saturate here (a doubling chain would overflow any number): far above every
 * limit, so a size below it is exact and one above it reads "more than".
 */
const SATURATE = 1024 * 1024 * 1024;

/** Groups are immutable records: sizes are computed once per record and the addons it links. */
const cache = new WeakMap<SecretGroup, { linked: (Addon | undefined)[]; sizes: GroupSizes }>();

export function groupSizes(group: SecretGroup, addons: ReadonlyMap<string, Addon>): GroupSizes {
  const linkedAddons = group.addonLinks.map((l) => addons.get(l.addon));
  const hit = cache.get(group);
  if (hit && hit.linked.length === linkedAddons.length && hit.linked.every((a, i) => a === linkedAddons[i])) return hit.sizes;
  const { values: linked } = addonValues(group.addonLinks, addons);
  const expanded = expandedSizes(group.variables, linked, SATURATE);
  const vars = new Map<string, number>();
  let bytes = 0;
  let largest = '';
  for (const key of Object.keys(group.variables)) {
    const n = expanded.get(key)!;
    vars.set(key, Buffer.byteLength(key) + n);
    if (!largest || n > expanded.get(largest)!) largest = key;
  }
  for (const [alias, value] of Object.entries(linked)) vars.set(alias, Buffer.byteLength(alias) + Buffer.byteLength(value));
  const files = new Map<string, number>();
  for (const f of group.files) files.set(f.path, Buffer.byteLength(f.path) + f.content.byteLength);
  for (const n of vars.values()) bytes += n;
  for (const n of files.values()) bytes += n;
  const sizes = { bytes, vars, files, largest };
  cache.set(group, { linked: linkedAddons, sizes });
  return sizes;
}

/** Refuses a group whose expansion would exceed the group limit, naming its largest key. */
export function checkExpandedGroup(group: SecretGroup, addons: ReadonlyMap<string, Addon>): void {
  const s = groupSizes(group, addons);
  if (s.bytes <= LIMITS.groupBytes) return;
  const largest = s.largest ? ` (variable ${s.largest} expands to ${describe(s.vars.get(s.largest)! - Buffer.byteLength(s.largest))})` : '';
  throw tooLarge(`group ${group.name} would expand to ${describe(s.bytes)}, more than the limit of ${LIMITS.groupBytes} bytes${largest}`);
}

export interface OversizedResolution {
  workload: string;
  scope: ResolveScope;
  bytes: number;
}

/**
 * The first of `workloads` whose resolution (either scope) would be larger than `limit`, or
 * null. Cheap first: the sum of every group's size bounds every resolution; then the sum of the
 * eligible groups' sizes bounds one; only past both is the merge counted key by key.
 */
export function findOversizedResolution(
  snapshot: Pick<ProjectSnapshot, 'groups' | 'addons'>,
  workloads: Iterable<Workload>,
  limit: number = LIMITS.resolutionBytes,
): OversizedResolution | null {
  const groups = [...snapshot.groups.values()].sort(mergeOrder);
  const sizes = new Map(groups.map((g) => [g, groupSizes(g, snapshot.addons)]));
  let all = 0;
  for (const s of sizes.values()) all += s.bytes;
  for (const w of workloads) {
    for (const scope of ['runtime', 'build'] as const) {
      const own = scope === 'runtime' ? w.runtimeVariables : w.buildArguments;
      const ownBytes = varsBytes(own);
      if (all + ownBytes <= limit) continue;
      const eligible = groups.filter((g) => isEligible(g, w, scope));
      let bound = ownBytes;
      for (const g of eligible) bound += sizes.get(g)!.bytes;
      if (bound <= limit) continue;
      const bytes = mergedBytes(eligible.map((g) => sizes.get(g)!), own, ownBytes);
      if (bytes > limit) return { workload: w.name, scope, bytes };
    }
  }
  return null;
}

/** Refuses a change after which a workload's resolution would exceed the limit. */
export function checkResolutionSizes(snapshot: Pick<ProjectSnapshot, 'groups' | 'addons'>, workloads: Iterable<Workload>): void {
  const over = findOversizedResolution(snapshot, workloads);
  if (over) {
    throw tooLarge(
      `workload ${over.workload} would resolve to ${describe(over.bytes)} (${over.scope}), more than the limit of ${LIMITS.resolutionBytes} bytes`,
    );
  }
}

/** The merged size: each key and path counted once, for the group that wins it. */
function mergedBytes(ordered: readonly GroupSizes[], own: Vars, ownBytes: number): number {
  const seen = new Set(Object.keys(own));
  const paths = new Set<string>();
  let n = ownBytes;
  for (const s of ordered) {
    for (const [key, b] of s.vars) {
      if (!seen.has(key)) {
        seen.add(key);
        n += b;
      }
    }
    for (const [path, b] of s.files) {
      if (!paths.has(path)) {
        paths.add(path);
        n += b;
      }
    }
  }
  return n;
}

export function varsBytes(vars: Vars): number {
  let n = 0;
  for (const [k, v] of Object.entries(vars)) n += Buffer.byteLength(k) + Buffer.byteLength(v);
  return n;
}

function describe(bytes: number): string {
  return bytes > SATURATE ? `more than ${SATURATE} bytes` : `${bytes} bytes`;
}
