/**
 * The child's environment, and the fingerprint that decides whether a change is real.
 *
 * Precedence: resolved variables override inherited ones. With `pristine`, only PATH and HOME
 * are inherited. SG_TOKEN, SG_TOKEN_FILE and SG_K8S_TOKEN_FILE (the agent's own credential) are never passed on
 * unless a resolved variable sets them.
 */
import { createHash } from 'node:crypto';
import type { Resolution } from '../../client/wire.js';

export const AGENT_ONLY_VARIABLES = ['SG_TOKEN', 'SG_TOKEN_FILE', 'SG_K8S_TOKEN_FILE'];
export const PRISTINE_INHERITED = ['PATH', 'HOME'];

export function childEnvironment(inherited: NodeJS.ProcessEnv, variables: Record<string, string>, opts: { pristine?: boolean } = {}): Record<string, string> {
  const env: Record<string, string> = {};
  if (opts.pristine) {
    for (const k of PRISTINE_INHERITED) if (inherited[k] !== undefined) env[k] = inherited[k]!;
  } else {
    for (const [k, v] of Object.entries(inherited)) if (v !== undefined && !AGENT_ONLY_VARIABLES.includes(k)) env[k] = v;
  }
  for (const [k, v] of Object.entries(variables)) {
    if (v.includes('\0')) throw new Error(`variable ${k} contains a NUL byte, which an environment cannot carry`);
    env[k] = v;
  }
  return env;
}

/**
 * Hash of what the workload sees — variables sorted by key, files by path with mode and content —
 * so that a new etag with the same content (or A → B → A within the debounce) is no change.
 */
export function contentFingerprint(res: Pick<Resolution, 'variables' | 'files'>): string {
  const h = createHash('sha256');
  for (const k of Object.keys(res.variables).sort()) {
    h.update(`v\0${k}\0${Buffer.byteLength(res.variables[k]!)}\0`).update(res.variables[k]!);
  }
  for (const f of [...res.files].sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0))) {
    h.update(`f\0${f.path}\0${f.mode}\0${f.content.length}\0`).update(f.content);
  }
  return h.digest('hex');
}
