#!/usr/bin/env node
/**
 * `npm run screenshots` — regenerates docs/console/*.png: starts `sg serve` (console on an
 * ephemeral loopback port) on a temporary directory, fills it with demo data through the real
 * `sg` CLI, and photographs the console's main pages in Debian's Chromium (playwright-core,
 * SG_CHROMIUM or /usr/bin/chromium). Uses the compiled dist/ (run `npm run build` first).
 */
import { spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const SG = join(ROOT, 'dist/bin/sg.cjs');
const OUT = join(ROOT, 'docs/console');
const data = mkdtempSync(join(tmpdir(), 'sg-screenshots-'));

function run(args, env, input) {
  return new Promise((res, rej) => {
    const p = spawn(process.execPath, [SG, ...args], { env: { ...process.env, ...env }, stdio: ['pipe', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    p.stdout.on('data', (c) => (out += c));
    p.stderr.on('data', (c) => (err += c));
    p.on('close', (code) => (code === 0 ? res(out) : rej(new Error(`sg ${args.join(' ')}: ${err}`))));
    p.stdin.end(input ?? '');
  });
}

const server = spawn(process.execPath, [SG, 'serve', '--addr', '127.0.0.1:0', '--data', data, '--console-addr', '127.0.0.1:0'], {
  env: { ...process.env, SG_LOG_LEVEL: 'warn' },
  stdio: ['ignore', 'pipe', 'pipe'],
});
let log = '';
const started = await new Promise((res, rej) => {
  const t = setTimeout(() => rej(new Error(`server did not start:\n${log}`)), 20_000);
  const on = (c) => {
    log += c;
    const m = /listening on (\S+) \(web console: (\S+?)\/?\)/.exec(log);
    if (m) {
      clearTimeout(t);
      res({ addr: m[1], url: m[2] });
    }
  };
  server.stdout.on('data', on);
  server.stderr.on('data', on);
});
const token = readFileSync(join(data, 'admin.token'), 'utf8').trim();
const env = { SG_ADDR: started.addr, SG_TOKEN: token };
const sg = (...args) => run(args, env);
const sgIn = (input, ...args) => run(args, env, input);

try {
  await sg('project', 'create', 'shop');
  await sg('workload', 'create', 'shop', 'api', '--tag', 'web', '--var', 'PORT=8080');
  await sg('workload', 'create', 'shop', 'worker', '--tag', 'queue', '--build-arg', 'NODE_ENV=production');
  await sg('workload', 'create', 'shop', 'nightly-report', '--kind', 'job', '--tag', 'queue');
  await sg('addon', 'create', 'shop', 'orders-db', '--type', 'postgresql', '--detail', 'host=orders-db.shop.internal', '--detail', 'port=5432', '--detail', 'password=demo-password-0f3c');
  await sg('group', 'create', 'shop', 'a', '--type', 'secret', '--priority', '50');
  await sgIn(JSON.stringify({ KEY_1: 'a-secret-one', KEY_2: 'a-secret-two' }), 'group', 'import', 'shop', 'a', '-', '--format', 'json');
  await sg('group', 'create', 'shop', 'b', '--type', 'config', '--priority', '20');
  await sg('group', 'set', 'shop', 'b', 'KEY_1=from-b-1', 'KEY_2=from-b-2', 'KEY_3=from-b-3', 'LOG_LEVEL=info');
  await sg('group', 'set', 'shop', 'b', 'LOG_LEVEL=debug', 'FEATURE_SEARCH=on');
  await sg('group', 'create', 'shop', 'flags', '--type', 'config', '--priority', '20');
  await sg('group', 'set', 'shop', 'flags', 'FEATURE_SEARCH=off');
  await sg('group', 'create', 'shop', 'payments', '--type', 'secret', '--priority', '60', '--workload', 'api', '--tag', 'web');
  await sgIn(JSON.stringify({ STRIPE_KEY: 'sk_demo_51Habc', WEBHOOK_SECRET: 'whsec_demo' }), 'group', 'import', 'shop', 'payments', '-', '--format', 'json');
  await sgIn('demo private key\n', 'group', 'file', 'add', 'shop', 'payments', '/etc/shop/tls/key.pem', '--from', '-', '--mode', '0640');
  await sg('group', 'create', 'shop', 'database', '--type', 'secret', '--priority', '40', '--scope', 'runtime');
  await sg('group', 'link', 'shop', 'database', 'orders-db', '--addon-key', 'host=DB_HOST', '--addon-key', 'password=DB_PASSWORD');
  const editorToken = (await sg('token', 'create', '--role', 'config-editor', '--project', 'shop')).trim();
  // A deleted group, listed under "Deleted groups" with Restore; a custom role; a bound service account.
  await sg('group', 'create', 'shop', 'legacy', '--type', 'config');
  await sg('group', 'set', 'shop', 'legacy', 'OLD_FLAG=1');
  await sg('group', 'delete', 'shop', 'legacy', '--yes');
  await sg('role', 'create', 'release-manager', '--secret', 'keys', '--config', 'write', '--description', 'Edits release settings; sees secret keys only');
  await sg('workload', 'bind', 'shop', 'api', '--k8s-service-account', 'shop/api');

  mkdirSync(OUT, { recursive: true });
  const browser = await chromium.launch({ executablePath: process.env.SG_CHROMIUM ?? '/usr/bin/chromium', args: ['--no-sandbox', '--disable-dev-shm-usage', '--disable-gpu'] });
  const page = await browser.newPage({ viewport: { width: 1366, height: 800 } });
  const shot = async (name, fullPage = false) => {
    await page.waitForTimeout(300);
    await page.screenshot({ path: join(OUT, `${name}.png`), fullPage });
    console.log(`docs/console/${name}.png`);
  };
  const go = async (hash, ready) => {
    await page.goto(`${started.url}/${hash}`);
    await page.locator(ready).first().waitFor();
  };

  await page.goto(`${started.url}/`);
  await page.getByLabel('Token').waitFor();
  await shot('sign-in');
  await page.getByLabel('Token').fill(token);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.getByRole('button', { name: 'Sign out' }).waitFor();

  await go('#/p/shop', 'tr[data-deleted-group="legacy"]');
  await shot('secrets-page', true);

  await go('#/p/shop/g/a', 'tr[data-key="KEY_1"]');
  await page.getByRole('button', { name: 'Reveal KEY_1' }).click();
  await page.getByLabel('Value 2', { exact: true }).fill('a-secret-two-rotated');
  await page.getByRole('button', { name: 'Add variable' }).click();
  await page.getByLabel('Key 3', { exact: true }).fill('KEY_4');
  await page.getByLabel('Value 3', { exact: true }).fill('new');
  await page.getByRole('button', { name: 'Review changes' }).click();
  await page.getByRole('table', { name: 'Change preview' }).waitFor();
  await shot('group-editor', true);

  await go('#/p/shop/g/payments/settings', 'form[aria-label="Group settings"]');
  await shot('group-settings', true);

  await go('#/p/shop/g/b/history', '.diff');
  await shot('group-history', true);

  await go('#/p/shop/g/payments', 'tr[data-key="STRIPE_KEY"]');
  await page.getByRole('button', { name: 'Restart dependents' }).click();
  await page.getByRole('list', { name: 'Dependent workloads' }).waitFor();
  await shot('restart-dependents');

  await go('#/p/shop/w/api', 'tr[data-key="KEY_1"]');
  await shot('workload', true);
  await page.getByRole('button', { name: 'Edit tags and variables' }).click();
  await page.locator('[aria-label="Workload editor"]').waitFor();
  await shot('workload-editor', true);

  await go('#/roles', 'tr[data-role="release-manager"]');
  await page.getByRole('button', { name: 'Edit role release-manager' }).click();
  await page.getByRole('form', { name: 'Edit role release-manager' }).waitFor();
  await shot('roles', true);

  await go('#/tokens', 'tr[data-token]');
  await shot('tokens', true);

  await go('#/audit', 'table[aria-label="Audit events"] tbody tr');
  await shot('audit-log');

  // The same project page at 390 px: nothing scrolls sideways.
  await page.setViewportSize({ width: 390, height: 844 });
  await go('#/p/shop', 'tr[data-deleted-group="legacy"]');
  await shot('narrow', true);
  await page.setViewportSize({ width: 1366, height: 800 });

  // The seed's colleague: a config editor sees the keys of secret groups, never their values.
  await page.getByRole('button', { name: 'Sign out' }).click();
  await page.getByLabel('Token').fill(editorToken);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.getByRole('button', { name: 'Sign out' }).waitFor();
  await go('#/p/shop/g/payments', 'tr[data-key="STRIPE_KEY"]');
  await shot('keys-only');
  await browser.close();
} finally {
  server.kill('SIGTERM');
  await new Promise((r) => server.once('exit', r));
  rmSync(data, { recursive: true, force: true });
}
