/** Change preview: how resolutions would differ between two snapshots. Keys only, never values. */
import { previewGroupChanges } from './preview-groups.js';
import { comparableResolution, READS_ALL, type Readable } from './preview-visibility.js';
import { isEligible, mergeOrder, prepareGroup, prepareGroups, resolveWorkload } from './resolve.js';
import type { ProjectSnapshot, Resolution, ResolveScope } from './types.js';

export interface WorkloadChange {
  workload: string;
  scope: ResolveScope;
  addedKeys: string[];
  removedKeys: string[];
  changedKeys: string[];
  addedFiles: string[];
  removedFiles: string[];
  changedFiles: string[];
}

/**
 * A change to groups alone (every PreviewChange) is previewed key by key, with bounded work
 * (preview-groups.ts). Otherwise only identities that a changed group reaches (before or after)
 * or whose workload changed are resolved; groups unchanged between the snapshots are prepared
 * once and shared, so their values compare by identity; nothing is hashed. Groups are expanded
 * lazily and within the group limit (see prepareGroup). `readable`: which values the caller may
 * read; the others are compared by presence only (preview-visibility.ts).
 */
export function previewChange(before: ProjectSnapshot, after: ProjectSnapshot, readable: Readable = READS_ALL): WorkloadChange[] {
  if (before.workloads === after.workloads && before.addons === after.addons) return previewGroupChanges(before, after, readable);
  const masked = !readable.secret || !readable.config;
  const preparedBefore = prepareGroups(before);
  const shared = before.addons === after.addons ? new Map(preparedBefore.map((p) => [p.group, p])) : new Map();
  const preparedAfter = [...after.groups.values()].sort(mergeOrder).map((g) => shared.get(g) ?? prepareGroup(g, after));
  const changedGroups = [...new Set([...before.groups.keys(), ...after.groups.keys()])]
    .filter((n) => before.groups.get(n) !== after.groups.get(n))
    .flatMap((n) => [before.groups.get(n), after.groups.get(n)].filter((g) => g !== undefined));
  const addonsChanged = before.addons !== after.addons;
  const changes: WorkloadChange[] = [];
  for (const name of [...after.workloads.keys()].sort()) {
    const wb = before.workloads.get(name);
    const wa = after.workloads.get(name)!;
    for (const scope of ['runtime', 'build'] as const) {
      const affected = addonsChanged || wb !== wa || changedGroups.some((g) => isEligible(g, wa, scope) || (wb !== undefined && isEligible(g, wb, scope)));
      if (!affected) continue;
      const a = resolveWorkload(after.project.name, wa, scope, preparedAfter, { provenance: masked, etag: false });
      const b = wb ? resolveWorkload(before.project.name, wb, scope, preparedBefore, { provenance: masked, etag: false }) : null;
      const diff = masked
        ? diffResolutions(b && comparableResolution(b, before.groups, readable), comparableResolution(a, after.groups, readable))
        : diffResolutions(b, a);
      if (diff) changes.push({ workload: name, scope, ...diff });
    }
  }
  return changes;
}

export function diffResolutions(before: Resolution | null, after: Resolution) {
  const keys = diffMaps(before?.variables ?? {}, after.variables, (x, y) => x === y);
  const fb = Object.fromEntries((before?.files ?? []).map((f) => [f.path, f]));
  const fa = Object.fromEntries(after.files.map((f) => [f.path, f]));
  const files = diffMaps(fb, fa, (x, y) => x.mode === y.mode && Buffer.compare(x.content, y.content) === 0);
  const empty = [...Object.values(keys), ...Object.values(files)].every((l) => l.length === 0);
  if (empty) return null;
  return {
    addedKeys: keys.added,
    removedKeys: keys.removed,
    changedKeys: keys.changed,
    addedFiles: files.added,
    removedFiles: files.removed,
    changedFiles: files.changed,
  };
}

function diffMaps<T>(a: Record<string, T>, b: Record<string, T>, same: (x: T, y: T) => boolean) {
  const added: string[] = [];
  const removed: string[] = [];
  const changed: string[] = [];
  for (const k of Object.keys(b)) {
    if (!Object.hasOwn(a, k)) added.push(k);
    else if (!same(a[k]!, b[k]!)) changed.push(k);
  }
  for (const k of Object.keys(a)) if (!Object.hasOwn(b, k)) removed.push(k);
  return { added: added.sort(), removed: removed.sort(), changed: changed.sort() };
}
