/** `sg serve`: start-up lines, the one-time admin token, graceful stop, refused configurations. */
import { chmodSync, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { EXIT } from '../../cli/errors.js';
import { runNode, SG, startServerProcess } from '../helpers/server-process.js';

const dirs: string[] = [];
const tempDir = () => {
  const d = mkdtempSync(join(tmpdir(), 'sg-serve-'));
  dirs.push(d);
  return d;
};
afterAll(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

describe('sg serve', () => {
  it('prints the admin token once on first start, stops with status 0 on SIGTERM', async () => {
    const dataDir = tempDir();
    const first = await startServerProcess({ dataDir });
    const token = readFileSync(join(dataDir, 'admin.token'), 'utf8').trim();
    expect(statSync(join(dataDir, 'admin.token')).mode & 0o777).toBe(0o600);
    expect(first.output()).toMatch(/secret-groups listening on 127\.0\.0\.1:\d+\n/);
    // stdout and stderr are separate pipes: give the token line a moment to arrive.
    await expect.poll(() => first.output(), { timeout: 3000 }).toContain('Admin token');
    expect(first.output()).toContain(`Admin token (shown only this once; also written to ${join(dataDir, 'admin.token')} with mode 0600):\n${token}\n`);
    await first.stop();
    expect(first.proc.exitCode).toBe(0);

    const second = await startServerProcess({ dataDir });
    expect(second.output()).not.toContain('Admin token');
    expect(second.output()).not.toContain(token);
    expect(second.adminToken).toBe(token);
    second.proc.kill('SIGINT');
    await new Promise((done) => second.proc.once('exit', done));
    expect(second.proc.exitCode).toBe(0);
  });

  it('refuses half a TLS configuration as a usage error', async () => {
    const r = await runNode(SG, ['serve', '--addr', '127.0.0.1:0', '--data', tempDir(), '--tls-cert', 'c.pem']);
    expect(r.code).toBe(EXIT.usage);
    expect(r.stdout).toBe('');
    expect(r.stderr).toBe('sg: --tls-cert and --tls-key go together\n');
  });

  it('refuses plaintext on a non-loopback address without --insecure, in one line', async () => {
    const r = await runNode(SG, ['serve', '--addr', '0.0.0.0:0', '--data', tempDir()], { SG_LOG_LEVEL: 'silent' });
    expect(r.code).not.toBe(0);
    expect(r.stdout).toBe('');
    expect(r.stderr).toMatch(/^sg: .*plaintext.*--insecure[^\n]*\n$/);
  });

  it('on a taken address names it and how to choose another, and keeps the admin token print for the next start', async () => {
    const blocker = createServer();
    await new Promise<void>((done) => blocker.listen(0, '127.0.0.1', done));
    const port = (blocker.address() as { port: number }).port;
    const dataDir = tempDir();
    try {
      const r = await runNode(SG, ['serve', '--addr', `127.0.0.1:${port}`, '--data', dataDir], { SG_LOG_LEVEL: 'silent' });
      expect(r.code).not.toBe(0);
      expect(r.stdout).toBe('');
      expect(r.stderr).toBe(
        `sg: listen address 127.0.0.1:${port} is already in use (or cannot be bound here): choose another with --addr HOST:PORT or SG_LISTEN_ADDR (port 0 picks a free one)\n`,
      );
      expect(existsSync(join(dataDir, 'admin.token'))).toBe(false);
    } finally {
      await new Promise((done) => blocker.close(done));
    }
    const next = await startServerProcess({ dataDir });
    await expect.poll(() => next.output(), { timeout: 3000 }).toContain('Admin token');
    expect(next.output()).toContain(next.adminToken);
    await next.stop();
  });

  it('writes admin.token without following a planted symlink, and refuses a directory others can write', async () => {
    const dataDir = tempDir();
    const victim = join(tempDir(), 'victim');
    writeFileSync(victim, 'untouched\n');
    symlinkSync(victim, join(dataDir, 'admin.token'));
    const s = await startServerProcess({ dataDir });
    await s.stop();
    expect(readFileSync(victim, 'utf8')).toBe('untouched\n');
    expect(statSync(join(dataDir, 'admin.token')).isFile()).toBe(true);
    expect(readdirSync(dataDir).filter((f) => f.endsWith('.tmp'))).toEqual([]);

    const open = tempDir();
    chmodSync(open, 0o777);
    const r = await runNode(SG, ['serve', '--addr', '127.0.0.1:0', '--data', open], { SG_LOG_LEVEL: 'silent' });
    expect(r.code).not.toBe(0);
    expect(r.stderr).toMatch(/^sg: .* is writable by other users \(mode 777\); chmod go-w it before the first start\n$/);
    expect(existsSync(join(open, 'admin.token'))).toBe(false);
  });
});
