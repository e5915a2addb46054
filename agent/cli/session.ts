/**
 * What every command shares: the token, the first resolution (live, or the last-known-good copy
 * when the server is unreachable and the copy is fresh enough), and then the watch that keeps it
 * current. Failing to get a first resolution is a CliError: one line, non-zero exit.
 */
import { readFileSync, statSync } from 'node:fs';
import { SecretGroupsClient, type WatchEvent } from '../client/index.js';
import { Code, RpcError, codeName } from '../client/errors.js';
import { SCOPE_BUILD, SCOPE_RUNTIME, type Resolution, type RestartEvent } from '../client/wire.js';
import type { Identity, MemoryCache } from '../cache/memory.js';
import type { LastKnownGood, LoadResult } from '../cache/last-known-good.js';
import type { AgentLog } from '../log.js';
import type { Parsed } from './args.js';
import { CliError, EXIT } from '../client/exit-codes.js';

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
  /** Where the token came from (re-read when the server stops accepting the token). */
  tokenFile?: string;
  /**
   * A Kubernetes service-account token file: re-read on every call (each Watch (re)connect),
   * since the kubelet rotates it, and at once when the server refuses the token it replaced.
   */
  k8sTokenFile?: string;
  /** How long to keep trying after the server refused the token mid-watch, before giving up. */
  authGraceMs: number;
  /** Keep trying for ever instead (the outputs stay as they were). */
  waitOnAuthError: boolean;
}

/** Retries with a refused token: slow, so a dead token neither spins nor trips the server's throttle. */
const AUTH_RETRY_MS = [5_000, 10_000, 20_000, 30_000, 60_000];

export function isAuthFailure(e: unknown): e is RpcError {
  return e instanceof RpcError && (e.code === Code.UNAUTHENTICATED || e.code === Code.PERMISSION_DENIED);
}

function readTokenFile(file: string, flag = '--token-file'): string {
  try {
    return readFileSync(file, 'utf8').trim();
  } catch (e) {
    throw new CliError(`cannot read ${flag} ${file} (${(e as NodeJS.ErrnoException).code})`, EXIT.server);
  }
}

/**
 * A token file its group or other users may read hands the token to them: said on stderr
 * (never the token), or refused under --strict. The mode is the target's (a Kubernetes secret
 * mount is a symlink; its files are 0644 unless the volume sets defaultMode).
 */
function checkTokenFileMode(file: string, strict: boolean): void {
  let mode: number;
  try {
    mode = statSync(file).mode;
  } catch {
    return; // reading it says why
  }
  if ((mode & 0o044) === 0) return;
  const who = [mode & 0o040 ? 'its group' : '', mode & 0o004 ? 'every user' : ''].filter(Boolean).join(' and ');
  const what = `--token-file ${file} is readable by ${who} (mode ${(mode & 0o777).toString(8).padStart(4, '0')})`;
  if (strict) throw new CliError(`${what}: refused under --strict; make it readable by its owner only (chmod 600, or defaultMode: 0400 for a Kubernetes secret volume)`, EXIT.usage);
  process.stderr.write(`sg-agent: WARNING: ${what}; make it readable by its owner only (chmod 600), or pass --strict to refuse such a file\n`);
}

export function sessionConfig(p: Parsed, forceScope?: 'build'): SessionConfig {
  const v = p.values;
  const project = v.project as string | undefined;
  const workload = v.workload as string | undefined;
  if (!project) throw new CliError('--project (or SG_PROJECT) is required', EXIT.usage);
  if (!workload) throw new CliError('--workload (or SG_WORKLOAD) is required', EXIT.usage);
  let token: string | undefined;
  const tokenFile = v['token-file'] as string | undefined;
  const k8sTokenFile = v['k8s-token-file'] as string | undefined;
  if (tokenFile && k8sTokenFile) throw new CliError('--token-file and --k8s-token-file exclude each other: give one credential', EXIT.usage);
  if (k8sTokenFile) {
    // No mode check: a projected token is mode 0644 inside the pod's own filesystem.
    token = readTokenFile(k8sTokenFile, '--k8s-token-file');
    if (!token) throw new CliError(`--k8s-token-file ${k8sTokenFile} is empty`, EXIT.usage);
  } else if (tokenFile) {
    checkTokenFileMode(tokenFile, Boolean(v.strict));
    token = readTokenFile(tokenFile);
  } else token = process.env.SG_TOKEN;
  if (!token) {
    throw new CliError('no token: set SG_TOKEN, --token-file (a workload token from `sg token create --workload PROJECT/NAME`) or --k8s-token-file (a Kubernetes service-account token)', EXIT.usage);
  }
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
    ...(tokenFile ? { tokenFile } : {}),
    ...(k8sTokenFile ? { k8sTokenFile } : {}),
    authGraceMs: (v['auth-grace'] as number | undefined) ?? 30_000,
    waitOnAuthError: Boolean(v['wait-on-auth-error']),
  };
}

function describe(id: Identity): string {
  return `${id.project}/${id.workload} (${id.scope === SCOPE_BUILD ? 'build' : 'runtime'})`;
}

export function rpcFailure(e: RpcError, id: Identity): CliError {
  const what = describe(id);
  switch (e.code) {
    case Code.UNAUTHENTICATED:
      return new CliError(`the server rejected the token: ${e.details || 'unauthenticated'} (UNAUTHENTICATED)`, EXIT.server);
    case Code.PERMISSION_DENIED:
      return new CliError(`this token may not resolve ${what}: ${e.details || 'permission denied'} (PERMISSION_DENIED)`, EXIT.server);
    case Code.NOT_FOUND:
      return new CliError(`cannot resolve ${what}: ${e.details || 'not found'} (NOT_FOUND)`, EXIT.server);
    default:
      return new CliError(`cannot resolve ${what}: ${e.details || 'error'} (${codeName(e.code)})`, EXIT.server);
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
  /**
   * The watch ended for good: a non-transient error while running, or the server refusing the
   * token for longer than --auth-grace (then a CliError with exit code EXIT.auth).
   */
  onFatal?(err: Error): void;
}

export class Session {
  current!: Resolution;
  fromCache = false;
  private handlersSet: SessionHandlers = {};
  /** The last resolution handed to the command (start's result, or via onResolution). */
  private delivered: Resolution | undefined;
  private readonly abort = new AbortController();
  private client: SecretGroupsClient;
  /** Set while the server refuses the token (mid-watch): since when, retries, the give-up timer. */
  private authLost: { since: number; attempt: number; deadline?: NodeJS.Timeout; retry?: NodeJS.Timeout } | undefined;
  private lkg: LastKnownGood | undefined;
  private memory: MemoryCache | undefined;
  private lastSavedMs = 0;
  private pending: Promise<void> = Promise.resolve();
  private started = false;
  /** The token the last call carried (Kubernetes token file). */
  private sentToken: string | undefined;
  private tokenFileWarned = false;

  constructor(
    private readonly cfg: SessionConfig,
    private readonly log: AgentLog,
  ) {
    const tokenSource = cfg.k8sTokenFile ? () => (this.sentToken = this.k8sToken()) : undefined;
    this.client = new SecretGroupsClient({ addr: cfg.addr, token: cfg.token, ca: cfg.ca, cert: cfg.cert, key: cfg.key, ...(tokenSource ? { tokenSource } : {}) });
  }

  /**
   * The Kubernetes token file's token now (read on every call: it is small, and calls are few);
   * the last one read when the file cannot be read. A new token is used from then on.
   */
  private k8sToken(): string {
    const { cfg } = this;
    let token: string;
    try {
      token = readTokenFile(cfg.k8sTokenFile!, '--k8s-token-file');
      this.tokenFileWarned = false;
    } catch (e) {
      if (!this.tokenFileWarned) this.log.warn('cannot re-read the Kubernetes token file; using the last token read', { error: (e as Error).message });
      this.tokenFileWarned = true;
      return cfg.token;
    }
    if (!token || token === cfg.token) return cfg.token;
    this.log.debug('the Kubernetes token file holds a new token (rotated); using it');
    this.tokenChanged(token);
    return token;
  }

  /** Whether the Kubernetes token file now holds another token than the last call carried. */
  private k8sTokenRotated(): boolean {
    if (!this.cfg.k8sTokenFile || this.sentToken === undefined) return false;
    return this.k8sToken() !== this.sentToken;
  }

  /** A new token from now on: the cache is sealed with the token, so a new token starts a new copy. */
  private tokenChanged(token: string): void {
    const { cfg } = this;
    cfg.token = token;
    if (this.lkg && cfg.cacheDir) void import('../cache/last-known-good.js').then(({ LastKnownGood }) => (this.lkg = new LastKnownGood(cfg.cacheDir!, token, cfg.id)));
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
          reject(new CliError(`cannot reach the server at ${this.client.addr} within ${formatAge(cfg.startTimeoutMs)}${why}; ${cacheProblem(cfg, cached)}`, EXIT.server));
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
        for await (const ev of it) {
          if (this.authLost && (ev.type === 'resolution' || ev.type === 'unchanged')) this.authRestored();
          handle(ev);
        }
      } catch (e) {
        // A refused Kubernetes token that the kubelet has replaced since: reconnect with the new one.
        if (isAuthFailure(e) && e.code === Code.UNAUTHENTICATED && !this.abort.signal.aborted && this.k8sTokenRotated()) {
          log.info('the server refused the previous Kubernetes token; reconnecting with the rotated one');
          this.pump(this.started ? this.current.etag : start.cached?.etag, start);
          return;
        }
        const err = e instanceof RpcError ? rpcFailure(e, cfg.id) : (e as Error);
        if (!this.started) start.fail(err);
        else if (isAuthFailure(e)) this.authRefused(e, () => this.pump(this.current.etag, start));
        else {
          log.error('watch ended; values will no longer be updated', { error: err.message });
          this.handlers.onFatal?.(err);
        }
      }
    })();
  }

  /**
   * The server ended the watch because it no longer accepts the token (revoked, expired, its
   * workload deleted, its role changed). The outputs stay as they are and are not updated; the
   * agent says so once, retries slowly (re-reading --token-file, which may hold a rotated
   * token), and gives up after --auth-grace unless --wait-on-auth-error.
   */
  private authRefused(e: RpcError, retry: () => void): void {
    const { cfg, log } = this;
    if (this.abort.signal.aborted) return;
    if (!this.authLost) {
      this.authLost = { since: Date.now(), attempt: 0 };
      const then = cfg.waitOnAuthError
        ? 'waiting until it is accepted again (--wait-on-auth-error)'
        : `exiting in ${formatAge(cfg.authGraceMs)} unless it is accepted again (--auth-grace)`;
      process.stderr.write(`sg-agent: the server no longer accepts the token for ${describe(cfg.id)}: ${e.details || 'refused'} (${codeName(e.code)}); outputs are no longer updated; ${then}\n`);
      log.debug('token refused mid-watch', { code: codeName(e.code) });
      if (!cfg.waitOnAuthError) {
        this.authLost.deadline = setTimeout(() => {
          this.close();
          this.handlers.onFatal?.(new CliError(`giving up: the token for ${describe(cfg.id)} was not accepted again within ${formatAge(cfg.authGraceMs)} (${codeName(e.code)})`, EXIT.auth));
        }, cfg.authGraceMs);
      }
    }
    const lost = this.authLost;
    const delay = AUTH_RETRY_MS[Math.min(lost.attempt, AUTH_RETRY_MS.length - 1)]!;
    lost.attempt++;
    // Jitter: agents whose token was revoked together do not come back together.
    lost.retry = setTimeout(() => {
      if (this.abort.signal.aborted) return;
      this.reloadToken();
      retry();
    }, Math.round(delay * (0.75 + Math.random() * 0.5)));
  }

  private authRestored(): void {
    const lost = this.authLost!;
    clearTimeout(lost.deadline);
    this.authLost = undefined;
    process.stderr.write(`sg-agent: the token is accepted again; outputs are updated again\n`);
  }

  /** A token file that now holds another token (rotated): use it from the next call on. */
  private reloadToken(): void {
    const { cfg } = this;
    // A Kubernetes token file is read on every call already.
    if (!cfg.tokenFile) return;
    let token: string;
    try {
      token = readTokenFile(cfg.tokenFile);
    } catch (e) {
      this.log.warn('cannot re-read the token file', { error: (e as Error).message });
      return;
    }
    if (!token || token === cfg.token) return;
    this.log.info('the token file holds a new token; using it');
    this.client.close();
    this.client = new SecretGroupsClient({ addr: cfg.addr, token, ca: cfg.ca, cert: cfg.cert, key: cfg.key });
    this.tokenChanged(token);
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
    if (this.authLost) {
      clearTimeout(this.authLost.deadline);
      clearTimeout(this.authLost.retry);
    }
    this.abort.abort();
    this.client.close();
    this.memory?.close();
  }
}

