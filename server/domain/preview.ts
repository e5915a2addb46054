/** Change preview: how resolutions would differ between two snapshots. Keys only, never values. */
import { comparableResolution, READS_ALL, type Readable } from './preview-visibility.js';
import { prepareGroups, resolveWorkload } from './resolve.js';
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

/** `readable`: which values the caller may read; the others are compared by presence only. */
export function previewChange(before: ProjectSnapshot, after: ProjectSnapshot, readable: Readable = READS_ALL): WorkloadChange[] {
  const masked = !readable.secret || !readable.config;
  const preparedBefore = prepareGroups(before);
  const preparedAfter = prepareGroups(after);
  const changes: WorkloadChange[] = [];
  for (const name of [...after.workloads.keys()].sort()) {
    const wb = before.workloads.get(name);
    const wa = after.workloads.get(name)!;
    for (const scope of ['runtime', 'build'] as const) {
      const a = resolveWorkload(after.project.name, wa, scope, preparedAfter, { provenance: masked });
      const b = wb ? resolveWorkload(before.project.name, wb, scope, preparedBefore, { provenance: masked }) : null;
      // Equal etags would reveal equal hidden values: a masked preview always compares.
      if (!masked && b && a.etag === b.etag) continue;
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
