/**
 * sg-agent against a real server: a token file others may read is said (or refused under
 * --strict), and a value one format cannot carry never stops the other variables — a rotated
 * secret above all — from reaching a `write --format dotenv --watch` agent. Messages name keys
 * and formats the command has, never a value or the token.
 */
import { spawnSync } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import dotenv from 'dotenv';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runNode, SG_AGENT, startServerProcess, type ServerProcess } from '../helpers/server-process.js';
import { exitOf, killAgents, setVars, sgOk, startAgent, until, workloadToken } from './helpers.js';

/** dotenv and sh cannot both read this back unchanged: a `'` together with a `$`. */
const AWKWARD = "it's $5";

let server: ServerProcess;
let dir: string;
let env: NodeJS.ProcessEnv;
let token: string;
let buildToken: string;

beforeAll(async () => {
  server = await startServerProcess();
  dir = mkdtempSync(join(tmpdir(), 'sg-agent-edges-'));
  await sgOk(server, ['project', 'create', 'shop']);
  await sgOk(server, ['workload', 'create', 'shop', 'greeter']);
  await sgOk(server, ['group', 'create', 'shop', 'greet', '--workload', 'greeter']);
  await setVars(server, 'shop', 'greet', { API_KEY: 'v1-secret', GREETING: AWKWARD });
  token = await workloadToken(server, 'shop/greeter');
  buildToken = await workloadToken(server, 'shop/greeter', true);
  env = { SG_ADDR: server.addr, SG_PROJECT: 'shop', SG_WORKLOAD: 'greeter', SG_LOG_LEVEL: 'warn', SG_TOKEN: '', SG_TOKEN_FILE: '', SG_STRICT: '' };
});

afterAll(async () => {
  killAgents();
  await server?.cleanup();
  rmSync(dir, { recursive: true, force: true });
});

let n = 0;
function fresh(): string {
  const d = join(dir, `case-${++n}`);
  mkdirSync(d);
  return d;
}

function tokenFile(d: string, mode: number): string {
  const file = join(d, 'token');
  writeFileSync(file, `${token}\n`);
  chmodSync(file, mode);
  return file;
}

const warnings = (stderr: string) => stderr.split('\n').filter((l) => l.startsWith('sg-agent: WARNING'));

describe('--token-file readable by others', () => {
  it('is used, with a warning on stderr that names the file and its mode, never the token', async () => {
    const d = fresh();
    const file = tokenFile(d, 0o644);
    const r = await runNode(SG_AGENT, ['write', '--format', 'json', '--out', join(d, 'out.json'), '--token-file', file], env);
    expect(r.code, r.stderr).toBe(0);
    expect(warnings(r.stderr)).toEqual([`sg-agent: WARNING: --token-file ${file} is readable by its group and every user (mode 0644); make it readable by its owner only (chmod 600), or pass --strict to refuse such a file`]);
    expect(r.stderr).not.toContain(token);
    expect(JSON.parse(readFileSync(join(d, 'out.json'), 'utf8')).API_KEY).toBe('v1-secret');
  });

  it('is refused under --strict (and SG_STRICT=true): exit 2, one line, nothing written', async () => {
    const d = fresh();
    const file = tokenFile(d, 0o640);
    const out = join(d, 'out.json');
    for (const [args, extra] of [
      [['--strict'], {}],
      [[], { SG_STRICT: 'true' }],
    ] as const) {
      const r = await runNode(SG_AGENT, ['write', '--format', 'json', '--out', out, '--token-file', file, ...args], { ...env, ...extra });
      expect(r.code).toBe(2);
      expect(r.stderr.trim().split('\n')).toEqual([`sg-agent: --token-file ${file} is readable by its group (mode 0640): refused under --strict; make it readable by its owner only (chmod 600, or defaultMode: 0400 for a Kubernetes secret volume)`]);
      expect(r.stderr).not.toContain(token);
      expect(existsSync(out)).toBe(false);
    }
  });

  it('a 0600 (or 0400) token file passes --strict without a word', async () => {
    for (const mode of [0o600, 0o400]) {
      const d = fresh();
      const r = await runNode(SG_AGENT, ['write', '--format', 'json', '--out', join(d, 'out.json'), '--token-file', tokenFile(d, mode), '--strict'], env);
      expect(r.code, r.stderr).toBe(0);
      expect(r.stderr).toBe('');
    }
  });
});

describe('a value one format cannot carry', () => {
  const tokenEnv = () => ({ ...env, SG_TOKEN: token });

  it('write --format dotenv --watch: the rest is written, the key is named, and a rotated secret still arrives', async () => {
    const out = join(fresh(), 'app.env');
    const read = () => (existsSync(out) ? dotenv.parse(readFileSync(out, 'utf8')) : {});
    const a = startAgent(['write', '--watch', '--format', 'dotenv', '--out', out], tokenEnv());
    await until(() => read().API_KEY === 'v1-secret', 'first write');
    expect(read().GREETING).toBeUndefined();
    await until(() => warnings(a.stderr()).length === 1, 'the warning');
    expect(warnings(a.stderr())[0]).toBe(
      `sg-agent: WARNING: --format dotenv cannot carry GREETING (cannot be written in dotenv format so that both sh and dotenv read it unchanged); left out of ${out}, every other variable is written; use --format json or shell`,
    );

    // The rotation that used to be stuck behind GREETING.
    await setVars(server, 'shop', 'greet', { API_KEY: 'v2-rotated' });
    await until(() => read().API_KEY === 'v2-rotated', 'the rotated secret');
    expect(warnings(a.stderr())).toHaveLength(1); // said again only when the set changes

    // Once the value can be carried, it is written and the agent says so.
    await setVars(server, 'shop', 'greet', { GREETING: 'its $5' });
    await until(() => read().GREETING === 'its $5', 'the fixed value');
    await until(() => a.stderr().includes(`sg-agent: every variable is written to ${out} again`), 'the all-clear');
    expect(a.stderr()).not.toContain(AWKWARD);
    expect(a.stderr()).not.toContain('v2-rotated');
    a.proc.kill('SIGTERM');
    expect((await exitOf(a)).code).toBe(0);
    await setVars(server, 'shop', 'greet', { API_KEY: 'v1-secret', GREETING: AWKWARD });
  });

  it('a one-shot write writes the rest and exits 3; --format shell carries the value', async () => {
    const d = fresh();
    const r = await runNode(SG_AGENT, ['write', '--format', 'dotenv', '--out', join(d, 'app.env')], { ...tokenEnv(), SG_LOG_LEVEL: 'info' });
    expect(r.code).toBe(3);
    expect(warnings(r.stderr)).toHaveLength(1);
    expect(r.stderr).toMatch(/cannot carry GREETING/);
    expect(r.stderr).not.toContain(AWKWARD);
    expect(dotenv.parse(readFileSync(join(d, 'app.env'), 'utf8'))).toEqual({ API_KEY: 'v1-secret' });
    // The log counts the variables in the file, not the ones left out.
    const written = r.stderr.split('\n').filter((l) => l.startsWith('{')).map((l) => JSON.parse(l) as { msg: string; variableCount?: number }).find((l) => l.msg === 'file written');
    expect(written?.variableCount).toBe(1);

    const s = await runNode(SG_AGENT, ['write', '--format', 'shell', '--out', join(d, 'app.sh')], tokenEnv());
    expect(s.code, s.stderr).toBe(0);
    const sh = spawnSync('bash', ['-c', '. "$1" && printf %s "$GREETING"', 'bash', join(d, 'app.sh')], { encoding: 'utf8' });
    expect(sh.stdout).toBe(AWKWARD);
  });

  it('build-args --format dotenv refuses it, suggesting only formats build-args has', async () => {
    const r = await runNode(SG_AGENT, ['build-args', '--format', 'dotenv'], { ...env, SG_TOKEN: buildToken });
    expect(r.code).toBe(1);
    expect(r.stdout).toBe('');
    expect(r.stderr.trim().split('\n')).toEqual([
      'sg-agent: variable GREETING cannot be written in dotenv format so that both sh and dotenv read it unchanged; use --format docker or json',
    ]);
    expect(r.stderr).not.toMatch(/shell/);
    // And the suggested formats do carry it.
    const j = await runNode(SG_AGENT, ['build-args', '--format', 'json'], { ...env, SG_TOKEN: buildToken });
    expect(JSON.parse(j.stdout).GREETING).toBe(AWKWARD);
  });
});
