/**
 * sg-agent write and build-args end to end, and the no-value-in-logs guarantee.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import dotenv from 'dotenv';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runNode, SG_AGENT, startServerProcess, type ServerProcess } from '../helpers/server-process.js';
import { exitOf, killAgents, lines, setVars, sgOk, startAgent, until, workloadToken } from './helpers.js';

const CANARY = 'canary-d41d8cd9-do-not-log';
const VALUES = {
  MULTI: 'line1\nline2\n',
  QUOTES: 'say "hi"',
  SINGLE: "it's",
  HASH: 'a # b = c',
  UNICODE: 'päßwörd ✓ 😀',
  SPACES: '  padded  ',
  SECRET: CANARY,
};

let server: ServerProcess;
let dir: string;
let env: NodeJS.ProcessEnv;
let buildEnv: NodeJS.ProcessEnv;

beforeAll(async () => {
  server = await startServerProcess();
  dir = mkdtempSync(join(tmpdir(), 'sg-agent-write-'));
  await sgOk(server, ['project', 'create', 'shop']);
  await sgOk(server, ['workload', 'create', 'shop', 'api', '--build-arg', 'BUILD_ONLY=b v']);
  await sgOk(server, ['workload', 'create', 'shop', 'worker']);
  await sgOk(server, ['group', 'create', 'shop', 'common', '--priority', '10']);
  await sgOk(server, ['group', 'create', 'shop', 'other', '--workload', 'worker']);
  await setVars(server, 'shop', 'common', VALUES);
  await sgOk(server, ['group', 'file', 'add', 'shop', 'common', '/secrets/canary.txt', '--from', '-'], CANARY);
  env = { SG_ADDR: server.addr, SG_TOKEN: await workloadToken(server, 'shop/api'), SG_PROJECT: 'shop', SG_WORKLOAD: 'api', SG_LOG_LEVEL: 'warn' };
  buildEnv = { ...env, SG_TOKEN: await workloadToken(server, 'shop/api', true) };
});

afterAll(async () => {
  killAgents();
  await server?.cleanup();
  rmSync(dir, { recursive: true, force: true });
});

function fresh(name: string): string {
  const d = join(dir, name);
  mkdirSync(d, { recursive: true });
  return d;
}

describe('sg-agent write', () => {
  it('writes a dotenv file that parses back to every value, mode 0600, and the secret files', async () => {
    const d = fresh('dotenv');
    const root = fresh('dotenv-root');
    const r = await runNode(SG_AGENT, ['write', '--out', join(d, 'app.env'), '--files-root', root], env);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toBe('');
    expect(dotenv.parse(readFileSync(join(d, 'app.env'), 'utf8'))).toEqual(VALUES);
    expect(statSync(join(d, 'app.env')).mode & 0o777).toBe(0o600);
    expect(readdirSync(d)).toEqual(['app.env']);
    expect(readFileSync(join(root, 'secrets/canary.txt'), 'utf8')).toBe(CANARY);
    expect(statSync(join(root, 'secrets/canary.txt')).mode & 0o777).toBe(0o600);
  });

  it('writes secret files only under an explicit --files-root: without one they are skipped with a warning', async () => {
    // An absolute path that a default root of / would have written to.
    const target = join(tmpdir(), `sg-no-files-root-${process.pid}`, 'profile.sh');
    rmSync(dirname(target), { recursive: true, force: true });
    await sgOk(server, ['workload', 'create', 'shop', 'filesy']);
    await sgOk(server, ['group', 'create', 'shop', 'filesy-files', '--workload', 'filesy']);
    await sgOk(server, ['group', 'file', 'add', 'shop', 'filesy-files', target, '--mode', '0755', '--from', '-'], 'echo pwned');
    const d = fresh('no-root');
    const r = await runNode(SG_AGENT, ['write', '--out', join(d, 'app.env'), '--workload', 'filesy'], { ...env, SG_TOKEN: await workloadToken(server, 'shop/filesy') });
    expect(r.code, r.stderr).toBe(0);
    expect(existsSync(target)).toBe(false);
    expect(existsSync(join(d, 'app.env'))).toBe(true);
    expect(r.stderr).toMatch(/secret files not written: no --files-root given/);
  });

  it('logs key counts, not values and not "[redacted]" in place of a count', async () => {
    const d = fresh('counted');
    const r = await runNode(SG_AGENT, ['write', '--out', join(d, 'app.env')], { ...env, SG_LOG_LEVEL: 'info' });
    expect(r.code, r.stderr).toBe(0);
    const written = r.stderr.split('\n').filter(Boolean).map((l) => JSON.parse(l) as Record<string, unknown>).find((l) => l.msg === 'file written');
    expect(written).toMatchObject({ variableCount: Object.keys(VALUES).length });
    expect(r.stderr).not.toContain('[redacted]');
    expect(r.stderr).not.toContain(CANARY);
  });

  it('writes json and a shell file that bash can source safely', async () => {
    const d = fresh('formats');
    expect((await runNode(SG_AGENT, ['write', '--out', join(d, 'a.json'), '--format', 'json', '--files-root', d], env)).code).toBe(0);
    expect(JSON.parse(readFileSync(join(d, 'a.json'), 'utf8'))).toEqual(VALUES);
    expect((await runNode(SG_AGENT, ['write', '--out', join(d, 'a.sh'), '--format', 'shell', '--files-root', d], env)).code).toBe(0);
    const keys = Object.keys(VALUES);
    const sh = spawnSync('bash', ['-c', `set -eu; . "$1"; shift; for k in "$@"; do printf '%s\\0' "\${!k}"; done`, 'bash', join(d, 'a.sh'), ...keys], { encoding: 'utf8' });
    expect(sh.status, sh.stderr).toBe(0);
    expect(Object.fromEntries(sh.stdout.split('\0').slice(0, -1).map((v, i) => [keys[i], v]))).toEqual(VALUES);
  });

  it('--watch rewrites atomically on change, leaves the file untouched on a no-op, runs --exec-after', async () => {
    const d = fresh('watch');
    const out = join(d, 'app.env');
    const after = join(dir, 'after.log');
    const a = startAgent(['write', '--watch', '--out', out, '--files-root', d, '--exec-after', `echo ran >> ${after}`], env);
    await until(() => existsSync(out) && lines(after).length === 1, 'first write');
    const first = statSync(out);
    expect(first.mode & 0o777).toBe(0o600);

    await setVars(server, 'shop', 'common', { ADDED: 'new value' });
    await until(() => dotenv.parse(readFileSync(out, 'utf8')).ADDED === 'new value', 'rewrite on change');
    // The change reached the agent as a delta (it asks for them); what it wrote is the whole set.
    expect(dotenv.parse(readFileSync(out, 'utf8'))).toEqual({ ...VALUES, ADDED: 'new value' });
    const second = statSync(out);
    expect(second.ino).not.toBe(first.ino); // replaced by rename, never rewritten in place
    expect(second.mode & 0o777).toBe(0o600);
    await until(() => lines(after).length === 2, 'exec-after after the change');

    // No-ops: the same value again, and a change to a group this workload does not inherit.
    await setVars(server, 'shop', 'common', { ADDED: 'new value' });
    await setVars(server, 'shop', 'other', { W: '1' });
    await new Promise((r) => setTimeout(r, 1000));
    const third = statSync(out);
    expect(third.ino).toBe(second.ino);
    expect(third.mtimeMs).toBe(second.mtimeMs);
    expect(lines(after)).toHaveLength(2);
    expect(readdirSync(d).sort()).toEqual(['app.env', 'secrets']);

    a.proc.kill('SIGTERM');
    expect((await exitOf(a)).code).toBe(0);
    await sgOk(server, ['group', 'unset', 'shop', 'common', 'ADDED']);
  });

  it.each([
    ['a missing directory', () => join(dir, 'missing', 'app.env')],
    ['a directory', () => fresh('is-a-dir')],
  ])('refuses an unwritable --out (%s) with one line, writing nothing', async (_n, out) => {
    const root = fresh(`root-${Math.random()}`);
    const r = await runNode(SG_AGENT, ['write', '--out', out(), '--files-root', root], env);
    expect(r.code).not.toBe(0);
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
    expect(r.stderr).toMatch(/^sg-agent: cannot write --out/);
    expect(readdirSync(root)).toEqual([]);
  });
});

describe('sg-agent build-args', () => {
  const expected = { ...VALUES, BUILD_ONLY: 'b v' };

  it('docker format: NUL-separated --build-arg pairs that a bash array reproduces exactly', async () => {
    const d = fresh('build');
    const file = join(d, 'args');
    const r = await runNode(SG_AGENT, ['build-args', '--out', file], buildEnv);
    expect(r.code, r.stderr).toBe(0);
    const sh = spawnSync('bash', ['-c', `mapfile -d '' -t args < "$1"; printf '%s\\0' "\${args[@]}"`, 'bash', file], { encoding: 'utf8' });
    const args = sh.stdout.split('\0').slice(0, -1);
    const back: Record<string, string> = {};
    for (let i = 0; i < args.length; i += 2) {
      expect(args[i]).toBe('--build-arg');
      const kv = args[i + 1]!;
      back[kv.slice(0, kv.indexOf('='))] = kv.slice(kv.indexOf('=') + 1);
    }
    expect(back).toEqual(expected);
  });

  it('json and dotenv formats on stdout parse back to the exact values', async () => {
    const j = await runNode(SG_AGENT, ['build-args', '--format', 'json'], buildEnv);
    expect(j.code, j.stderr).toBe(0);
    expect(JSON.parse(j.stdout)).toEqual(expected);
    const e = await runNode(SG_AGENT, ['build-args', '--format', 'dotenv'], buildEnv);
    expect(dotenv.parse(e.stdout)).toEqual(expected);
  });

  it('needs a token created with --build', async () => {
    const r = await runNode(SG_AGENT, ['build-args', '--format', 'json'], env);
    expect(r.code).not.toBe(0);
    expect(r.stdout).toBe('');
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
    expect(r.stderr).toMatch(/PERMISSION_DENIED/);
  });
});

describe('logs', () => {
  it('never contain a value, even at trace level, across exec, restarts, changes, write and build-args', async () => {
    const trace = { ...env, SG_LOG_LEVEL: 'trace' };
    const d = fresh('trace');
    const outputs: string[] = [];
    const w = startAgent(['write', '--watch', '--out', join(d, 'a.env'), '--files-root', d], trace);
    const x = startAgent(['exec', '--restart-on-change', '--restart-debounce', '100ms', '--files-root', d, '--', 'bash', '-c', 'trap "exit 0" TERM; sleep 60 & wait $!'], trace);
    await until(() => existsSync(join(d, 'a.env')) && x.stderr().includes('child started'), 'agents running');
    await setVars(server, 'shop', 'common', { SECRET2: `${CANARY}-2` });
    await sgOk(server, ['group', 'restart-dependents', 'shop', 'common']);
    await until(() => (x.stderr().match(/child started/g) ?? []).length >= 2, 'restart');
    await until(() => readFileSync(join(d, 'a.env'), 'utf8').includes('SECRET2'), 'rewrite');
    w.proc.kill('SIGTERM');
    x.proc.kill('SIGTERM');
    await exitOf(w);
    await exitOf(x);
    outputs.push(w.output(), x.output());
    outputs.push((await runNode(SG_AGENT, ['build-args', '--format', 'json', '--out', join(d, 'b.json')], { ...buildEnv, SG_LOG_LEVEL: 'trace' })).stderr);
    outputs.push((await runNode(SG_AGENT, ['write', '--out', join(d, 'missing', 'x'), '--log-level', 'trace'], env)).stderr);
    const all = outputs.join('\n');
    expect(all).toContain('"level":10'); // trace lines were produced
    expect(all).not.toContain(CANARY);
    expect(all).not.toContain('canary-d41d8cd9');
    await sgOk(server, ['group', 'unset', 'shop', 'common', 'SECRET2']);
  });
});
