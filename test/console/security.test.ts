/// <reference lib="dom" />
/**
 * The console's security properties, checked in a real Chromium: a keys-only role (the seed's
 * config editor) never receives a secret value — not in the DOM, not in any response body —
 * a page on another origin cannot make the console change anything, and a session cookie
 * planted from elsewhere on the host does not swap a signed-in page into another session.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { runner, type Runner } from '../cli/harness.js';
import { ConsoleClient } from '../console-server/http.js';
import { chromiumPresent, launchBrowser, newPage, recordResponses, signIn, startConsoleServer, requireChromium, type ConsoleServer } from './harness.js';

/** Every secret value the server holds; none may reach the config editor's browser. */
const SECRETS = {
  group: 'grp-secret-7f3a9c',
  groupB: 'grp-secret-other-51e2',
  file: 'file-secret-content-9d41',
  addon: 'addon-password-c0ffee',
  workload: 'workload-own-secret-4242',
  build: 'build-arg-secret-1313',
};

let cs: ConsoleServer;
let browser: Browser;
let cli: Runner;
let editorToken: string;

beforeAll(async () => {
  if (!chromiumPresent()) return;
  [cs, browser] = await Promise.all([startConsoleServer(), launchBrowser()]);
  cli = runner(cs.server);
  await cli.ok(['project', 'create', 'shop']);
  await cli.ok(['workload', 'create', 'shop', 'api', '--tag', 'web', '--var', `OWN=${SECRETS.workload}`, '--build-arg', `BUILD_SECRET=${SECRETS.build}`]);
  await cli.ok(['addon', 'create', 'shop', 'db', '--type', 'postgresql', '--detail', 'host=db.internal', '--detail', `password=${SECRETS.addon}`]);
  await cli.ok(['group', 'create', 'shop', 'creds', '--type', 'secret', '--priority', '50']);
  await cli.ok(['group', 'import', 'shop', 'creds', '-', '--format', 'json'], { input: JSON.stringify({ API_TOKEN: SECRETS.group }) });
  await cli.ok(['group', 'import', 'shop', 'creds', '-', '--format', 'json'], { input: JSON.stringify({ API_TOKEN: SECRETS.groupB, OTHER: SECRETS.group }) });
  await cli.ok(['group', 'file', 'add', 'shop', 'creds', '/etc/app/key.pem', '--from', '-'], { input: SECRETS.file });
  await cli.ok(['group', 'link', 'shop', 'creds', 'db', '--addon-key', 'password=DB_PASSWORD']);
  await cli.ok(['group', 'create', 'shop', 'settings', '--type', 'config', '--priority', '10']);
  await cli.ok(['group', 'set', 'shop', 'settings', 'LOG_LEVEL=debug']);
  editorToken = (await cli.ok(['token', 'create', '--role', 'config-editor', '--project', 'shop'])).trim();
});

beforeEach(requireChromium);

afterAll(async () => {
  await browser?.close();
  await cs?.server.cleanup();
});

describe('a keys-only role (config-editor)', () => {
  it('sees keys and a "hidden" marker, edits config groups, and never receives a secret value', { timeout: 60_000 }, async () => {
    const { context, page } = await newPage(browser);
    const rec = recordResponses(page);
    await signIn(page, cs.url, editorToken);

    await page.goto(`${cs.url}/#/p/shop`);
    await expect.poll(() => page.locator('tr[data-group="creds"]').textContent()).toMatch(/secret/);
    await expect.poll(() => page.locator('[data-addon="db"]').textContent()).toMatch(/password.*hidden/);

    // The secret group: keys with "hidden", no reveal button, no editor.
    await page.goto(`${cs.url}/#/p/shop/g/creds`);
    const row = page.locator('tr[data-key="API_TOKEN"]');
    await expect.poll(() => row.textContent()).toMatch(/API_TOKEN.*hidden/);
    expect(await page.getByRole('button', { name: /^Reveal/ }).count()).toBe(0);
    expect(await page.getByRole('button', { name: 'Add variable' }).count()).toBe(0);
    // Restarting and deleting need write access to the group's type.
    expect(await page.getByRole('button', { name: 'Restart dependents' }).count()).toBe(0);
    expect(await page.getByRole('button', { name: 'Delete group' }).count()).toBe(0);
    await page.goto(`${cs.url}/#/p/shop/g/creds/files`);
    await expect.poll(() => page.locator('tr[data-path="/etc/app/key.pem"]').count()).toBe(1);
    await page.goto(`${cs.url}/#/p/shop/g/creds/addons`);
    await expect.poll(() => page.locator('tr[data-addon="db"]').textContent()).toMatch(/DB_PASSWORD/);
    await page.goto(`${cs.url}/#/p/shop/g/creds/history`);
    await page.getByLabel('From revision', { exact: true }).selectOption('2');
    await page.getByLabel('To revision', { exact: true }).selectOption('3');
    await expect.poll(() => page.getByRole('region', { name: /^Diff from revision/ }).textContent()).toMatch(/API_TOKEN/);
    expect(await page.getByLabel('Show values (an audited read)').count()).toBe(1);
    await page.getByLabel('Show values (an audited read)').check();
    await expect.poll(() => page.locator('.diff').textContent()).toMatch(/value changed|may not|permission/i);

    // The workload page: provenance keys only, own values hidden.
    await page.goto(`${cs.url}/#/p/shop/w/api`);
    await expect.poll(() => page.locator('tr[data-key="API_TOKEN"]').textContent()).toMatch(/creds \(50\)/);
    await expect.poll(() => page.getByRole('table', { name: 'Own runtime variables' }).textContent()).toMatch(/OWN.*hidden/);

    // Asking anyway (as the page would, with its session binding) is refused by the server, with no value in the answer.
    const refused = await page.evaluate(async () => {
      const res = await fetch('/rpc/secretgroups.v1.SecretGroupService/RevealValue', {
        method: 'POST',
        headers: { 'Content-Type': 'application/json', 'X-SG-Console': '1', 'X-SG-Session': sessionStorage.getItem('console.binding') ?? '' },
        body: JSON.stringify({ project: 'shop', kind: 'REVEAL_KIND_GROUP_VARIABLE', name: 'creds', key: 'API_TOKEN' }),
      });
      return { status: res.status, body: await res.text() };
    });
    expect(refused.status).toBe(403);

    // The config group is editable.
    await page.goto(`${cs.url}/#/p/shop/g/settings`);
    await expect.poll(() => page.getByLabel('Value 1', { exact: true }).inputValue()).toBe('debug');
    await page.getByLabel('Value 1', { exact: true }).fill('info');
    await page.getByRole('button', { name: 'Review changes' }).click();
    await page.getByRole('region', { name: 'Review changes' }).getByRole('button', { name: 'Save' }).click();
    await expect.poll(async () => (await cli.json<{ variables: Record<string, string> }>(['group', 'get', 'shop', 'settings'])).variables.LOG_LEVEL).toBe('info');

    await rec.settle();
    expect(rec.bodies.length).toBeGreaterThan(10);
    const dom = await page.content();
    for (const [what, secret] of Object.entries(SECRETS)) {
      expect(dom, what).not.toContain(secret);
      for (const { url, body } of rec.bodies) expect(body, `${what} in ${url}`).not.toContain(secret);
      expect(refused.body).not.toContain(secret);
    }
    await context.close();
  });

  it('an admin reveals one value at a time, each an audited read', async () => {
    const { context, page } = await newPage(browser);
    const rec = recordResponses(page);
    await signIn(page, cs.url, cs.server.adminToken);
    await page.goto(`${cs.url}/#/p/shop/g/creds`);
    await expect.poll(() => page.locator('tr[data-key="API_TOKEN"]').count()).toBe(1);
    await rec.settle();
    // Nothing revealed yet: no value anywhere.
    for (const { body } of rec.bodies) expect(body).not.toContain(SECRETS.groupB);
    await page.getByRole('button', { name: 'Reveal API_TOKEN' }).click();
    await expect.poll(() => page.getByLabel('Value 1', { exact: true }).inputValue()).toBe(SECRETS.groupB);
    await rec.settle();
    // Only API_TOKEN came back; OTHER stays masked.
    expect(rec.bodies.some((b) => b.body.includes(SECRETS.group))).toBe(false);
    const audit = await cli.ok(['audit', '--action', 'RevealValue', '--json']);
    expect(audit).toContain('API_TOKEN');
    expect(audit).not.toContain(SECRETS.groupB);
    await context.close();
  });
});

describe('cross-site requests', () => {
  let attacker: Server;
  let attackerUrl: string;

  beforeAll(async () => {
    attacker = createServer((req, res) => {
      const target = `${cs.url}/rpc/secretgroups.v1.ProjectService/CreateProject`;
      res.writeHead(200, { 'Content-Type': 'text/html' });
      if (req.url === '/form') {
        // A classic CSRF form: text/plain, so its body still parses as JSON.
        res.end(`<!doctype html><body><form id="f" method="post" action="${target}" enctype="text/plain"><input name='{"name":"pwned-form","x":"' value='"}'></form>
<script>document.getElementById('f').submit();</script></body>`);
        return;
      }
      res.end(`<!doctype html><body><script>
  window.results = [];
  fetch(${JSON.stringify(target)}, { method: 'POST', mode: 'no-cors', credentials: 'include', headers: { 'Content-Type': 'text/plain' }, body: JSON.stringify({ name: 'pwned-fetch' }) })
    .then(() => results.push('no-cors sent'), () => results.push('no-cors failed'));
  fetch(${JSON.stringify(target)}, { method: 'POST', credentials: 'include', headers: { 'Content-Type': 'application/json', 'X-SG-Console': '1' }, body: JSON.stringify({ name: 'pwned-cors' }) })
    .then(() => results.push('cors answered'), () => results.push('cors blocked'));
</script></body>`);
    });
    await new Promise<void>((r) => attacker.listen(0, '127.0.0.1', () => r()));
    attackerUrl = `http://127.0.0.1:${(attacker.address() as AddressInfo).port}/`;
  });

  afterAll(async () => {
    await new Promise((r) => attacker?.close(r));
  });

  it('a page on another origin (same host, other port) cannot change anything, even with a signed-in session', async () => {
    const { context, page } = await newPage(browser);
    await signIn(page, cs.url, cs.server.adminToken);
    const answers: { method: string; status: number }[] = [];
    context.on('response', (r) => {
      if (r.url().startsWith(`${cs.url}/rpc/`)) answers.push({ method: r.request().method(), status: r.status() });
    });
    const evil = await context.newPage();
    await evil.goto(attackerUrl);
    await expect.poll(() => evil.evaluate(() => (window as unknown as { results: string[] }).results.length)).toBe(2);
    // A JSON request with the console's header needs a CORS preflight, which is never granted.
    expect(await evil.evaluate(() => (window as unknown as { results: string[] }).results)).toContain('cors blocked');
    // A "simple" no-cors request is sent too (its answer, refused, is then withheld from the page
    // by Cross-Origin-Resource-Policy); the project list below shows it changed nothing.
    // A form posted from the other origin lands on the console's refusal.
    const form = await context.newPage();
    await form.goto(`${attackerUrl}form`);
    await form.waitForURL(/\/rpc\//);
    expect(await form.locator('body').textContent()).toMatch(/permission_denied/);
    expect(answers).toContainEqual({ method: 'POST', status: 403 });
    const projects = await cli.ok(['project', 'list']);
    expect(projects).not.toMatch(/pwned/);
    // The signed-in console itself still works.
    await page.goto(`${cs.url}/#/`);
    await expect.poll(() => page.getByRole('link', { name: 'shop' }).count()).toBe(1);
    await context.close();
  });
});

describe('session tossing (a cookie planted by another site on the same host)', () => {
  /** Signs in as the admin, then plants a viewer's valid session cookie in the same browser. */
  async function adminWithTossedCookie(): Promise<{ context: BrowserContext; page: Page; answers: number[] }> {
    const { context, page } = await newPage(browser);
    await signIn(page, cs.url, cs.server.adminToken);
    expect(await page.locator('.who').textContent()).toMatch(/admin/);
    const viewer = new ConsoleClient(cs.url);
    const viewerToken = (await cli.ok(['token', 'create', '--role', 'viewer', '--project', 'shop'])).trim();
    expect((await viewer.signIn(viewerToken)).status).toBe(200);
    const [name, value] = viewer.cookie.split('=') as [string, string];
    // What a page on another port can do: cookies are not port-scoped, and same host is same-site.
    await context.addCookies([{ name, value, domain: '127.0.0.1', path: '/', httpOnly: true, sameSite: 'Strict' }]);
    const answers: number[] = [];
    page.on('response', (r) => {
      const u = new URL(r.url());
      if (u.pathname === '/session' || u.pathname.startsWith('/rpc/')) answers.push(r.status());
    });
    return { context, page, answers };
  }

  it('the admin’s page does not act as the viewer: its next request is refused and it returns to sign-in, saying the session changed', async () => {
    const { context, page, answers } = await adminWithTossedCookie();
    await page.goto(`${cs.url}/#/tokens`);
    await expect.poll(() => page.getByRole('button', { name: 'Sign in' }).count()).toBe(1);
    expect(await page.locator('main.sign-in').textContent()).toMatch(/The session changed/);
    expect(await page.getByRole('button', { name: 'Sign out' }).count()).toBe(0);
    // Every answer after the cookie was planted was a refusal: nothing ran as the viewer.
    expect(answers.length).toBeGreaterThan(0);
    expect(answers.every((s) => s === 401)).toBe(true);
    // Signing in again replaces the planted cookie; the console works as the admin.
    await signIn(page, cs.url, cs.server.adminToken);
    expect(await page.locator('.who').textContent()).toMatch(/admin/);
    await context.close();
  });

  it('a reloaded tab does not adopt the planted session either', async () => {
    const { context, page, answers } = await adminWithTossedCookie();
    await page.reload();
    await expect.poll(() => page.getByRole('button', { name: 'Sign in' }).count()).toBe(1);
    expect(await page.getByRole('button', { name: 'Sign out' }).count()).toBe(0);
    expect(await page.locator('.who').count()).toBe(0);
    expect(answers.length).toBeGreaterThan(0);
    expect(answers.every((s) => s === 401)).toBe(true);
    await context.close();
  });
});
