/**
 * Turns a bearer token into a Principal. Lookups are cached for a short TTL so that the
 * Resolve hot path rarely touches the store, while a revoked token is refused on every
 * replica within TOKEN_CACHE_MS.
 */
import { DomainError } from '../domain/errors.js';
import type { Store, TokenRecord } from '../store/store.js';
import { Principal } from './principal.js';
import { builtinRole, type Role } from './roles.js';
import { bearerFrom, hashToken } from './tokens.js';

export const TOKEN_CACHE_MS = 500;

const unauthenticated = (message: string) => new DomainError('UNAUTHENTICATED', message);

export class Authenticator {
  private readonly cache = new Map<string, { token: TokenRecord | null; until: number }>();

  constructor(
    private readonly store: Store,
    private readonly roles: (name: string) => Role | undefined = builtinRole,
    private readonly now: () => number = Date.now,
  ) {}

  async authenticate(authorization: string | undefined): Promise<Principal> {
    if (!authorization) throw unauthenticated('missing "authorization: Bearer <token>" metadata');
    const secret = bearerFrom(authorization);
    if (!secret) throw unauthenticated('malformed authorization metadata: expected "Bearer <token>"');
    const hash = hashToken(secret);
    const token = await this.lookup(hash);
    if (!token) throw unauthenticated('unknown token');
    if (token.revoked) throw unauthenticated('token has been revoked');
    if (token.expiresAt && token.expiresAt <= this.now()) throw unauthenticated('token has expired');
    const role = this.roles(token.role);
    if (!role) throw unauthenticated(`token's role ${token.role} no longer exists`);
    return new Principal(token, role);
  }

  /** Forget cached lookups (after this replica revokes a token). */
  invalidate(): void {
    this.cache.clear();
  }

  private async lookup(hash: string): Promise<TokenRecord | null> {
    const hit = this.cache.get(hash);
    const now = this.now();
    if (hit && hit.until > now) return hit.token;
    const token = await this.store.getTokenByHash(hash);
    if (this.cache.size > 10_000) this.cache.clear(); // bounded: unknown tokens are cached too
    this.cache.set(hash, { token, until: now + TOKEN_CACHE_MS });
    return token;
  }
}
