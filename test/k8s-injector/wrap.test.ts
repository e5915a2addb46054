/**
 * The command wrapper, run by the shells an app image may have (dash as /bin/sh, bash, and
 * busybox when installed): arguments pass through exactly, the variables arrive, and an
 * unreadable file stops the container with a line that says why.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { formatShell } from '../../client/formats.js';
import { ENV_FILE, ENV_WRAPPER } from '../../server/k8s-injector/wrap.js';

const dir = mkdtempSync(join(tmpdir(), 'sg-wrap-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const shells = ['/bin/sh', '/bin/bash', '/bin/busybox'].filter((s) => spawnSync(s, ['-c', 'true']).status === 0);

describe.each(shells)('the env wrapper under %s', (shell) => {
  const run = (file: string, argv: string[]) => {
    const script = ENV_WRAPPER.replaceAll(ENV_FILE, file);
    const [cmd, ...rest] = shell.endsWith('busybox') ? [shell, 'sh'] : [shell];
    return spawnSync(cmd!, [...rest, '-c', script, ...argv], { encoding: 'utf8', env: { PATH: process.env.PATH, OWN: 'kept', KEY: 'overridden' } });
  };

  it('passes the original arguments through exactly, with the variables on top of the container env', () => {
    const file = join(dir, `env-${shell.replaceAll('/', '_')}`);
    writeFileSync(file, formatShell({ KEY: "it's $HOME `id` \"q\"\nline 2", EMPTY: '' }), { mode: 0o600 });
    const args = ['a b', '$HOME', '*', '"', "'", ''];
    const r = run(file, [process.execPath, '-e', 'console.log(JSON.stringify({ argv: process.argv.slice(1), KEY: process.env.KEY, EMPTY: process.env.EMPTY, OWN: process.env.OWN }))', ...args]);
    expect(r.status, r.stderr).toBe(0);
    expect(JSON.parse(r.stdout)).toEqual({ argv: args, KEY: "it's $HOME `id` \"q\"\nline 2", EMPTY: '', OWN: 'kept' });
  });

  it('exits 1 with a reason when the file cannot be read, and never starts the program', () => {
    const r = run(join(dir, 'missing'), ['/bin/echo', 'started']);
    expect(r.status).toBe(1);
    expect(r.stdout).toBe('');
    expect(r.stderr).toMatch(/secret-groups: cannot read .*missing: run this container as the agent's user/);
  });
});
