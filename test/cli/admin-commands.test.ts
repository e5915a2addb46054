/** sg audit, sg role create/update/delete, sg resolve --format, sg completion, sg serve --config, sg admin rotate-master-key. */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parse as parseDotenv } from 'dotenv';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runNode, SG, startServerProcess, type ServerProcess } from '../helpers/server-process.js';
import { runner, type Runner } from './harness.js';

let s: ServerProcess;
let sg: Runner;
const CANARY = 'CANARY-ADMIN-4d1f';
beforeAll(async () => {
  s = await startServerProcess();
  sg = runner(s);
  await sg.ok(['project', 'create', 'shop']);
  await sg.ok(['workload', 'create', 'shop', 'api']);
  await sg.ok(['group', 'create', 'shop', 'creds', '--type', 'secret']);
  await sg.ok(['group', 'set', 'shop', 'creds', `PASSWORD=${CANARY}`, 'MULTI=line one\nline "two" $HOME #x']);
});
afterAll(() => s.cleanup());

describe('sg audit', () => {
  it('lists writes and reads of secret values with keys, never values', async () => {
    await sg.ok(['resolve', 'shop', 'api', '--json']);
    const human = await sg.ok(['audit', '--project', 'shop']);
    expect(human).toMatch(/SetVariables\s+group shop\/creds\s+MULTI, PASSWORD\s+ok/);
    // Reads are aggregated and flushed in the background (they never wait on the store).
    let events: { action: string; keys: string[]; outcome: string }[] = [];
    for (let i = 0; i < 50 && !events.some((e) => e.action === 'Resolve'); i++) {
      await new Promise((r) => setTimeout(r, 100));
      ({ events } = await sg.json<{ events: typeof events }>(['audit', '--project', 'shop', '--since', '1h']));
    }
    expect(events.map((e) => e.action)).toEqual(expect.arrayContaining(['CreateGroup', 'SetVariables', 'Resolve']));
    expect(events.find((e) => e.action === 'Resolve')!.keys).toEqual(['MULTI', 'PASSWORD']);
    expect(JSON.stringify(events)).not.toContain(CANARY);
    expect(human).not.toContain(CANARY);
    expect(await sg.fails(['audit', '--since', 'yesterday-ish'], { exitCode: 2 })).toMatch(/--since must be a duration/);
  });

  it('records a denied attempt', async () => {
    const viewer = (await sg.ok(['token', 'create', '--role', 'viewer'])).trim();
    await sg.fails(['group', 'set', 'shop', 'creds', 'X=1'], { env: { SG_TOKEN: viewer } });
    // Denials are buffered and flushed in the background (they must not wait on the store).
    let events: { action: string; outcome: string }[] = [];
    for (let i = 0; i < 50 && events[0]?.outcome !== 'denied'; i++) {
      await new Promise((r) => setTimeout(r, 100));
      ({ events } = await sg.json<{ events: typeof events }>(['audit', '--action', 'SetVariables']));
    }
    expect(events[0]).toMatchObject({ action: 'SetVariables', outcome: 'denied' });
  });
});

describe('sg role create / update / delete', () => {
  it('defines a custom role that tokens can use, and refuses to delete it while used', async () => {
    const created = await sg.json<{ name: string; secret: string; config: string }>(['role', 'create', 'auditor', '--secret', 'keys', '--config', 'read', '--description', 'reads config']);
    expect(created).toMatchObject({ name: 'auditor', secret: 'keys', config: 'read' });
    const token = (await sg.ok(['token', 'create', '--role', 'auditor'])).trim();
    const g = await sg.json<{ variables: Record<string, string | null> }>(['group', 'get', 'shop', 'creds'], { env: { SG_TOKEN: token } });
    expect(g.variables).toEqual({ MULTI: null, PASSWORD: null });
    // update replaces the role; the token using it reads values on its very next call.
    const updated = await sg.json<{ name: string; secret: string; config: string; description: string }>(['role', 'update', 'auditor', '--secret', 'read', '--config', 'read']);
    expect(updated).toMatchObject({ name: 'auditor', secret: 'read', config: 'read', description: '' });
    const now = await sg.json<{ variables: Record<string, string | null> }>(['group', 'get', 'shop', 'creds'], { env: { SG_TOKEN: token } });
    expect(Object.values(now.variables).every((v) => typeof v === 'string')).toBe(true);
    expect(await sg.fails(['role', 'update', 'viewer', '--secret', 'write', '--config', 'write'])).toBe('INVALID_ARGUMENT: built-in role viewer cannot be changed');
    expect(await sg.fails(['role', 'update', 'nobody', '--secret', 'none', '--config', 'none'])).toBe('NOT_FOUND: role nobody not found');
    expect(await sg.fails(['role', 'delete', 'auditor'])).toMatch(/^FAILED_PRECONDITION: role auditor is used by 1 active token/);
    const id = (await sg.json<{ tokens: { id: string; role: string }[] }>(['token', 'list'])).tokens.find((t) => t.role === 'auditor')!.id;
    await sg.ok(['token', 'revoke', id]);
    expect(await sg.ok(['role', 'delete', 'auditor'])).toBe('Deleted role auditor\n');
    expect(await sg.fails(['role', 'create', 'admin', '--secret', 'write', '--config', 'write'])).toMatch(/^ALREADY_EXISTS/);
    expect(await sg.fails(['role', 'create', 'x', '--secret', 'all', '--config', 'read'], { exitCode: 2 })).toMatch(/--secret must be one of/);
  });
});

describe('sg resolve --format', () => {
  it('dotenv output parses back to the exact values; shell output sources in bash', async () => {
    const env = parseDotenv(await sg.ok(['resolve', 'shop', 'api', '--format', 'dotenv']));
    expect(env).toEqual({ MULTI: 'line one\nline "two" $HOME #x', PASSWORD: CANARY });
    const shell = await sg.ok(['resolve', 'shop', 'api', '--format', 'shell']);
    const dir = mkdtempSync(join(tmpdir(), 'sg-shell-'));
    writeFileSync(join(dir, 'env.sh'), shell);
    const out = spawnSync('bash', ['-c', `source ${join(dir, 'env.sh')} && printf '%s' "$MULTI"`], { encoding: 'utf8' });
    rmSync(dir, { recursive: true, force: true });
    expect(out.stdout).toBe('line one\nline "two" $HOME #x');
    expect(await sg.fails(['resolve', 'shop', 'api', '--format', 'yaml'], { exitCode: 2 })).toMatch(/--format must be one of/);
  });
});

describe('sg completion', () => {
  it('completes commands, subcommands and flags in a real bash', async () => {
    const script = await sg.ok(['completion', 'bash']);
    const dir = mkdtempSync(join(tmpdir(), 'sg-comp-'));
    writeFileSync(join(dir, 'sg.bash'), script);
    const complete = (words: string[]) =>
      spawnSync('bash', ['-c', `source ${join(dir, 'sg.bash')}; COMP_WORDS=(${words.map((w) => `'${w}'`).join(' ')}); COMP_CWORD=${words.length - 1}; _sg_complete; echo "\${COMPREPLY[@]}"`], {
        encoding: 'utf8',
      }).stdout.trim();
    expect(complete(['sg', 'gr'])).toBe('group');
    expect(complete(['sg', 'group', 'file', ''])).toBe('add rm');
    expect(complete(['sg', 'resolve', 'shop', 'api', '--for'])).toBe('--format');
    rmSync(dir, { recursive: true, force: true });
    expect(await sg.fails(['completion', 'fish'], { exitCode: 2 })).toMatch(/bash or zsh/);
  });
});

describe('sg serve --config and sg admin rotate-master-key', () => {
  it('reads settings from a config file, rotates the master key offline, and serves the same data after', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'sg-admin-'));
    const data = join(dir, 'data');
    writeFileSync(join(dir, 'sg.yaml'), `data: ${data}\nlogLevel: warn\nheartbeat: 5s\n`);
    const server = await startServerProcess({ dataDir: data, args: ['--config', join(dir, 'sg.yaml')] });
    const r = runner(server);
    await r.ok(['project', 'create', 'p']);
    await r.ok(['workload', 'create', 'p', 'w']);
    await r.ok(['group', 'create', 'p', 'g', '--type', 'secret']);
    await r.ok(['group', 'set', 'p', 'g', `K=${CANARY}`]);
    await server.stop();

    const oldKey = readFileSync(join(data, 'master.key'), 'utf8');
    const rotated = await runNode(SG, ['admin', 'rotate-master-key', '--data', data, '--json']);
    expect(rotated.code, rotated.stderr).toBe(0);
    expect(JSON.parse(rotated.stdout)).toMatchObject({ rewrapped: 1 });
    expect(rotated.stdout + rotated.stderr).not.toContain(oldKey.trim());
    expect(readFileSync(join(data, 'master.key'), 'utf8')).not.toBe(oldKey);

    await server.restart();
    const after = await runner(server).json<{ variables: Record<string, string> }>(['resolve', 'p', 'w']);
    expect(after.variables).toEqual({ K: CANARY });
    await server.cleanup();
    rmSync(dir, { recursive: true, force: true });
  });
});
