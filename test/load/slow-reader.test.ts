/**
 * A subscriber that stops reading: the server keeps only the latest resolution for it
 * (latest wins), so its memory does not grow with the updates it cannot deliver, and other
 * subscribers (same identity, another identity) still receive every change meanwhile.
 *
 * Each resolution is ~480 kB (a static group of 8 × 60 kB values plus a small changing one);
 * UPDATES of them queued for the paused reader would hold ~190 MB in the server.
 */
import { afterAll, beforeAll, expect, it } from 'vitest';
import { connect, type Clients } from '../../client/connection.js';
import { api } from '../helpers/api.js';
import { startServerProcess, type ServerProcess } from '../helpers/server-process.js';
import { channels, rssMb, waitFor, Watcher } from './watchers.js';

const UPDATES = 400;
const VALUE_BYTES = 60 * 1024;
/** Half of the ~190 MB that queueing every update would cost (garbage not yet collected counts too). */
const GROWTH_BOUND_MB = 96;

let server: ServerProcess;
let admin: Clients;
beforeAll(async () => {
  server = await startServerProcess({ env: { SG_LOG_LEVEL: 'warn' } });
  admin = connect({ addr: server.addr, token: server.adminToken });
});
afterAll(async () => {
  admin?.close();
  await server?.cleanup();
});

it('a paused subscriber gets only the latest resolution, bounded server memory, and never delays the others', { timeout: 120_000 }, async () => {
  const a = api(admin);
  await a.createProject('slow');
  await a.createWorkload({ project: 'slow', name: 'api' });
  await a.createWorkload({ project: 'slow', name: 'worker' });
  const big: Record<string, string> = {};
  for (let k = 0; k < 8; k++) big[`BLOB_${k}`] = String.fromCharCode(65 + k).repeat(VALUE_BYTES);
  await a.createGroup({ project: 'slow', name: 'big', variables: big });
  await a.createGroup({ project: 'slow', name: 'tick', variables: { TICK: '0' } });

  // The slow reader has a connection of its own, as a stuck agent would.
  const [slowChannel, fastChannel] = [channels(server.addr, server.adminToken, 1)[0]!, channels(server.addr, server.adminToken, 1)[0]!];
  const slow = new Watcher(slowChannel, 'slow', 'api').start();
  const sameIdentity = new Watcher(fastChannel, 'slow', 'api').start();
  const otherIdentity = new Watcher(fastChannel, 'slow', 'worker').start();
  const all = [slow, sameIdentity, otherIdentity];
  try {
    expect(await waitFor(() => all.every((w) => w.etag), 20_000)).toBe(true);
    slow.stream!.pause(); // stops reading: HTTP/2 flow control backs up to the server
    const fastEtags = { same: new Set<string>(), other: new Set<string>() };
    sameIdentity.onMessage(() => fastEtags.same.add(sameIdentity.etag));
    otherIdentity.onMessage(() => fastEtags.other.add(otherIdentity.etag));

    const pid = server.proc.pid!;
    const rssBefore = rssMb(pid);
    let rssPeak = rssBefore;
    let undelivered = 0;
    for (let n = 1; n <= UPDATES; n++) {
      await a.setVars('slow', 'tick', { TICK: String(n) });
      // Lockstep: each update must reach both reading subscribers while the other one is
      // stuck (the wait is a liveness bound, not a measurement).
      if (!(await waitFor(() => fastEtags.same.size >= n && fastEtags.other.size >= n, 10_000))) undelivered++;
      if (n % 10 === 0) rssPeak = Math.max(rssPeak, rssMb(pid));
    }
    expect(undelivered).toBe(0);
    const final = { api: (await a.resolve('slow', 'api')).resolution!.etag, worker: (await a.resolve('slow', 'worker')).resolution!.etag };

    // The others are current while the slow reader is still paused.
    expect(await waitFor(() => sameIdentity.etag === final.api && otherIdentity.etag === final.worker, 30_000)).toBe(true);
    expect(slow.etag).not.toBe(final.api);
    expect(fastEtags.same.size).toBe(UPDATES);
    expect(fastEtags.other.size).toBe(UPDATES);
    rssPeak = Math.max(rssPeak, rssMb(pid));
    console.info(`slow reader: server RSS ${rssBefore.toFixed(1)} MB before, peak ${rssPeak.toFixed(1)} MB during ${UPDATES} updates of ~${((8 * VALUE_BYTES) / 1024).toFixed(0)} kB resolutions`);
    expect(rssPeak - rssBefore).toBeLessThan(GROWTH_BOUND_MB);

    // Reading again, it gets what was already in flight and then the latest, not every
    // update. In flight: up to 16 messages in grpc-js's server-side writable buffer (the hub
    // sees back-pressure only once write() returns false) and up to 16 in the client's
    // readable buffer, so a constant ~33, whatever the number of updates.
    const receivedBefore = slow.resolutions;
    slow.stream!.resume();
    expect(await waitFor(() => slow.etag === final.api, 30_000)).toBe(true);
    const delivered = slow.resolutions - receivedBefore;
    console.info(`slow reader: ${delivered} of ${UPDATES} resolutions delivered after resuming`);
    expect(delivered).toBeLessThan(UPDATES / 5);
    expect(slow.connects).toBe(1);
  } finally {
    all.forEach((w) => w.stop());
    slowChannel.close();
    fastChannel.close();
  }
});
