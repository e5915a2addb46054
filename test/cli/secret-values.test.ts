/**
 * The config-editor and viewer limits of issue 10 (item 2) through the real `sg` against a real
 * `sg serve`: no addon link into a config group, no execution-controlling key or file, no
 * PreviewChange oracle, and `sg group create` makes a secret group unless told otherwise.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EXIT } from '../../cli/errors.js';
import { startServerProcess, type ServerProcess } from '../helpers/server-process.js';
import { runner, type Runner } from './harness.js';

const SECRET = 'sk_live_cli_canary_4471';
let server: ServerProcess;
let sg: Runner;
let dir: string;
const env: Record<'editor' | 'ce' | 'viewer', NodeJS.ProcessEnv> = { editor: {}, ce: {}, viewer: {} };

beforeAll(async () => {
  server = await startServerProcess();
  sg = runner(server);
  dir = mkdtempSync(join(tmpdir(), 'sg-cli-values-'));
  await sg.ok(['project', 'create', 'shop']);
  await sg.ok(['workload', 'create', 'shop', 'api']);
  const details = join(dir, 'db.json');
  writeFileSync(details, JSON.stringify({ password: SECRET }));
  await sg.ok(['addon', 'create', 'shop', 'db', '--type', 'postgresql', '--details-file', details]);
  await sg.ok(['group', 'create', 'shop', 'vault', '--type', 'secret', '--priority', '10']);
  await sg.ok(['group', 'import', 'shop', 'vault', '-'], { input: `STRIPE_KEY=${SECRET}\n` });
  await sg.ok(['group', 'create', 'shop', 'creds', '--priority', '10']);
  await sg.ok(['group', 'link', 'shop', 'creds', 'db', '--addon-key', 'password=DB_PASSWORD']);
  await sg.ok(['group', 'create', 'shop', 'cfg', '--type', 'config', '--var', 'LOG_LEVEL=info']);
  for (const [who, role] of [['editor', 'editor'], ['ce', 'config-editor'], ['viewer', 'viewer']] as const) {
    env[who] = { SG_TOKEN: (await sg.ok(['token', 'create', '--role', role, '--name', who])).trim() };
  }
}, 60_000);

afterAll(async () => {
  await server?.cleanup();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

describe('config-editor', () => {
  it('sg group link shop cfg db is refused', async () => {
    expect(await sg.fails(['group', 'link', 'shop', 'cfg', 'db'], { env: env.ce, exitCode: EXIT.server })).toMatch(/^PERMISSION_DENIED: .*addon links needs write on secret groups/);
    expect(await sg.fails(['group', 'link', 'shop', 'cfg', 'db'], { exitCode: EXIT.server })).toMatch(/^FAILED_PRECONDITION: .*only a secret group may link an addon/);
  });

  it.each(['PATH=/tmp/evil:/usr/bin', 'NODE_OPTIONS=--require=/tmp/evil.js', 'LD_PRELOAD=/tmp/evil.so'])('sg group set shop cfg %s is refused', async (assignment) => {
    const key = assignment.split('=')[0]!;
    expect(await sg.fails(['group', 'set', 'shop', 'cfg', assignment], { env: env.ce, exitCode: EXIT.server })).toMatch(new RegExp(`^PERMISSION_DENIED: .*changing ${key} \\([a-z ]+\\) needs write on secret groups`));
  });

  it("sg project execution-keys: an admin adds a project's own name; a config-editor is then refused it", async () => {
    await sg.ok(['group', 'set', 'shop', 'cfg', 'MY_PLUGIN_PATH=/opt/plugins'], { env: env.ce });
    const out = await sg.ok(['project', 'execution-keys', 'shop', '--add', 'MY_PLUGIN_PATH', '--add', 'ACME_*']);
    expect(out).toMatch(/build tools: .*\*FLAGS/);
    expect(out).toContain('Project shop adds: ACME_*, MY_PLUGIN_PATH');
    expect(await sg.fails(['project', 'execution-keys', 'shop', '--add', 'X_*'], { env: env.editor, exitCode: EXIT.server })).toMatch(/^PERMISSION_DENIED/);
    expect(await sg.fails(['group', 'set', 'shop', 'cfg', 'MY_PLUGIN_PATH=/tmp/evil'], { env: env.ce, exitCode: EXIT.server })).toMatch(
      /^PERMISSION_DENIED: .*changing MY_PLUGIN_PATH \(project policy MY_PLUGIN_PATH\) needs write on secret groups/,
    );
    const shown = await sg.json<{ projectKeys: string[] }>(['project', 'execution-keys', 'shop'], { env: env.ce });
    expect(shown.projectKeys).toEqual(['ACME_*', 'MY_PLUGIN_PATH']);
  });

  it('ordinary keys are accepted; an editor may set NODE_OPTIONS', async () => {
    await sg.ok(['group', 'set', 'shop', 'cfg', 'LOG_LEVEL=debug', 'FEATURE_X=on'], { env: env.ce });
    await sg.ok(['group', 'set', 'shop', 'cfg', 'NODE_OPTIONS=--max-old-space-size=512'], { env: env.editor });
    expect((await sg.json<{ variables: Record<string, string> }>(['resolve', 'shop', 'api'])).variables.NODE_OPTIONS).toBe('--max-old-space-size=512');
  });

  it('a 0755 file is refused, and so is a rollback that would drop NODE_OPTIONS', async () => {
    const script = join(dir, 'node');
    writeFileSync(script, '#!/bin/sh\nenv\n');
    expect(await sg.fails(['group', 'file', 'add', 'shop', 'cfg', '/usr/local/bin/node', '--from', script, '--mode', '0755'], { env: env.ce, exitCode: EXIT.server })).toMatch(
      /^PERMISSION_DENIED: .*file \/usr\/local\/bin\/node needs write on secret groups/,
    );
    expect(await sg.fails(['group', 'rollback', 'shop', 'cfg', '1'], { env: env.ce, exitCode: EXIT.server })).toMatch(/^PERMISSION_DENIED: .*NODE_OPTIONS/);
  });
});

describe('viewer', () => {
  it('sg group preview cannot confirm a guessed secret value or addon password', async () => {
    const preview = (key: string, value: string) =>
      sg.ok(['group', 'preview', 'shop', 'guess', '--create', '--type', 'config', '--priority', '100', '--set', `${key}=${value}`, '--json'], { env: env.viewer });
    for (const key of ['STRIPE_KEY', 'DB_PASSWORD']) {
      const right = await preview(key, SECRET);
      expect(right).toBe(await preview(key, 'wrong-guess'));
      expect(right).not.toContain(SECRET);
      // The key moves from a source the viewer cannot read to one it can: changed, either way.
      expect(JSON.parse(right).changes[0].changedKeys).toContain(key);
    }
  });
});

describe('sg group create', () => {
  it('makes a secret group unless --type config is given', async () => {
    expect((await sg.json<{ type: string }>(['group', 'create', 'shop', 'plain'])).type).toBe('secret');
    expect((await sg.json<{ type: string }>(['group', 'create', 'shop', 'plain-config', '--type', 'config'])).type).toBe('config');
    expect(await sg.fails(['group', 'create', 'shop', 'by-ce'], { env: env.ce, exitCode: EXIT.server })).toMatch(/^PERMISSION_DENIED: /);
  });
});
