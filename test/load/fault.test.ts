/**
 * Fault: the server is killed with SIGKILL while 200 raw Watch clients (and 5 real
 * `sg-agent write --watch` agents) are attached, then started again on the same address and
 * data. After one more write, every client converges on the final etag (agents: their files
 * hold the final value) within CONVERGE_MS of the restart. The deadline is the issue's
 * liveness bound (10 s), a wait limit rather than a measured timing.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { connect, type Clients } from '../../client/connection.js';
import { api } from '../helpers/api.js';
import { SG_AGENT, startServerProcess, type ServerProcess } from '../helpers/server-process.js';
import { channels, waitFor, Watcher } from './watchers.js';

const CLIENTS = 200;
const AGENTS = 5;
const CONVERGE_MS = 10_000;

let server: ServerProcess;
let dir: string;
const agents: ChildProcess[] = [];
beforeAll(async () => {
  // The watchers share the admin token: the per-token stream cap (default 100) must be above them.
  server = await startServerProcess({ env: { SG_LOG_LEVEL: 'warn', SG_MAX_STREAMS_PER_TOKEN: String(CLIENTS + 100) } });
  dir = mkdtempSync(join(tmpdir(), 'sg-load-fault-'));
});
afterAll(async () => {
  for (const p of agents) p.kill('SIGKILL');
  await server?.cleanup();
  rmSync(dir, { recursive: true, force: true });
});

const readValue = (file: string) => (existsSync(file) ? /^VERSION=(.*)$/m.exec(readFileSync(file, 'utf8'))?.[1]?.replace(/^['"]|['"]$/g, '') : undefined);

it(`${CLIENTS} watch clients and ${AGENTS} agents converge within ${CONVERGE_MS / 1000} s after kill -9 and restart`, { timeout: 120_000 }, async () => {
  let admin: Clients = connect({ addr: server.addr, token: server.adminToken });
  const a = () => api(admin);
  await a().createProject('fault');
  const workloads = Array.from({ length: 20 }, (_, i) => `w${i}`);
  for (const name of workloads) await a().createWorkload({ project: 'fault', name });
  await a().createGroup({ project: 'fault', name: 'shared', variables: { VERSION: '1' } });

  const clients = channels(server.addr, server.adminToken, 4);
  const watchers = Array.from({ length: CLIENTS }, (_, i) => new Watcher(clients[i % clients.length]!, 'fault', workloads[i % workloads.length]!).start());
  const files: string[] = [];
  let agentLog = '';
  for (let i = 0; i < AGENTS; i++) {
    const workload = workloads[i]!;
    const token = (await a().createToken({ name: `agent-${i}`, workload: { project: 'fault', workload } })).token;
    const out = join(dir, `agent-${i}.env`);
    files.push(out);
    const p = spawn(process.execPath, [SG_AGENT, 'write', '--project', 'fault', '--workload', workload, '--out', out, '--watch'], {
      env: { ...process.env, SG_ADDR: server.addr, SG_TOKEN: token, SG_LOG_LEVEL: 'error' },
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    p.stderr!.on('data', (c: Buffer) => (agentLog += c.toString()));
    agents.push(p);
  }
  try {
    await a().setVars('fault', 'shared', { VERSION: '2' });
    const before = (await a().resolve('fault', 'w0')).resolution!.etag;
    await waitFor(() => watchers.every((w) => w.etag === before) && files.every((f) => readValue(f) === '2'), 30_000);
    expect({
      watchersBehind: watchers.filter((w) => w.etag !== before).length,
      agentValues: files.map(readValue),
      agentsExited: agents.map((p) => p.exitCode),
    }).toEqual({ watchersBehind: 0, agentValues: files.map(() => '2'), agentsExited: agents.map(() => null) });

    await server.restart(); // SIGKILL, then the same address and data directory
    const restarted = Date.now();
    admin.close();
    admin = connect({ addr: server.addr, token: server.adminToken });
    await a().setVars('fault', 'shared', { VERSION: '3' });
    const after = (await a().resolve('fault', 'w0')).resolution!.etag;
    expect(after).not.toBe(before);

    const remaining = Math.max(0, CONVERGE_MS - (Date.now() - restarted));
    await waitFor(() => watchers.every((w) => w.etag === after) && files.every((f) => readValue(f) === '3'), remaining);
    const lagging = watchers.filter((w) => w.etag !== after).length;
    const staleAgents = files.filter((f) => readValue(f) !== '3').length;
    expect({ lagging, staleAgents, agentLog: staleAgents ? agentLog.slice(-2000) : '' }).toEqual({ lagging: 0, staleAgents: 0, agentLog: '' });
    // Every raw client really lost its stream and reconnected.
    expect(watchers.every((w) => w.connects >= 2)).toBe(true);
    expect(agents.every((p) => p.exitCode === null)).toBe(true);
  } finally {
    watchers.forEach((w) => w.stop());
    clients.forEach((c) => c.close());
    admin.close();
  }
});
