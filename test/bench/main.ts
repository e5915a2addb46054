/**
 * `npm run bench [-- --quick] [-- --only resolve,fanout,agent,cli,writes,growth]`: measures the quality
 * bars of docs/architecture.md ("Quality bars") on this machine, each against a baseline measured in the same run,
 * writes bench-results.json at the repository root (exactly the documented members, plus
 * machine and date), the full figures to dist/bench-details.json, and prints a summary table.
 * `growth` (how cost grows with watchers, group size, history and project size; issue 22) runs
 * only when named in --only; its figures go to dist/bench-details.json (details.growth) and a
 * summary of its own, and a growth-only run leaves bench-results.json as it was.
 * Loopback only; every section starts and stops its own servers and ends by itself.
 */
import { spawnSync } from 'node:child_process';
import { mkdirSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { benchAgent, summariseProfile } from './agent.js';
import { benchCli } from './cli.js';
import { benchFanout } from './fanout.js';
import { benchGrowth, growthSummary } from './growth.js';
import { ROOT } from './lib/procs.js';
import { machineInfo, pin, placement, profileWindows } from './lib/util.js';
import { summaryTable, type BenchResults } from './report.js';
import { benchResolve } from './resolve.js';
import { benchWrites, noWrites } from './writes.js';

async function main(): Promise<void> {
  const argv = process.argv.slice(2);
  const quick = argv.includes('--quick');
  const onlyIdx = argv.indexOf('--only');
  const only = onlyIdx >= 0 ? new Set((argv[onlyIdx + 1] ?? '').split(',')) : null;
  const want = (s: string) => !only || only.has(s);
  const p = placement();
  // This process is the load generator: it (and the watcher processes it forks) take the
  // client CPU; each server under test is pinned to the server CPU when started.
  if (p) pin(process.pid, p.clients);
  const log = (s: string) => process.stderr.write(`${s}\n`);
  const started = Date.now();
  const date = new Date().toISOString();
  const details: Record<string, unknown> = {};
  // --profile: CPU profiles of the sg servers under test, summarised per section.
  const profiling = argv.includes('--profile');
  const profileRoot = join(ROOT, 'dist', 'bench-profiles');
  const profileSection = (section: string) => {
    if (!profiling) return;
    process.env.SG_BENCH_PROFILE_DIR = join(profileRoot, section);
  };
  const profileSummary = (section: string) => {
    if (!profiling) return undefined;
    const dir = join(profileRoot, section);
    return readdirSync(dir)
      .filter((f) => f.endsWith('.cpuprofile'))
      .map((f) => ({ file: join(dir, f), window: 'measured phases only', ...summariseProfile(join(dir, f), 15, profileWindows[section]) }));
  };
  if (profiling) rmSync(profileRoot, { recursive: true, force: true });
  const nan = Number.NaN;
  const out: BenchResults = {
    resolve: { rps: nan, noopRps: nan, ratio: nan, p50Ms: nan, p99Ms: nan },
    fanout: { watchers: 5000, p50Ms: nan, p99Ms: nan, etcdP50Ms: null, etcdP99Ms: null },
    agent: { medianMs: null, nodeMedianMs: null, ratio: null, floorMedianMs: null, floorRatio: null },
    server: { rssMbConnected: nan, rssMbAfterUpdates: nan, rssMbAt5kWatchers: nan },
    cli: { medianMs: null, nodeMedianMs: null, ratio: null, floorMedianMs: null, floorRatio: null },
    writes: noWrites(),
    machine: { ...machineInfo(), mode: quick ? 'quick' : 'full' },
    date,
  };
  if (want('resolve')) {
    log('resolve: throughput against a no-op grpc-js server (same client harness, same run)');
    profileSection('resolve');
    const { details: d, ...r } = await benchResolve(quick, log);
    out.resolve = r;
    details.resolve = { ...d, serverProfiles: profileSummary('resolve') };
  }
  let bytesPerWatcher: number | null = null;
  if (want('fanout')) {
    log('fanout: one group update to 5,000 Watch streams, then etcd with 5,000 watchers on one key');
    profileSection('fanout');
    const { details: d0, rssMbConnected, rssMbAfterUpdates, rssMbAt5kWatchers, ...fanout } = await benchFanout(quick, log);
    const d = { ...d0, serverProfiles: profileSummary('fanout') };
    out.fanout = fanout;
    out.server = { rssMbConnected, rssMbAfterUpdates, rssMbAt5kWatchers };
    details.fanout = d;
    bytesPerWatcher = ((d as { memory?: { bytesPerWatcher?: number } }).memory?.bytesPerWatcher) ?? null;
  }
  delete process.env.SG_BENCH_PROFILE_DIR;
  if (want('agent')) {
    log('agent: `sg-agent exec -- true` against `node -e 0`');
    try {
      const { details: d, ...r } = await benchAgent(quick, log);
      out.agent = r;
      details.agent = d;
    } catch (e) {
      details.agent = { unavailable: (e as Error).message };
      log(`  agent unavailable: ${(e as Error).message}`);
    }
  }
  if (want('cli')) {
    log('cli: `sg project list` against `node -e 0`');
    try {
      const { details: d, ...r } = await benchCli(quick, log);
      out.cli = r;
      details.cli = d;
    } catch (e) {
      details.cli = { unavailable: (e as Error).message };
      log(`  cli unavailable: ${(e as Error).message}`);
    }
  }
  if (want('writes')) {
    log('writes: SetVariables per second on SQLite and on MongoDB (FerretDB)');
    profileSection('writes');
    const { details: d, ...r } = await benchWrites(quick, log);
    out.writes = r;
    details.writes = { ...d, serverProfiles: profileSummary('writes') };
  }
  if (want('soak') && !quick) {
    // The 60 s soak of the issue (CI runs the same test for 15 s).
    log('soak: 1,000 watchers, 20 writes/s for 60 s (test/load/soak.test.ts with SG_SOAK_SECONDS=60)');
    const r = spawnSync('npx', ['vitest', 'run', 'test/load/soak.test.ts'], { cwd: ROOT, encoding: 'utf8', env: { ...process.env, SG_SOAK_SECONDS: '60' }, timeout: 400_000 });
    const line = /soak: .*/.exec(r.stdout + r.stderr)?.[0] ?? 'no summary line';
    details.soak60s = { passed: r.status === 0, summary: line };
    log(`  ${r.status === 0 ? 'passed' : 'FAILED'}: ${line}`);
  }
  let growth = '';
  if (only?.has('growth')) {
    log('growth: RSS and fan-out p99 by watchers; SetVariables by group keys and history; Resolve by project size');
    const d = await benchGrowth(quick, log);
    details.growth = d;
    growth = `\n\nGrowth:\n\n${growthSummary(d)}`;
  }
  const elapsedS = Math.round((Date.now() - started) / 1000);
  const barsRan = ['resolve', 'fanout', 'agent', 'cli', 'writes'].some(want);
  if (barsRan) writeFileSync(join(ROOT, 'bench-results.json'), `${JSON.stringify(out, null, 2)}\n`);
  mkdirSync(join(ROOT, 'dist'), { recursive: true });
  writeFileSync(join(ROOT, 'dist', 'bench-details.json'), `${JSON.stringify({ date, machine: out.machine, elapsedS, results: out, details }, null, 2)}\n`);
  const table = summaryTable(out, bytesPerWatcher);
  process.stdout.write(
    barsRan
      ? `\n${table}${growth}\n\nWrote bench-results.json; every figure in dist/bench-details.json. ${elapsedS} s.\n`
      : `${growth}\n\nEvery figure in dist/bench-details.json (bench-results.json left as it was). ${elapsedS} s.\n`,
  );
}

main().then(
  () => process.exit(0),
  (e: unknown) => {
    process.stderr.write(`bench failed: ${(e as Error).stack ?? String(e)}\n`);
    process.exit(1);
  },
);
