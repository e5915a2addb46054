/** Keys-only views: the same records with every value blanked, flagged as redacted. */
import type { Addon, SecretGroup, Vars, Workload } from '../domain/types.js';
import type { Principal } from '../security/principal.js';

export interface Redacted<T> {
  record: T;
  redacted: boolean;
}

const blank = (vars: Vars): Vars => Object.fromEntries(Object.keys(vars).map((k) => [k, '']));

export function viewGroup(p: Principal, g: SecretGroup): Redacted<SecretGroup> {
  if (p.seesValues(g.type)) return { record: g, redacted: false };
  return {
    record: {
      ...g,
      variables: blank(g.variables),
      // A file's length is a figure of its content: shown only to a caller who may read it
      // (one that asked for keys only, as the console does), never to a keys-only role.
      files: g.files.map((f) => ({ ...f, content: new Uint8Array(0), size: p.mayReadValues(g.type) ? f.content.byteLength : 0 })),
    },
    redacted: true,
  };
}

/** A workload's own variables count as secret values. */
export function viewWorkload(p: Principal, w: Workload): Redacted<Workload> {
  if (p.seesValues('secret')) return { record: w, redacted: false };
  return { record: { ...w, runtimeVariables: blank(w.runtimeVariables), buildArguments: blank(w.buildArguments) }, redacted: true };
}

/** Addon connection details count as secret values. */
export function viewAddon(p: Principal, a: Addon): Redacted<Addon> {
  if (p.seesValues('secret')) return { record: a, redacted: false };
  return { record: { ...a, connectionDetails: blank(a.connectionDetails) }, redacted: true };
}
