/**
 * What every command shares: the first resolution (live, or the last-known-good copy when the
 * server is unreachable and the copy is fresh enough), then the watch that keeps it current.
 * Failing to get a first resolution is a CliError: one line, non-zero exit.
 *
 * The session holds the merged set in one place, the memory cache: every resolution and
 * confirmation goes there, and `current` (what the commands' sinks apply, what a restarted
 * child gets) is read from there. Its client, caches and credentials are given to it
 * (openSession() builds the real ones), so that tests can give fakes.
 */
import { CliError, EXIT } from '../../client/exit-codes.js';
import { Code, RpcError, codeName } from '../../client/errors.js';
import type { ResolutionCache, SecretGroupsClient, WatchEvent } from '../../client/index.js';
import type { Identity, Resolution, RestartEvent } from '../../client/wire.js';
import type { LoadResult } from '../cache/last-known-good.js';
import type { AgentLog } from '../log.js';
import { AuthGrace } from './auth-grace.js';
import type { Credentials } from './credentials.js';
import type { DiskCopy } from './disk-copy.js';
import { cacheProblem, formatAge, isAuthFailure, rpcFailure } from './wording.js';

export interface SessionOptions {
  id: Identity;
  /** --cache-dir, for the wording when there is no copy to fall back on. */
  cacheDir?: string;
  maxStaleMs: number;
  startTimeoutMs: number;
  /** How long to keep trying after the server refused the token mid-watch, before giving up. */
  authGraceMs: number;
  /** Keep trying for ever instead (the outputs stay as they were). */
  waitOnAuthError: boolean;
}

/** What the session needs of a client: SecretGroupsClient, or a fake. */
export type WatchClient = Pick<SecretGroupsClient, 'addr' | 'watch' | 'close'>;

export interface SessionDeps {
  client: WatchClient;
  /** The one in-memory copy of the merged set (a MemoryCache). */
  memory: ResolutionCache & { close(): void };
  credentials: Credentials;
  /** The encrypted last-known-good copy; absent without --cache-dir, or with --max-stale 0. */
  copy?: DiskCopy;
  log: AgentLog;
}

export interface SessionHandlers {
  /** A resolution whose etag differs from the previous one (the same object as `current`). */
  onResolution?(res: Resolution): void;
  onRestart?(ev: RestartEvent): void;
  /**
   * The watch ended for good: a non-transient error while running, or the server refusing the
   * token for longer than --auth-grace (then a CliError with exit code EXIT.auth).
   */
  onFatal?(err: Error): void;
}

/** How the watch loop reports to start() until the first resolution. */
interface Boot {
  first(res: Resolution): void;
  fail(e: Error): void;
  retry(e: RpcError): void;
  cached: Resolution | undefined;
}

export class Session {
  fromCache = false;
  private handlersSet: SessionHandlers = {};
  /** The last resolution handed to the command (start's result, or via onResolution). */
  private delivered: Resolution | undefined;
  private readonly abort = new AbortController();
  private readonly grace: AuthGrace;
  private boot: Boot | undefined;
  private started = false;

  constructor(
    private readonly opts: SessionOptions,
    private readonly deps: SessionDeps,
  ) {
    this.grace = new AuthGrace({
      id: opts.id,
      graceMs: opts.authGraceMs,
      waitForever: opts.waitOnAuthError,
      log: deps.log,
      retry: () => {
        deps.credentials.reload();
        this.pump(this.current, this.boot!);
      },
      giveUp: (err) => {
        this.close();
        this.handlers.onFatal?.(err);
      },
    });
    deps.credentials.onChange((token) => deps.copy?.rekey(token));
  }

  /** The merged set now, from the memory cache. */
  get current(): Resolution {
    const res = this.deps.memory.get(this.opts.id);
    if (!res) throw new Error(`no resolution of ${this.opts.id.project}/${this.opts.id.workload} in memory`);
    return res;
  }

  /** Resolves with the first resolution, or throws CliError. */
  async start(): Promise<Resolution> {
    const { opts, deps } = this;
    const { log, client } = deps;
    const cached: LoadResult | undefined = deps.copy ? await deps.copy.load(opts.maxStaleMs) : undefined;
    const cachedRes = cached?.status === 'ok' ? cached.cached.resolution : undefined;
    let lastError: RpcError | undefined;

    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => {
        if (cached?.status === 'ok') {
          this.fromCache = true;
          log.warn('RUNNING FROM CACHED VALUES: the server is unreachable; using the last-known-good copy', {
            addr: client.addr,
            ageSeconds: Math.round(cached.ageMs / 1000),
            etag: cached.cached.resolution.etag,
            error: lastError?.message,
          });
          process.stderr.write(`sg-agent: WARNING: server ${client.addr} unreachable; running from the cached copy saved ${formatAge(cached.ageMs)} ago\n`);
          deps.memory.set(opts.id, cached.cached.resolution);
          resolve();
        } else {
          const why = lastError ? `: ${lastError.message}` : '';
          reject(new CliError(`cannot reach the server at ${client.addr} within ${formatAge(opts.startTimeoutMs)}${why}; ${cacheProblem(opts, cached)}`, EXIT.server));
        }
      }, opts.startTimeoutMs);
      this.boot = {
        first: () => {
          clearTimeout(timer);
          resolve();
        },
        fail: (err) => {
          clearTimeout(timer);
          reject(err);
        },
        retry: (err) => {
          lastError = err;
        },
        cached: cachedRes,
      };
      this.pump(cachedRes, this.boot);
    });
    this.started = true;
    this.delivered = this.current;
    return this.delivered;
  }

  get handlers(): SessionHandlers {
    return this.handlersSet;
  }

  /**
   * The command attaches its handlers after start() and some setup of its own; a change that
   * arrived in between is handed over now, so no update is lost during start-up.
   */
  set handlers(h: SessionHandlers) {
    this.handlersSet = h;
    if (this.started && h.onResolution && this.current !== this.delivered) this.deliver();
  }

  private deliver(): void {
    const res = this.current;
    this.delivered = res;
    this.handlersSet.onResolution?.(res);
  }

  /** Watches from `held`, the resolution in hand (resumed from its etag; the base of the first delta). */
  private pump(held: Resolution | undefined, boot: Boot): void {
    const { opts, deps } = this;
    const { log, client } = deps;
    const it = client.watch(opts.id, {
      held,
      signal: this.abort.signal,
      onRetry: ({ attempt, delayMs, error }) => {
        boot.retry(error);
        // The first failures at start are expected noise when the server is coming up.
        const level = this.started && attempt === 1 ? 'warn' : 'debug';
        log[level]('watch disconnected; reconnecting', { attempt, delayMs, code: codeName(error.code), error: error.details });
      },
      onConnected: ({ reconnect }) => {
        if (reconnect) log.info('watch reconnected', { addr: client.addr });
        else log.debug('watch connected', { addr: client.addr });
      },
    });
    let gotFirst = false;
    const handle = (ev: WatchEvent) => {
      log.trace('watch event', { type: ev.type });
      switch (ev.type) {
        case 'resolution': {
          const res = ev.resolution;
          this.remember(res);
          log.debug('resolution received', { etag: res.etag, variableCount: Object.keys(res.variables).length, fileCount: res.files.length });
          if (!gotFirst) {
            gotFirst = true;
            if (!this.started) return boot.first(res);
          }
          if (this.fromCache) {
            this.fromCache = false;
            log.info('connected again; leaving the cached copy for live values');
          }
          if (this.handlersSet.onResolution) this.deliver();
          return;
        }
        case 'unchanged': {
          const res = this.started ? this.current : boot.cached;
          if (!gotFirst) {
            gotFirst = true;
            if (!this.started && res) {
              log.debug('cached copy confirmed current by the server', { etag: ev.etag });
              this.remember(res);
              return boot.first(res);
            }
          }
          if (this.fromCache) {
            this.fromCache = false;
            log.info('connected again; the cached copy is current');
          }
          if (res) this.remember(res, true);
          return;
        }
        case 'restart':
          log.info('restart requested', { group: ev.restart.group, by: ev.restart.requestedBy });
          if (this.started) this.handlers.onRestart?.(ev.restart);
          return;
        case 'heartbeat': {
          // A heartbeat confirms the copy on disk is still current; refresh its age now and then.
          const copy = deps.copy;
          if (this.started && !this.fromCache && copy && Date.now() - copy.lastSavedMs > Math.min(600_000, opts.maxStaleMs / 4)) this.remember(this.current, true);
          return;
        }
      }
    };
    void (async () => {
      try {
        for await (const ev of it) {
          if (this.grace.refusing && (ev.type === 'resolution' || ev.type === 'unchanged')) this.grace.restored();
          handle(ev);
        }
      } catch (e) {
        // A refused Kubernetes token that the kubelet has replaced since: reconnect with the new one.
        if (isAuthFailure(e) && e.code === Code.UNAUTHENTICATED && !this.abort.signal.aborted && deps.credentials.rotated()) {
          log.info('the server refused the previous Kubernetes token; reconnecting with the rotated one');
          this.pump(this.started ? this.current : boot.cached, boot);
          return;
        }
        const err = e instanceof RpcError ? rpcFailure(e, opts.id) : (e as Error);
        if (!this.started) boot.fail(err);
        else if (isAuthFailure(e)) {
          if (!this.abort.signal.aborted) this.grace.refused(e);
        } else {
          log.error('watch ended; values will no longer be updated', { error: err.message });
          this.handlers.onFatal?.(err);
        }
      }
    })();
  }

  /**
   * Keeps the resolution in memory (a confirmation extends the entry's life) and, with
   * --cache-dir, on disk as the last-known-good copy.
   */
  private remember(res: Resolution, confirmOnly = false): void {
    if (confirmOnly) this.deps.memory.touch(this.opts.id);
    else this.deps.memory.set(this.opts.id, res);
    this.deps.copy?.save(res);
  }

  /** Waits for pending cache writes (bounded), for a clean exit. */
  async flush(timeoutMs = 2000): Promise<void> {
    await this.deps.copy?.flush(timeoutMs);
  }

  close(): void {
    this.grace.close();
    this.abort.abort();
    this.deps.client.close();
    this.deps.memory.close();
  }
}
