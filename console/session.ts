/**
 * The sign-in session. The token typed into the page is sent once to the console (POST
 * /session), which keeps it server-side behind an HttpOnly, SameSite=Strict cookie; the page
 * never stores it (no localStorage, no URL). The answer's binding secret stays with this tab
 * (api.ts) and goes with every request.
 */
import type { Role, TokenInfo } from './gen.js';
import { Role as RoleCodec, TokenInfo as TokenCodec } from './gen.js';
import { ApiError, post, setBinding } from './api.js';

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
  const json = await post('/session', JSON.stringify({ token }));
  const binding = (json as { binding?: unknown }).binding;
  setBinding(typeof binding === 'string' ? binding : undefined);
  return meOf(json);
}

export async function signOut(): Promise<void> {
  try {
    await post('/session', undefined, 'DELETE');
  } finally {
    setBinding(undefined);
  }
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
