/**
 * The docs' shell blocks work as written. The package is installed the way the README says
 * (`npm install -g .`, into a temporary npm prefix, without re-running the build that
 * `npm test` already did), its bin directory goes first on PATH, a real `sg serve` runs with its
 * data under ./data of a sandbox directory, and every block marked `<!-- test: run -->` runs
 * verbatim in a fresh `bash -e` there, in document order (README first). SG_ADDR stands in for
 * the default address (tests use ephemeral ports). Every shell block must be marked.
 */
import { spawnSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { expectBlockRuns, extractBlocks, SHELL, type DocBlock } from '../helpers/doc-blocks.js';
import { ROOT, startServerProcess, type ServerProcess } from '../helpers/server-process.js';

const DOCS = ['README.md', ...readdirSync(join(ROOT, 'docs')).filter((f) => f.endsWith('.md')).sort().map((f) => `docs/${f}`)];
const blocks: DocBlock[] = DOCS.flatMap((f) => extractBlocks(readFileSync(join(ROOT, f), 'utf8'), f)).filter((b) => SHELL.has(b.lang));

let sandbox: string;
let prefix: string;
let server: ServerProcess;
let env: NodeJS.ProcessEnv;

beforeAll(async () => {
  sandbox = mkdtempSync(join(tmpdir(), 'sg-docs-'));
  prefix = join(sandbox, '.npm-global');
  // The README's install command, into a temporary prefix; --ignore-scripts: dist/ is built.
  const install = spawnSync('npm', ['install', '-g', '.', '--ignore-scripts', '--no-audit', '--no-fund'], {
    cwd: ROOT,
    env: { ...process.env, npm_config_prefix: prefix },
    encoding: 'utf8',
  });
  expect(install.status, install.stderr).toBe(0);
  // A checkout-like working directory: `npm run --silent sg -- ...` works here too.
  copyFileSync(join(ROOT, 'package.json'), join(sandbox, 'package.json'));
  for (const d of ['dist', 'node_modules']) symlinkSync(join(ROOT, d), join(sandbox, d));
  mkdirSync(join(sandbox, 'data'), { mode: 0o700 });
  server = await startServerProcess({ dataDir: join(sandbox, 'data') });
  env = {
    PATH: `${join(prefix, 'bin')}:${process.env.PATH}`,
    HOME: sandbox,
    LANG: 'C.UTF-8',
    SG_ADDR: server.addr,
    SG_LOG_LEVEL: 'warn',
    npm_config_update_notifier: 'false',
    npm_config_fund: 'false',
  };
}, 120_000);

afterAll(async () => {
  await server?.cleanup();
  if (sandbox) rmSync(sandbox, { recursive: true, force: true });
});

describe('documented shell blocks', () => {
  it('every shell block is marked run or skip (with a reason)', () => {
    const unmarked = blocks.filter((b) => !b.marker).map((b) => `${b.file}:${b.line}`);
    expect(unmarked, 'add <!-- test: run --> or <!-- test: skip: REASON --> before the fence').toEqual([]);
    expect(blocks.filter((b) => b.marker?.run).length).toBeGreaterThanOrEqual(6);
  });

  it('installing links sg, sg-agent and the unambiguous alias secret-groups', () => {
    for (const bin of ['sg', 'sg-agent', 'secret-groups']) expect(existsSync(join(prefix, 'bin', bin)), bin).toBe(true);
  });

  const runnable = blocks.filter((b) => b.marker?.run);
  it.each(runnable.map((b) => [`${b.file}:${b.line}`, b] as const))('%s runs as written', (_where, b) => {
    expectBlockRuns(b, sandbox, env);
  }, 90_000);
});
