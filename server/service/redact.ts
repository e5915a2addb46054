/** Keys-only views: the same records with every value blanked, flagged as redacted. */
import { blankSecrets } from '../domain/secret-fields.js';
import type { Addon, SecretGroup, Workload } from '../domain/types.js';
import type { Principal } from '../security/principal.js';

export interface Redacted<T> {
  record: T;
  redacted: boolean;
}

export function viewGroup(p: Principal, g: SecretGroup): Redacted<SecretGroup> {
  if (p.seesValues(g.type)) return { record: g, redacted: false };
  // A file's length is a figure of its content: shown only to a caller who may read it
  // (one that asked for keys only, as the console does), never to a keys-only role.
  const size = p.mayReadValues(g.type) ? (f: { content: Uint8Array }) => f.content.byteLength : () => 0;
  return { record: blankSecrets('group', g, size), redacted: true };
}

/** A workload's own variables count as secret values. */
export function viewWorkload(p: Principal, w: Workload): Redacted<Workload> {
  return viewSecret(p, 'workload', w);
}

/** Addon connection details count as secret values. */
export function viewAddon(p: Principal, a: Addon): Redacted<Addon> {
  return viewSecret(p, 'addon', a);
}

function viewSecret<R extends Workload | Addon>(p: Principal, kind: 'workload' | 'addon', r: R): Redacted<R> {
  if (p.seesValues('secret')) return { record: r, redacted: false };
  return { record: blankSecrets(kind, r, () => 0), redacted: true };
}
