/**
 * The preview of a change to groups only (what PreviewChange previews), without resolving any
 * workload: only keys and files of the changed groups can differ, so for each workload the
 * changed groups reach, and each such key, the winner before and after is looked up in a
 * per-key list of the groups that define it. A value is compared only when the two winners
 * differ; unchanged groups are shared between both sides, and only winning groups are expanded.
 * The work (workloads × definitions of the changed keys) is counted before it is done and
 * bounded by LIMITS.previewComparisons. A winner whose value the caller may not read is compared
 * by presence only (see preview-visibility.ts): hidden against hidden is the same, hidden
 * against readable differs, so a guess is never confirmed by "no change".
 */
import { tooLarge } from './errors.js';
import { LIMITS } from './limits.js';
import { isEligible, mergeOrder, prepareGroup, prepareGroups, type PreparedGroup } from './resolve.js';
import type { ProjectSnapshot, SecretFile, SecretGroup, Workload } from './types.js';
import type { WorkloadChange } from './group-diff.js';
import { hiddenGroup, READS_ALL, type Readable } from './preview-visibility.js';

type Holders = Map<string, PreparedGroup[]>;

export function previewGroupChanges(before: ProjectSnapshot, after: ProjectSnapshot, readable: Readable = READS_ALL): WorkloadChange[] {
  // Addon details count as secret values, wherever a group links them.
  const hiddenKey = (p: PreparedGroup, key: string) => hiddenGroup(p.group, readable) || (p.addonOrigin.has(key) && !readable.secret);
  const differ = (hb: boolean, ha: boolean, same: () => boolean) => ha !== hb || (!ha && !same());
  const preparedBefore = prepareGroups(before);
  const shared = new Map(preparedBefore.map((p) => [p.group, p]));
  const preparedAfter = [...after.groups.values()].sort(mergeOrder).map((g) => shared.get(g) ?? prepareGroup(g, after));
  const changed = new Set<PreparedGroup>([...preparedBefore, ...preparedAfter].filter((p) => before.groups.get(p.group.name) !== after.groups.get(p.group.name)));
  if (changed.size === 0) return [];

  const keys = new Set<string>();
  const paths = new Set<string>();
  for (const p of changed) {
    for (const k of Object.keys(p.group.variables)) keys.add(k);
    for (const k of p.addonOrigin.keys()) keys.add(k);
    for (const f of p.group.files) paths.add(f.path);
  }
  const [varsBefore, filesBefore] = holders(preparedBefore, keys, paths);
  const [varsAfter, filesAfter] = holders(preparedAfter, keys, paths);

  const reaches = (w: Workload, scope: 'runtime' | 'build') => [...changed].some((p) => isEligible(p.group, w, scope));
  const identities = [...after.workloads.values()]
    .sort((a, b) => (a.name < b.name ? -1 : 1))
    .flatMap((w) => (['runtime', 'build'] as const).filter((scope) => reaches(w, scope)).map((scope) => ({ w, scope })));
  let definitions = 0;
  for (const list of [...varsBefore.values(), ...varsAfter.values(), ...filesBefore.values(), ...filesAfter.values()]) definitions += list.length;
  if (identities.length * definitions > LIMITS.previewComparisons) {
    throw tooLarge(
      `this preview would compare ${definitions} definitions of the changed keys and files for ${identities.length} workload scopes, more than the limit of ${LIMITS.previewComparisons} comparisons; preview a smaller change`,
    );
  }

  const changes: WorkloadChange[] = [];
  for (const { w, scope } of identities) {
    const own = scope === 'runtime' ? w.runtimeVariables : w.buildArguments;
    const winner = (list: PreparedGroup[] | undefined) => list?.find((p) => isEligible(p.group, w, scope));
    const addedKeys: string[] = [];
    const removedKeys: string[] = [];
    const changedKeys: string[] = [];
    for (const key of keys) {
      if (Object.hasOwn(own, key)) continue; // the workload's own value wins on both sides
      const b = winner(varsBefore.get(key));
      const a = winner(varsAfter.get(key));
      if (!b && a) addedKeys.push(key);
      else if (b && !a) removedKeys.push(key);
      else if (a && b && a !== b && differ(hiddenKey(b, key), hiddenKey(a, key), () => a.values[key] === b.values[key])) changedKeys.push(key);
    }
    const addedFiles: string[] = [];
    const removedFiles: string[] = [];
    const changedFiles: string[] = [];
    for (const path of paths) {
      const b = winner(filesBefore.get(path));
      const a = winner(filesAfter.get(path));
      if (!b && a) addedFiles.push(path);
      else if (b && !a) removedFiles.push(path);
      else if (a && b && a !== b && differ(hiddenGroup(b.group, readable), hiddenGroup(a.group, readable), () => sameFile(fileOf(b.group, path), fileOf(a.group, path)))) {
        changedFiles.push(path);
      }
    }
    const lists = [addedKeys, removedKeys, changedKeys, addedFiles, removedFiles, changedFiles];
    if (lists.every((l) => l.length === 0)) continue;
    for (const l of lists) l.sort();
    changes.push({ workload: w.name, scope, addedKeys, removedKeys, changedKeys, addedFiles, removedFiles, changedFiles });
  }
  return changes;
}

/** For each changed key and path, the groups defining it, in merge order. */
function holders(prepared: readonly PreparedGroup[], keys: ReadonlySet<string>, paths: ReadonlySet<string>): [Holders, Holders] {
  const vars: Holders = new Map();
  const files: Holders = new Map();
  const add = (m: Holders, k: string, p: PreparedGroup) => {
    const list = m.get(k);
    if (list) list.push(p);
    else m.set(k, [p]);
  };
  for (const p of prepared) {
    for (const k of Object.keys(p.group.variables)) if (keys.has(k)) add(vars, k, p);
    for (const k of p.addonOrigin.keys()) if (keys.has(k)) add(vars, k, p);
    for (const f of p.group.files) if (paths.has(f.path)) add(files, f.path, p);
  }
  return [vars, files];
}

const fileOf = (g: SecretGroup, path: string) => g.files.find((f) => f.path === path)!;

function sameFile(x: SecretFile, y: SecretFile): boolean {
  return x === y || (x.mode === y.mode && Buffer.compare(x.content, y.content) === 0);
}
