/**
 * Restrictions that name nothing: a workload that does not exist is refused (a typo would
 * otherwise silently reach nobody); a tag no workload carries yet may be declared ahead, with
 * a warning listing the workloads the group reaches; a change that leaves a restricted group
 * reaching nobody is refused unless the caller says it means it (allow_empty).
 */
import { echoList, invalid, precondition } from './errors.js';
import type { Restrictions, Workload } from './types.js';

export interface ReachCheck {
  /** Workloads the restrictions reach (by name or tag), sorted. */
  reached: string[];
  warnings: string[];
}

/**
 * Checks `next` against the project's workloads. Only names added by this change must exist:
 * a workload deleted after it was listed does not block unrelated edits.
 */
export function checkRestrictionReach(
  group: string,
  next: Restrictions,
  previous: Restrictions | null,
  workloads: readonly Workload[],
  allowEmpty: boolean,
): ReachCheck {
  if (!next.restricted) return { reached: workloads.map((w) => w.name).sort(), warnings: [] };
  const names = new Set(workloads.map((w) => w.name));
  const added = next.workloads.filter((w) => !previous?.workloads.includes(w));
  const unknown = added.filter((w) => !names.has(w));
  if (unknown.length) {
    // The tag route alone can reach nobody, which is refused below without allow_empty: say so.
    throw invalid(
      `restrictions.workloads: no workload named ${echoList(unknown, false)} in this project; create it first, or restrict by a tag it will carry (--tag), adding allow_empty (--allow-empty) while no workload carries that tag`,
    );
  }
  const reached = workloads
    .filter((w) => next.workloads.includes(w.name) || next.tags.some((t) => w.tags.includes(t)))
    .map((w) => w.name)
    .sort();
  if (reached.length === 0 && !allowEmpty) {
    throw precondition(
      `group ${group} would be restricted to no existing workload; add a workload or a tag a workload carries, or pass allow_empty (--allow-empty) to keep it reaching nobody`,
    );
  }
  const carried = new Set(workloads.flatMap((w) => w.tags));
  const unused = next.tags.filter((t) => !carried.has(t));
  const warnings = unused.length
    ? [`tag ${unused.join(', ')} is carried by no workload yet; group ${group} reaches ${reached.length ? reached.join(', ') : 'no workload'}`]
    : [];
  return { reached, warnings };
}
