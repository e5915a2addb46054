/**
 * The agent when the server stops accepting its token mid-watch (revoked, expired, workload
 * deleted): its Watch ends at once on the server side, so nothing set afterwards reaches the
 * outputs; it says why in one line, retries slowly, and exits with status 77 after
 * --auth-grace (exec: after stopping the workload) unless --wait-on-auth-error. A token file
 * that receives a new token within the grace resumes it. Real `sg serve` and `sg-agent` (dist).
 */
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startServerProcess, type ServerProcess } from '../helpers/server-process.js';
import { exitOf, killAgents, sgOk, startAgent, until, workloadToken } from './helpers.js';

let server: ServerProcess;
let dir: string;

beforeAll(async () => {
  server = await startServerProcess();
  dir = mkdtempSync(join(tmpdir(), 'sg-agent-auth-'));
  await sgOk(server, ['project', 'create', 'shop']);
  await sgOk(server, ['group', 'create', 'shop', 'common']);
});

afterAll(async () => {
  killAgents();
  await server?.cleanup();
  rmSync(dir, { recursive: true, force: true });
});

let n = 0;
/** A workload of its own per test, so tests do not see each other's changes. */
async function setup(): Promise<{ workload: string; group: string; d: string; out: string; env: NodeJS.ProcessEnv }> {
  n++;
  const workload = `w${n}`;
  const group = `g${n}`;
  await sgOk(server, ['workload', 'create', 'shop', workload]);
  await sgOk(server, ['group', 'create', 'shop', group, '--workload', workload]);
  await sgOk(server, ['group', 'set', 'shop', group, 'KEY=before']);
  const d = join(dir, workload);
  mkdirSync(d);
  const env = { SG_ADDR: server.addr, SG_PROJECT: 'shop', SG_WORKLOAD: workload, SG_LOG_LEVEL: 'warn', SG_FILES_ROOT: d };
  return { workload, group, d, out: join(d, 'env.json'), env };
}

async function tokenId(name: string): Promise<string> {
  const { tokens } = JSON.parse(await sgOk(server, ['token', 'list', '--json'])) as { tokens: { id: string; name: string }[] };
  return tokens.find((t) => t.name === name)!.id;
}

const read = (f: string): Record<string, string> | null => {
  try {
    return JSON.parse(readFileSync(f, 'utf8')) as Record<string, string>;
  } catch {
    return null;
  }
};
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('sg-agent when its token is no longer accepted', () => {
  it('write --watch: revoke, then rotate — the rotated value is never written; one line on stderr; exit 77 after --auth-grace', async () => {
    const s = await setup();
    const token = (await sgOk(server, ['token', 'create', '--workload', `shop/${s.workload}`, '--name', `t-${s.workload}`])).trim();
    const a = startAgent(['write', '--watch', '--format', 'json', '--out', s.out, '--auth-grace', '3s'], { ...s.env, SG_TOKEN: token });
    await until(() => read(s.out)?.KEY === 'before', 'first write');

    await sgOk(server, ['token', 'revoke', await tokenId(`t-${s.workload}`)]);
    const revoked = Date.now();
    await sgOk(server, ['group', 'set', 'shop', s.group, 'KEY=rotated']);
    const { code } = await exitOf(a, 15_000);
    expect(code).toBe(77);
    expect(Date.now() - revoked).toBeGreaterThanOrEqual(2_500);
    expect(read(s.out)).toEqual({ KEY: 'before' });
    const lines = a.stderr().trim().split('\n');
    expect(lines[0]).toMatch(/^sg-agent: the server no longer accepts the token for shop\/w\d+ \(runtime\): token has been revoked \(UNAUTHENTICATED\); outputs are no longer updated; exiting in 3s/);
    expect(lines.at(-1)).toMatch(/^sg-agent: giving up: the token .* was not accepted again within 3s \(UNAUTHENTICATED\)$/);
    expect(lines).toHaveLength(2);
    expect(a.output()).not.toContain('rotated');
  });

  it('a token created with --ttl 4s: the stream ends at expiry and a later value is not written', async () => {
    const s = await setup();
    const token = (await sgOk(server, ['token', 'create', '--workload', `shop/${s.workload}`, '--ttl', '4s'])).trim();
    const created = Date.now();
    const a = startAgent(['write', '--watch', '--format', 'json', '--out', s.out, '--auth-grace', '1s'], { ...s.env, SG_TOKEN: token });
    await until(() => read(s.out)?.KEY === 'before', 'first write');
    await until(() => /token has expired/.test(a.stderr()), 'the expiry notice', 8_000);
    // The server ends the stream at expiry (a timer), not at the next heartbeat or reconnect.
    expect(Date.now() - created).toBeLessThan(4_000 + 1_500);
    await sgOk(server, ['group', 'set', 'shop', s.group, 'KEY=after-expiry']);
    expect((await exitOf(a, 10_000)).code).toBe(77);
    expect(read(s.out)).toEqual({ KEY: 'before' });
  });

  it('exec: the workload keeps running through the grace, is then stopped, and the agent exits 77', async () => {
    const s = await setup();
    const token = (await sgOk(server, ['token', 'create', '--workload', `shop/${s.workload}`, '--name', `t-${s.workload}`])).trim();
    const beat = join(s.d, 'beat');
    const script = `trap 'echo stopped >> ${beat}; exit 0' TERM; while :; do echo alive >> ${beat}; sleep 0.2; done`;
    const a = startAgent(['exec', '--auth-grace', '2s', '--', '/bin/sh', '-c', script], { ...s.env, SG_TOKEN: token });
    await until(() => existsSync(beat) && readFileSync(beat, 'utf8').includes('alive'), 'the workload runs');
    await sgOk(server, ['token', 'revoke', await tokenId(`t-${s.workload}`)]);
    await until(() => /no longer accepts the token/.test(a.stderr()), 'the notice', 5_000);
    const during = readFileSync(beat, 'utf8').split('\n').length;
    await sleep(1_000);
    expect(readFileSync(beat, 'utf8').split('\n').length).toBeGreaterThan(during); // still running in the grace
    expect((await exitOf(a, 15_000)).code).toBe(77);
    expect(readFileSync(beat, 'utf8')).toContain('stopped');
    expect(a.stderr()).toMatch(/giving up: .*; stopping the workload/);
  });

  it('deleting the workload ends the stream the same way; --wait-on-auth-error keeps the agent (and its file) until it is stopped', async () => {
    const s = await setup();
    const token = await workloadToken(server, `shop/${s.workload}`);
    const a = startAgent(['write', '--watch', '--format', 'json', '--out', s.out, '--auth-grace', '1s', '--wait-on-auth-error'], { ...s.env, SG_TOKEN: token });
    await until(() => read(s.out)?.KEY === 'before', 'first write');
    await sgOk(server, ['workload', 'delete', 'shop', s.workload]);
    await until(() => /no longer accepts the token/.test(a.stderr()), 'the notice', 5_000);
    expect(a.stderr()).toMatch(/was deleted \(UNAUTHENTICATED\).*waiting until it is accepted again \(--wait-on-auth-error\)/);
    // Re-created under the same name: the old token stays dead.
    await sgOk(server, ['workload', 'create', 'shop', s.workload, '--var', 'KEY=new-incarnation']);
    await sleep(2_500);
    expect(a.proc.exitCode).toBeNull();
    expect(read(s.out)).toEqual({ KEY: 'before' });
    a.proc.kill('SIGTERM');
    expect((await exitOf(a)).code).toBe(0);
  });

  it('--token-file: a new token written to the file within the grace resumes the agent', async () => {
    const s = await setup();
    const file = join(s.d, 'token');
    writeFileSync(file, `${(await sgOk(server, ['token', 'create', '--workload', `shop/${s.workload}`, '--name', `t-${s.workload}`])).trim()}\n`, { mode: 0o600 });
    const a = startAgent(['write', '--watch', '--format', 'json', '--out', s.out, '--token-file', file, '--auth-grace', '30s'], s.env);
    await until(() => read(s.out)?.KEY === 'before', 'first write');
    await sgOk(server, ['token', 'revoke', await tokenId(`t-${s.workload}`)]);
    await sgOk(server, ['group', 'set', 'shop', s.group, 'KEY=rotated']);
    await until(() => /no longer accepts the token/.test(a.stderr()), 'the notice', 5_000);
    expect(read(s.out)).toEqual({ KEY: 'before' });
    writeFileSync(file, `${await workloadToken(server, `shop/${s.workload}`)}\n`);
    await until(() => read(s.out)?.KEY === 'rotated', 'the agent resumed with the new token', 15_000);
    expect(a.stderr()).toMatch(/the token is accepted again/);
    a.proc.kill('SIGTERM');
    expect((await exitOf(a)).code).toBe(0);
  });
});
