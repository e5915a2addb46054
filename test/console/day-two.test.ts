/// <reference lib="dom" />
/// <reference lib="dom.iterable" />
/**
 * Day-two console views in a real Chromium: tokens with their status and scope and a
 * least-privilege default role; the audit log newest first, paged and filtered; every page at
 * 390 px wide without horizontal scrolling; the icon; a visible keyboard focus; the Kubernetes
 * service accounts bound to a workload.
 */
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { runner, type Runner } from '../cli/harness.js';
import { ConsoleClient } from '../console-server/http.js';
import { chromiumPresent, launchBrowser, newPage, signIn, startConsoleServer, requireChromium, signInBeforeAll, type ConsoleServer } from './harness.js';

let cs: ConsoleServer;
let browser: Browser;
let cli: Runner;
let page: Page;
const pageErrors: string[] = [];

beforeAll(async () => {
  if (!chromiumPresent()) return;
  [cs, browser] = await Promise.all([startConsoleServer(), launchBrowser()]);
  cli = runner(cs.server);
  await cli.ok(['project', 'create', 'shop']);
  await cli.ok(['workload', 'create', 'shop', 'api', '--tag', 'web', '--var', 'OWN=1']);
  await cli.ok(['addon', 'create', 'shop', 'db', '--type', 'postgresql', '--detail', 'host=db.internal', '--detail', 'password=pw']);
  await cli.ok(['group', 'create', 'shop', 'creds', '--type', 'secret', '--priority', '50']);
  await cli.ok(['group', 'set', 'shop', 'creds', `LONG_VALUE=${'x'.repeat(300)}`, 'A_RATHER_LONG_KEY_NAME_FOR_A_NARROW_SCREEN=1']);
  await cli.ok(['group', 'file', 'add', 'shop', 'creds', '/etc/app/key.pem', '--from', '-'], { input: 'k' });
  await cli.ok(['group', 'link', 'shop', 'creds', 'db', '--addon-key', 'password=DB_PASSWORD']);
  await cli.ok(['group', 'create', 'shop', 'settings', '--type', 'config', '--priority', '10']);
  await cli.ok(['group', 'set', 'shop', 'settings', 'LOG_LEVEL=debug']);
  ({ page } = await newPage(browser));
  page.on('pageerror', (e) => pageErrors.push(e.message));
  await signInBeforeAll(page, cs.url, cs.server.adminToken);
});

beforeEach(requireChromium);

afterAll(async () => {
  await browser?.close();
  await cs?.server.cleanup();
});

describe('tokens', () => {
  it('shows each token as active, expired or revoked, and a workload token as runtime or runtime, build', async () => {
    await cli.ok(['token', 'create', '--workload', 'shop/api', '--name', 'api-run']);
    await cli.ok(['token', 'create', '--workload', 'shop/api', '--build', '--name', 'api-build']);
    await cli.ok(['token', 'create', '--role', 'viewer', '--ttl', '1s', '--name', 'brief']);
    await cli.ok(['token', 'create', '--role', 'viewer', '--name', 'gone']);
    const gone = (await cli.json<{ tokens: { id: string; name: string }[] }>(['token', 'list'])).tokens.find((t) => t.name === 'gone')!.id;
    await cli.ok(['token', 'revoke', gone]);
    await new Promise((r) => setTimeout(r, 1_100)); // "brief" expires

    await page.goto(`${cs.url}/#/tokens`);
    const table = page.getByRole('table', { name: 'Tokens' });
    const row = (name: string) => table.locator('tr', { has: page.getByRole('cell', { name, exact: true }) });
    const cells = async (name: string) => {
      const headers = await table.locator('thead th').allTextContents();
      const values = await row(name).locator('td').allTextContents();
      return Object.fromEntries(headers.map((h, i) => [h, values[i]]));
    };
    await expect.poll(() => row('brief').count()).toBe(1);
    expect(await cells('api-run')).toMatchObject({ Scope: 'runtime', Status: 'active' });
    expect(await cells('api-build')).toMatchObject({ Scope: 'runtime, build', Status: 'active' });
    expect(await cells('brief')).toMatchObject({ Scope: '—', Status: 'expired' });
    expect(await cells('gone')).toMatchObject({ Status: 'revoked' });
  });

  it('offers the least-privileged role by default in the new-token form, never admin', async () => {
    await page.goto(`${cs.url}/#/tokens`);
    const role = page.getByRole('form', { name: 'Create a token' }).getByLabel('Role', { exact: true });
    await expect.poll(() => role.locator('option').count()).toBeGreaterThan(1);
    expect(await role.inputValue()).toBe('viewer');
    expect(await role.locator('option').allTextContents()).not.toContain('workload');
  });
});

describe('audit log', () => {
  it('lists events newest first, pages with Older/Newer, and filters by project, actor and action', { timeout: 60_000 }, async () => {
    // 60 writes by one named token in another project: more than a page (50).
    const c = new ConsoleClient(cs.url);
    const editor = (await cli.ok(['token', 'create', '--role', 'editor', '--name', 'bulk'])).trim();
    const editorId = (await cli.json<{ id: string }>(['whoami'], { env: { SG_TOKEN: editor } })).id;
    await cli.ok(['project', 'create', 'ops']);
    await cli.ok(['group', 'create', 'ops', 'bulk', '--type', 'config']);
    expect((await c.signIn(editor)).status).toBe(200);
    for (let i = 0; i < 60; i++) {
      const res = await c.rpc('SecretGroupService/SetVariables', { project: 'ops', name: 'bulk', variables: { N: String(i) } });
      expect(res.status).toBe(200);
    }

    await page.goto(`${cs.url}/#/audit`);
    const events = page.getByRole('table', { name: 'Audit events' });
    const timesShown = () => events.locator('tbody tr td:first-child').allTextContents();
    const idsShown = () => events.locator('tbody tr[data-event]').evaluateAll((rows) => rows.map((r) => r.getAttribute('data-event')!));
    await expect.poll(async () => (await idsShown()).length).toBe(50);
    const first = await idsShown();
    const all = (await cli.json<{ events: { id: string; time: string }[] }>(['audit', '--limit', '1000'])).events;
    expect(first).toEqual(all.slice(0, 50).map((e) => e.id)); // the same order as the CLI's: by time
    const shown = (await timesShown()).map((t) => Date.parse(t));
    if (!shown.some(Number.isNaN)) expect(shown).toEqual([...shown].sort((a, b) => b - a));

    await page.getByRole('button', { name: 'Older events' }).click();
    await expect.poll(async () => (await idsShown())[0]).toBe(all[50]!.id);
    expect(await idsShown()).toEqual(all.slice(50, 100).map((e) => e.id));
    expect(await page.getByRole('navigation', { name: 'Audit pages' }).textContent()).toMatch(/Page 2/);
    await page.getByRole('button', { name: 'Newer events' }).click();
    await expect.poll(async () => (await idsShown())[0]).toBe(first[0]);

    // Filters: project, actor (a token id matches its named events) and action together.
    await page.getByLabel('Project').fill('ops');
    await page.getByLabel('Actor').fill(`token:${editorId}`);
    await page.getByLabel('Action').fill('SetVariables');
    await page.getByRole('button', { name: 'Filter' }).click();
    await expect.poll(async () => events.locator('tbody tr').first().textContent()).toMatch(/SetVariables.*ops.*group ops\/bulk/);
    const rows = await events.locator('tbody tr').allTextContents();
    expect(rows).toHaveLength(50);
    expect(rows.every((r) => r.includes(`token:${editorId}(bulk)`) && r.includes('SetVariables'))).toBe(true);
    await page.getByRole('button', { name: 'Older events' }).click();
    await expect.poll(async () => (await events.locator('tbody tr').allTextContents()).length).toBe(10);
    expect(await page.getByRole('button', { name: 'Older events' }).count()).toBe(0);

    await page.getByLabel('Action').fill('NoSuchAction');
    await page.getByRole('button', { name: 'Filter' }).click();
    await expect.poll(() => events.textContent()).toMatch(/No event matches/);
  });
});

/** Every page of the console, and what shows it is loaded. */
const PAGES: [string, string][] = [
  ['#/', 'a[href="#/p/shop"]'],
  ['#/p/shop', 'tr[data-group="creds"]'],
  ['#/p/shop/g/creds', 'tr[data-key="LONG_VALUE"]'],
  ['#/p/shop/g/creds/files', 'form[aria-label="Add a secret file"]'],
  ['#/p/shop/g/creds/addons', 'form[aria-label="Link an addon"]'],
  ['#/p/shop/g/creds/settings', 'form[aria-label="Group settings"]'],
  ['#/p/shop/g/creds/history', '.diff'],
  ['#/p/shop/w/api', 'tr[data-key="OWN"]'],
  ['#/tokens', 'tr[data-token]'],
  ['#/roles', 'tr[data-role]'],
  ['#/audit', 'table[aria-label="Audit events"] tbody tr'],
];

const overflow = (p: Page) => p.evaluate(() => document.scrollingElement!.scrollWidth);
/** The innermost elements reaching past the right edge (outside boxes that scroll), for the failure message. */
const wide = (p: Page) =>
  p.evaluate(() => {
    const past = (el: Element) => el.getBoundingClientRect().right > innerWidth + 0.5;
    const clipped = (el: Element) => {
      for (let a = el.parentElement; a; a = a.parentElement) if (getComputedStyle(a).overflowX !== 'visible') return true;
      return false;
    };
    return [...document.querySelectorAll<HTMLElement>('body *')]
      .filter((el) => past(el) && !clipped(el) && ![...el.children].some((c) => past(c) && !clipped(c)))
      .slice(0, 5)
      .map((el) => `${el.tagName.toLowerCase()}.${el.className} right=${Math.round(el.getBoundingClientRect().right)}`)
      .join(', ');
  });

describe('a 390 px wide screen', () => {
  it('scrolls no page sideways, and the value box keeps a usable width', { timeout: 90_000 }, async () => {
    const { context, page: narrow } = await browser.newContext({ viewport: { width: 390, height: 844 } }).then(async (context) => ({ context, page: await context.newPage() }));
    narrow.setDefaultTimeout(15_000);
    narrow.on('pageerror', (e) => pageErrors.push(e.message));
    await narrow.goto(`${cs.url}/`);
    await narrow.getByLabel('Token').waitFor();
    expect(await overflow(narrow), 'sign-in').toBeLessThanOrEqual(390);
    await signIn(narrow, cs.url, cs.server.adminToken);
    for (const [hash, ready] of PAGES) {
      await narrow.goto(`${cs.url}/${hash}`);
      await narrow.locator(ready).first().waitFor();
      expect(await overflow(narrow), `${hash}: ${await wide(narrow)}`).toBeLessThanOrEqual(390);
    }
    // Editing: the key and value boxes of a row stay wide enough to read and type in.
    await narrow.goto(`${cs.url}/#/p/shop/g/settings`);
    await narrow.getByRole('button', { name: 'Add variable' }).click();
    const n = await narrow.locator('.kv-editor tbody tr').count();
    const value = narrow.getByLabel(`Value ${n}`, { exact: true });
    const key = narrow.getByLabel(`Key ${n}`, { exact: true });
    expect((await value.boundingBox())!.width).toBeGreaterThanOrEqual(150);
    expect((await key.boundingBox())!.width).toBeGreaterThanOrEqual(150);
    expect(await overflow(narrow), 'editing').toBeLessThanOrEqual(390);
    await context.close();
  });
});

describe('the icon', () => {
  it('is linked as an SVG, answered at /favicon.ico, and both decode to a 32 px icon', async () => {
    const link = await page.evaluate(() => document.querySelector<HTMLLinkElement>('link[rel="icon"]')?.href);
    expect(link).toBe(`${cs.url}/favicon.svg`);
    const svg = await fetch(link!);
    expect(svg.status).toBe(200);
    expect(svg.headers.get('content-type')).toBe('image/svg+xml');
    const ico = await fetch(`${cs.url}/favicon.ico`);
    expect(ico.status).toBe(200);
    expect(ico.headers.get('content-type')).toBe('image/x-icon');
    // The browser decodes both (an <img> on the console's own origin, allowed by its CSP).
    for (const src of ['/favicon.svg', '/favicon.ico']) {
      const size = await page.evaluate(
        (s) =>
          new Promise<number[]>((resolve, reject) => {
            const img = new Image();
            img.onload = () => resolve([img.naturalWidth, img.naturalHeight]);
            img.onerror = () => reject(new Error(`${s} did not decode`));
            img.src = s;
          }),
        src,
      );
      expect(size, src).toEqual([32, 32]);
    }
  });
});

describe('keyboard focus', () => {
  it('draws a visible outline around the focused link, button and field', async () => {
    await page.goto(`${cs.url}/#/p/shop`);
    await page.locator('tr[data-group="creds"]').waitFor();
    const outline = () =>
      page.evaluate(() => {
        const el = document.activeElement as HTMLElement;
        const s = getComputedStyle(el);
        return { tag: el.tagName, style: s.outlineStyle, width: parseFloat(s.outlineWidth), color: s.outlineColor, bg: getComputedStyle(el.closest('header, main') ?? document.body).backgroundColor };
      });
    const seen = new Map<string, Awaited<ReturnType<typeof outline>>>();
    await page.locator('body').click({ position: { x: 1, y: 300 } });
    for (let i = 0; i < 40 && seen.size < 3; i++) {
      await page.keyboard.press('Tab');
      const o = await outline();
      if (['A', 'BUTTON', 'INPUT'].includes(o.tag) && !seen.has(o.tag)) seen.set(o.tag, o);
    }
    expect([...seen.keys()].sort()).toEqual(['A', 'BUTTON', 'INPUT']);
    for (const [tag, o] of seen) {
      expect(o.style, tag).not.toBe('none');
      expect(o.width, tag).toBeGreaterThanOrEqual(2);
      expect(o.color, tag).not.toBe(o.bg); // not drawn in the colour of what is behind it
    }
  });
});

describe('Kubernetes service accounts', () => {
  it('the workload page lists the service accounts bound to it, with scopes and who bound them', async () => {
    await cli.ok(['workload', 'create', 'shop', 'ci']);
    await cli.ok(['workload', 'bind', 'shop', 'api', '--k8s-service-account', 'shop/api']);
    await cli.ok(['workload', 'bind', 'shop', 'ci', '--k8s-service-account', 'ci/builder', '--build']);
    await page.goto(`${cs.url}/#/p/shop/w/api`);
    const table = page.getByRole('table', { name: 'Kubernetes service accounts' });
    await expect.poll(() => table.locator('tr[data-service-account]').count()).toBe(1);
    const cells = await table.locator('tr[data-service-account="shop/api"] td').allTextContents();
    expect(cells[0]).toBe('shop/api');
    expect(cells[1]).toBe('runtime');
    expect(cells[3]).toMatch(/admin/);
    await page.goto(`${cs.url}/#/p/shop/w/ci`);
    await expect.poll(() => page.locator('tr[data-service-account="ci/builder"] td').nth(1).textContent()).toBe('runtime, build');
    // Unbound: gone from the page (it shows how to bind one instead).
    await cli.ok(['workload', 'unbind', 'shop', 'ci', '--k8s-service-account', 'ci/builder']);
    await page.reload();
    const section = page.locator('h2', { hasText: 'Kubernetes service accounts' }).locator('..');
    await expect.poll(() => section.textContent()).toMatch(/sg workload bind shop ci --k8s-service-account NAMESPACE\/NAME.*None\./s);
    expect(await page.locator('tr[data-service-account]').count()).toBe(0);
  });
});

describe('the whole session above', () => {
  it('raised no script error', () => {
    expect(pageErrors).toEqual([]);
  });
});
