/**
 * In-memory resolutions (node-cache), keyed by identity. In the agent it is the one copy of the
 * merged set: the session writes every resolution here and every sink reads from here, with no
 * TTL (see MEMORY_TTL_SECONDS in session/open.ts). `resolve()` callers of the typed client can
 * read through it with a TTL; a `watch()` on the same client keeps the entry current. Paths
 * without a cache do not load this module (session/open.ts imports it when it makes one), so
 * node-cache is a static import: the sg-agent bundle then carries it (scripts/bundle-bins.mjs).
 */
import NodeCache from 'node-cache';
import type { ResolutionCache } from '../../client/index.js';
import type { Identity, Resolution } from '../../client/wire.js';

export type { Identity };

export function identityKey(id: Identity): string {
  return `${id.project}/${id.workload}/${id.scope}`;
}

export interface MemoryCacheOptions {
  /** Seconds an entry stays valid without a refresh; 0 keeps it until replaced. */
  ttlSeconds?: number;
}

export class MemoryCache implements ResolutionCache {
  private readonly cache: NodeCache;

  constructor(opts: MemoryCacheOptions = {}) {
    // useClones: false — resolutions are treated as immutable, and cloning Buffers is wasted work.
    // checkperiod: 0 — expiry is checked on read, so no timer keeps the process alive.
    this.cache = new NodeCache({ stdTTL: opts.ttlSeconds ?? 0, useClones: false, checkperiod: 0 });
  }

  get(id: Identity): Resolution | undefined {
    return this.cache.get<Resolution>(identityKey(id));
  }

  set(id: Identity, resolution: Resolution): void {
    this.cache.set(identityKey(id), resolution);
  }

  /** Extends an entry's life when the server confirms it is still current. */
  touch(id: Identity): void {
    const key = identityKey(id);
    if (this.cache.has(key)) this.cache.ttl(key, this.cache.options.stdTTL ?? 0);
  }

  delete(id: Identity): void {
    this.cache.del(identityKey(id));
  }

  close(): void {
    this.cache.close();
  }
}
