/**
 * `npm run demo` runs unattended, exits 0, shows the seed example and the agent's child, and
 * never prints a secret value: the values are derived from SG_DEMO_SEED, so the test knows them.
 */
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { beforeAll, describe, expect, it } from 'vitest';
import { ROOT } from '../helpers/server-process.js';
import { demoSecrets, maskTables } from '../../scripts/demo.mjs';

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

function npmRunDemo(env: NodeJS.ProcessEnv): Promise<Run> {
  return new Promise((resolve, reject) => {
    const child = spawn('npm', ['run', '--silent', 'demo'], { cwd: ROOT, env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (c: Buffer) => (stdout += c.toString()));
    child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`npm run demo did not finish within 90 s\n${stdout}\n${stderr}`));
    }, 90_000);
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

describe('npm run demo', () => {
  const seed = randomBytes(16).toString('hex');
  const secrets = demoSecrets(seed);
  let run: Run;

  beforeAll(async () => {
    run = await npmRunDemo({ SG_DEMO_SEED: seed });
  }, 120_000);

  it('exits 0 with nothing on stderr', () => {
    expect(run.code, `${run.stdout}\n${run.stderr}`).toBe(0);
    expect(run.stderr).toBe('');
  });

  it('walks through the seed example with the real CLI', () => {
    const out = run.stdout;
    expect(out).toMatch(/secret-groups listening on 127\.0\.0\.1:\d+/);
    for (const cmd of [
      '$ sg project create shop',
      '$ sg workload create shop api --kind service --tag web',
      '$ sg group create shop a --type secret --scope both --priority 50',
      '$ sg group create shop b --type config --scope both --priority 20',
      '$ sg group create shop web-tls --priority 40 --tag web',
      'a group is secret unless config is asked for',
      '$ sg group file add shop web-tls /etc/shop/tls/key.pem',
      '$ sg group link shop database orders-db --addon-key host=DB_HOST',
      '$ sg resolve shop api --explain',
      '$ sg-agent exec --project shop --workload api',
    ]) {
      expect(out).toContain(cmd);
    }
  });

  it('shows provenance: A (50) shadows B (20) for KEY_1 and KEY_2, KEY_3 from B, the template and the alias', () => {
    const api = run.stdout.slice(run.stdout.indexOf('$ sg resolve shop api --explain'), run.stdout.indexOf('$ sg resolve shop worker'));
    expect(api).toMatch(/KEY_1 +\S+ +group a \(50\) +group b \(20\)/);
    expect(api).toMatch(/KEY_2 +\S+ +group a \(50\) +group b \(20\)/);
    // Values may be masked by sg itself (its default) or by the demo; provenance is what counts.
    expect(api).toMatch(/KEY_3 +\S+ +group b \(20\) +-/);
    expect(api).toMatch(/LOG_LEVEL +\S+ +workload +group b \(20\)/);
    expect(api).toMatch(/DB_PASSWORD +\S+ +addon orders-db via group database \(60\)/);
    expect(api).toMatch(/DATABASE_URL +\S+ +group database \(60\)/);
    expect(api).toMatch(/\/etc\/shop\/tls\/key\.pem +0600/);
    const worker = run.stdout.slice(run.stdout.indexOf('$ sg resolve shop worker'), run.stdout.indexOf('== 8.'));
    expect(worker, 'the tag-restricted group does not reach worker').not.toContain('TLS_KEY_FILE');
    expect(worker).toMatch(/LOG_LEVEL +\S+ +group b \(20\) +-/);
  });

  it("shows the agent's child and every check passing", () => {
    expect(run.stdout).toMatch(/child: env {2}KEY_1 +len=\d+ +sha256=[0-9a-f]{8}…/);
    expect(run.stdout).toMatch(/child: file \/etc\/shop\/tls\/key\.pem {2}mode=0600/);
    expect(run.stdout).toContain('child: SG_TOKEN in my environment: no');
    const checks = run.stdout.slice(run.stdout.indexOf('== 9.'));
    expect(checks.match(/^ {4}ok {3}/gm)?.length).toBeGreaterThanOrEqual(13);
    expect(checks).not.toMatch(/FAIL/);
    expect(run.stdout).toContain('== Done: server stopped, working directory removed.');
  });

  it('never prints a secret value or a token', () => {
    const all = `${run.stdout}${run.stderr}`;
    for (const [name, value] of Object.entries(secrets)) {
      expect(all.includes(value.trim()), `${name} appears in the output`).toBe(false);
    }
    expect(all).not.toMatch(/\bsg_[A-Za-z0-9_-]{16,}/);
  });

  it('removes its working directory', () => {
    const m = /\(working directory (\S+), removed at the end/.exec(run.stdout);
    expect(m).not.toBeNull();
    expect(existsSync(m![1]!)).toBe(false);
  });
});

describe('maskTables', () => {
  it('masks cells and re-aligns the columns', () => {
    const table = ['KEY    VALUE           FROM', 'A      secret-value-1  group a (50)', 'LONGER x               workload', '', 'after secret-value-1'].join('\n');
    const masked = maskTables(table, (s) => s.split('secret-value-1').join('****'));
    expect(masked.split('\n')).toEqual(['KEY     VALUE  FROM', 'A       ****   group a (50)', 'LONGER  x      workload', '', 'after ****']);
  });
});
