/**
 * Sizes as resolution sees them, computed without expanding anything: a group's expanded size
 * (bounded by LIMITS.groupBytes at save) and a workload's resolution size (bounded by
 * LIMITS.resolutionBytes at save). Sizes are UTF-8 bytes of keys and values plus file paths
 * and contents.
 */
import { addonValues } from './addon-links.js';
import { clip, tooLarge } from './errors.js';
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
  const largest = s.largest ? ` (variable ${clip(s.largest)} expands to ${describe(s.vars.get(s.largest)! - Buffer.byteLength(s.largest))})` : '';
  throw tooLarge(`group ${group.name} would expand to ${describe(s.bytes)}, more than the limit of ${LIMITS.groupBytes} bytes${largest}`);
}

export interface OversizedResolution {
  workload: string;
  scope: ResolveScope;
  bytes: number;
}

/**
 * Which values the caller may read, per group type (workload variables and addon details count
 * as secret). A size limit answered to a caller who cannot read some values must not depend on
 * their exact lengths: accepted-or-refused would otherwise measure a secret to the byte by
 * bisection (pad a config value until the limit trips). Such values are counted here by whole
 * blocks of HIDDEN_VALUE_BLOCK bytes, at least one each, so every secret up to that size counts
 * alike and a longer one only by its block count; the check is stricter for such callers,
 * never looser (SECURITY.md "Expansion and amplification").
 */
export interface SizeView {
  secret: boolean;
  config: boolean;
}

/** Everything readable: sizes are exact. */
export const FULL_VIEW: SizeView = { secret: true, config: true };

/** 256 bytes: longer than typical keys, tokens and passwords, small beside the 4 MiB resolution limit. */
export const HIDDEN_VALUE_BLOCK = 256;

const blocks = (bytes: number) => Math.max(1, Math.ceil(bytes / HIDDEN_VALUE_BLOCK)) * HIDDEN_VALUE_BLOCK;

/** A group's sizes as a caller who cannot read its values may see them: each value by blocks. */
const maskedCache = new WeakMap<GroupSizes, GroupSizes>();
function masked(s: GroupSizes): GroupSizes {
  const hit = maskedCache.get(s);
  if (hit) return hit;
  const vars = new Map<string, number>();
  const files = new Map<string, number>();
  let bytes = 0;
  for (const [key, n] of s.vars) vars.set(key, Buffer.byteLength(key) + blocks(n - Buffer.byteLength(key)));
  for (const [path, n] of s.files) files.set(path, Buffer.byteLength(path) + blocks(n - Buffer.byteLength(path)));
  for (const n of vars.values()) bytes += n;
  for (const n of files.values()) bytes += n;
  const out = { bytes, vars, files, largest: '' };
  maskedCache.set(s, out);
  return out;
}

/** A workload's own variables (secret values) as `view` may count them. */
function ownBytesOf(own: Vars, view: SizeView): number {
  if (view.secret) return varsBytes(own);
  let n = 0;
  for (const [k, v] of Object.entries(own)) n += Buffer.byteLength(k) + blocks(Buffer.byteLength(v));
  return n;
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
  view: SizeView = FULL_VIEW,
): OversizedResolution | null {
  const groups = [...snapshot.groups.values()].sort(mergeOrder);
  const sizes = new Map(
    groups.map((g) => {
      const exact = groupSizes(g, snapshot.addons);
      return [g, view[g.type] ? exact : masked(exact)];
    }),
  );
  let all = 0;
  for (const s of sizes.values()) all += s.bytes;
  for (const w of workloads) {
    for (const scope of ['runtime', 'build'] as const) {
      const own = scope === 'runtime' ? w.runtimeVariables : w.buildArguments;
      const ownBytes = ownBytesOf(own, view);
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

/**
 * Refuses a change after which a workload's resolution would exceed the limit. The size is
 * named only to a caller who may read every value counted (see SizeView).
 */
export function checkResolutionSizes(snapshot: Pick<ProjectSnapshot, 'groups' | 'addons'>, workloads: Iterable<Workload>, view: SizeView = FULL_VIEW): void {
  const over = findOversizedResolution(snapshot, workloads, LIMITS.resolutionBytes, view);
  if (!over) return;
  if (view.secret && view.config) {
    throw tooLarge(`workload ${over.workload} would resolve to ${describe(over.bytes)} (${over.scope}), more than the limit of ${LIMITS.resolutionBytes} bytes`);
  }
  throw tooLarge(
    `workload ${over.workload} would resolve to more than the limit of ${LIMITS.resolutionBytes} bytes (${over.scope}; values your role cannot read count as blocks of ${HIDDEN_VALUE_BLOCK} bytes each)`,
  );
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
