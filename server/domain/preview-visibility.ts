/**
 * What a caller may learn from PreviewChange: only what it could read anyway. Values that come
 * from a source the caller cannot read (a group of a type it sees keys only of, an addon, the
 * workload's own variables, a secret file) are compared by presence only: two hidden values
 * are "the same" whatever they are, and a hidden value never equals a readable one. Otherwise
 * "no workload would change" after setting STRIPE_KEY=guess in a priority-100 config group
 * would confirm the guess.
 */
import type { Resolution, ResolvedFile, SecretGroup, Source, Vars } from './types.js';

/** Whether the caller may read values of each group type (workload and addon values count as secret). */
export interface Readable {
  secret: boolean;
  config: boolean;
}

export const READS_ALL: Readable = { secret: true, config: true };

const NO_CONTENT = new Uint8Array(0);

/**
 * The resolution as the caller may compare it: readable values prefixed with 'v', hidden ones
 * replaced by 'h'; hidden files lose their content and get mode -1 (no real file has it).
 * Needs the resolution's provenance; a key without one counts as hidden.
 */
export function comparableResolution(res: Resolution, groups: ReadonlyMap<string, SecretGroup>, readable: Readable): Resolution {
  const winners = new Map(res.provenance.map((p) => [p.key, p.winner]));
  const variables: Vars = {};
  for (const [key, value] of Object.entries(res.variables)) {
    const winner = winners.get(key);
    variables[key] = !winner || hidden(winner, groups, readable) ? 'h' : `v${value}`;
  }
  const fileWinners = new Map(res.fileProvenance.map((p) => [p.key, p.winner]));
  const files: ResolvedFile[] = res.files.map((f) => {
    const winner = fileWinners.get(f.path);
    return !winner || hidden(winner, groups, readable) ? { path: f.path, content: NO_CONTENT, mode: -1 } : f;
  });
  return { ...res, variables, files };
}

function hidden(source: Source, groups: ReadonlyMap<string, SecretGroup>, readable: Readable): boolean {
  if (source.kind !== 'group') return !readable.secret; // workload variables, addon details
  const group = source.group === undefined ? undefined : groups.get(source.group);
  return !group || hiddenGroup(group, readable);
}

/** Whether the values of this group are hidden from the caller. */
export function hiddenGroup(group: SecretGroup, readable: Readable): boolean {
  if (!readable[group.type]) return true;
  // A config group that linked an addon before links needed a secret group may expand addon
  // details into its own values through templates.
  return group.addonLinks.length > 0 && !readable.secret;
}
