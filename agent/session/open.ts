/** Builds a Session with the real client, memory cache, credentials and last-known-good copy. */
import { SecretGroupsClient } from '../../client/index.js';
import type { AgentLog } from '../log.js';
import { Credentials, type TokenFiles } from './credentials.js';
import { DiskCopy } from './disk-copy.js';
import { Session, type SessionOptions } from './session.js';

/** Everything a command needs to connect and resolve (agent/cli/config.ts reads it from the command line). */
export interface AgentConfig extends SessionOptions, TokenFiles {
  addr: string;
  token: string;
  ca?: string;
  cert?: string;
  key?: string;
}

/**
 * How long the agent's memory cache keeps a resolution without a refresh: 0, until replaced.
 * The watch replaces it on every change; while the server is unreachable or refuses the token
 * the outputs keep the last values, so an expiry would only take away what every output shows.
 * (The last-known-good file stands in only at start, within --max-stale.)
 */
export const MEMORY_TTL_SECONDS = 0;

export async function openSession(cfg: AgentConfig, log: AgentLog): Promise<Session> {
  const credentials = new Credentials(cfg.token, { tokenFile: cfg.tokenFile, k8sTokenFile: cfg.k8sTokenFile }, log);
  const client = new SecretGroupsClient({ addr: cfg.addr, ca: cfg.ca, cert: cfg.cert, key: cfg.key, tokenSource: () => credentials.forCall() });
  const { MemoryCache } = await import('../cache/memory.js');
  const memory = new MemoryCache({ ttlSeconds: MEMORY_TTL_SECONDS });
  let copy: DiskCopy | undefined;
  const { cacheDir } = cfg;
  if (cacheDir && cfg.maxStaleMs > 0) {
    // Loaded only with a cache: the crypto of the copy is not on the path of agents without one.
    const open = async (token: string) => new (await import('../cache/last-known-good.js')).LastKnownGood(cacheDir, token, cfg.id);
    copy = new DiskCopy(open, cfg.token, log);
  }
  return new Session(cfg, { client, memory, credentials, copy, log });
}
