/**
 * Soak: 1,000 Watch subscribers (100 workloads × 10, over 4 connections) while a writer
 * updates groups at 20 writes/s. In CI the soak lasts SOAK_SECONDS = 15 s (bounded, so that
 * `npm test` stays short); `SG_SOAK_SECONDS=60` gives the 60 s soak of the issue (the full
 * `npm run bench` does that). Asserts correctness only:
 *  - every write is acknowledged and every watcher ends on the final etag of its workload;
 *  - the server's RSS stays under RSS_BOUND_MB throughout, and the last quarter of the soak
 *    peaks at most LEAK_SLACK_MB above the first quarter (no steady growth).
 */
import { afterAll, beforeAll, expect, it } from 'vitest';
import { connect, type Clients } from '../../client/connection.js';
import { api } from '../helpers/api.js';
import { startServerProcess, type ServerProcess } from '../helpers/server-process.js';
import { channels, rssMb, waitFor, Watcher } from './watchers.js';

const SOAK_SECONDS = Number(process.env.SG_SOAK_SECONDS ?? 15);
const WATCHERS = 1000;
const WORKLOADS = 100;
const WRITES_PER_SECOND = 20;
const RSS_BOUND_MB = 250;
const LEAK_SLACK_MB = 40;

let server: ServerProcess;
let admin: Clients;
beforeAll(async () => {
  // The watchers share the admin token: the per-token stream cap (default 100) must be above them.
  server = await startServerProcess({ env: { SG_LOG_LEVEL: 'warn', SG_MAX_STREAMS_PER_TOKEN: String(WATCHERS + 100) } });
  admin = connect({ addr: server.addr, token: server.adminToken });
});
afterAll(async () => {
  admin?.close();
  await server?.cleanup();
});

it(`${WATCHERS} watchers, ${WRITES_PER_SECOND} writes/s for ${SOAK_SECONDS} s: bounded memory, every watcher on the final etag`, { timeout: (SOAK_SECONDS + 120) * 1000 }, async () => {
  const a = api(admin);
  await a.createProject('soak');
  const workloads = Array.from({ length: WORKLOADS }, (_, i) => `w${i}`);
  for (const name of workloads) await a.createWorkload({ project: 'soak', name, tags: [`t${Number(name.slice(1)) % 4}`] });
  await a.createGroup({ project: 'soak', name: 'shared', variables: { TICK: '0', URL: 'postgres://db.internal:5432/app' } });
  for (let t = 0; t < 4; t++) {
    await a.createGroup({ project: 'soak', name: `tag-${t}`, priority: 20, restrictions: { restricted: true, workloads: [], tags: [`t${t}`] }, variables: { [`T${t}`]: '0' } });
  }

  const clients = channels(server.addr, server.adminToken, 4);
  const watchers = Array.from({ length: WATCHERS }, (_, i) => new Watcher(clients[i % clients.length]!, 'soak', workloads[i % WORKLOADS]!).start());
  try {
    expect(await waitFor(() => watchers.every((w) => w.etag), 60_000)).toBe(true);

    const rss: number[] = [];
    const pid = server.proc.pid!;
    const sampler = setInterval(() => rss.push(rssMb(pid)), 250);
    const total = SOAK_SECONDS * WRITES_PER_SECOND;
    let acknowledged = 0;
    const started = Date.now();
    try {
      for (let n = 1; n <= total; n++) {
        // Mostly the group every workload inherits; every 5th write one of the tag groups.
        if (n % 5) await a.setVars('soak', 'shared', { TICK: String(n) });
        else await a.setVars('soak', `tag-${n % 4}`, { [`T${n % 4}`]: String(n) });
        acknowledged++;
        const ahead = started + (n * 1000) / WRITES_PER_SECOND - Date.now();
        if (ahead > 0) await new Promise((r) => setTimeout(r, ahead));
      }
    } finally {
      clearInterval(sampler);
    }
    expect(acknowledged).toBe(total);

    const finalEtag = new Map<string, string>();
    for (const w of workloads) finalEtag.set(w, (await a.resolve('soak', w)).resolution!.etag);
    const converged = await waitFor(() => watchers.every((w) => w.etag === finalEtag.get(w.workload)), 30_000);
    const behind = watchers.filter((w) => w.etag !== finalEtag.get(w.workload)).length;
    expect(behind, `${behind} watchers not on the final etag`).toBe(0);
    expect(converged).toBe(true);

    const q = Math.max(1, Math.floor(rss.length / 4));
    const firstQuarter = Math.max(...rss.slice(0, q));
    const lastQuarter = Math.max(...rss.slice(-q));
    console.info(`soak: ${total} writes in ${((Date.now() - started) / 1000).toFixed(1)} s; server RSS first quarter ≤ ${firstQuarter.toFixed(1)} MB, last quarter ≤ ${lastQuarter.toFixed(1)} MB, peak ${Math.max(...rss).toFixed(1)} MB; ${watchers.reduce((n, w) => n + w.resolutions, 0)} resolutions delivered`);
    expect(Math.max(...rss)).toBeLessThan(RSS_BOUND_MB);
    expect(lastQuarter - firstQuarter).toBeLessThan(LEAK_SLACK_MB);
  } finally {
    watchers.forEach((w) => w.stop());
    clients.forEach((c) => c.close());
  }
});
