/**
 * The commands package.json's "bin" installs are the bundles of scripts/bundle-bins.mjs: a
 * loader, one self-contained minified script and its V8 code cache, which this Node accepts.
 * They run through the bin path: `sg --version`, `sg-agent --help`.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Script } from 'node:vm';
import { describe, expect, it } from 'vitest';
import { WRAP_HEAD, WRAP_TAIL } from '../../scripts/code-cache.mjs';
import { ROOT } from '../helpers/server-process.js';

const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { version: string; bin: Record<string, string> };
const bins = { sg: pkg.bin.sg!, 'sg-agent': pkg.bin['sg-agent']! };

const run = (bin: string, args: string[]) => spawnSync(process.execPath, [join(ROOT, bin), ...args], { encoding: 'utf8', timeout: 30_000 });

describe('package.json bins', () => {
  it('sg, secret-groups and sg-agent are the loaders in dist/bin, each beside its bundle and code cache', () => {
    expect(pkg.bin).toEqual({ sg: 'dist/bin/sg.cjs', 'secret-groups': 'dist/bin/sg.cjs', 'sg-agent': 'dist/bin/sg-agent.cjs' });
    for (const [name, bin] of Object.entries(bins)) {
      const loader = readFileSync(join(ROOT, bin), 'utf8');
      expect(loader.split('\n')[0]).toBe('#!/usr/bin/env node');
      expect(loader).toContain(`'${name}.bundle.cjs'`);
      expect(loader).toContain(`'${name}.bundle.cache'`);
      expect(existsSync(join(ROOT, 'dist/bin', `${name}.bundle.cache`)), `${name}.bundle.cache (npm run build)`).toBe(true);
    }
  });

  it('each bundle is one minified script, wrapped as the loader runs it: no module of the package loaded beside it but the server, on demand', () => {
    for (const name of Object.keys(bins)) {
      const text = readFileSync(join(ROOT, 'dist/bin', `${name}.bundle.cjs`), 'utf8');
      expect(text.startsWith(WRAP_HEAD) && text.endsWith(WRAP_TAIL), name).toBe(true);
      const local = [...text.matchAll(/require\("(\.[^"]*)"\)/g)].map((m) => m[1]!);
      for (const path of local) expect(path, name).toMatch(/^\.\.\/server\//);
      if (name === 'sg-agent') expect(local).toEqual([]);
      // Minified: few, long lines.
      expect(text.split('\n').length, name).toBeLessThan(text.length / 400);
    }
  });

  it('this Node accepts the shipped code cache of each bundle', () => {
    for (const name of Object.keys(bins)) {
      const file = join(ROOT, 'dist/bin', `${name}.bundle.cjs`);
      const script = new Script(readFileSync(file, 'utf8'), {
        filename: file,
        cachedData: readFileSync(join(ROOT, 'dist/bin', `${name}.bundle.cache`)),
      });
      expect(script.cachedDataRejected, name).toBe(false);
    }
  });

  it('sg --version prints the package version through the bin', () => {
    const r = run(bins.sg, ['--version']);
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    expect(r.stdout).toBe(`${pkg.version}\n`);
  });

  it('sg-agent --help prints the usage through the bin; an unknown command is a usage error', () => {
    const help = run(bins['sg-agent'], ['--help']);
    expect(help.stderr).toBe('');
    expect(help.status).toBe(0);
    expect(help.stdout).toMatch(/^Usage:\n {2}sg-agent exec /m);
    const bad = run(bins['sg-agent'], ['nope']);
    expect(bad.status).toBe(2);
    expect(bad.stdout).toBe('');
    expect(bad.stderr).toMatch(/^sg-agent: [^\n]+\n$/);
  });

  it('a usage error from the bundle keeps the one-line contract and its exit status (a DomainError of the bundled validation)', () => {
    const r = run(bins.sg, ['group', 'create', 'p', 'g', '--priority', 'high']);
    expect(r.status).toBe(2);
    expect(r.stdout).toBe('');
    expect(r.stderr).toMatch(/^sg: --priority [^\n]+\n$/);
  });
});
