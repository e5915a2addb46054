/**
 * What every command shares: the token, the first resolution (live, or the last-known-good copy
 * when the server is unreachable and the copy is fresh enough), and then the watch that keeps it
 * current. Failing to get a first resolution is a CliError: one line, non-zero exit.
 */
import { readFileSync } from 'node:fs';
import { SecretGroupsClient, type WatchEvent } from '../client/index.js';
import { Code, RpcError, codeName } from '../client/errors.js';
import { SCOPE_BUILD, SCOPE_RUNTIME, type Resolution, type RestartEvent } from '../client/wire.js';
import type { Identity, MemoryCache } from '../cache/memory.js';
import type { LastKnownGood, LoadResult } from '../cache/last-known-good.js';
import type { AgentLog } from '../log.js';
import type { Parsed } from './args.js';

export class CliError extends Error {
  override name = 'CliError';
  constructor(
    message: string,
    readonly exitCode = 1,
  ) {
    super(message);
  }
}

export interface SessionConfig {
  addr: string;
  token: string;
  ca?: string;
  cert?: string;
  key?: string;
  id: Identity;
  cacheDir?: string;
  maxStaleMs: number;
  startTimeoutMs: number;
}

export function sessionConfig(p: Parsed, forceScope?: 'build'): SessionConfig {
  const v = p.values;
  const project = v.project as string | undefined;
  const workload = v.workload as string | undefined;
  if (!project) throw new CliError('--project (or SG_PROJECT) is required', 2);
  if (!workload) throw new CliError('--workload (or SG_WORKLOAD) is required', 2);
  let token: string | undefined;
  const tokenFile = v['token-file'] as string | undefined;
  if (tokenFile) {
    try {
      token = readFileSync(tokenFile, 'utf8').trim();
    } catch (e) {
      throw new CliError(`cannot read --token-file ${tokenFile} (${(e as NodeJS.ErrnoException).code})`);
    }
  } else token = process.env.SG_TOKEN;
  if (!token) throw new CliError('no token: set SG_TOKEN or --token-file (a workload token from `sg token create --workload PROJECT/NAME`)', 2);
  const scope = (forceScope ?? v.scope) === 'build' ? SCOPE_BUILD : SCOPE_RUNTIME;
  return {
    addr: v.addr as string,
    token,
    ca: v.ca as string | undefined,
    cert: v.cert as string | undefined,
    key: v.key as string | undefined,
    id: { project, workload, scope },
    cacheDir: v['cache-dir'] as string | undefined,
    maxStaleMs: v['max-stale'] as number,
    startTimeoutMs: v['start-timeout'] as number,
  };
}

function describe(id: Identity): string {
  return `${id.project}/${id.workload} (${id.scope === SCOPE_BUILD ? 'build' : 'runtime'})`;
}

export function rpcFailure(e: RpcError, id: Identity): CliError {
  const what = describe(id);
  switch (e.code) {
    case Code.UNAUTHENTICATED:
      return new CliError(`the server rejected the token: ${e.details || 'unauthenticated'} (UNAUTHENTICATED)`);
    case Code.PERMISSION_DENIED:
      return new CliError(`this token may not resolve ${what}: ${e.details || 'permission denied'} (PERMISSION_DENIED)`);
    case Code.NOT_FOUND:
      return new CliError(`cannot resolve ${what}: ${e.details || 'not found'} (NOT_FOUND)`);
    default:
      return new CliError(`cannot resolve ${what}: ${e.details || 'error'} (${codeName(e.code)})`);
  }
}

function formatAge(ms: number): string {
  if (ms < 120_000) return `${Math.round(ms / 1000)}s`;
  if (ms < 7_200_000) return `${Math.round(ms / 60_000)}m`;
  return `${(ms / 3_600_000).toFixed(1)}h`;
}

function cacheProblem(cfg: SessionConfig, r: LoadResult | undefined): string {
  if (!cfg.cacheDir) return 'no --cache-dir to fall back on';
  if (cfg.maxStaleMs <= 0) return 'the cache is disabled by --max-stale 0';
  if (!r || r.status === 'missing') return 'no cached copy to fall back on';
  if (r.status === 'unreadable') return 'the cached copy cannot be read or decrypted with this token';
  return `the cached copy is ${formatAge(r.ageMs ?? 0)} old, older than --max-stale ${formatAge(cfg.maxStaleMs)}`;
}

export interface SessionHandlers {
  /** A resolution whose etag differs from the previous one. */
  onResolution?(res: Resolution): void;
  onRestart?(ev: RestartEvent): void;
  /** The watch ended for good (a non-transient error while running). */
  onFatal?(err: Error): void;
}

export class Session {
  current!: Resolution;
  fromCache = false;
  private handlersSet: SessionHandlers = {};
  /** The last resolution handed to the command (start's result, or via onResolution). */
  private delivered: Resolution | undefined;
  private readonly abort = new AbortController();
  private readonly client: SecretGroupsClient;
  private lkg: LastKnownGood | undefined;
  private memory: MemoryCache | undefined;
  private lastSavedMs = 0;
  private pending: Promise<void> = Promise.resolve();
  private started = false;

  constructor(
    private readonly cfg: SessionConfig,
    private readonly log: AgentLog,
  ) {
    this.client = new SecretGroupsClient({ addr: cfg.addr, token: cfg.token, ca: cfg.ca, cert: cfg.cert, key: cfg.key });
  }

  /** Resolves with the first resolution, or throws CliError. */
  async start(): Promise<Resolution> {
    const { cfg, log } = this;
    let cached: LoadResult | undefined;
    if (cfg.cacheDir && cfg.maxStaleMs > 0) {
      const { LastKnownGood } = await import('../cache/last-known-good.js');
      this.lkg = new LastKnownGood(cfg.cacheDir, cfg.token, cfg.id);
      cached = await this.lkg.load(cfg.maxStaleMs);
      log.debug('cache checked', { status: cached.status, path: this.lkg.path });
    }
    const cachedRes = cached?.status === 'ok' ? cached.cached.resolution : undefined;
    let lastError: RpcError | undefined;

    const first = new Promise<Resolution>((resolve, reject) => {
      const timer = setTimeout(() => {
        if (cached?.status === 'ok') {
          this.fromCache = true;
          log.warn('RUNNING FROM CACHED VALUES: the server is unreachable; using the last-known-good copy', {
            addr: this.client.addr,
            ageSeconds: Math.round(cached.ageMs / 1000),
            etag: cached.cached.resolution.etag,
            error: lastError?.message,
          });
          process.stderr.write(
            `sg-agent: WARNING: server ${this.client.addr} unreachable; running from the cached copy saved ${formatAge(cached.ageMs)} ago\n`,
          );
          resolve(cached.cached.resolution);
        } else {
          const why = lastError ? `: ${lastError.message}` : '';
          reject(new CliError(`cannot reach the server at ${this.client.addr} within ${formatAge(cfg.startTimeoutMs)}${why}; ${cacheProblem(cfg, cached)}`));
        }
      }, cfg.startTimeoutMs);
      this.pump(cachedRes?.etag, {
        first: (res) => {
          clearTimeout(timer);
          resolve(res);
        },
        fail: (err) => {
          clearTimeout(timer);
          reject(err);
        },
        retry: (err) => {
          lastError = err;
        },
        cached: cachedRes,
      });
    });
    this.current = await first;
    this.delivered = this.current;
    this.started = true;
    return this.current;
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
    if (this.started && h.onResolution && this.current !== this.delivered) {
      this.delivered = this.current;
      h.onResolution(this.current);
    }
  }

  private pump(
    etag: string | undefined,
    start: { first(res: Resolution): void; fail(e: Error): void; retry(e: RpcError): void; cached: Resolution | undefined },
  ): void {
    const { log, cfg } = this;
    const it = this.client.watch(cfg.id, {
      etag,
      signal: this.abort.signal,
      onRetry: ({ attempt, delayMs, error }) => {
        start.retry(error);
        // The first failures at start are expected noise when the server is coming up.
        const level = this.started && attempt === 1 ? 'warn' : 'debug';
        log[level]('watch disconnected; reconnecting', { attempt, delayMs, code: codeName(error.code), error: error.details });
      },
      onConnected: ({ reconnect }) => {
        if (reconnect) log.info('watch reconnected', { addr: this.client.addr });
        else log.debug('watch connected', { addr: this.client.addr });
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
            if (!this.started) return start.first(res);
          }
          if (this.fromCache) {
            this.fromCache = false;
            log.info('connected again; leaving the cached copy for live values');
          }
          this.current = res;
          if (this.handlersSet.onResolution) {
            this.delivered = res;
            this.handlersSet.onResolution(res);
          }
          return;
        }
        case 'unchanged': {
          const res = this.started ? this.current : start.cached;
          if (!gotFirst) {
            gotFirst = true;
            if (!this.started && res) {
              log.debug('cached copy confirmed current by the server', { etag: ev.etag });
              this.remember(res);
              return start.first(res);
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
        case 'heartbeat':
          // A heartbeat confirms the copy on disk is still current; refresh its age now and then.
          if (this.started && !this.fromCache && Date.now() - this.lastSavedMs > Math.min(600_000, cfg.maxStaleMs / 4)) this.remember(this.current, true);
          return;
      }
    };
    void (async () => {
      try {
        for await (const ev of it) handle(ev);
      } catch (e) {
        const err = e instanceof RpcError ? rpcFailure(e, cfg.id) : (e as Error);
        if (!this.started) start.fail(err);
        else {
          log.error('watch ended; values will no longer be updated', { error: err.message });
          this.handlers.onFatal?.(err);
        }
      }
    })();
  }

  /** Keeps the resolution in memory and (when configured) on disk as the last-known-good copy. */
  private remember(res: Resolution, confirmOnly = false): void {
    if (!confirmOnly) this.memory?.set(this.cfg.id, res);
    if (!this.lkg) return;
    const lkg = this.lkg;
    this.lastSavedMs = Date.now();
    this.pending = this.pending
      .then(() => lkg.save(res))
      .catch((e: Error) => this.log.warn('cannot write the cache file', { path: lkg.path, error: (e as NodeJS.ErrnoException).code ?? e.message }));
  }

  /**
   * Keeps resolutions in node-cache from now on. Long-running commands attach it once the
   * workload is started, so the module is not on the start-up path.
   */
  async attachMemoryCache(): Promise<MemoryCache> {
    const { MemoryCache } = await import('../cache/memory.js');
    this.memory ??= new MemoryCache();
    if (this.current) this.memory.set(this.cfg.id, this.current);
    return this.memory;
  }

  /** Waits for pending cache writes (bounded), for a clean exit. */
  async flush(timeoutMs = 2000): Promise<void> {
    let t: NodeJS.Timeout | undefined;
    await Promise.race([this.pending, new Promise<void>((r) => (t = setTimeout(r, timeoutMs)))]);
    clearTimeout(t);
  }

  close(): void {
    this.abort.abort();
    this.client.close();
    this.memory?.close();
  }
}

