/** What differs between two revisions of a group: keys, file paths and settings (no values). */
import type { SecretGroup } from './types.js';

export interface SettingChange {
  name: string;
  from: string;
  to: string;
}

export interface GroupDiff {
  addedKeys: string[];
  removedKeys: string[];
  changedKeys: string[];
  addedFiles: string[];
  removedFiles: string[];
  changedFiles: string[];
  settings: SettingChange[];
}

const sameBytes = (a: Uint8Array, b: Uint8Array) => a.byteLength === b.byteLength && a.every((x, i) => x === b[i]);

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
  const a = from?.variables ?? {};
  const b = to?.variables ?? {};
  const keysA = Object.keys(a);
  const keysB = Object.keys(b);
  const filesA = new Map((from?.files ?? []).map((f) => [f.path, f]));
  const filesB = new Map((to?.files ?? []).map((f) => [f.path, f]));
  const sa = settingsOf(from);
  const sb = settingsOf(to);
  const sort = (x: string[]) => x.sort();
  return {
    addedKeys: sort(keysB.filter((k) => !Object.hasOwn(a, k))),
    removedKeys: sort(keysA.filter((k) => !Object.hasOwn(b, k))),
    changedKeys: sort(keysA.filter((k) => Object.hasOwn(b, k) && a[k] !== b[k])),
    addedFiles: sort([...filesB.keys()].filter((p) => !filesA.has(p))),
    removedFiles: sort([...filesA.keys()].filter((p) => !filesB.has(p))),
    changedFiles: sort(
      [...filesA.keys()].filter((p) => {
        const x = filesA.get(p)!;
        const y = filesB.get(p);
        return y !== undefined && (x.mode !== y.mode || !sameBytes(x.content, y.content));
      }),
    ),
    settings: [...new Set([...Object.keys(sa), ...Object.keys(sb)])]
      .filter((k) => (sa[k] ?? '') !== (sb[k] ?? ''))
      .map((name) => ({ name, from: sa[name] ?? '', to: sb[name] ?? '' })),
  };
}
