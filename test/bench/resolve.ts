/**
 * Resolve throughput against a no-op grpc-js server, same client harness, same run.
 *
 * The harness: `channels` grpc-js channels (each its own HTTP/2 connection), `inflight`
 * Resolve calls kept in flight (closed loop) over round-robin workloads. Requests are encoded
 * once; responses are counted but not decoded (one in 500 is decoded and checked) so that
 * the load generator, pinned to its own CPU, stays out of the way of the server under test.
 * Both servers run in their own processes pinned to the other CPU (see lib/util.ts).
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as grpc from '@grpc/grpc-js';
import { connect } from '../../client/connection.js';
import { ResolveRequest, ResolveResponse } from '../../gen/secretgroups/v1/resolver_service.js';
import { Scope } from '../../gen/secretgroups/v1/resources.js';
import { api } from './lib/api.js';
import { startListening, startSg } from './lib/procs.js';
import { seedResolveProject } from './lib/seed.js';
import { cpuMs, inWindow, median, percentile, placement, round, sleep, writeCalls } from './lib/util.js';

const RESOLVE = '/secretgroups.v1.ResolverService/Resolve';

export interface ResolveResult {
  rps: number;
  noopRps: number;
  ratio: number;
  p50Ms: number;
  p99Ms: number;
  details: Record<string, unknown>;
}

interface Harness {
  /** Closed loop for `ms`: completed calls per second. */
  closedLoop(ms: number, inflight: number): Promise<{ rps: number; errors: number }>;
  /** Open loop at `rate` calls/s for `ms`: latencies (ms) measured from each call's scheduled time. */
  openLoop(ms: number, rate: number): Promise<{ latencies: number[]; errors: number; achievedRps: number }>;
  close(): void;
}

function harness(addr: string, token: string, project: string, workloads: string[], channels: number): Harness {
  const clients = Array.from(
    { length: channels },
    () =>
      new grpc.Client(addr, grpc.credentials.createInsecure(), {
        'grpc.use_local_subchannel_pool': 1, // one connection per channel
        'grpc.max_receive_message_length': 64 * 1024 * 1024,
        // Responses are ~45 kB: with HTTP/2's default 64 KiB windows the client's receive
        // window, not either server, would set the pace. Same setting against both servers.
        'grpc-node.flow_control_window': 8 * 1024 * 1024,
      }),
  );
  const requests = workloads.map((workload) => Buffer.from(ResolveRequest.encode({ project, workload, scope: Scope.SCOPE_RUNTIME, tags: [] }).finish()));
  const identity = (b: Buffer) => b;
  let n = 0;
  let firstError: grpc.ServiceError | null = null;
  const one = (cb: (err: grpc.ServiceError | null) => void) => {
    const i = n++;
    const md = new grpc.Metadata();
    md.set('authorization', `Bearer ${token}`);
    clients[i % channels]!.makeUnaryRequest(RESOLVE, identity, identity, requests[i % requests.length]!, md, (err, res) => {
      if (err) firstError ??= err;
      else if (i % 500 === 0) {
        const r = ResolveResponse.decode(res!).resolution;
        if (!r?.etag || r.workload !== workloads[i % workloads.length]) throw new Error(`bad response for ${workloads[i % workloads.length]}`);
      }
      cb(err);
    });
  };
  return {
    closedLoop: (ms, inflight) =>
      new Promise((resolve) => {
        let done = 0;
        let errors = 0;
        let active = 0;
        const start = performance.now();
        const end = start + ms;
        const launch = () => {
          active++;
          one((err) => {
            active--;
            if (err) errors++;
            else done++;
            if (performance.now() < end) launch();
            else if (active === 0) resolve({ rps: (done / (performance.now() - start)) * 1000, errors });
          });
        };
        for (let k = 0; k < inflight; k++) launch();
      }),
    openLoop: (ms, rate) =>
      new Promise((resolve) => {
        const latencies: number[] = [];
        let errors = 0;
        let issued = 0;
        let pending = 0;
        const start = performance.now();
        const total = Math.floor((rate * ms) / 1000);
        const tick = () => {
          const now = performance.now();
          const due = Math.min(total, Math.floor(((now - start) * rate) / 1000));
          while (issued < due) {
            const scheduled = start + (issued * 1000) / rate;
            issued++;
            pending++;
            one((err) => {
              pending--;
              if (err) errors++;
              else latencies.push(performance.now() - scheduled);
              if (issued >= total && pending === 0) {
                clearInterval(timer);
                resolve({ latencies, errors, achievedRps: (latencies.length / (performance.now() - start)) * 1000 });
              }
            });
          }
        };
        const timer = setInterval(tick, 1);
      }),
    close: () => clients.forEach((c) => c.close()),
  };
}

export async function benchResolve(quick: boolean, log: (s: string) => void): Promise<ResolveResult> {
  const server = await startSg();
  const dir = mkdtempSync(join(tmpdir(), 'sg-bench-noop-'));
  const admin = connect({ addr: server.addr, token: server.adminToken });
  let noop: Awaited<ReturnType<typeof startListening>> | undefined;
  const harnesses: Harness[] = [];
  try {
    const t0 = Date.now();
    const fx = await seedResolveProject(admin);
    log(`  seeded ${fx.groups} groups × ${fx.variablesPerGroup} variables, ${fx.workloads.length} workloads in ${((Date.now() - t0) / 1000).toFixed(1)} s`);
    // Internal services resolve with a `resolver` token: that is the path measured.
    const token = (await api(admin).createToken({ name: 'bench-resolver', role: 'resolver', projects: [fx.project] })).token;

    // The no-op answers with the real server's bytes for each workload.
    const responses: Record<string, string> = {};
    const sizes: number[] = [];
    const fetcher = new grpc.Client(server.addr, grpc.credentials.createInsecure(), { 'grpc.max_receive_message_length': 64 * 1024 * 1024 });
    for (const workload of fx.workloads) {
      const bytes = await new Promise<Buffer>((resolve, reject) => {
        const md = new grpc.Metadata();
        md.set('authorization', `Bearer ${token}`);
        const req = Buffer.from(ResolveRequest.encode({ project: fx.project, workload, scope: Scope.SCOPE_RUNTIME, tags: [] }).finish());
        fetcher.makeUnaryRequest(RESOLVE, (b: Buffer) => b, (b: Buffer) => b, req, md, (err, res) => (err ? reject(err) : resolve(res!)));
      });
      responses[workload] = bytes.toString('base64');
      sizes.push(bytes.length);
    }
    fetcher.close();
    const sample = ResolveResponse.decode(Buffer.from(responses[fx.workloads[0]!]!, 'base64')).resolution!;
    const varCounts = fx.workloads.slice(0, 50).map((w) => Object.keys(ResolveResponse.decode(Buffer.from(responses[w]!, 'base64')).resolution!.variables).length);
    writeFileSync(join(dir, 'responses.json'), JSON.stringify(responses));
    const p = placement();
    noop = await startListening(join(import.meta.dirname, 'noop-server.js'), [join(dir, 'responses.json')], p?.server);

    const channels = 4;
    const inflight = 64;
    const sg = harness(server.addr, token, fx.project, fx.workloads, channels);
    const base = harness(noop.addr, token, fx.project, fx.workloads, channels);
    harnesses.push(sg, base);
    const roundMs = quick ? 4_000 : 8_000;
    // Five rounds in both modes: the median of three moved by ±0.05 between runs of the same code.
    const rounds = 5;
    // Warm both (JIT, connection windows, resolution caches) before measuring.
    await sg.closedLoop(quick ? 2_000 : 4_000, inflight);
    await base.closedLoop(quick ? 2_000 : 4_000, inflight);
    const sgRps: number[] = [];
    const noopRps: number[] = [];
    const ratios: number[] = [];
    // Server CPU time per call (µs): less noisy than throughput on a shared machine, and it
    // tells whether a gap is the server's own work or waiting.
    const sgCpuUs: number[] = [];
    const noopCpuUs: number[] = [];
    // Socket writes per call: how many answers share one write to the connection.
    const sgWrites: number[] = [];
    const noopWrites: number[] = [];
    let errors = 0;
    const noopPid = noop.proc.pid!;
    for (let r = 0; r < rounds; r++) {
      // Alternate the order so that drift (other load on the machine) hits both alike.
      const first = r % 2 === 0 ? sg : base;
      const loop = async (h: Harness) => {
        const pid = h === sg ? server.pid : noopPid;
        const cpu0 = cpuMs(pid);
        const writes0 = writeCalls(pid);
        const own0 = process.cpuUsage();
        const res = await (h === sg ? inWindow('resolve', () => h.closedLoop(roundMs, inflight)) : h.closedLoop(roundMs, inflight));
        const calls = (res.rps * roundMs) / 1000;
        const own = process.cpuUsage(own0);
        return {
          ...res,
          cpuUsPerCall: ((cpuMs(pid) - cpu0) * 1000) / Math.max(1, calls),
          clientUsPerCall: (own.user + own.system) / Math.max(1, calls),
          writesPerCall: (writeCalls(pid) - writes0) / Math.max(1, calls),
        };
      };
      const a = await loop(first);
      await sleep(200);
      const b = await loop(first === sg ? base : sg);
      const [s, n] = first === sg ? [a, b] : [b, a];
      errors += s.errors + n.errors;
      sgRps.push(s.rps);
      noopRps.push(n.rps);
      ratios.push(s.rps / n.rps);
      sgCpuUs.push(s.cpuUsPerCall);
      noopCpuUs.push(n.cpuUsPerCall);
      sgWrites.push(s.writesPerCall);
      noopWrites.push(n.writesPerCall);
      log(`  round ${r + 1}/${rounds}: sg ${s.rps.toFixed(0)}/s, no-op ${n.rps.toFixed(0)}/s, ratio ${(s.rps / n.rps).toFixed(3)}; server CPU per call sg ${s.cpuUsPerCall.toFixed(0)} µs, no-op ${n.cpuUsPerCall.toFixed(0)} µs; client ${s.clientUsPerCall.toFixed(0)} / ${n.clientUsPerCall.toFixed(0)} µs; server writes per call ${s.writesPerCall.toFixed(2)} / ${n.writesPerCall.toFixed(2)}`);
      await sleep(200);
    }
    const rps = median(sgRps);
    const nrps = median(noopRps);
    const halfRate = Math.max(1, Math.round(rps / 2));
    const lat = await sg.openLoop(quick ? 5_000 : 10_000, halfRate);
    const noopLat = await base.openLoop(quick ? 5_000 : 10_000, halfRate);
    log(`  latency at ${halfRate}/s: sg p50 ${percentile(lat.latencies, 50).toFixed(2)} ms p99 ${percentile(lat.latencies, 99).toFixed(2)} ms; no-op p50 ${percentile(noopLat.latencies, 50).toFixed(2)} ms p99 ${percentile(noopLat.latencies, 99).toFixed(2)} ms`);
    if (errors + lat.errors) throw new Error(`Resolve benchmark saw ${errors + lat.errors} failed calls`);
    return {
      rps: round(rps, 0),
      noopRps: round(nrps, 0),
      ratio: round(median(ratios), 3),
      p50Ms: round(percentile(lat.latencies, 50), 3),
      p99Ms: round(percentile(lat.latencies, 99), 3),
      details: {
        fixture: { groups: fx.groups, variablesPerGroup: fx.variablesPerGroup, workloads: fx.workloads.length, tags: fx.tags },
        responseBytes: { median: median(sizes), min: Math.min(...sizes), max: Math.max(...sizes) },
        variablesPerResolution: { median: median(varCounts), min: Math.min(...varCounts), max: Math.max(...varCounts), sampleEtag: sample.etag },
        harness: { channels, inflight, roundMs, rounds, token: 'resolver role', scope: 'RUNTIME' },
        rounds: {
          sgRps: sgRps.map((x) => round(x, 0)),
          noopRps: noopRps.map((x) => round(x, 0)),
          ratios: ratios.map((x) => round(x, 3)),
          sgCpuUsPerCall: sgCpuUs.map((x) => round(x, 0)),
          noopCpuUsPerCall: noopCpuUs.map((x) => round(x, 0)),
          sgWritesPerCall: sgWrites.map((x) => round(x, 2)),
          noopWritesPerCall: noopWrites.map((x) => round(x, 2)),
        },
        cpuPerCallRatio: round(median(noopCpuUs) / median(sgCpuUs), 3),
        ratioOfMedians: round(rps / nrps, 3),
        halfRate: { rate: halfRate, achievedRps: round(lat.achievedRps, 0), calls: lat.latencies.length, noopP50Ms: round(percentile(noopLat.latencies, 50), 3), noopP99Ms: round(percentile(noopLat.latencies, 99), 3) },
        serverPinned: server.pinned,
      },
    };
  } finally {
    harnesses.forEach((h) => h.close());
    admin.close();
    await noop?.stop();
    await server.cleanup();
    rmSync(dir, { recursive: true, force: true });
  }
}
