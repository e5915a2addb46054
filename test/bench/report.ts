/** bench-results.json (exactly the documented members) and the summary table. */
import type { MachineInfo } from './lib/util.js';
import type { WritesResult } from './writes.js';

export interface BenchResults {
  resolve: { rps: number; noopRps: number; ratio: number; p50Ms: number; p99Ms: number };
  fanout: { watchers: number; p50Ms: number; p99Ms: number; etcdP50Ms: number | null; etcdP99Ms: number | null };
  /** `sg-agent exec -- true`, `node -e 0` and the bare client of start-floor.cjs (medians). */
  agent: StartupResult;
  /** Server RSS with 5,000 Watch streams: connected, after the update rounds, and the larger. */
  server: { rssMbConnected: number; rssMbAfterUpdates: number; rssMbAt5kWatchers: number };
  /** `sg project list` against a running server, next to `node -e 0` and the bare client (medians). */
  cli: StartupResult;
  writes: WritesResult;
  machine: MachineInfo & { mode: 'quick' | 'full' };
  date: string;
}

export interface StartupResult {
  medianMs: number | null;
  nodeMedianMs: number | null;
  ratio: number | null;
  /** The bare node:http2 client doing the same call: what the platform alone costs. */
  floorMedianMs: number | null;
  floorRatio: number | null;
}

/** The baseline cell of a start-up row: `node -e 0`, the ratio, and the floor's own ratio. */
const startupBaseline = (s: StartupResult) =>
  s.nodeMedianMs === null
    ? ''
    : `\`node -e 0\` ${s.nodeMedianMs} ms; ratio ${s.ratio}` +
      (s.floorMedianMs === null ? '' : ` (a bare node:http2 client doing the same: ${s.floorMedianMs} ms, ratio ${s.floorRatio})`);

const yes = (ok: boolean | null) => (ok === null ? 'n/a' : ok ? 'yes' : '**no**');

/**
 * Whether a start-up bar holds, from the medians rather than the ratio as printed: rounded to two
 * places, 1.403 read as 1.40 and passed a bar of 1.4.
 */
const startupHolds = (s: StartupResult, bar: number) => (s.medianMs === null || s.nodeMedianMs === null ? null : s.medianMs <= bar * s.nodeMedianMs);

/** A Markdown table (the README's benchmark section carries it). */
export function summaryTable(r: BenchResults, bytesPerWatcher: number | null): string {
  const f = r.fanout;
  const etcd = f.etcdP99Ms === null ? 'etcd unavailable' : `etcd 3.4, 5,000 watchers on one key: p50 ${f.etcdP50Ms} ms, p99 ${f.etcdP99Ms} ms`;
  const rows = [
    ['Measure', 'secret-groups', 'Baseline (same run)', 'Goal', 'Holds'],
    ['Resolve throughput (200 groups × 50 vars, 500 workloads)', `${r.resolve.rps} calls/s`, `no-op grpc-js server ${r.resolve.noopRps} calls/s; ratio ${r.resolve.ratio}`, 'ratio ≥ 0.95', yes(r.resolve.ratio >= 0.95)],
    ['Resolve latency at half the max rate', `p50 ${r.resolve.p50Ms} ms, p99 ${r.resolve.p99Ms} ms`, '', '', ''],
    [`One group update to ${f.watchers.toLocaleString('en')} watchers`, `p50 ${f.p50Ms} ms, p99 ${f.p99Ms} ms`, etcd, 'p99 ≤ 150 ms and ≤ 0.6 × etcd', yes(f.p99Ms <= 150 && (f.etcdP99Ms === null ? null : f.p99Ms <= 0.6 * f.etcdP99Ms))],
    [
      '`sg-agent exec -- true`, median',
      r.agent.medianMs === null ? 'agent unavailable' : `${r.agent.medianMs} ms`,
      startupBaseline(r.agent),
      'ratio ≤ 1.4',
      yes(startupHolds(r.agent, 1.4)),
    ],
    [
      'Server RSS with 5,000 watchers (connected / after updates)',
      `${r.server.rssMbConnected} / ${r.server.rssMbAfterUpdates} MB${bytesPerWatcher === null ? '' : ` (~${(bytesPerWatcher / 1024).toFixed(1)} kB per watcher)`}`,
      'etcd publishes ~18 kB per watch stream',
      '≤ 110 MB (with the Resolve bar in the same run)',
      yes(r.server.rssMbAt5kWatchers <= 110 && r.resolve.ratio >= 0.95),
    ],
    [
      '`sg project list`, median',
      r.cli.medianMs === null ? 'cli unavailable' : `${r.cli.medianMs} ms`,
      startupBaseline(r.cli),
      'ratio ≤ 1.5',
      yes(startupHolds(r.cli, 1.5)),
    ],
    ['Writes (SetVariables, 8 writers), SQLite', `${r.writes.sqlitePerSec}/s`, '', '', ''],
    [
      'Writes (SetVariables, 8 writers), MongoDB (FerretDB)',
      r.writes.mongoPerSec === null ? 'MongoDB unavailable' : `${r.writes.mongoFreshPerSec}/s fresh; ${r.writes.mongoAfter10kPerSec}/s after 10,000 earlier writes`,
      r.writes.mongoDriverPerSec === null ? '' : `driver \`updateOne\`, 8 in flight, same server: ${r.writes.mongoDriverPerSec}/s; ratio ${r.writes.mongoRatio}`,
      'ratio ≥ 0.5; after 10k ≥ 0.8 × fresh',
      yes(r.writes.mongoRatio === null || r.writes.mongoAfter10kPerSec === null ? null : r.writes.mongoFreshPerSec! >= 0.5 * r.writes.mongoDriverPerSec! && r.writes.mongoAfter10kPerSec >= 0.8 * r.writes.mongoFreshPerSec!),
    ],
  ];
  const lines = rows.map((row) => `| ${row.join(' | ')} |`);
  lines.splice(1, 0, `|${rows[0]!.map(() => '---').join('|')}|`);
  const m = r.machine;
  return `${lines.join('\n')}\n\nMachine: ${m.nproc} × ${m.cpuModel}, ${m.memGb} GB RAM, Node ${m.node}, ${m.os}; ${r.date.slice(0, 10)}; \`npm run bench${m.mode === 'quick' ? ' -- --quick' : ''}\`.`;
}
