/**
 * Fan-out: 5,000 Watch subscribers on workloads that one group reaches; one update of that
 * group; latency from the update RPC's response (the writer's acknowledgement) to each
 * subscriber's receipt. Then etcd with 5,000 watchers on one key, same machine, same run,
 * same style of harness (grpc-js underneath, the `etcd3` client), latency from the put's
 * response to each watcher's receipt. Also the sg server's RSS with the 5,000 watchers.
 *
 * Placement: server (and later etcd) pinned to CPU 0; the writer (this process) and the
 * watcher processes on the other CPU. Watchers are spread over 4 processes, each with 2
 * HTTP/2 connections (625 streams per connection, under the server's 10,000 limit).
 */
import { fork, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import { Etcd3 } from 'etcd3';
import { connect } from '../../client/connection.js';
import { api } from './lib/api.js';
import { ensureEtcd, startEtcd } from './lib/etcd.js';
import { startSg } from './lib/procs.js';
import { seedFanoutProject } from './lib/seed.js';
import { cpuSplitMs, inWindow, percentile, rssMb, round, sleep, wallMs } from './lib/util.js';
import type { ClientCommand, ClientEvent } from './watch-client.js';

export interface FanoutResult {
  watchers: number;
  p50Ms: number;
  p99Ms: number;
  etcdP50Ms: number | null;
  etcdP99Ms: number | null;
  rssMbConnected: number;
  rssMbAfterUpdates: number;
  rssMbAt5kWatchers: number;
  details: Record<string, unknown>;
}

/** Watcher processes driven over IPC. */
export class WatcherPool {
  private readonly procs: ChildProcess[];
  private readonly waiting = new Map<ChildProcess, ((e: ClientEvent) => void)[]>();
  errors: string[] = [];

  constructor(n: number) {
    this.procs = Array.from({ length: n }, () => fork(join(import.meta.dirname, 'watch-client.js'), [], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] }));
    for (const p of this.procs) {
      this.waiting.set(p, []);
      p.on('message', (e: ClientEvent) => {
        if (e.ev === 'error') {
          if (this.errors.length < 20) this.errors.push(e.message);
          return;
        }
        this.waiting.get(p)!.shift()?.(e);
      });
    }
  }

  get size() {
    return this.procs.length;
  }

  get pids(): number[] {
    return this.procs.map((p) => p.pid!);
  }

  /** Sends one command to each process (per-process payload) and waits for each answer. */
  async each<E extends ClientEvent>(cmd: (i: number) => ClientCommand, timeoutMs = 180_000): Promise<E[]> {
    return Promise.all(
      this.procs.map(
        (p, i) =>
          new Promise<E>((resolve, reject) => {
            const timer = setTimeout(() => reject(new Error(`watcher process ${i} did not answer ${cmd(i).op} within ${timeoutMs} ms; errors: ${this.errors.join('; ')}`)), timeoutMs);
            this.waiting.get(p)!.push((e) => {
              clearTimeout(timer);
              resolve(e as E);
            });
            p.send(cmd(i));
          }),
      ),
    );
  }

  /** Arrival times of `seq` on every stream, waiting (up to maxWaitMs) until all have it. */
  async collect(seq: string, maxWaitMs: number): Promise<{ times: number[]; missing: number }> {
    const deadline = Date.now() + maxWaitMs;
    for (;;) {
      const got = await this.each<Extract<ClientEvent, { ev: 'collected' }>>(() => ({ op: 'collect', seq }));
      const times = got.flatMap((g) => g.times);
      const missing = times.filter((t) => t < 0).length;
      if (!missing || Date.now() > deadline) return { times, missing };
      await sleep(250);
    }
  }

  close(): void {
    for (const p of this.procs) p.kill('SIGKILL');
  }
}

/** CPU of all the pool's watcher processes, summed. */
function clientCpu(pool: WatcherPool): { user: number; system: number } {
  return pool.pids.map(cpuSplitMs).reduce((a, b) => ({ user: a.user + b.user, system: a.system + b.system }), { user: 0, system: 0 });
}

function perUpdate(before: { user: number; system: number }, after: { user: number; system: number }, updates: number) {
  return { user: Math.round((after.user - before.user) / updates), system: Math.round((after.system - before.system) / updates) };
}

export interface Latencies {
  fromAck: number[];
  fromSend: number[];
  missing: number;
  beforeAck: number;
}

function summarise(l: Latencies) {
  return {
    samples: l.fromAck.length,
    missing: l.missing,
    receivedBeforeAck: l.beforeAck,
    fromAck: { p50: round(percentile(l.fromAck, 50), 2), p90: round(percentile(l.fromAck, 90), 2), p99: round(percentile(l.fromAck, 99), 2), max: round(Math.max(...l.fromAck), 2) },
    fromSend: { p50: round(percentile(l.fromSend, 50), 2), p90: round(percentile(l.fromSend, 90), 2), p99: round(percentile(l.fromSend, 99), 2), max: round(Math.max(...l.fromSend), 2) },
  };
}

/**
 * Runs `rounds` updates; after each, collects every watcher's arrival time. A watcher that
 * got the update before the writer saw its acknowledgement counts 0 ms from the response.
 */
export async function measure(pool: WatcherPool, rounds: number, update: (seq: string) => Promise<void>, log: (s: string) => void, label: string): Promise<Latencies> {
  const l: Latencies = { fromAck: [], fromSend: [], missing: 0, beforeAck: 0 };
  // One warm-up update (JIT, buffers), not counted; the same for sg and etcd.
  const warm = `${label}-warmup-${Date.now()}`;
  await update(warm);
  await pool.collect(warm, 15_000);
  for (let r = 1; r <= rounds; r++) {
    const seq = `${label}-${r}-${Date.now()}`;
    await sleep(500); // let the previous round's traffic settle
    const sent = wallMs();
    await update(seq);
    const ack = wallMs();
    const { times, missing } = await pool.collect(seq, 15_000);
    l.missing += missing;
    const got = times.filter((t) => t >= 0);
    for (const t of got) {
      if (t < ack) l.beforeAck++;
      l.fromAck.push(Math.max(0, t - ack));
      l.fromSend.push(t - sent);
    }
    const roundLat = got.map((t) => Math.max(0, t - ack));
    log(`  ${label} round ${r}/${rounds}: ${got.length} received (${missing} missing), p50 ${percentile(roundLat, 50).toFixed(1)} ms, p99 ${percentile(roundLat, 99).toFixed(1)} ms, update RPC ${(ack - sent).toFixed(1)} ms`);
  }
  return l;
}

export async function benchFanout(quick: boolean, log: (s: string) => void, watchers = 5000): Promise<FanoutResult> {
  const rounds = quick ? 5 : 15;
  const procs = 4;
  const perWorkload = 10;
  const details: Record<string, unknown> = { rounds, watcherProcesses: procs, channelsPerProcess: 2 };

  // ---- sg ----
  // Every watcher uses the admin token: lift the per-token stream cap (default 100) above them.
  const server = await startSg({ args: ['--max-streams-per-token', String(watchers + 100)] });
  const admin = connect({ addr: server.addr, token: server.adminToken });
  let pool: WatcherPool | undefined = new WatcherPool(procs);
  let sgLat: Latencies;
  let rssConnected: number;
  let rssAfter: number;
  let rssBase: number;
  try {
    const fx = await seedFanoutProject(admin, 'fan', Math.ceil(watchers / perWorkload));
    const a = api(admin);
    await a.resolve(fx.project, fx.workloads[0]!); // project loaded, as in a running server
    await sleep(1000);
    rssBase = rssMb(server.pid);
    const identities = Array.from({ length: watchers }, (_, i) => fx.workloads[i % fx.workloads.length]!);
    const t0 = Date.now();
    const ready = await pool.each<Extract<ClientEvent, { ev: 'ready' }>>((i) => ({
      op: 'sg',
      addr: server.addr,
      token: server.adminToken,
      project: fx.project,
      workloads: identities.filter((_, k) => k % procs === i),
      channels: 2,
    }));
    const connected = ready.reduce((n, e) => n + e.streams, 0);
    log(`  sg: ${connected} Watch streams on ${fx.workloads.length} workloads (${perWorkload} each) got their first resolution in ${((Date.now() - t0) / 1000).toFixed(1)} s`);
    await sleep(2000);
    rssConnected = rssMb(server.pid);
    const p = pool;
    const cpu0 = cpuSplitMs(server.pid);
    const clients0 = clientCpu(pool);
    sgLat = await inWindow('fanout', () => measure(p, rounds, async (seq) => void (await a.setVars(fx.project, fx.group, { SEQ: seq })), log, 'sg'));
    // Server CPU per update (all its threads), the warm-up included: steadier than wall time on a busy machine.
    const sgCpu = perUpdate(cpu0, cpuSplitMs(server.pid), rounds + 1);
    const sgClients = perUpdate(clients0, clientCpu(pool), rounds + 1);
    log(`  sg server CPU per update: ${sgCpu.user + sgCpu.system} ms (user ${sgCpu.user}, system ${sgCpu.system}); watcher processes ${sgClients.user + sgClients.system} ms`);
    await sleep(1000);
    rssAfter = rssMb(server.pid);
    details.sg = { ...summarise(sgLat), serverCpuMsPerUpdate: sgCpu, watcherCpuMsPerUpdate: sgClients, workloads: fx.workloads.length, watchersPerWorkload: perWorkload, connected, errors: pool.errors };
    details.memory = {
      rssMbBeforeWatchers: round(rssBase, 1),
      rssMbConnected: round(rssConnected, 1),
      rssMbAfterUpdates: round(rssAfter, 1),
      bytesPerWatcher: Math.round(((Math.max(rssConnected, rssAfter) - rssBase) * 1024 * 1024) / watchers),
      etcdPublishedBytesPerWatcher: 18 * 1024,
    };
    log(`  sg RSS: ${rssBase.toFixed(1)} MB before watchers, ${rssConnected.toFixed(1)} MB with ${watchers}, ${rssAfter.toFixed(1)} MB after updates`);
  } finally {
    pool.close();
    pool = undefined;
    admin.close();
    await server.cleanup();
  }

  // ---- etcd ----
  let etcdLat: Latencies | null = null;
  try {
    const bin = ensureEtcd(log);
    const etcd = await startEtcd(bin);
    const writer = new Etcd3({ hosts: etcd.endpoint });
    const epool = new WatcherPool(procs);
    try {
      const key = 'bench/fanout';
      await writer.put(key).value('0');
      const base = rssMb(etcd.pid);
      const t0 = Date.now();
      // 10 etcd3 clients per process, each multiplexing its watchers over one Watch stream.
      await epool.each((i) => ({ op: 'etcd', endpoint: etcd.endpoint, key, watchers: Math.floor(watchers / procs) + (i < watchers % procs ? 1 : 0), clients: 10 }));
      log(`  etcd ${etcd.version}: ${watchers} watchers on one key created in ${((Date.now() - t0) / 1000).toFixed(1)} s`);
      await sleep(2000);
      const connected = rssMb(etcd.pid);
      const cpu0 = cpuSplitMs(etcd.pid);
      const clients0 = clientCpu(epool);
      etcdLat = await measure(epool, rounds, async (seq) => void (await writer.put(key).value(seq)), log, 'etcd');
      const etcdCpu = perUpdate(cpu0, cpuSplitMs(etcd.pid), rounds + 1);
      const etcdClients = perUpdate(clients0, clientCpu(epool), rounds + 1);
      log(`  etcd server CPU per update: ${etcdCpu.user + etcdCpu.system} ms (user ${etcdCpu.user}, system ${etcdCpu.system}); watcher processes ${etcdClients.user + etcdClients.system} ms`);
      details.etcd = {
        ...summarise(etcdLat),
        serverCpuMsPerUpdate: etcdCpu, watcherCpuMsPerUpdate: etcdClients,
        version: etcd.version,
        pinned: etcd.pinned,
        clientsPerProcess: 10,
        rssMbBeforeWatchers: round(base, 1),
        rssMbWithWatchers: round(connected, 1),
        bytesPerWatcher: Math.round(((connected - base) * 1024 * 1024) / watchers),
        errors: epool.errors,
      };
    } finally {
      epool.close();
      writer.close();
      await etcd.stop();
    }
  } catch (e) {
    details.etcdUnavailable = String((e as Error).message ?? e);
    log(`  etcd unavailable: ${details.etcdUnavailable}`);
  }
  if (sgLat.missing) throw new Error(`${sgLat.missing} sg watcher updates never arrived`);
  return {
    watchers,
    p50Ms: round(percentile(sgLat.fromAck, 50), 2),
    p99Ms: round(percentile(sgLat.fromAck, 99), 2),
    etcdP50Ms: etcdLat ? round(percentile(etcdLat.fromAck, 50), 2) : null,
    etcdP99Ms: etcdLat ? round(percentile(etcdLat.fromAck, 99), 2) : null,
    rssMbConnected: round(rssConnected, 1),
    rssMbAfterUpdates: round(rssAfter, 1),
    rssMbAt5kWatchers: round(Math.max(rssConnected, rssAfter), 1),
    details,
  };
}
