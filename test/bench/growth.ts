/**
 * Growth (issue 22): how cost grows with load and size, on the real server (`sg serve`, the
 * embedded SQLite store, pinned like the other sections). Three curves:
 *
 * 1. Watchers: server RSS and fan-out p99 (one update of a group every watcher's resolution
 *    includes → N Watch streams, the fan-out section's workload and harness) at N = 1k, 5k,
 *    10k, 20k; a fresh server per step, N/10 workloads with 10 watchers each.
 * 2. Group size and history: SetVariables latency (sequential calls, one key changed per call)
 *    and stored bytes per revision (the group_history table's `bytes` column, read from the
 *    server's SQLite file) for groups of 10, 100 and 1,000 keys; then one group written 1,000
 *    times, latency by history depth (the per-group history budget keeps 200 revisions).
 * 3. Project size: Resolve latency (sequential calls on loopback, raw bytes, a resolver token)
 *    for projects of 10 groups / 1,000 workloads, 50 / 2,500 and 100 / 5,000 (the Resolve
 *    section's fixture generator, 50 variables per group).
 * Every step is bounded in count and time and ends by itself.
 */
import { join } from 'node:path';
import * as grpc from '@grpc/grpc-js';
import Database from 'better-sqlite3';
import { connect } from '../../client/connection.js';
import { ResolveRequest } from '../../gen/secretgroups/v1/resolver_service.js';
import { Scope } from '../../gen/secretgroups/v1/resources.js';
import { measure, WatcherPool, type Latencies } from './fanout.js';
import { api } from './lib/api.js';
import { startSg } from './lib/procs.js';
import { randomValue, rng, seedFanoutProject, seedResolveProject } from './lib/seed.js';
import { cpuMs, percentile, rssMb, round, sleep } from './lib/util.js';
import type { ClientEvent } from './watch-client.js';

const RESOLVE = '/secretgroups.v1.ResolverService/Resolve';

const stats = (xs: number[]) => ({ n: xs.length, p50: round(percentile(xs, 50), 3), p99: round(percentile(xs, 99), 3), max: round(Math.max(...xs), 3) });

export interface WatcherStep {
  watchers: number;
  workloads: number;
  rssMbBeforeWatchers: number;
  rssMbConnected: number;
  rssMbAfterUpdates: number;
  connectSeconds: number;
  p50Ms: number;
  p99Ms: number;
  maxMs: number;
  missing: number;
  rounds: number;
  /** CPU ms per update (warm-up included, rounds + 1 updates, 0.5 s settle each) of the server and of the 4 watcher processes together. */
  serverCpuMsPerUpdate: number;
  watcherCpuMsPerUpdate: number;
  updateRpcMs: number[];
}

async function watcherStep(watchers: number, rounds: number, log: (s: string) => void): Promise<WatcherStep> {
  const procs = 4;
  const perWorkload = 10;
  const server = await startSg({ args: ['--max-streams-per-token', String(watchers + 100)] });
  const admin = connect({ addr: server.addr, token: server.adminToken });
  const pool = new WatcherPool(procs);
  try {
    const fx = await seedFanoutProject(admin, 'fan', Math.ceil(watchers / perWorkload));
    const a = api(admin);
    await a.resolve(fx.project, fx.workloads[0]!);
    await sleep(1000);
    const rssBase = rssMb(server.pid);
    const identities = Array.from({ length: watchers }, (_, i) => fx.workloads[i % fx.workloads.length]!);
    const t0 = Date.now();
    await pool.each<Extract<ClientEvent, { ev: 'ready' }>>(
      (i) => ({ op: 'sg', addr: server.addr, token: server.adminToken, project: fx.project, workloads: identities.filter((_, k) => k % procs === i), channels: 2 }),
      240_000,
    );
    const connectSeconds = (Date.now() - t0) / 1000;
    await sleep(2000);
    const rssConnected = rssMb(server.pid);
    const cpu0 = [cpuMs(server.pid), pool.pids.reduce((n, p) => n + cpuMs(p), 0)];
    const updateRpcMs: number[] = [];
    const l: Latencies = await measure(
      pool,
      rounds,
      async (seq) => {
        const t = performance.now();
        await a.setVars(fx.project, fx.group, { SEQ: seq });
        updateRpcMs.push(round(performance.now() - t, 1));
      },
      log,
      `sg ${watchers}`,
    );
    const serverCpu = (cpuMs(server.pid) - cpu0[0]!) / (rounds + 1);
    const watcherCpu = (pool.pids.reduce((n, p) => n + cpuMs(p), 0) - cpu0[1]!) / (rounds + 1);
    await sleep(1000);
    const rssAfter = rssMb(server.pid);
    const step: WatcherStep = {
      watchers,
      workloads: fx.workloads.length,
      rssMbBeforeWatchers: round(rssBase, 1),
      rssMbConnected: round(rssConnected, 1),
      rssMbAfterUpdates: round(rssAfter, 1),
      connectSeconds: round(connectSeconds, 1),
      p50Ms: round(percentile(l.fromAck, 50), 1),
      p99Ms: round(percentile(l.fromAck, 99), 1),
      maxMs: round(Math.max(...l.fromAck), 1),
      missing: l.missing,
      rounds,
      serverCpuMsPerUpdate: Math.round(serverCpu),
      watcherCpuMsPerUpdate: Math.round(watcherCpu),
      updateRpcMs,
    };
    log(`  ${watchers} watchers: connected in ${step.connectSeconds} s; RSS ${step.rssMbBeforeWatchers} → ${step.rssMbConnected} → ${step.rssMbAfterUpdates} MB; fan-out p50 ${step.p50Ms} ms, p99 ${step.p99Ms} ms (${l.missing} missing); CPU per update: server ${step.serverCpuMsPerUpdate} ms, watchers ${step.watcherCpuMsPerUpdate} ms`);
    return step;
  } finally {
    pool.close();
    admin.close();
    await server.cleanup();
  }
}

/** Sequential SetVariables calls; `vars(n)` is the n-th call's variables. Latencies in ms. */
async function sequentialWrites(a: ReturnType<typeof api>, project: string, group: string, count: number, maxMs: number, vars: (n: number) => Record<string, string>): Promise<number[]> {
  const out: number[] = [];
  const end = performance.now() + maxMs;
  for (let n = 0; n < count && performance.now() < end; n++) {
    const t = performance.now();
    await a.setVars(project, group, vars(n));
    out.push(performance.now() - t);
  }
  return out;
}

async function writeGrowth(quick: boolean, log: (s: string) => void) {
  const server = await startSg();
  const admin = connect({ addr: server.addr, token: server.adminToken });
  const db = () => new Database(join(server.dataDir, 'sg.db'), { readonly: true, fileMustExist: true });
  try {
    const a = api(admin);
    const r = rng(22);
    await a.createProject('grow');
    const calls = quick ? 200 : 500;
    const byKeys: Record<string, unknown>[] = [];
    for (const keys of [10, 100, 1000]) {
      const name = `k${keys}`;
      const variables: Record<string, string> = {};
      for (let k = 0; k < keys; k++) variables[`KEY_${String(k).padStart(4, '0')}`] = randomValue(r, 32);
      await a.createGroup({ project: 'grow', name, variables });
      const write = (n: number) => ({ [`KEY_${String(n % keys).padStart(4, '0')}`]: `v${n}-${randomValue(r, 29)}` });
      await sequentialWrites(a, 'grow', name, 20, 10_000, write); // warm-up
      const c0 = cpuMs(server.pid);
      const lat = await sequentialWrites(a, 'grow', name, calls, 60_000, (n) => write(n + 20));
      const serverCpuMsPerCall = round((cpuMs(server.pid) - c0) / lat.length, 2);
      const d = db();
      let row: { revisions: number; avg: number; min: number; max: number; records: number };
      try {
        row = d
          .prepare(
            `SELECT COUNT(*) AS revisions, AVG(bytes) AS avg, MIN(bytes) AS min, MAX(bytes) AS max,
               (SELECT length(CAST(data AS BLOB)) FROM records WHERE project = ? AND kind = 'group' AND name = ?) AS records
             FROM group_history WHERE project = ? AND name = ? AND revision > 1`,
          )
          .get('grow', name, 'grow', name) as typeof row;
      } finally {
        d.close();
      }
      const s = { keys, ...stats(lat), serverCpuMsPerCall, storedBytesPerRevision: { avg: Math.round(row.avg), min: row.min, max: row.max, revisionsKept: row.revisions }, currentRecordBytes: row.records };
      byKeys.push(s);
      log(`  ${keys} keys: SetVariables p50 ${s.p50} ms, p99 ${s.p99} ms over ${s.n} calls (server CPU ${serverCpuMsPerCall} ms per call); ${s.storedBytesPerRevision.avg} stored bytes per revision (record ${row.records} bytes)`);
    }
    // History depth: one 20-key group written 1,000 times; latency per band of revisions.
    const variables: Record<string, string> = {};
    for (let k = 0; k < 20; k++) variables[`K${k}`] = randomValue(r, 32);
    await a.createGroup({ project: 'grow', name: 'hist', variables });
    const total = 1000;
    const lat = await sequentialWrites(a, 'grow', 'hist', total - 1, 120_000, (n) => ({ [`K${n % 20}`]: `v${n}-${randomValue(r, 29)}` }));
    // lat[i] is the write of revision i + 2.
    const bands: [number, number][] = [
      [2, 10],
      [11, 100],
      [101, 200],
      [201, 300],
      [301, 1000],
      [901, 1000],
    ];
    const byRevision = bands.map(([from, to]) => ({ revisions: `${from}–${to}`, ...stats(lat.slice(from - 2, to - 1)) }));
    const d = db();
    let kept: { n: number; first: number; last: number; bytes: number };
    try {
      kept = d.prepare('SELECT COUNT(*) AS n, MIN(revision) AS first, MAX(revision) AS last, SUM(bytes) AS bytes FROM group_history WHERE project = ? AND name = ?').get('grow', 'hist') as typeof kept;
    } finally {
      d.close();
    }
    for (const b of byRevision) log(`  history revisions ${b.revisions}: SetVariables p50 ${b.p50} ms, p99 ${b.p99} ms (${b.n} calls)`);
    log(`  history kept after ${lat.length + 1} revisions: ${kept.n} (revisions ${kept.first}–${kept.last}), ${kept.bytes} bytes`);
    return { callsPerStep: calls, byKeys, history: { written: lat.length + 1, byRevision, kept } };
  } finally {
    admin.close();
    await server.cleanup();
  }
}

async function resolveGrowth(quick: boolean, log: (s: string) => void) {
  const steps: [number, number][] = [
    [10, 1000],
    [50, 2500],
    [100, 5000],
  ];
  const out: Record<string, unknown>[] = [];
  // A fresh server per step, so that its RSS holds one project.
  for (const [groups, workloads] of steps) out.push(await resolveStep(groups, workloads, quick, log));
  return out;
}

async function resolveStep(groups: number, workloads: number, quick: boolean, log: (s: string) => void) {
  const server = await startSg();
  const admin = connect({ addr: server.addr, token: server.adminToken });
  const client = new grpc.Client(server.addr, grpc.credentials.createInsecure(), { 'grpc.max_receive_message_length': 64 * 1024 * 1024, 'grpc-node.flow_control_window': 8 * 1024 * 1024 });
  try {
    const project = `res${groups}`;
    const t0 = Date.now();
    const fx = await seedResolveProject(admin, project, groups, 50, workloads);
    const seedS = (Date.now() - t0) / 1000;
    const token = (await api(admin).createToken({ name: `growth-${project}`, role: 'resolver', projects: [project] })).token;
    const md = new grpc.Metadata();
    md.set('authorization', `Bearer ${token}`);
    const reqs = fx.workloads.map((workload) => Buffer.from(ResolveRequest.encode({ project, workload, scope: Scope.SCOPE_RUNTIME, tags: [] }).finish()));
    const sizes: number[] = [];
    const one = (i: number) =>
      new Promise<number>((resolve, reject) => {
        const t = performance.now();
        client.makeUnaryRequest(RESOLVE, (b: Buffer) => b, (b: Buffer) => b, reqs[i % reqs.length]!, md, (err, res) => {
          if (err) return reject(err);
          const ms = performance.now() - t;
          if (sizes.length < reqs.length) sizes.push(res!.length);
          resolve(ms);
        });
      });
    await sleep(1000);
    const rssBefore = rssMb(server.pid);
    // First call of each workload, in workload order: each computes and caches that
    // workload's resolution (the very first also prepares the project's groups).
    const first: number[] = [];
    const firstEnd = performance.now() + 60_000;
    for (let i = 0; i < reqs.length && performance.now() < firstEnd; i++) first.push(await one(i));
    await sleep(1000);
    const rssCached = rssMb(server.pid);
    // Then warm calls, round-robin with a stride over the workloads (neighbours differ).
    const calls = quick ? 2000 : 5000;
    const warm: number[] = [];
    const c0 = cpuMs(server.pid);
    const warmEnd = performance.now() + 60_000;
    for (let n = 0; n < calls && performance.now() < warmEnd; n++) warm.push(await one((n * 7919) % reqs.length));
    const cpuUsPerWarmCall = Math.round(((cpuMs(server.pid) - c0) * 1000) / warm.length);
    const sorted = [...sizes].sort((x, y) => x - y);
    const s = {
      groups,
      workloads,
      variablesPerGroup: 50,
      seedSeconds: round(seedS, 1),
      responseBytes: { median: sorted[Math.floor(sorted.length / 2)], max: sorted[sorted.length - 1], total: sizes.reduce((n, x) => n + x, 0) },
      firstCall: stats(first),
      warm: stats(warm),
      serverCpuUsPerWarmCall: cpuUsPerWarmCall,
      rssMbBeforeResolves: round(rssBefore, 1),
      rssMbAllCached: round(rssCached, 1),
    };
    log(
      `  ${groups} groups / ${workloads} workloads (seeded in ${s.seedSeconds} s): first call p50 ${s.firstCall.p50} ms p99 ${s.firstCall.p99} ms; warm p50 ${s.warm.p50} ms p99 ${s.warm.p99} ms over ${s.warm.n} (server CPU ${cpuUsPerWarmCall} µs/call); answers median ${s.responseBytes.median} bytes, ${Math.round(s.responseBytes.total / 1048576)} MB in all; RSS ${s.rssMbBeforeResolves} → ${s.rssMbAllCached} MB`,
    );
    return s;
  } finally {
    client.close();
    admin.close();
    await server.cleanup();
  }
}

export async function benchGrowth(quick: boolean, log: (s: string) => void) {
  const started = Date.now();
  const details: Record<string, unknown> = {};
  // Quick mode: 3 update rounds per step, and 20k only if the section so far left time for it.
  const rounds = quick ? 3 : 5;
  // The store and Resolve curves first (short); then the watcher steps, a fresh server each.
  const t1 = Date.now();
  details.writes = await writeGrowth(quick, log);
  details.writesSeconds = Math.round((Date.now() - t1) / 1000);
  const t2 = Date.now();
  details.resolve = await resolveGrowth(quick, log);
  details.resolveSeconds = Math.round((Date.now() - t2) / 1000);
  // 20k is run only when, at the 10k step's pace (×2.5), it fits the section's budget.
  const budgetS = quick ? 660 : 1800;
  const watcherSteps: WatcherStep[] = [];
  let lastStepS = 0;
  for (const n of [1000, 5000, 10000, 20000]) {
    const elapsed = (Date.now() - started) / 1000;
    if (n === 20000 && elapsed + lastStepS * 2.5 > budgetS) {
      details.watchersSkipped = `20000 skipped: ${Math.round(elapsed)} s used, the 10k step took ${Math.round(lastStepS)} s, budget ${budgetS} s`;
      log(`  ${details.watchersSkipped}`);
      break;
    }
    const t = Date.now();
    try {
      watcherSteps.push(await watcherStep(n, rounds, log));
    } catch (e) {
      details[`watchers${n}Failed`] = String((e as Error).message).slice(0, 500);
      log(`  ${n} watchers failed: ${details[`watchers${n}Failed`]}`);
      break;
    }
    lastStepS = (Date.now() - t) / 1000;
  }
  details.watchers = watcherSteps;
  details.elapsedSeconds = Math.round((Date.now() - started) / 1000);
  return details;
}

/** A compact Markdown summary of the growth figures. */
export function growthSummary(d: Record<string, unknown>): string {
  const lines: string[] = [];
  const w = (d.watchers ?? []) as WatcherStep[];
  lines.push('| Watchers | RSS before / connected / after updates (MB) | Fan-out p50 / p99 (ms) | CPU per update, server / watchers (ms) |', '|---|---|---|---|');
  for (const s of w) lines.push(`| ${s.watchers.toLocaleString('en')} | ${s.rssMbBeforeWatchers} / ${s.rssMbConnected} / ${s.rssMbAfterUpdates} | ${s.p50Ms} / ${s.p99Ms} | ${s.serverCpuMsPerUpdate} / ${s.watcherCpuMsPerUpdate} |`);
  const wr = d.writes as { byKeys: { keys: number; p50: number; p99: number; serverCpuMsPerCall: number; storedBytesPerRevision: { avg: number } }[]; history: { byRevision: { revisions: string; p50: number; p99: number }[] } } | undefined;
  if (wr) {
    lines.push('', '| Group keys | SetVariables p50 / p99 (ms) | Server CPU per call (ms) | Stored bytes per revision |', '|---|---|---|---|');
    for (const s of wr.byKeys) lines.push(`| ${s.keys} | ${s.p50} / ${s.p99} | ${s.serverCpuMsPerCall} | ${s.storedBytesPerRevision.avg} |`);
    lines.push('', '| History revisions | SetVariables p50 / p99 (ms) |', '|---|---|');
    for (const s of wr.history.byRevision) lines.push(`| ${s.revisions} | ${s.p50} / ${s.p99} |`);
  }
  const rs = d.resolve as { groups: number; workloads: number; firstCall: { p50: number; p99: number }; warm: { p50: number; p99: number }; rssMbAllCached: number }[] | undefined;
  if (rs) {
    lines.push('', '| Groups / workloads | Resolve first call p50 / p99 (ms) | Resolve warm p50 / p99 (ms) | RSS, all cached (MB) |', '|---|---|---|---|');
    for (const s of rs) lines.push(`| ${s.groups} / ${s.workloads.toLocaleString('en')} | ${s.firstCall.p50} / ${s.firstCall.p99} | ${s.warm.p50} / ${s.warm.p99} | ${s.rssMbAllCached} |`);
  }
  return lines.join('\n');
}
