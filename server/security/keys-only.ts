/**
 * The same caller with every value hidden: access levels capped at `keys`. Read RPCs given
 * `keys_only` run as this principal, so they answer keys and metadata (values_redacted) and
 * record no read of a value, while every permission check stays the caller's own (a level of
 * `none` stays `none`).
 */
import { Principal } from './principal.js';
import type { AccessLevel } from './roles.js';

const cap = (l: AccessLevel): AccessLevel => (l === 'none' ? 'none' : 'keys');

export function keysOnly(p: Principal): Principal {
  return new Principal(p.token, { ...p.role, access: { secret: cap(p.role.access.secret), config: cap(p.role.access.config) } }, p.k8s, p.role.access);
}

/** `keysOnly(p)` when the request asks for it. */
export const viewAs = (p: Principal, req: { keysOnly?: boolean }) => (req.keysOnly ? keysOnly(p) : p);
