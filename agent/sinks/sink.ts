/**
 * Where a resolution goes: the commands are made of sinks (`write`: secret files and the --out
 * file; `exec`: secret files and the supervised child; `build-args`: the build arguments). A
 * sink is handed the session's current resolution (read from the agent's memory cache) and
 * brings its output up to date.
 */
import type { Resolution } from '../../client/wire.js';

export interface Sink {
  /** Checks, before any sink writes anything, that `res` can be applied; throws if not. */
  validate?(res: Resolution): Promise<void> | void;
  /** Brings the output up to date with `res`; resolves true when something changed. */
  apply(res: Resolution): Promise<boolean>;
}

/**
 * Every sink validates, then every sink applies, in order; true when any changed something.
 * Without `onError` the first failure stops the rest (nothing written when a check fails). With
 * it, each sink is on its own: a failure is reported and the next sink still gets the resolution.
 */
export async function applyAll(sinks: readonly Sink[], res: Resolution, onError?: (e: Error) => void): Promise<boolean> {
  if (!onError) {
    for (const s of sinks) await s.validate?.(res);
    let changed = false;
    for (const s of sinks) changed = (await s.apply(res)) || changed;
    return changed;
  }
  let changed = false;
  for (const s of sinks) {
    try {
      await s.validate?.(res);
      changed = (await s.apply(res)) || changed;
    } catch (e) {
      onError(e as Error);
    }
  }
  return changed;
}
