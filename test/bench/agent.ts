/**
 * Agent start-up: median wall time of `sg-agent exec --project P --workload W -- true`
 * (resolve over gRPC, then spawn and wait for `true`) against `node -e 0`, interleaved with the
 * bare client of start-floor.cjs doing the same (the floor), all spawned the same way from this
 * process, 3 warm-up runs each not counted. A CPU profile of one agent run (--cpu-prof) is
 * summarised: self time by function and by package.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect } from '../../client/connection.js';
import { api } from './lib/api.js';
import { ROOT, SG_AGENT, startSg } from './lib/procs.js';
import { median, round } from './lib/util.js';

/** Wall time of `node ARGS` from spawn to exit, stdout ignored. */
export function timed(args: string[], env: NodeJS.ProcessEnv): Promise<{ ms: number; code: number | null; stderr: string }> {
  return new Promise((resolve, reject) => {
    const start = performance.now();
    const child = spawn(process.execPath, args, { env, stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
    child.on('error', reject);
    child.on('close', (code) => resolve({ ms: performance.now() - start, code, stderr }));
  });
}

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string };
  hitCount?: number;
}

/**
 * Self time of a .cpuprofile by function and by package/area, top entries with % of samples.
 * With `windows` (monotonic µs), only samples taken inside them count.
 */
export function summariseProfile(path: string, top = 12, windows?: [number, number][]) {
  const prof = JSON.parse(readFileSync(path, 'utf8')) as { nodes: ProfileNode[]; startTime: number; endTime: number; samples: number[]; timeDeltas: number[] };
  let wallMs = (prof.endTime - prof.startTime) / 1000;
  if (windows?.length) {
    const hits = new Map<number, number>();
    let t = prof.startTime;
    prof.samples.forEach((id, i) => {
      t += prof.timeDeltas[i] ?? 0;
      if (windows.some(([a, b]) => t >= a && t <= b)) hits.set(id, (hits.get(id) ?? 0) + 1);
    });
    for (const n of prof.nodes) n.hitCount = hits.get(n.id) ?? 0;
    wallMs = windows.reduce((ms, [a, b]) => ms + (b - a) / 1000, 0);
  }
  const total = prof.nodes.reduce((n, x) => n + (x.hitCount ?? 0), 0) || 1;
  const byFn = new Map<string, number>();
  const byArea = new Map<string, number>();
  const area = (url: string, fn: string) => {
    if (!url) return fn.startsWith('(') ? fn : '(native/V8)';
    const nm = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(url);
    if (nm) return nm[1]!;
    if (url.startsWith('node:')) return 'node: core modules';
    const m = /\/(dist\/[^/]+\/[^/]+)\//.exec(url);
    return m ? m[1]! : url;
  };
  for (const n of prof.nodes) {
    const hits = n.hitCount ?? 0;
    if (!hits) continue;
    const { functionName, url } = n.callFrame;
    const short = url.replace(/^file:\/\/.*?\/(node_modules|dist)\//, '$1/');
    const key = `${functionName || '(anonymous)'} ${short}`.trim();
    byFn.set(key, (byFn.get(key) ?? 0) + hits);
    const a = area(url, functionName);
    byArea.set(a, (byArea.get(a) ?? 0) + hits);
  }
  const pct = (m: Map<string, number>) =>
    [...m.entries()]
      .sort((x, y) => y[1] - x[1])
      .slice(0, top)
      .map(([k, v]) => ({ name: k, pct: round((100 * v) / total, 1), ms: round((wallMs * v) / total, 1) }));
  return { profiledMs: round(wallMs, 1), samples: total, topFunctions: pct(byFn), byArea: pct(byArea) };
}

/**
 * Wall times of `node ARGS`, of `node FLOOR` (the bare client of start-floor.cjs doing the same)
 * and of `node -e 0`, spawned alike: one checked run each, 3 warm-up runs each not counted,
 * then `runs` of each interleaved, rotating which goes first, so that background load hits all
 * alike.
 */
export async function againstNode(args: string[], floorArgs: string[], env: NodeJS.ProcessEnv, runs: number): Promise<{ subjectMs: number[]; floorMs: number[]; nodeMs: number[] }> {
  const commands = [args, floorArgs, ['-e', '0']];
  for (const c of commands) {
    const check = await timed(c, env);
    if (check.code !== 0) throw new Error(`${c.slice(1).join(' ')} exited with ${check.code}: ${check.stderr.trim().slice(0, 500)}`);
  }
  for (let i = 0; i < 3; i++) for (const c of commands) await timed(c, env);
  const ms: number[][] = [[], [], []];
  for (let i = 0; i < runs; i++) {
    for (let k = 0; k < commands.length; k++) {
      const at = (i + k) % commands.length;
      const c = commands[at]!;
      const r = await timed(c, env);
      if (r.code !== 0) throw new Error(`${c.join(' ')} exited with ${r.code}: ${r.stderr.slice(0, 300)}`);
      ms[at]!.push(r.ms);
    }
  }
  return { subjectMs: ms[0]!, floorMs: ms[1]!, nodeMs: ms[2]! };
}

/** The bare client that stands for what any Node gRPC client must do (test/bench/start-floor.cjs). */
export const START_FLOOR = join(ROOT, 'test/bench/start-floor.cjs');

/** Medians of a start-up comparison and the ratios the report shows. */
export function startupFigures(subjectMs: number[], nodeMs: number[], floorMs: number[]) {
  const medianMs = median(subjectMs);
  const nodeMedianMs = median(nodeMs);
  const floorMedianMs = median(floorMs);
  return {
    medianMs: round(medianMs, 1),
    nodeMedianMs: round(nodeMedianMs, 1),
    ratio: round(medianMs / nodeMedianMs, 3),
    floorMedianMs: round(floorMedianMs, 1),
    floorRatio: round(floorMedianMs / nodeMedianMs, 3),
  };
}

export async function benchAgent(quick: boolean, log: (s: string) => void) {
  const runs = quick ? 20 : 40;
  const server = await startSg();
  const admin = connect({ addr: server.addr, token: server.adminToken });
  const dir = mkdtempSync(join(tmpdir(), 'sg-bench-agent-'));
  try {
    const a = api(admin);
    await a.createProject('agent');
    await a.createWorkload({ project: 'agent', name: 'app' });
    const variables: Record<string, string> = {};
    for (let k = 0; k < 20; k++) variables[`KEY_${k}`] = `value-${k}-${'x'.repeat(24)}`;
    await a.createGroup({ project: 'agent', name: 'common', variables });
    const token = (await a.createToken({ name: 'bench-agent', workload: { project: 'agent', workload: 'app' } })).token;
    const env = { ...process.env, SG_ADDR: server.addr, SG_TOKEN: token, SG_LOG_LEVEL: 'warn' };
    const agentArgs = [SG_AGENT, 'exec', '--project', 'agent', '--workload', 'app', '--', 'true'];
    const nodeArgs = ['-e', '0'];
    const floorArgs = [START_FLOOR, 'exec', 'agent', 'app', '--', 'true'];
    const { subjectMs: agentMs, nodeMs, floorMs } = await againstNode(agentArgs, floorArgs, env, runs);
    const figures = startupFigures(agentMs, nodeMs, floorMs);
    log(`  sg-agent exec -- true: median ${figures.medianMs} ms; bare node:http2 client: median ${figures.floorMedianMs} ms; node -e 0: median ${figures.nodeMedianMs} ms (${runs} runs each)`);
    // One profiled run of each, to show what start-up spends its time on.
    await timed(['--cpu-prof', '--cpu-prof-interval', '100', '--cpu-prof-dir', join(dir, 'agent'), ...agentArgs], env);
    await timed(['--cpu-prof', '--cpu-prof-interval', '100', '--cpu-prof-dir', join(dir, 'node'), ...nodeArgs], env);
    const profile = (sub: string) => summariseProfile(join(dir, sub, readdirSync(join(dir, sub)).find((f) => f.endsWith('.cpuprofile'))!));
    return {
      ...figures,
      details: {
        runs,
        agentMs: { min: round(Math.min(...agentMs), 1), max: round(Math.max(...agentMs), 1) },
        nodeMs: { min: round(Math.min(...nodeMs), 1), max: round(Math.max(...nodeMs), 1) },
        floorMs: { min: round(Math.min(...floorMs), 1), max: round(Math.max(...floorMs), 1) },
        agentProfile: profile('agent'),
        nodeProfile: profile('node'),
      },
    };
  } finally {
    admin.close();
    rmSync(dir, { recursive: true, force: true });
    await server.cleanup();
  }
}
