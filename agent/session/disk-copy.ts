/**
 * The encrypted last-known-good copy as the session uses it: loaded once at start (to stand in
 * for an unreachable server), saved after every new resolution and refreshed on the server's
 * confirmations, re-keyed when the token changes (it is sealed with the token).
 */
import type { LoadResult } from '../cache/last-known-good.js';
import type { Resolution } from '../../client/wire.js';
import type { AgentLog } from '../log.js';

/** What the session needs of a LastKnownGood (agent/cache/last-known-good.ts). */
export interface CopyStore {
  readonly path: string;
  load(maxStaleMs: number): Promise<LoadResult>;
  save(resolution: Resolution): Promise<void>;
}

/** Opens the copy sealed with `token`. */
export type OpenCopy = (token: string) => Promise<CopyStore>;

export class DiskCopy {
  private store: Promise<CopyStore>;
  private pending: Promise<void> = Promise.resolve();
  /** When the copy was last written (its age on disk starts then). */
  lastSavedMs = 0;

  constructor(
    private readonly open: OpenCopy,
    token: string,
    private readonly log: Pick<AgentLog, 'debug' | 'warn'>,
  ) {
    this.store = open(token);
  }

  /** A new token from now on: the next save starts a new copy, sealed with it. */
  rekey(token: string): void {
    this.store = this.open(token);
  }

  async load(maxStaleMs: number): Promise<LoadResult> {
    const store = await this.store;
    const r = await store.load(maxStaleMs);
    this.log.debug('cache checked', { status: r.status, path: store.path });
    return r;
  }

  /** Saves in the background, in order; a failure is a warning, never fatal. */
  save(res: Resolution): void {
    this.lastSavedMs = Date.now();
    const store = this.store;
    this.pending = this.pending
      .then(() => store)
      .then((s) => s.save(res).catch((e: Error) => this.log.warn('cannot write the cache file', { path: s.path, error: (e as NodeJS.ErrnoException).code ?? e.message })))
      .catch((e: Error) => this.log.warn('cannot open the cache file', { error: e.message }));
  }

  /** Waits for pending writes (bounded), for a clean exit. */
  async flush(timeoutMs = 2000): Promise<void> {
    let t: NodeJS.Timeout | undefined;
    await Promise.race([this.pending, new Promise<void>((r) => (t = setTimeout(r, timeoutMs)))]);
    clearTimeout(t);
  }
}
