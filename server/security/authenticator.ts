/**
 * Turns a bearer token into a Principal. Lookups are cached for a short TTL so that the
 * Resolve hot path rarely touches the store, while a revoked token is refused on every
 * replica within TOKEN_CACHE_MS.
 */
import { createHash } from 'node:crypto';
import { DomainError } from '../domain/errors.js';
import type { TokenRecord, TokenStore } from './tokens.js';
import { looksLikeJwt } from './k8s/jwt-claims.js';
import type { TokenReviewer } from './k8s/token-reviewer.js';
import { Principal } from './principal.js';
import type { Role } from './roles.js';
import { deadToken } from './stream-guard.js';
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
  private readonly cache = new Map<string, CachedToken>();
  /** Token look-ups on their way to the store, by hash (see lookup). */
  private readonly pending = new Map<string, Promise<TokenRecord | null>>();
  /** Moves on every invalidate: look-ups that started before it neither serve later calls nor fill the cache. */
  private generation = 0;
  private storeDownUntil = 0;
  /**
   * The hot path: the same header seen within TOKEN_CACHE_MS maps straight to its Principal,
   * skipping the hash and role lookup. Same lifetime as the token cache, so revocation still
   * applies within TOKEN_CACHE_MS on every replica (at once on the revoking one).
   */
  private readonly principals = new Map<string, { principal: Principal; until: number }>();
  /** The bindings of each Kubernetes service account, cached like token lookups. */
  private readonly accounts = new Map<string, { bindings: TokenRecord[]; until: number; seen: number }>();

  /**
   * `k8s`: with a reviewer (`sg serve --k8s-api`), a bearer credential shaped like a JWT is a
   * Kubernetes service-account token, reviewed by the API server and mapped to its binding.
   */
  constructor(
    private readonly store: Pick<TokenStore, 'getTokenByHash' | 'getTokensByServiceAccount'>,
    private readonly roles: (name: string) => Promise<Role | undefined>,
    private readonly now: () => number = Date.now,
    readonly k8s?: TokenReviewer,
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
    if (this.k8s && !secret.startsWith('sg_') && looksLikeJwt(secret)) return this.authenticateK8s(authorization, secret, this.k8s);
    const hash = hashToken(secret);
    const generation = this.generation;
    const token = await this.lookup(hash);
    if (!token) throw unauthenticated('unknown token');
    if (token.revoked) throw unauthenticated('token has been revoked');
    if (token.expiresAt && token.expiresAt <= this.now()) throw unauthenticated('token has expired');
    const role = await this.roles(token.role);
    if (!role) throw unauthenticated(`token's role ${token.role} no longer exists`);
    const principal = new Principal(token, role);
    if (generation !== this.generation) return principal; // read before a revocation here: not kept
    if (this.principals.size > 10_000) this.principals.clear(); // bounded
    this.principals.set(authorization, { principal, until: now + TOKEN_CACHE_MS });
    return principal;
  }

  /**
   * A Kubernetes service-account token: reviewed (cached, see TokenReviewer), then its service
   * account's one live binding gives the principal, with the rights of a workload token for
   * the bound workload and the token's own expiry.
   */
  private async authenticateK8s(authorization: string, credential: string, reviewer: TokenReviewer): Promise<Principal> {
    const reviewed = await reviewer.review(credential);
    const binding = await this.bindingOf(reviewed.account);
    const role = await this.roles(binding.role);
    if (!role) throw unauthenticated(`the binding's role ${binding.role} no longer exists`);
    const key = createHash('sha256').update(credential).digest('hex').slice(0, 16);
    const principal = new Principal(binding, role, { account: reviewed.account, credential, key, expiresAt: reviewed.expiresAt });
    if (this.principals.size > 10_000) this.principals.clear(); // bounded
    this.principals.set(authorization, { principal, until: Math.min(this.now() + TOKEN_CACHE_MS, reviewed.until) });
    return principal;
  }

  /**
   * The live binding of a service account ("NAMESPACE/NAME"): UNAUTHENTICATED when it has none
   * (never bound, or unbound) or, after a race of two binds, more than one.
   */
  async bindingOf(account: string): Promise<TokenRecord> {
    const now = this.now();
    let hit = this.accounts.get(account);
    if (!hit || hit.until <= now) {
      const graced = hit && now - hit.seen < OUTAGE_GRACE_MS ? hit : undefined;
      let bindings: TokenRecord[];
      try {
        if (now < this.storeDownUntil) throw new DomainError('UNAVAILABLE', 'store unavailable; retry later');
        bindings = await this.store.getTokensByServiceAccount(account);
      } catch (e) {
        if (now >= this.storeDownUntil) this.storeDownUntil = this.now() + STORE_RETRY_MS;
        if (!graced) throw e;
        bindings = graced.bindings;
      }
      if (this.accounts.size > 10_000) this.accounts.clear(); // bounded: unbound accounts are cached too
      hit = { bindings, until: now + TOKEN_CACHE_MS, seen: graced && bindings === graced.bindings ? graced.seen : now };
      this.accounts.set(account, hit);
    }
    const live = hit.bindings.filter((b) => !deadToken(b, now));
    if (live.length === 1) return live[0]!;
    if (live.length > 1) {
      const names = live.map((b) => `${b.workload?.project}/${b.workload?.workload}`).join(', ');
      throw unauthenticated(`Kubernetes service account ${account} is bound to more than one workload (${names}); unbind all but one`);
    }
    const hint = `an administrator binds it with: sg workload bind PROJECT WORKLOAD --k8s-service-account ${account}`;
    if (hit.bindings.length) throw unauthenticated(`Kubernetes service account ${account} is no longer bound to a workload (unbound); ${hint}`);
    throw unauthenticated(`Kubernetes service account ${account} is not bound to a workload; ${hint}`);
  }

  /** Forget cached lookups (after this replica revokes a token). */
  invalidate(): void {
    this.generation++;
    this.pending.clear();
    this.cache.clear();
    this.principals.clear();
    this.accounts.clear();
  }

  private lookup(hash: string): Promise<TokenRecord | null> {
    const hit = this.cache.get(hash);
    const now = this.now();
    if (hit && hit.until > now) return Promise.resolve(hit.token);
    // Calls that find the entry expired while a look-up of it is on its way share that one:
    // concurrent requests of one client, once per TOKEN_CACHE_MS, were one store read each.
    let pending = this.pending.get(hash);
    if (!pending) {
      const generation = this.generation;
      pending = this.fetch(hash, hit, now, generation).finally(() => {
        if (this.pending.get(hash) === pending) this.pending.delete(hash);
      });
      this.pending.set(hash, pending);
    }
    return pending;
  }

  private async fetch(hash: string, hit: CachedToken | undefined, now: number, generation: number): Promise<TokenRecord | null> {
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
    // Not cached when this replica revoked a token meanwhile: the answer may predate it.
    if (generation !== this.generation) return token;
    if (this.cache.size > 10_000) this.cache.clear(); // bounded: unknown tokens are cached too
    this.cache.set(hash, { token, until: now + TOKEN_CACHE_MS, seen: now });
    return token;
  }
}

interface CachedToken {
  token: TokenRecord | null;
  until: number;
  seen: number;
}
