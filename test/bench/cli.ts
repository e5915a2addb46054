/**
 * Admin CLI start-up: median wall time of `sg project list` (a real unary call to a running
 * server, output printed as the human table) against `node -e 0`, interleaved with the bare
 * client of start-floor.cjs doing the same call (the floor), all spawned the same way from this
 * process, 3 warm-up runs each not counted. A CPU profile of one run is summarised like the agent's.
 */
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect } from '../../client/connection.js';
import { START_FLOOR, againstNode, startupFigures, summariseProfile, timed } from './agent.js';
import { api } from './lib/api.js';
import { SG, startSg } from './lib/procs.js';
import { round } from './lib/util.js';

export async function benchCli(quick: boolean, log: (s: string) => void) {
  const runs = quick ? 20 : 40;
  const server = await startSg();
  const admin = connect({ addr: server.addr, token: server.adminToken });
  const dir = mkdtempSync(join(tmpdir(), 'sg-bench-cli-'));
  try {
    const a = api(admin);
    for (let i = 0; i < 5; i++) await a.createProject(`cli-${i}`);
    const env = { ...process.env, SG_ADDR: server.addr, SG_TOKEN: server.adminToken };
    const cliArgs = [SG, 'project', 'list'];
    const { subjectMs: cliMs, nodeMs, floorMs } = await againstNode(cliArgs, [START_FLOOR, 'list'], env, runs);
    const figures = startupFigures(cliMs, nodeMs, floorMs);
    log(`  sg project list: median ${figures.medianMs} ms; bare node:http2 client: median ${figures.floorMedianMs} ms; node -e 0: median ${figures.nodeMedianMs} ms (${runs} runs each)`);
    await timed(['--cpu-prof', '--cpu-prof-interval', '100', '--cpu-prof-dir', join(dir, 'cli'), ...cliArgs], env);
    const profile = summariseProfile(join(dir, 'cli', readdirSync(join(dir, 'cli')).find((f) => f.endsWith('.cpuprofile'))!));
    return {
      ...figures,
      details: {
        runs,
        command: 'sg project list (5 projects, human table)',
        cliMs: { min: round(Math.min(...cliMs), 1), max: round(Math.max(...cliMs), 1) },
        nodeMs: { min: round(Math.min(...nodeMs), 1), max: round(Math.max(...nodeMs), 1) },
        floorMs: { min: round(Math.min(...floorMs), 1), max: round(Math.max(...floorMs), 1) },
        cliProfile: profile,
      },
    };
  } finally {
    admin.close();
    rmSync(dir, { recursive: true, force: true });
    await server.cleanup();
  }
}
