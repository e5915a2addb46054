/** Change preview: how resolutions would differ between two snapshots. Keys only, never values. */
import { diffKeysAndFiles, type KeyChanges, type WorkloadChange } from './group-diff.js';
import { previewGroupChanges } from './preview-groups.js';
import { comparableResolution, READS_ALL, type Readable } from './preview-visibility.js';
import { isEligible, mergeOrder, prepareGroup, prepareGroups, resolveWorkload } from './resolve.js';
import type { ProjectSnapshot, Resolution } from './types.js';

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

export function diffResolutions(before: Resolution | null, after: Resolution): KeyChanges | null {
  const diff = diffKeysAndFiles(before?.variables ?? {}, after.variables, before?.files ?? [], after.files);
  return Object.values(diff).every((l) => l.length === 0) ? null : diff;
}
