/**
 * Live Watch streams are re-authorized. A stream is authorized when it opens; afterwards its
 * token may be revoked or expire, its role may change, its workload may be deleted or
 * re-created. The guard then ends the stream: UNAUTHENTICATED when the token itself is dead,
 * PERMISSION_DENIED when it is valid but may no longer watch that identity.
 *
 * - On this replica at once: RevokeToken ends the token's streams before it answers; a timer
 *   fires at the token's expiry; a snapshot change that removes or replaces a bound token's
 *   workload ends its streams before the hub delivers that change.
 * - Changes made elsewhere (another replica, a role edited in the store): a periodic check
 *   reads the store's token change counter and the custom roles (two point reads); only when
 *   either moved does it read the tokens with open streams, in one query, and only when a
 *   token's rights changed does it look at that token's streams. The cost of a quiet period is
 *   constant, whatever the number of streams and tokens.
 * - And before this replica publishes a project change (Snapshots.beforePublish), a check that
 *   starts after the change was read: a change written after a revocation, through any
 *   replica, never reaches the revoked token's streams.
 *
 * - A caller that authenticated with a Kubernetes service-account token has that token reviewed
 *   again (StreamGuardOptions.review) at least every review period: a deleted service account
 *   or pod, or an expired token, ends its streams within that period (not within the check
 *   period: a review is a call to the API server, made outside the store check so that it
 *   never delays a publish).
 *
 * It also caps how many streams one token may hold open on this replica (for a service account,
 * one presented token: each pod's own).
 */
import { DomainError } from '../domain/errors.js';
import type { ProjectSnapshot, ResolveScope } from '../domain/types.js';
import type { TokenRecord, TokenStore } from './tokens.js';
import type { Principal } from './principal.js';
import type { RoleRegistry } from './role-registry.js';
import type { Role } from './roles.js';

/** A project as this replica holds it in memory: the guard reads its workloads. */
interface HeldProject {
  readonly snapshot: Pick<ProjectSnapshot, 'workloads'>;
}

/**
 * What the guard reads of the in-memory snapshots (watch/snapshots.ts's Snapshots is one): a
 * project's workloads without I/O, and each replaced snapshot before the hub sends it.
 */
export interface HeldProjects {
  peek(project: string): HeldProject | undefined;
  prependListener(event: 'changed', listener: (project: string, after: HeldProject | null) => void): unknown;
}

export type CutCode = 'UNAUTHENTICATED' | 'PERMISSION_DENIED';

export interface GuardedStream {
  readonly project: string;
  readonly workload: string;
  readonly scope: ResolveScope;
  /**
   * Whether the principal may still hold this stream; throws if not. Default: it may resolve
   * the stream's identity (Watch). Other streams (WatchProject) say what they need.
   */
  readonly authorize?: (p: Principal) => void;
  /** Ends the stream with this status; the stream's release function is called by its owner. */
  end(code: CutCode, message: string): void;
}

/** What admit() returns, for release(): opaque to its holder. */
export type Admission = { readonly __admission: unique symbol };

export interface StreamGuardOptions {
  /** Open Watch streams one token may hold on this replica. */
  maxStreamsPerToken: number;
  /** Period of the store check (changes made by other replicas). */
  checkMs: number;
  /**
   * Reviews a Kubernetes principal's token again (see Principal.k8s): throws UNAUTHENTICATED
   * when it is refused now, another error when the review could not be had (streams then stay).
   */
  review?: (p: Principal) => Promise<void>;
  /** How often a Kubernetes principal's token is reviewed again (default 10 s). */
  reviewMs?: number;
  /** Every stream the guard ends (audit). */
  onCut?: (p: Principal, s: GuardedStream, code: CutCode, message: string) => void;
  /** The number of open streams changed (V8 memory mode, see app/v8-tuning.ts). */
  onOpenStreams?: (open: number) => void;
  now?: () => number;
}

export const DEFAULT_MAX_STREAMS_PER_TOKEN = 100;
export const DEFAULT_STREAM_CHECK_MS = 250;
/**
 * Every token with open streams is read again at least this often, even when the change
 * counter did not move (a writer that died between revoking a token and moving the counter).
 */
const FULL_CHECK_MS = 30_000;
/** setTimeout's largest delay; longer expiries re-arm when it fires. */
const MAX_TIMER_MS = 2 ** 31 - 1;

interface TokenStreams {
  /** The token and role as last seen (updated by each check). */
  principal: Principal;
  /** What the authorization of its streams depends on, as last checked (see rightsKey). */
  rights: string;
  streams: Set<GuardedStream>;
  expiry?: NodeJS.Timeout;
  /** Kubernetes principals: when their token was last reviewed. */
  reviewedAt?: number;
}

/** The guard's key of a caller: its token, or for a service account its token and presented credential. */
function keyOf(p: Principal): string {
  return p.k8s ? `${p.token.id}/${p.k8s.key}` : p.token.id;
}

/**
 * Everything Principal.requireResolve reads, as one string: when it is unchanged, so is the
 * answer for every stream of the token, and the check skips them (its cost then grows with
 * tokens, not with streams). Workload identity is checked on snapshot changes instead.
 */
function rightsKey(t: TokenRecord, r: Role): string {
  const w = t.workload;
  return [t.role, t.projects.join(','), t.scopes.join(','), w ? `${w.project}/${w.workload}/${w.uid ?? ''}` : '', r.access.secret, r.access.config, r.resolve].join('\0');
}

/** Why a stored token no longer authenticates, or undefined. */
export function deadToken(t: TokenRecord | null, now: number): string | undefined {
  if (!t) return 'the token no longer exists';
  if (t.revoked) return 'token has been revoked';
  if (t.expiresAt && t.expiresAt <= now) return 'token has expired';
  return undefined;
}

export class StreamGuard {
  /** By keyOf(principal). */
  private readonly tokens = new Map<string, TokenStreams>();
  /** Tokens whose streams opened since the tokens were last read. */
  private readonly unchecked = new Set<string>();
  /** The counters as of the last full read of the tokens. */
  private seen: { changes: number; roles: string; at: number } | undefined;
  private timer: NodeJS.Timeout | undefined;
  private reviewing = false;
  private running: Promise<void> | undefined;
  private queued: Promise<void> | undefined;
  private readonly now: () => number;
  /** Streams admitted and not yet released or cut. */
  private open = 0;

  constructor(
    private readonly store: Pick<TokenStore, 'tokenChanges' | 'getTokensByIds'>,
    private readonly roles: Pick<RoleRegistry, 'get' | 'refresh'>,
    private readonly snapshots: HeldProjects,
    private readonly opts: StreamGuardOptions,
  ) {
    this.now = opts.now ?? Date.now;
    // Before the hub's listener: a replaced workload's streams end before its change is sent.
    snapshots.prependListener('changed', (project, state) => this.projectChanged(project, state));
  }

  /** Open streams on this replica (all tokens). */
  get streamCount(): number {
    return this.open;
  }

  /**
   * Registers a stream of an authenticated, authorized caller: counts it against its token's
   * cap (RESOURCE_EXHAUSTED past it) and guards it from now on. The caller keeps what this
   * returns and hands it to release() when the stream ends: an object the guard already has,
   * not a closure per stream (thousands are open at once).
   */
  admit(p: Principal, stream: GuardedStream): Admission {
    const id = keyOf(p);
    let ts = this.tokens.get(id);
    const max = this.opts.maxStreamsPerToken;
    if (ts && ts.streams.size >= max) {
      throw new DomainError(
        'RESOURCE_EXHAUSTED',
        `this token already holds ${max} open Watch streams on this server (the limit of --max-streams-per-token); close some, or give each workload its own token`,
      );
    }
    if (!ts) {
      ts = { principal: p, rights: rightsKey(p.token, p.role), streams: new Set(), ...(p.k8s ? { reviewedAt: this.now() } : {}) };
      this.tokens.set(id, ts);
      this.unchecked.add(id);
      this.arm(ts);
    }
    ts.streams.add(stream);
    this.counted(1);
    return ts as unknown as Admission;
  }

  /** The stream ended: it leaves the guard (once; later calls do nothing). */
  release(stream: GuardedStream, admission: Admission): void {
    const owner = admission as unknown as TokenStreams;
    if (!owner.streams.delete(stream)) return;
    this.counted(-1);
    if (owner.streams.size > 0) return;
    const id = keyOf(owner.principal);
    if (this.tokens.get(id) === owner) this.forget(id, owner);
  }

  /** This replica revoked the token: its streams end now, before RevokeToken answers. */
  revoked(id: string): void {
    for (const ts of [...this.tokens.values()]) {
      if (ts.principal.token.id !== id) continue;
      this.cut(ts, 'UNAUTHENTICATED', ts.principal.k8s ? `the binding of Kubernetes service account ${ts.principal.k8s.account} was removed` : 'token has been revoked');
    }
  }

  start(): void {
    this.timer = setInterval(() => {
      if (!this.running) void this.fresh();
      if (!this.reviewing && this.opts.review) void this.reviewDue();
    }, this.opts.checkMs);
    this.timer.unref();
  }

  /**
   * Kubernetes principals whose token was last reviewed a review period ago or more are reviewed
   * again (the reviewer's cache then has no answer for them: a real TokenReview). Refused: their
   * streams end. Not reviewable now (API server down): they stay, and are tried again.
   */
  async reviewDue(): Promise<void> {
    const review = this.opts.review;
    if (!review || this.reviewing) return;
    this.reviewing = true;
    try {
      const period = this.opts.reviewMs ?? 10_000;
      const due = [...this.tokens.values()].filter((ts) => ts.principal.k8s && this.now() - (ts.reviewedAt ?? 0) >= period);
      await Promise.all(
        due.map(async (ts) => {
          try {
            await review(ts.principal);
            ts.reviewedAt = this.now();
          } catch (e) {
            if (e instanceof DomainError && e.code === 'UNAUTHENTICATED' && this.tokens.get(keyOf(ts.principal)) === ts) this.cut(ts, 'UNAUTHENTICATED', e.message);
          }
        }),
      );
    } finally {
      this.reviewing = false;
    }
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    for (const [id, ts] of this.tokens) this.forget(id, ts);
  }

  /**
   * A check that starts after this call (one in flight started before it, so it may have read
   * the store too early): callers waiting at the same time share the next one.
   */
  fresh(): Promise<void> {
    if (this.tokens.size === 0) return Promise.resolve();
    if (!this.running) {
      const run = this.check().finally(() => {
        if (this.running === run) this.running = undefined;
      });
      this.running = run;
      return run;
    }
    this.queued ??= this.running.then(() => {
      this.queued = undefined;
      return this.fresh();
    });
    return this.queued;
  }

  /**
   * Two point reads (the token change counter, the custom roles); the tokens themselves are
   * read only when one of them moved (then every token with open streams), for tokens whose
   * streams opened since the last read, and every FULL_CHECK_MS as a safety net.
   */
  private async check(): Promise<void> {
    let changes: number;
    let roles: string;
    try {
      [changes, roles] = await Promise.all([this.store.tokenChanges(), this.roles.refresh()]);
    } catch {
      // Store unavailable: nothing can be revoked while it is down; the next check catches up.
      return;
    }
    const full = !this.seen || this.seen.changes !== changes || this.seen.roles !== roles || this.now() - this.seen.at >= FULL_CHECK_MS;
    const keys = full ? [...this.tokens.keys()] : [...this.unchecked].filter((key) => this.tokens.has(key));
    this.unchecked.clear();
    if (keys.length === 0) {
      if (full) this.seen = { changes, roles, at: this.now() };
      return;
    }
    const ids = [...new Set(keys.map((key) => this.tokens.get(key)!.principal.token.id))];
    let records: TokenRecord[];
    try {
      records = await this.store.getTokensByIds(ids);
    } catch {
      for (const key of keys) this.unchecked.add(key);
      return;
    }
    if (full) this.seen = { changes, roles, at: this.now() };
    const byId = new Map(records.map((t) => [t.id, t]));
    const now = this.now();
    for (const id of keys) {
      const ts = this.tokens.get(id);
      if (!ts) continue;
      const t = byId.get(ts.principal.token.id) ?? null;
      const dead = deadToken(t, now);
      if (dead) {
        this.cut(ts, 'UNAUTHENTICATED', dead);
        continue;
      }
      const role = await this.roles.get(t!.role).catch(() => ts.principal.role);
      if (!role) {
        this.cut(ts, 'UNAUTHENTICATED', `the token's role ${t!.role} no longer exists`);
        continue;
      }
      if (this.tokens.get(id) !== ts) continue; // released while the role was read
      const next = ts.principal.withToken(t!, role);
      if (next.token.expiresAt !== ts.principal.token.expiresAt) {
        ts.principal = next;
        this.arm(ts);
      }
      const rights = rightsKey(t!, role);
      if (rights === ts.rights) continue;
      ts.principal = next;
      ts.rights = rights;
      for (const s of [...ts.streams]) this.authorize(ts, s);
    }
  }

  /** The token is valid: may it still watch this identity? */
  private authorize(ts: TokenStreams, s: GuardedStream): void {
    const p = ts.principal;
    try {
      if (s.authorize) s.authorize(p);
      else {
        p.requireResolve(s.project, s.workload, s.scope);
        if (p.token.workload) p.requireWorkloadIdentity(this.snapshots.peek(s.project)?.snapshot.workloads.get(s.workload));
      }
    } catch (e) {
      const code: CutCode = e instanceof DomainError && e.code === 'UNAUTHENTICATED' ? 'UNAUTHENTICATED' : 'PERMISSION_DENIED';
      this.endOne(ts, s, code, e instanceof Error ? e.message : 'no longer authorized');
    }
  }

  /** Bound tokens whose workload this change removed or replaced. */
  private projectChanged(project: string, state: HeldProject | null): void {
    for (const ts of [...this.tokens.values()]) {
      const bound = ts.principal.token.workload;
      if (!bound || bound.project !== project) continue;
      try {
        ts.principal.requireWorkloadIdentity(state?.snapshot.workloads.get(bound.workload));
      } catch (e) {
        this.cut(ts, 'UNAUTHENTICATED', (e as Error).message);
      }
    }
  }

  /** A timer at the token's expiry ends its streams then (not at the next check). */
  private arm(ts: TokenStreams): void {
    if (ts.expiry) clearTimeout(ts.expiry);
    ts.expiry = undefined;
    const at = ts.principal.token.expiresAt;
    if (!at) return;
    // Never synchronously: the caller is still registering the stream.
    ts.expiry = setTimeout(() => {
      if (this.now() >= at) this.cut(ts, 'UNAUTHENTICATED', 'token has expired');
      else this.arm(ts);
    }, Math.min(MAX_TIMER_MS, Math.max(0, at - this.now())));
    ts.expiry.unref();
  }

  private cut(ts: TokenStreams, code: CutCode, message: string): void {
    for (const s of [...ts.streams]) this.endOne(ts, s, code, message);
    const id = keyOf(ts.principal);
    if (this.tokens.get(id) === ts) this.forget(id, ts);
  }

  private endOne(ts: TokenStreams, s: GuardedStream, code: CutCode, message: string): void {
    if (!ts.streams.delete(s)) return;
    this.counted(-1);
    this.opts.onCut?.(ts.principal, s, code, message);
    s.end(code, message);
    const id = keyOf(ts.principal);
    if (ts.streams.size === 0 && this.tokens.get(id) === ts) this.forget(id, ts);
  }

  /** Every stream is counted once when admitted and once when it leaves a token's set. */
  private counted(delta: 1 | -1): void {
    this.open += delta;
    this.opts.onOpenStreams?.(this.open);
  }

  private forget(id: string, ts: TokenStreams): void {
    if (ts.expiry) clearTimeout(ts.expiry);
    this.tokens.delete(id);
  }
}
