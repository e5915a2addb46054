/**
 * The sign-in session. The token typed into the page is sent once to the console (POST
 * /session), which keeps it server-side behind an HttpOnly, SameSite=Strict cookie; the page
 * never stores it (no localStorage, no URL).
 */
import type { Role, TokenInfo } from './gen.js';
import { Role as RoleCodec, TokenInfo as TokenCodec } from './gen.js';
import { ApiError, post } from './api.js';

export interface Me {
  token: TokenInfo;
  /** Absent for workload tokens. */
  role: Role | undefined;
}

function meOf(json: unknown): Me | undefined {
  const o = (json ?? {}) as { token?: unknown; role?: unknown };
  if (!o.token) return undefined;
  return { token: TokenCodec.fromJSON(o.token), role: o.role ? RoleCodec.fromJSON(o.role) : undefined };
}

export async function signIn(token: string): Promise<Me | undefined> {
  return meOf(await post('/session', JSON.stringify({ token })));
}

export async function signOut(): Promise<void> {
  await post('/session', undefined, 'DELETE');
}

/** Who the session is, or undefined when there is none. */
export async function whoAmI(): Promise<Me | undefined> {
  try {
    return meOf(await post('/session', undefined, 'GET'));
  } catch (e) {
    if (e instanceof ApiError && e.code === 'UNAUTHENTICATED') return undefined;
    throw e;
  }
}
