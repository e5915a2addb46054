/**
 * Kubernetes service-account tokens as credentials: each one is reviewed by the API server
 * (TokenReview, audience checked) and the answer is cached briefly, so that a pod's calls do not
 * each cost a round trip and a bad token cannot make the server hammer the API server.
 *
 * - Accepted: cached REVIEW_CACHE_MS (10 s), never past the token's own `exp`. A service account
 *   deleted, or a pod (a bound token's object) deleted, is therefore refused within 10 s.
 * - Refused: cached REFUSAL_CACHE_MS (10 s) too (the same bad token is refused from memory).
 * - No answer (timeout, connection refused, an HTTP error): UNAVAILABLE, cached
 *   UNAVAILABLE_CACHE_MS (1 s). Not UNAUTHENTICATED: the credential is not known to be bad, and
 *   clients retry UNAVAILABLE with backoff (and agents keep their last values) instead of
 *   treating their identity as dead; it is not counted as a failed authentication either, so an
 *   API-server outage does not lock every pod's address out.
 * At most MAX_CACHED_REVIEWS answers are kept (oldest dropped first), keyed by the token's
 * SHA-256, and at most MAX_REVIEWS_IN_FLIGHT reviews run at once (one per token: callers of the
 * same token share it).
 */
import { createHash } from 'node:crypto';
import type { TokenReviewStatus } from 'kubernetes-types/authentication/v1.js';
import { DomainError } from '../../domain/errors.js';
import { unverifiedClaims } from './jwt-claims.js';
import { clean, KubeApiError, ReviewUnavailable } from './review-errors.js';

export { ReviewUnavailable };

export const REVIEW_CACHE_MS = 10_000;
export const REFUSAL_CACHE_MS = 10_000;
export const UNAVAILABLE_CACHE_MS = 1_000;
export const MAX_CACHED_REVIEWS = 10_000;
export const MAX_REVIEWS_IN_FLIGHT = 32;

/** Who an accepted token belongs to. */
export interface ReviewedAccount {
  namespace: string;
  name: string;
  /** "NAMESPACE/NAME". */
  account: string;
  /** Until when (ms) this answer may be used without another review. */
  until: number;
  /** The token's own expiry (ms, from its unverified `exp`, used only to cap); 0 when absent. */
  expiresAt: number;
}

export interface ReviewerOptions {
  audience: string;
  now?: () => number;
  cacheMs?: number;
  refusalMs?: number;
  unavailableMs?: number;
  maxEntries?: number;
  maxInFlight?: number;
}

type Entry = { ok: ReviewedAccount; until: number } | { refused: string; until: number } | { unavailable: string; until: number };

// DNS-1123 label (namespace) and subdomain (service account name), as Kubernetes validates them.
const USERNAME = /^system:serviceaccount:([a-z0-9](?:[-a-z0-9]{0,61}[a-z0-9])?):([a-z0-9](?:[-.a-z0-9]{0,251}[a-z0-9])?)$/;

export class TokenReviewer {
  private readonly cache = new Map<string, Entry>();
  private readonly inFlight = new Map<string, Promise<Entry>>();
  private readonly now: () => number;
  readonly audience: string;

  constructor(
    private readonly ask: (token: string) => Promise<TokenReviewStatus>,
    private readonly opts: ReviewerOptions,
  ) {
    this.now = opts.now ?? Date.now;
    this.audience = opts.audience;
  }

  /** How long an accepted review is used before the token is reviewed again. */
  get cacheMs(): number {
    return this.opts.cacheMs ?? REVIEW_CACHE_MS;
  }

  /**
   * The service account of an accepted token; UNAUTHENTICATED with the reason when the API
   * server refuses it, ReviewUnavailable when it cannot be asked. Never repeats the token.
   */
  async review(token: string): Promise<ReviewedAccount> {
    const key = createHash('sha256').update(token).digest('hex');
    let entry = this.cached(key);
    if (!entry) {
      let pending = this.inFlight.get(key);
      if (!pending) {
        if (this.inFlight.size >= (this.opts.maxInFlight ?? MAX_REVIEWS_IN_FLIGHT)) {
          throw new ReviewUnavailable('too many Kubernetes token reviews in progress; retry shortly');
        }
        pending = this.fetch(token).finally(() => this.inFlight.delete(key));
        this.inFlight.set(key, pending);
        void pending.then((e) => this.remember(key, e));
      }
      entry = await pending;
    }
    if ('ok' in entry) {
      // The token's own expiry may pass while the answer is cached.
      if (entry.ok.expiresAt && entry.ok.expiresAt <= this.now()) throw new DomainError('UNAUTHENTICATED', 'the Kubernetes service-account token has expired');
      return entry.ok;
    }
    if ('refused' in entry) throw new DomainError('UNAUTHENTICATED', entry.refused);
    throw new ReviewUnavailable(entry.unavailable);
  }

  /** Drops every cached answer. */
  clear(): void {
    this.cache.clear();
  }

  private cached(key: string): Entry | undefined {
    const hit = this.cache.get(key);
    if (!hit) return undefined;
    if (hit.until > this.now()) return hit;
    this.cache.delete(key);
    return undefined;
  }

  private remember(key: string, entry: Entry): void {
    this.cache.delete(key);
    const max = this.opts.maxEntries ?? MAX_CACHED_REVIEWS;
    // Insertion order is age order: drop the oldest answers first.
    for (const k of this.cache.keys()) {
      if (this.cache.size < max) break;
      this.cache.delete(k);
    }
    this.cache.set(key, entry);
  }

  private async fetch(token: string): Promise<Entry> {
    const claims = unverifiedClaims(token);
    const expiresAt = claims?.exp ? claims.exp * 1000 : 0;
    const refuse = (reason: string): Entry => ({ refused: reason, until: this.now() + (this.opts.refusalMs ?? REFUSAL_CACHE_MS) });
    // Refused without asking: a token that says it has expired (a forged claim only refuses).
    if (expiresAt && expiresAt <= this.now()) return refuse('the Kubernetes service-account token has expired');
    let status: TokenReviewStatus;
    try {
      status = await this.ask(token);
    } catch (e) {
      const why = e instanceof KubeApiError ? e.message : 'unexpected error';
      return { unavailable: `cannot review the Kubernetes token: ${why}`, until: this.now() + (this.opts.unavailableMs ?? UNAVAILABLE_CACHE_MS) };
    }
    const aud = this.audience;
    if (status.authenticated !== true) {
      const otherAudience = claims?.aud && !claims.aud.includes(aud);
      if (otherAudience) return refuse(`the Kubernetes token is not for audience ${JSON.stringify(aud)} (mint it with that audience, e.g. a projected token volume with audience ${aud})`);
      return refuse(`Kubernetes did not authenticate the token${status.error ? `: ${clean(status.error)}` : ''}`);
    }
    // An API server that is not audience-aware answers without audiences: not good enough.
    if (!status.audiences?.includes(aud)) return refuse(`Kubernetes did not confirm the token is for audience ${JSON.stringify(aud)}`);
    const username = status.user?.username ?? '';
    const m = USERNAME.exec(username);
    if (!m) return refuse(`the Kubernetes token is not a service account's (user ${JSON.stringify(clean(username, 64))})`);
    const now = this.now();
    const cacheUntil = now + this.cacheMs;
    const until = expiresAt ? Math.min(cacheUntil, expiresAt) : cacheUntil;
    return { ok: { namespace: m[1]!, name: m[2]!, account: `${m[1]}/${m[2]}`, until, expiresAt }, until };
  }
}
