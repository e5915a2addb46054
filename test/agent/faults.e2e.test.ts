/**
 * sg-agent when the server goes away: reconnect and converge after kill -9, start from a fresh
 * encrypted cache when the server is down, refuse to start from a stale or missing one.
 */
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import dotenv from 'dotenv';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runNode, SG_AGENT, startServerProcess, type ServerProcess } from '../helpers/server-process.js';
import { exitOf, killAgents, setVars, sgOk, startAgent, until, workloadToken } from './helpers.js';

let server: ServerProcess;
let dir: string;
let env: NodeJS.ProcessEnv;

beforeAll(async () => {
  server = await startServerProcess();
  dir = mkdtempSync(join(tmpdir(), 'sg-agent-faults-'));
  await sgOk(server, ['project', 'create', 'shop']);
  await sgOk(server, ['workload', 'create', 'shop', 'api']);
  await sgOk(server, ['group', 'create', 'shop', 'common']);
  await setVars(server, 'shop', 'common', { V: 'v1', MULTI: 'a\nb' });
  env = { SG_ADDR: server.addr, SG_TOKEN: await workloadToken(server, 'shop/api'), SG_PROJECT: 'shop', SG_WORKLOAD: 'api', SG_LOG_LEVEL: 'warn' };
});

afterAll(async () => {
  killAgents();
  await server?.cleanup();
  rmSync(dir, { recursive: true, force: true });
});

const readEnv = (f: string) => (existsSync(f) ? dotenv.parse(readFileSync(f, 'utf8')) : {});

describe('server failures', () => {
  it('reconnects after the server is killed (-9) and restarted, and converges on new values', async () => {
    const d = join(dir, 'converge');
    mkdirSync(d);
    const out = join(d, 'app.env');
    const a = startAgent(['write', '--watch', '--out', out, '--files-root', d], env);
    await until(() => readEnv(out).V === 'v1', 'first write');
    await server.kill();
    await new Promise((r) => setTimeout(r, 500));
    await server.restart();
    await setVars(server, 'shop', 'common', { V: 'after-restart' });
    await until(() => readEnv(out).V === 'after-restart', 'convergence after the restart', 30_000);
    expect(a.proc.exitCode).toBeNull();
    a.proc.kill('SIGTERM');
    expect((await exitOf(a)).code).toBe(0);
    await setVars(server, 'shop', 'common', { V: 'v1' });
  });

  it('with a cached copy and the server up, the server confirms the copy (resume from its etag), no warning', async () => {
    const cache = join(dir, 'cache-up');
    const first = await runNode(SG_AGENT, ['write', '--out', join(dir, 'up1.env'), '--cache-dir', cache, '--files-root', dir, '--log-level', 'debug'], env);
    expect(first.code, first.stderr).toBe(0);
    const second = await runNode(SG_AGENT, ['write', '--out', join(dir, 'up2.env'), '--cache-dir', cache, '--files-root', dir, '--log-level', 'debug'], env);
    expect(second.code, second.stderr).toBe(0);
    expect(second.stderr).toContain('cached copy confirmed current by the server');
    expect(second.stderr).not.toMatch(/WARNING|CACHED VALUES/);
    expect(readEnv(join(dir, 'up2.env'))).toEqual({ V: 'v1', MULTI: 'a\nb' });
  });

  describe('start with the server down', () => {
    const cacheDir = () => join(dir, 'cache');

    beforeAll(async () => {
      // One successful run fills the cache.
      const r = await runNode(SG_AGENT, ['write', '--out', join(dir, 'seed.env'), '--cache-dir', cacheDir(), '--files-root', dir], env);
      expect(r.code, r.stderr).toBe(0);
      await server.kill();
    });

    afterAll(async () => {
      if (server.proc.exitCode !== null || server.proc.signalCode !== null) await server.restart();
    });

    it('runs the child from a fresh cache, saying so loudly', async () => {
      const out = join(dir, 'from-cache.json');
      const a = startAgent(
        ['exec', '--cache-dir', cacheDir(), '--start-timeout', '1s', '--', process.execPath, '-e', `require('fs').writeFileSync(${JSON.stringify(out)}, JSON.stringify({V: process.env.V, MULTI: process.env.MULTI}))`],
        env,
      );
      expect((await exitOf(a)).code).toBe(0);
      expect(JSON.parse(readFileSync(out, 'utf8'))).toEqual({ V: 'v1', MULTI: 'a\nb' });
      expect(a.stderr()).toMatch(/WARNING: server .* unreachable; running from the cached copy/);
      expect(a.stderr()).toMatch(/RUNNING FROM CACHED VALUES/);
    });

    it.each([
      ['stale', () => ['--cache-dir', cacheDir(), '--max-stale', '1ms'], /older than --max-stale/],
      ['disabled', () => ['--cache-dir', cacheDir(), '--max-stale', '0'], /disabled by --max-stale 0/],
      ['missing', () => ['--cache-dir', join(dir, 'empty-cache')], /no cached copy/],
      ['not configured', () => [], /no --cache-dir/],
    ])('refuses a %s cache with one clear line and never starts the child', async (_n, flags, message) => {
      const marker = join(dir, 'must-not-exist');
      const a = startAgent(['exec', ...flags(), '--start-timeout', '1s', '--', 'bash', '-c', `touch ${marker}`], env);
      expect((await exitOf(a)).code).toBe(1);
      const errLines = a.stderr().trim().split('\n');
      expect(errLines).toHaveLength(1);
      expect(errLines[0]).toMatch(/^sg-agent: cannot reach the server at .* within 1s/);
      expect(errLines[0]).toMatch(message);
      expect(existsSync(marker)).toBe(false);
    });

    it('a cache written under another token is not used', async () => {
      const a = startAgent(['exec', '--cache-dir', cacheDir(), '--start-timeout', '1s', '--', 'true'], { ...env, SG_TOKEN: 'sg_some_other_token' });
      expect((await exitOf(a)).code).toBe(1);
      expect(a.stderr()).toMatch(/cannot be read or decrypted with this token/);
    });

    it('started from cache, it converges once the server is back', async () => {
      const d = join(dir, 'cache-then-live');
      mkdirSync(d);
      const out = join(d, 'app.env');
      const a = startAgent(['write', '--watch', '--out', out, '--cache-dir', cacheDir(), '--start-timeout', '1s', '--files-root', d], env);
      await until(() => readEnv(out).V === 'v1', 'write from cache');
      await server.restart();
      await setVars(server, 'shop', 'common', { V: 'live-again' });
      await until(() => readEnv(out).V === 'live-again', 'convergence', 30_000);
      a.proc.kill('SIGTERM');
      expect((await exitOf(a)).code).toBe(0);
    });
  });
});
