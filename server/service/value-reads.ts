/**
 * Every answer that carries secret values is recorded as a read of them (keys only, never
 * values): the reads (GetGroup, ListWorkloads, …) and the writes whose answer echoes the record
 * (SetVariables, a no-op UpdateGroupSettings, RollbackGroup, UpdateAddon, …). Without this a
 * caller could read a whole secret group through a write that changes nothing and leave no read
 * in the log (SECURITY.md "Audit"). Views the caller gets redacted record nothing.
 */
import { secretKeys } from '../domain/secret-fields.js';
import type { Addon, SecretGroup, Workload } from '../domain/types.js';
import type { Principal } from '../security/principal.js';
import type { Deps } from './deps.js';
import type { Redacted } from './redact.js';

/** The detail of a read record written for the answer of a write. */
export const VALUES_IN_ANSWER = 'values in the answer';

type Viewed = SecretGroup | Workload | Addon;

const isGroup = (r: Viewed): r is SecretGroup => 'priority' in r;
const isWorkload = (r: Viewed): r is Workload => 'kind' in r;

/** Whether a view shows secret values: a secret group's, or any workload's or addon's (they count as secret). */
function showsSecrets(v: Redacted<Viewed>): boolean {
  if (v.redacted) return false;
  return isGroup(v.record) ? v.record.type === 'secret' : true;
}

function kindOf(r: Viewed): 'group' | 'addon' | 'workload' {
  return isGroup(r) ? 'group' : isWorkload(r) ? 'workload' : 'addon';
}

/**
 * Records one read naming every key shown, when any of `views` shows secret values; returns
 * `views` unchanged. `detail` marks reads that came with a write's answer.
 */
export function recordValueReads<T extends Redacted<Viewed>>(d: Deps, p: Principal, action: string, project: string, views: T[], detail?: string): T[] {
  const shown = views.filter(showsSecrets);
  if (shown.length === 0) return views;
  const one = shown.length === 1 ? shown[0]!.record : undefined;
  const target = one ? `${kindOf(one)} ${project}/${one.name}` : `${project} (${shown.length} ${kindOf(shown[0]!.record)}s)`;
  const keys = [...new Set(shown.flatMap((v) => secretKeys(kindOf(v.record), v.record)))].sort();
  d.audit.recordRead({ time: d.now(), actor: p.actor, action, project, target, keys, outcome: 'ok', ...(detail ? { detail } : {}) });
  return views;
}

/** recordValueReads for the answer of a write (the record as it stands after it). */
export function recordAnswerRead<T extends Redacted<Viewed>>(d: Deps, p: Principal, action: string, project: string, view: T): T {
  return recordValueReads(d, p, action, project, [view], VALUES_IN_ANSWER)[0]!;
}
