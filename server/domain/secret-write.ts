/**
 * Which parts of a group change need write access to secret groups whatever the group's type
 * (SECURITY.md "Execution-controlling keys, files and addon links"):
 * - execution-controlling keys (execution-keys.ts, plus the project's own: project-policy.ts):
 *   set, changed or removed, including a change of a key their template refers to;
 * - files: added, changed (content or mode) or removed;
 * - addon links: any change to the set of links (addon details are secret values);
 * - the reach of a group holding any of these: its type, scope, priority, restrictions or name
 *   (the name breaks priority ties).
 * Pure; returns names (keys, `file PATH`, `addon links`), never a value.
 */
import { executionRule } from './project-policy.js';
import { references } from './templates.js';
import type { AddonLink, SecretFile, SecretGroup, Vars } from './types.js';

/** `projectKeys`: the project's own execution-controlling names and prefixes (Project.executionKeys). */
export function secretWriteNeeds(before: SecretGroup | null, after: SecretGroup | null, projectKeys: readonly string[] = []): string[] {
  const isExecutionKey = (k: string) => executionRule(k, projectKeys) !== null;
  const a = before?.variables ?? {};
  const b = after?.variables ?? {};
  const changed = new Set<string>();
  for (const k of new Set([...Object.keys(a), ...Object.keys(b)])) {
    if (Object.hasOwn(a, k) !== Object.hasOwn(b, k) || a[k] !== b[k]) changed.add(k);
  }
  const needs = new Set<string>();
  for (const k of changed) if (isExecutionKey(k)) needs.add(k);
  // PATH='${BIN}:/usr/bin' changes when BIN does.
  for (const vars of [a, b]) {
    for (const k of Object.keys(vars)) if (isExecutionKey(k) && reaches(vars, k, changed)) needs.add(k);
  }
  for (const path of changedFiles(before?.files ?? [], after?.files ?? [])) needs.add(`file ${path}`);
  if (!sameLinks(before?.addonLinks ?? [], after?.addonLinks ?? [])) needs.add('addon links');
  if (before && after && reachChanged(before, after)) {
    for (const g of [before, after]) {
      for (const k of Object.keys(g.variables)) if (isExecutionKey(k)) needs.add(k);
      for (const f of g.files) needs.add(`file ${f.path}`);
      if (g.addonLinks.length) needs.add('addon links');
    }
  }
  return [...needs].sort();
}

/** The needs of secretWriteNeeds for a refusal: each key with the family (or project entry) that makes it count. */
export function describeNeeds(needs: readonly string[], projectKeys: readonly string[] = []): string[] {
  return needs.map((n) => {
    const rule = n === 'addon links' || n.startsWith('file ') ? null : executionRule(n, projectKeys);
    return rule ? `${n} (${rule})` : n;
  });
}

/** Whether the value of `key` refers, directly or through other keys, to a changed key. */
function reaches(vars: Vars, key: string, changed: ReadonlySet<string>): boolean {
  const seen = new Set<string>([key]);
  const stack = [key];
  while (stack.length) {
    const k = stack.pop()!;
    const value = vars[k];
    if (value === undefined || !value.includes('${')) continue;
    let refs: string[];
    try {
      refs = references(k, value);
    } catch {
      return true; // unparsable: assume the worst
    }
    for (const r of refs) {
      if (changed.has(r)) return true;
      if (!seen.has(r) && Object.hasOwn(vars, r)) {
        seen.add(r);
        stack.push(r);
      }
    }
  }
  return false;
}

function changedFiles(before: readonly SecretFile[], after: readonly SecretFile[]): string[] {
  const fa = new Map(before.map((f) => [f.path, f]));
  const fb = new Map(after.map((f) => [f.path, f]));
  const out: string[] = [];
  for (const p of new Set([...fa.keys(), ...fb.keys()])) {
    const x = fa.get(p);
    const y = fb.get(p);
    if (!x || !y || x.mode !== y.mode || Buffer.compare(x.content, y.content) !== 0) out.push(p);
  }
  return out;
}

function sameLinks(a: readonly AddonLink[], b: readonly AddonLink[]): boolean {
  const canon = (links: readonly AddonLink[]) =>
    JSON.stringify([...links].sort((x, y) => (x.addon < y.addon ? -1 : 1)).map((l) => [l.addon, l.keys.map((k) => [k.key, k.alias])]));
  return canon(a) === canon(b);
}

/**
 * Type, scope, priority, restrictions or name: which workloads the group reaches, and who wins
 * (groups of equal priority are merged in name order, so a rename can flip the winner).
 */
function reachChanged(a: SecretGroup, b: SecretGroup): boolean {
  const r = (g: SecretGroup) => JSON.stringify([g.name, g.type, g.scope, g.priority, g.restrictions.restricted, [...g.restrictions.workloads].sort(), [...g.restrictions.tags].sort()]);
  return r(a) !== r(b);
}
