/**
 * Agent start-up: median wall time of `sg-agent exec --project P --workload W -- true`
 * (resolve over gRPC, then spawn and wait for `true`) against `node -e 0`, interleaved, both
 * spawned the same way from this process, 3 warm-up runs each not counted. A CPU profile of
 * one agent run (--cpu-prof) is summarised: self time by function and by package.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect } from '../../client/connection.js';
import { api } from './lib/api.js';
import { SG_AGENT, startSg } from './lib/procs.js';
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
 * Wall times of `node ARGS` and of `node -e 0`, spawned alike: one checked run, 3 warm-up
 * runs each not counted, then `runs` of each interleaved, alternating which goes first, so
 * that background load hits both alike.
 */
export async function againstNode(args: string[], env: NodeJS.ProcessEnv, runs: number): Promise<{ subjectMs: number[]; nodeMs: number[] }> {
  const nodeArgs = ['-e', '0'];
  const check = await timed(args, env);
  if (check.code !== 0) throw new Error(`${args.slice(1).join(' ')} exited with ${check.code}: ${check.stderr.trim().slice(0, 500)}`);
  for (let i = 0; i < 3; i++) {
    await timed(args, env);
    await timed(nodeArgs, env);
  }
  const subjectMs: number[] = [];
  const nodeMs: number[] = [];
  for (let i = 0; i < runs; i++) {
    const pair = i % 2 ? [nodeArgs, args] : [args, nodeArgs];
    for (const a of pair) {
      const r = await timed(a, env);
      if (r.code !== 0) throw new Error(`${a.join(' ')} exited with ${r.code}: ${r.stderr.slice(0, 300)}`);
      (a === args ? subjectMs : nodeMs).push(r.ms);
    }
  }
  return { subjectMs, nodeMs };
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
    const { subjectMs: agentMs, nodeMs } = await againstNode(agentArgs, env, runs);
    const medianMs = median(agentMs);
    const nodeMedianMs = median(nodeMs);
    log(`  sg-agent exec -- true: median ${medianMs.toFixed(1)} ms; node -e 0: median ${nodeMedianMs.toFixed(1)} ms (${runs} runs each)`);
    // One profiled run of each, to show what start-up spends its time on.
    await timed(['--cpu-prof', '--cpu-prof-interval', '100', '--cpu-prof-dir', join(dir, 'agent'), ...agentArgs], env);
    await timed(['--cpu-prof', '--cpu-prof-interval', '100', '--cpu-prof-dir', join(dir, 'node'), ...nodeArgs], env);
    const profile = (sub: string) => summariseProfile(join(dir, sub, readdirSync(join(dir, sub)).find((f) => f.endsWith('.cpuprofile'))!));
    return {
      medianMs: round(medianMs, 1),
      nodeMedianMs: round(nodeMedianMs, 1),
      ratio: round(medianMs / nodeMedianMs, 2),
      details: {
        runs,
        agentMs: { min: round(Math.min(...agentMs), 1), max: round(Math.max(...agentMs), 1) },
        nodeMs: { min: round(Math.min(...nodeMs), 1), max: round(Math.max(...nodeMs), 1) },
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
