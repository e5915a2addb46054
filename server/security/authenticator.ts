/**
 * Turns a bearer token into a Principal. Lookups are cached for a short TTL so that the
 * Resolve hot path rarely touches the store, while a revoked token is refused on every
 * replica within TOKEN_CACHE_MS.
 */
import { DomainError } from '../domain/errors.js';
import type { Store, TokenRecord } from '../store/store.js';
import { Principal } from './principal.js';
import type { Role } from './roles.js';
import { bearerFrom, hashToken } from './tokens.js';

export const TOKEN_CACHE_MS = 500;
/**
 * While the store does not answer, a token seen valid within this window keeps working, so
 * agents can still Resolve from memory during an outage. Nothing can be revoked while the
 * store is down anyway; once it answers, revocation applies within TOKEN_CACHE_MS again.
 */
export const OUTAGE_GRACE_MS = 5 * 60_000;
/** After a store failure, lookups skip the store this long instead of each waiting for a timeout. */
export const STORE_RETRY_MS = 2_000;

const unauthenticated = (message: string) => new DomainError('UNAUTHENTICATED', message);

export class Authenticator {
  private readonly cache = new Map<string, { token: TokenRecord | null; until: number; seen: number }>();
  private storeDownUntil = 0;
  /**
   * The hot path: the same header seen within TOKEN_CACHE_MS maps straight to its Principal,
   * skipping the hash and role lookup. Same lifetime as the token cache, so revocation still
   * applies within TOKEN_CACHE_MS on every replica (at once on the revoking one).
   */
  private readonly principals = new Map<string, { principal: Principal; until: number }>();

  constructor(
    private readonly store: Store,
    private readonly roles: (name: string) => Promise<Role | undefined>,
    private readonly now: () => number = Date.now,
  ) {}

  /** The principal of a header seen valid within TOKEN_CACHE_MS, without any await; else undefined. */
  cached(authorization: string | undefined): Principal | undefined {
    if (!authorization) return undefined;
    const now = this.now();
    const fast = this.principals.get(authorization);
    if (fast && fast.until > now && !(fast.principal.token.expiresAt && fast.principal.token.expiresAt <= now)) return fast.principal;
    return undefined;
  }

  async authenticate(authorization: string | undefined): Promise<Principal> {
    if (!authorization) throw unauthenticated('missing "authorization: Bearer <token>" metadata');
    const fast = this.cached(authorization);
    if (fast) return fast;
    const now = this.now();
    const secret = bearerFrom(authorization);
    if (!secret) throw unauthenticated('malformed authorization metadata: expected "Bearer <token>"');
    const hash = hashToken(secret);
    const token = await this.lookup(hash);
    if (!token) throw unauthenticated('unknown token');
    if (token.revoked) throw unauthenticated('token has been revoked');
    if (token.expiresAt && token.expiresAt <= this.now()) throw unauthenticated('token has expired');
    const role = await this.roles(token.role);
    if (!role) throw unauthenticated(`token's role ${token.role} no longer exists`);
    const principal = new Principal(token, role);
    if (this.principals.size > 10_000) this.principals.clear(); // bounded
    this.principals.set(authorization, { principal, until: now + TOKEN_CACHE_MS });
    return principal;
  }

  /** Forget cached lookups (after this replica revokes a token). */
  invalidate(): void {
    this.cache.clear();
    this.principals.clear();
  }

  private async lookup(hash: string): Promise<TokenRecord | null> {
    const hit = this.cache.get(hash);
    const now = this.now();
    if (hit && hit.until > now) return hit.token;
    const graced = hit?.token && now - hit.seen < OUTAGE_GRACE_MS ? hit.token : null;
    if (now < this.storeDownUntil) {
      if (graced) return graced;
      throw new DomainError('UNAVAILABLE', 'store unavailable; retry later');
    }
    let token: TokenRecord | null;
    try {
      token = await this.store.getTokenByHash(hash);
    } catch (e) {
      this.storeDownUntil = this.now() + STORE_RETRY_MS;
      if (graced) return graced;
      throw e;
    }
    if (this.cache.size > 10_000) this.cache.clear(); // bounded: unknown tokens are cached too
    this.cache.set(hash, { token, until: now + TOKEN_CACHE_MS, seen: now });
    return token;
  }
}
