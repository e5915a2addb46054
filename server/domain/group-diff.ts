/**
 * What differs between two revisions of a group (keys, file paths and settings), or between two
 * resolutions of a workload (keys and file paths): names only, never values.
 */
import type { ResolveScope, SecretGroup, Vars } from './types.js';

export interface SettingChange {
  name: string;
  from: string;
  to: string;
}

/** Keys and file paths added, removed or changed, each list sorted. */
export interface KeyChanges {
  addedKeys: string[];
  removedKeys: string[];
  changedKeys: string[];
  addedFiles: string[];
  removedFiles: string[];
  changedFiles: string[];
}

export interface GroupDiff extends KeyChanges {
  settings: SettingChange[];
}

/** How one identity's resolution would change (PreviewChange). */
export interface WorkloadChange extends KeyChanges {
  workload: string;
  scope: ResolveScope;
}

interface FileLike {
  path: string;
  mode: number;
  content: Uint8Array;
}

const sameBytes = (a: Uint8Array, b: Uint8Array) => a.byteLength === b.byteLength && a.every((x, i) => x === b[i]);

/** The keys and file paths that differ between two sets of variables and files (a file by its mode or content). */
export function diffKeysAndFiles(varsA: Vars, varsB: Vars, filesA: readonly FileLike[], filesB: readonly FileLike[]): KeyChanges {
  const keys = diffMaps(varsA, varsB, (x, y) => x === y);
  const byPath = (fs: readonly FileLike[]) => Object.fromEntries(fs.map((f) => [f.path, f]));
  const files = diffMaps(byPath(filesA), byPath(filesB), (x, y) => x.mode === y.mode && sameBytes(x.content, y.content));
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

/** Settings as text: never secret, shown as they are. */
function settingsOf(g: SecretGroup | null): Record<string, string> {
  if (!g) return {};
  const r = g.restrictions;
  return {
    description: g.description,
    type: g.type,
    scope: g.scope,
    priority: String(g.priority),
    restrictions: r.restricted ? `workloads: ${r.workloads.join(', ') || '-'}; tags: ${r.tags.join(', ') || '-'}` : 'none',
    addon_links: g.addonLinks
      .map((l) => (l.keys.length ? `${l.addon} (${l.keys.map((k) => `${k.key} as ${k.alias}`).join(', ')})` : `${l.addon} (all keys)`))
      .join('; '),
  };
}

/** `from`/`to` null: the group did not exist (or was deleted) at that revision. */
export function diffGroups(from: SecretGroup | null, to: SecretGroup | null): GroupDiff {
  const sa = settingsOf(from);
  const sb = settingsOf(to);
  return {
    ...diffKeysAndFiles(from?.variables ?? {}, to?.variables ?? {}, from?.files ?? [], to?.files ?? []),
    settings: [...new Set([...Object.keys(sa), ...Object.keys(sb)])]
      .filter((k) => (sa[k] ?? '') !== (sb[k] ?? ''))
      .map((name) => ({ name, from: sa[name] ?? '', to: sb[name] ?? '' })),
  };
}
