/**
 * Typed client for the resolver API, exported as `secret-groups/client` for internal services
 * and used by `sg-agent` itself: `resolve()`, `explain()`, and `watch()` as an async iterator
 * that reconnects with backoff and jitter and resumes from the last etag it saw.
 *
 * ```ts
 * import { createClient } from 'secret-groups/client';
 * const client = createClient(); // SG_ADDR, SG_TOKEN
 * const res = await client.resolve({ project: 'shop', workload: 'api' });
 * for await (const ev of client.watch({ project: 'shop', workload: 'api' }, { signal })) { ... }
 * ```
 */
import { exponentialBackoff, type RetryPolicy } from './backoff.js';
import { Code, RpcError } from './errors.js';
import { Http2Transport, type TransportOptions } from './transport.js';
import {
  SCOPE_RUNTIME,
  decodeExplainResponse,
  decodeResolveResponse,
  decodeWatchResponse,
  encodeExplainRequest,
  encodeResolveRequest,
  encodeWatchRequest,
  type ExplainResponse,
  type Identity,
  type Resolution,
  type ResolutionDelta,
  type RestartEvent,
  type Scope,
  type WatchResponse,
} from './wire.js';

export { exponentialBackoff, type RetryPolicy, type RetryDecision, type BackoffOptions } from './backoff.js';
export { Code, RpcError, codeName, isTransientCode } from './errors.js';
export { SCOPE_BUILD, SCOPE_RUNTIME } from './wire.js';
export type { ExplainResponse, Identity, Provenance, Resolution, RestartEvent, Scope, SecretFile, Conflict, Source } from './wire.js';
export type { TransportOptions } from './transport.js';

export interface ClientOptions extends TransportOptions {
  /** Deadline for Resolve and Explain; default 10 s. */
  deadlineMs?: number;
  /** Reconnect policy for watch(); default exponential 250 ms → 30 s with 50% jitter. */
  retry?: RetryPolicy;
  /** A Watch attempt that delivers nothing within this time is abandoned and retried; default 10 s. */
  firstMessageTimeoutMs?: number;
  /**
   * A stream that stays silent for this long is considered dead and reconnected; default 60 s
   * (the server sends a heartbeat every 15 s). 0 disables.
   */
  idleTimeoutMs?: number;
  /** Read-through cache for resolve(); watch() keeps it current. A `MemoryCache` (agent/cache/memory.ts) fits. */
  cache?: ResolutionCache;
}

/** Where resolve() reads through and watch() keeps resolutions, by identity. */
export interface ResolutionCache {
  get(id: Identity): Resolution | undefined;
  set(id: Identity, resolution: Resolution): void;
  /** The server confirmed the entry is still current. */
  touch(id: Identity): void;
}

export interface Target {
  project: string;
  workload: string;
  /** SCOPE_RUNTIME (default) or SCOPE_BUILD. */
  scope?: Scope;
  /** Optional claim; the server uses the registered tags. */
  tags?: string[];
}

export type WatchEvent =
  | { type: 'resolution'; resolution: Resolution }
  /** The server confirmed that the etag the client holds is current (after a (re)connect). */
  | { type: 'unchanged'; etag: string }
  | { type: 'restart'; restart: RestartEvent }
  | { type: 'heartbeat'; timeMs: number };

export interface RetryInfo {
  attempt: number;
  delayMs: number;
  error: RpcError;
}

export interface WatchOptions {
  /**
   * Resume from this etag: the first event is `unchanged` if it is still current. (Asking for
   * deltas without `held`, the client fetches the whole resolution and compares the etag itself:
   * it needs a resolution to apply later deltas to.)
   */
  etag?: string;
  /**
   * The resolution the caller holds (a cached copy): resumes from its etag, like `etag`, and
   * lets the first change after an `unchanged` come as a delta.
   */
  held?: Resolution;
  /**
   * Ask the server for deltas (default true): a change of variables comes as what changed, and
   * is applied here to the resolution last received, so events still carry whole resolutions.
   */
  deltas?: boolean;
  /** Ends the iteration (without an error) when aborted. */
  signal?: AbortSignal;
  retry?: RetryPolicy;
  /** Called before each reconnect delay. */
  onRetry?(info: RetryInfo): void;
  /** Called when a (re)connection delivered its first message. */
  onConnected?(info: { reconnect: boolean }): void;
}

/** Queue between the transport's callbacks and the async iterator. */
class Inbox {
  private items: WatchResponse[] = [];
  private end: { error: RpcError | null } | undefined;
  private wake: (() => void) | undefined;

  push(m: WatchResponse): void {
    this.items.push(m);
    this.wake?.();
  }

  close(error: RpcError | null): void {
    if (!this.end) this.end = { error };
    this.wake?.();
  }

  async next(): Promise<WatchResponse | { error: RpcError | null }> {
    for (;;) {
      const m = this.items.shift();
      if (m) return m;
      if (this.end) return this.end;
      await new Promise<void>((r) => (this.wake = r));
      this.wake = undefined;
    }
  }
}

function isEnd(m: WatchResponse | { error: RpcError | null }): m is { error: RpcError | null } {
  return 'error' in m;
}

/**
 * `held` with a delta applied, or undefined when the delta is not from it. Keys stay sorted, as
 * the server sends them, so a resolution reads the same however it arrived.
 */
export function applyDelta(held: Resolution, d: ResolutionDelta): Resolution | undefined {
  if (d.baseEtag !== held.etag) return undefined;
  const merged = new Map(Object.entries(held.variables));
  for (const [k, v] of Object.entries(d.set)) merged.set(k, v);
  for (const k of d.removed) merged.delete(k);
  const variables: Record<string, string> = {};
  for (const k of [...merged.keys()].sort()) variables[k] = merged.get(k)!;
  return { ...held, variables, etag: d.etag };
}

function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal?.aborted) return resolve();
    const t = setTimeout(done, ms);
    function done() {
      clearTimeout(t);
      signal?.removeEventListener('abort', done);
      resolve();
    }
    signal?.addEventListener('abort', done, { once: true });
  });
}

export class SecretGroupsClient {
  readonly addr: string;
  private readonly transport: Http2Transport;

  constructor(private readonly opts: ClientOptions = {}) {
    this.transport = new Http2Transport(opts);
    this.addr = this.transport.addr;
  }

  private request(t: Target) {
    return { project: t.project, workload: t.workload, scope: t.scope ?? SCOPE_RUNTIME, tags: t.tags };
  }

  /** The current resolution (through the memory cache when one is configured). */
  async resolve(target: Target, opts: { deadlineMs?: number } = {}): Promise<Resolution> {
    const req = this.request(target);
    const cached = this.opts.cache?.get(req);
    if (cached) return cached;
    const reply = await this.transport.unary('Resolve', encodeResolveRequest(req), opts.deadlineMs ?? this.opts.deadlineMs ?? 10_000);
    const res = decodeResolveResponse(reply);
    this.opts.cache?.set(req, res);
    return res;
  }

  /** Per-key provenance; keys only, never values. */
  async explain(target: Target, opts: { deadlineMs?: number } = {}): Promise<ExplainResponse> {
    const reply = await this.transport.unary('Explain', encodeExplainRequest(this.request(target)), opts.deadlineMs ?? this.opts.deadlineMs ?? 10_000);
    return decodeExplainResponse(reply);
  }

  /**
   * Resolutions as they change, restart requests and heartbeats, until `signal` aborts.
   * Transient failures (UNAVAILABLE, DEADLINE_EXCEEDED, …) are retried according to the policy,
   * resuming from the last etag; other failures (UNAUTHENTICATED, PERMISSION_DENIED, NOT_FOUND,
   * INVALID_ARGUMENT) end the iteration by throwing the RpcError.
   */
  async *watch(target: Target, opts: WatchOptions = {}): AsyncGenerator<WatchEvent, void, undefined> {
    const base = this.request(target);
    const policy = opts.retry ?? this.opts.retry ?? exponentialBackoff();
    const firstTimeout = this.opts.firstMessageTimeoutMs ?? 10_000;
    const idleTimeout = this.opts.idleTimeoutMs ?? 60_000;
    const signal = opts.signal;
    let etag = opts.etag ?? opts.held?.etag ?? '';
    /** The resolution whose etag is `etag`, when known: what a delta applies to. */
    let held = opts.held?.etag === etag ? opts.held : undefined;
    const deltas = opts.deltas ?? true;
    let attempt = 0;
    let connectedOnce = false;

    while (!signal?.aborted) {
      const inbox = new Inbox();
      // Without the resolution it holds, the client asks for a whole one (an etag it cannot
      // apply a delta to would only cost a reconnect later).
      const resumeFrom = deltas && !held ? '' : etag;
      const call = this.transport.stream('Watch', encodeWatchRequest({ ...base, etag: resumeFrom, deltas }), {
        onMessage: (m) => inbox.push(decodeWatchResponse(m)),
        onEnd: (err) => inbox.close(err),
      });
      let timer: NodeJS.Timeout | undefined;
      const arm = (ms: number, what: string) => {
        if (timer) clearTimeout(timer);
        if (ms > 0) timer = setTimeout(() => call.cancel(new RpcError(Code.UNAVAILABLE, `${what} within ${ms} ms`)), ms);
      };
      arm(firstTimeout, 'no first message');
      const onAbort = () => call.cancel();
      signal?.addEventListener('abort', onAbort, { once: true });
      let gotFirst = false;
      let error: RpcError | null = null;
      try {
        for (;;) {
          const m = await inbox.next();
          if (isEnd(m)) {
            error = m.error;
            break;
          }
          arm(idleTimeout, 'no message or heartbeat');
          if (!gotFirst) {
            gotFirst = true;
            // Success resets the backoff: the next outage starts again from the shortest delay.
            attempt = 0;
            opts.onConnected?.({ reconnect: connectedOnce });
            connectedOnce = true;
          }
          if (m.delta) {
            const r = held && applyDelta(held, m.delta);
            if (!r) {
              // Never expected (the server sends a delta only from what this stream carried
              // last): start again from a whole resolution.
              held = undefined;
              error = new RpcError(Code.UNAVAILABLE, 'the server sent a change to a resolution this client does not hold');
              break;
            }
            held = r;
            etag = r.etag;
            this.opts.cache?.set(base, r);
            yield { type: 'resolution', resolution: r };
          } else if (m.resolution) {
            const r = m.resolution;
            held = r;
            this.opts.cache?.set(base, r);
            if (r.etag !== etag || !etag) {
              etag = r.etag;
              yield { type: 'resolution', resolution: r };
            } else {
              yield { type: 'unchanged', etag };
            }
          } else if (m.unchanged) {
            this.opts.cache?.touch(base);
            yield { type: 'unchanged', etag: m.unchanged.etag };
          } else if (m.restart) {
            yield { type: 'restart', restart: m.restart };
          } else if (m.heartbeat) {
            yield { type: 'heartbeat', timeMs: m.heartbeat.timeMs };
          }
        }
      } finally {
        if (timer) clearTimeout(timer);
        signal?.removeEventListener('abort', onAbort);
        call.cancel();
      }
      if (signal?.aborted) return;
      // A stream that ends cleanly (server shutdown) is reconnected like a failed one.
      const err = error ?? new RpcError(Code.UNAVAILABLE, 'stream ended by the server');
      if (!err.transient) throw err;
      attempt++;
      const decision = policy(attempt);
      if (!decision.retry) throw err;
      opts.onRetry?.({ attempt, delayMs: decision.delayMs, error: err });
      await sleep(decision.delayMs, signal);
    }
  }

  close(): void {
    this.transport.close();
  }
}

/** A client for SG_ADDR / SG_TOKEN (and SG_CA, SG_CERT, SG_KEY), overridable by options. */
export function createClient(opts: ClientOptions = {}): SecretGroupsClient {
  return new SecretGroupsClient(opts);
}
