/**
 * The CLI side of the console work: `sg group dependents`, `sg group diff`, and the web
 * console in `sg serve` (its start-up line, --console-addr, an explicit address taken).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runNode, SG, startServerProcess, type ServerProcess } from '../helpers/server-process.js';
import { runner, type Runner } from './harness.js';

let server: ServerProcess;
let sg: Runner;

beforeAll(async () => {
  server = await startServerProcess({ args: ['--console-addr', '127.0.0.1:0'] });
  sg = runner(server);
  await sg.ok(['project', 'create', 'shop']);
  await sg.ok(['workload', 'create', 'shop', 'api', '--tag', 'web', '--var', 'LOG_LEVEL=debug']);
  await sg.ok(['workload', 'create', 'shop', 'worker', '--kind', 'job']);
  await sg.ok(['group', 'create', 'shop', 'shared', '--type', 'secret', '--priority', '10', '--var', 'DB_PASSWORD=hunter2', '--var', 'LOG_LEVEL=info']);
  await sg.ok(['group', 'create', 'shop', 'web', '--type', 'secret', '--priority', '50', '--scope', 'runtime', '--tag', 'web', '--var', 'DB_PASSWORD=web-pass']);
  await sg.ok(['group', 'set', 'shop', 'shared', 'DB_PASSWORD=hunter3', 'NEW=1']);
  await sg.ok(['group', 'unset', 'shop', 'shared', 'LOG_LEVEL']);
});
afterAll(() => server?.cleanup());

describe('sg serve with the console', () => {
  it('names the console URL in its start-up line', () => {
    expect(server.output()).toMatch(/secret-groups listening on 127\.0\.0\.1:\d+ \(web console: http:\/\/127\.0\.0\.1:\d+\/\)\n/);
    expect(server.consoleUrl).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/$/);
  });

  it('serves the console there', async () => {
    const res = await fetch(server.consoleUrl!);
    expect(res.headers.get('content-security-policy')).toContain("default-src 'none'");
  });

  it('an explicit --console-addr that is taken is an error', async () => {
    const holder = createServer();
    await new Promise<void>((r) => holder.listen(0, '127.0.0.1', r));
    const port = (holder.address() as { port: number }).port;
    const dataDir = mkdtempSync(join(tmpdir(), 'sg-console-taken-'));
    try {
      const r = await runNode(SG, ['serve', '--addr', '127.0.0.1:0', '--data', dataDir, '--console-addr', `127.0.0.1:${port}`], { SG_LOG_LEVEL: 'silent' });
      expect(r.code).not.toBe(0);
      expect(r.stderr).toContain(`cannot serve the console on 127.0.0.1:${port}: EADDRINUSE`);
    } finally {
      holder.close();
      rmSync(dataDir, { recursive: true, force: true });
    }
  });

  it('plaintext on a non-loopback console address is refused', async () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'sg-console-plain-'));
    try {
      const r = await runNode(SG, ['serve', '--addr', '127.0.0.1:0', '--data', dataDir, '--console-addr', '0.0.0.0:0'], { SG_LOG_LEVEL: 'silent' });
      expect(r.code).not.toBe(0);
      expect(r.stderr).toContain('refusing plaintext console on non-loopback address 0.0.0.0:0');
    } finally {
      rmSync(dataDir, { recursive: true, force: true });
    }
  });
});

describe('sg group dependents', () => {
  it('lists the workloads a group reaches and the keys that win there', async () => {
    const out = await sg.json<{ dependents: { workload: string; scope: string; winningKeys: string[]; shadowedKeys: string[] }[] }>(['group', 'dependents', 'shop', 'shared']);
    expect(out.dependents.map((d) => `${d.workload}/${d.scope}`)).toEqual(['api/runtime', 'api/build', 'worker/runtime', 'worker/build']);
    const apiRuntime = out.dependents[0]!;
    expect(apiRuntime.winningKeys).toEqual(['NEW']);
    expect(apiRuntime.shadowedKeys).toEqual(['DB_PASSWORD']);
    const human = await sg.ok(['group', 'dependents', 'shop', 'web', '--scope', 'runtime']);
    expect(human).toMatch(/WORKLOAD\s+SCOPE\s+WINS\s+SHADOWED/);
    expect(human).toMatch(/api\s+runtime\s+DB_PASSWORD/);
    expect(await sg.ok(['group', 'dependents', 'shop', 'web', '--scope', 'build'])).toBe('No workload inherits this group.\n');
    expect(await sg.fails(['group', 'dependents', 'shop', 'web', '--scope', 'both'])).toContain('--scope must be "runtime" or "build"');
  });

  it('a viewer gets the same answer, with no value', async () => {
    const viewer = (await sg.ok(['token', 'create', '--role', 'viewer'])).trim();
    const out = await sg.ok(['group', 'dependents', 'shop', 'shared', '--json'], { env: { SG_TOKEN: viewer } });
    expect(out).not.toContain('hunter');
    expect(JSON.parse(out).dependents).toHaveLength(4);
  });
});

describe('sg group diff', () => {
  it('shows keys that differ, without values unless --show-values; --json carries the values', async () => {
    const out = await sg.ok(['group', 'diff', 'shop', 'shared', '1']);
    expect(out).toBe('revision 1 → 3\n+ NEW\n- LOG_LEVEL\n~ DB_PASSWORD\n');
    const shown = await sg.ok(['group', 'diff', 'shop', 'shared', '1', '2', '--show-values']);
    expect(shown).toBe('revision 1 → 2\n+ NEW=1\n~ DB_PASSWORD: hunter2 → hunter3\n');
    const json = await sg.json<{ changedKeys: string[]; valuesRedacted: boolean; toValues: Record<string, string> | null }>(['group', 'diff', 'shop', 'shared', '1']);
    expect(json.changedKeys).toEqual(['DB_PASSWORD']);
    expect(json.valuesRedacted).toBe(false);
    expect(json.toValues).toEqual({ DB_PASSWORD: 'hunter3', NEW: '1' });
    expect(await sg.json(['group', 'diff', 'shop', 'shared', '1', '--show-values'])).toEqual(json);
  });

  it('a viewer asking for values of a secret group gets keys and a note', async () => {
    const viewer = (await sg.ok(['token', 'create', '--role', 'viewer'])).trim();
    const out = await sg.ok(['group', 'diff', 'shop', 'shared', '1', '--show-values'], { env: { SG_TOKEN: viewer } });
    expect(out).not.toContain('hunter');
    expect(out).toContain('(values hidden: this token may see only the keys of this group)');
  });

  it('refuses a bad revision with one line', async () => {
    expect(await sg.fails(['group', 'diff', 'shop', 'shared', '0'])).toContain('REV must be a positive integer');
    expect(await sg.fails(['group', 'diff', 'shop', 'shared', '1', '99'])).toContain('revision 99 of group shop/shared not found');
  });
});
