/**
 * How the agent words what went wrong with the server or the cached copy: the one-line
 * CliErrors and stderr lines of a session. Messages name identities, codes and ages, never a value.
 */
import { CliError, EXIT } from '../../client/exit-codes.js';
import { Code, RpcError, codeName } from '../../client/errors.js';
import { SCOPE_BUILD, type Identity } from '../../client/wire.js';
import type { LoadResult } from '../cache/last-known-good.js';

/** `shop/api (runtime)`. */
export function describe(id: Identity): string {
  return `${id.project}/${id.workload} (${id.scope === SCOPE_BUILD ? 'build' : 'runtime'})`;
}

export function formatAge(ms: number): string {
  if (ms < 120_000) return `${Math.round(ms / 1000)}s`;
  if (ms < 7_200_000) return `${Math.round(ms / 60_000)}m`;
  return `${(ms / 3_600_000).toFixed(1)}h`;
}

/** The server refused the token (UNAUTHENTICATED) or what it asked for (PERMISSION_DENIED). */
export function isAuthFailure(e: unknown): e is RpcError {
  return e instanceof RpcError && (e.code === Code.UNAUTHENTICATED || e.code === Code.PERMISSION_DENIED);
}

/** A failed first call, as the line the agent exits with. */
export function rpcFailure(e: RpcError, id: Identity): CliError {
  const what = describe(id);
  switch (e.code) {
    case Code.UNAUTHENTICATED:
      // The same status as `sg` for a refused token, at start as while running.
      return new CliError(`the server rejected the token: ${e.details || 'unauthenticated'} (UNAUTHENTICATED)`, EXIT.auth);
    case Code.PERMISSION_DENIED:
      return new CliError(`this token may not resolve ${what}: ${e.details || 'permission denied'} (PERMISSION_DENIED)`, EXIT.server);
    case Code.NOT_FOUND:
      return new CliError(`cannot resolve ${what}: ${e.details || 'not found'} (NOT_FOUND)`, EXIT.server);
    default:
      return new CliError(`cannot resolve ${what}: ${e.details || 'error'} (${codeName(e.code)})`, EXIT.server);
  }
}

/** Why the cached copy could not stand in for an unreachable server at start. */
export function cacheProblem(cfg: { cacheDir?: string; maxStaleMs: number }, r: LoadResult | undefined): string {
  if (!cfg.cacheDir) return 'no --cache-dir to fall back on';
  if (cfg.maxStaleMs <= 0) return 'the cache is disabled by --max-stale 0';
  if (!r || r.status === 'missing') return 'no cached copy to fall back on';
  if (r.status === 'unreadable') return 'the cached copy cannot be read or decrypted with this token';
  return `the cached copy is ${formatAge(r.ageMs ?? 0)} old, older than --max-stale ${formatAge(cfg.maxStaleMs)}`;
}
