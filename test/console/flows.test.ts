/**
 * The console's main flows in a real Chromium against the real `sg serve`: sign-in, the seed's
 * priority example built entirely in the browser and checked with `sg resolve`, refused saves,
 * values rendered as text, history diff and rollback, following CLI changes, tokens.
 */
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runner, type Runner } from '../cli/harness.js';
import { launchBrowser, newPage, signIn, startConsoleServer, until, type ConsoleServer } from './harness.js';

let cs: ConsoleServer;
let browser: Browser;
let page: Page;
let cli: Runner;

beforeAll(async () => {
  [cs, browser] = await Promise.all([startConsoleServer(), launchBrowser()]);
  cli = runner(cs.server);
  ({ page } = await newPage(browser));
  page.on('pageerror', (e) => console.error('page error:', e.message));
});

afterAll(async () => {
  await browser?.close();
  await cs?.server.cleanup();
});

/** Adds a row in the key-value editor and fills it. */
async function addVariable(p: Page, key: string, value: string) {
  await p.getByRole('button', { name: 'Add variable' }).click();
  const n = await p.locator('.kv-editor tbody tr').count();
  await p.getByLabel(`Key ${n}`, { exact: true }).fill(key);
  await p.getByLabel(`Value ${n}`, { exact: true }).fill(value);
}

async function reviewAndSave(p: Page) {
  await p.getByRole('button', { name: 'Review changes' }).click();
  await p.getByRole('region', { name: 'Review changes' }).getByRole('button', { name: 'Save' }).click();
  await expect.poll(() => p.getByRole('region', { name: 'Review changes' }).count()).toBe(0);
}

async function createGroup(p: Page, project: string, name: string, priority: number, type: 'secret' | 'config' = 'secret') {
  await p.goto(`${cs.url}/#/p/${project}`);
  const form = p.getByRole('form', { name: 'New group' });
  await form.getByLabel('Group name').fill(name);
  await form.getByLabel('Type').selectOption({ label: type });
  await form.getByLabel('Priority').fill(String(priority));
  await form.getByRole('button', { name: 'Create group' }).click();
  await p.waitForURL(new RegExp(`#/p/${project}/g/${name}$`));
}

describe('sign-in', () => {
  it('refuses a bad token with a clear message and keeps the token out of storage and URLs', async () => {
    await page.goto(`${cs.url}/`);
    await page.getByLabel('Token').fill('sg_not_a_real_token');
    await page.getByRole('button', { name: 'Sign in' }).click();
    await expect.poll(() => page.getByRole('alert').textContent()).toMatch(/not accepted/);
    await signIn(page, cs.url, cs.server.adminToken);
    expect(await page.evaluate(() => JSON.stringify({ ...localStorage }) + JSON.stringify({ ...sessionStorage }) + document.cookie)).not.toContain('sg_');
    expect(page.url()).not.toContain(cs.server.adminToken);
  });

  it('signs out, and the session cookie no longer works', async () => {
    await page.getByRole('button', { name: 'Sign out' }).click();
    await expect.poll(() => page.getByRole('button', { name: 'Sign in' }).count()).toBe(1);
    await page.reload();
    await expect.poll(() => page.getByRole('button', { name: 'Sign in' }).count()).toBe(1);
    await signIn(page, cs.url, cs.server.adminToken);
  });
});

describe("the seed's priority example, built in the browser", () => {
  it('A (priority 50: KEY_1, KEY_2) and B (priority 20: KEY_1..3) resolve to KEY_1, KEY_2 from A and KEY_3 from B', async () => {
    await page.goto(`${cs.url}/#/`);
    await page.getByLabel('Project name').fill('shop');
    await page.getByRole('button', { name: 'Create project' }).click();
    await page.waitForURL(/#\/p\/shop$/);
    const wl = page.getByRole('form', { name: 'New workload' });
    await wl.getByLabel('Workload name').fill('api');
    await wl.getByLabel('Tags').fill('web');
    await wl.getByRole('button', { name: 'Create workload' }).click();
    await expect.poll(() => page.locator('tr[data-workload="api"]').count()).toBe(1);

    await createGroup(page, 'shop', 'a', 50);
    await addVariable(page, 'KEY_1', 'a-1');
    await addVariable(page, 'KEY_2', 'a-2');
    await page.getByRole('button', { name: 'Review changes' }).click();
    // The preview names the workload and the keys, never a value.
    const preview = page.getByRole('table', { name: 'Change preview' });
    await expect.poll(() => preview.locator('tr[data-workload="api"]').count()).toBeGreaterThan(0);
    expect(await preview.textContent()).toContain('KEY_1');
    expect(await preview.textContent()).not.toContain('a-1');
    await page.getByRole('region', { name: 'Review changes' }).getByRole('button', { name: 'Save' }).click();
    await expect.poll(() => page.getByTestId('revision').textContent()).toBe('2');

    await createGroup(page, 'shop', 'b', 20);
    await addVariable(page, 'KEY_1', 'b-1');
    await addVariable(page, 'KEY_2', 'b-2');
    await addVariable(page, 'KEY_3', 'b-3');
    await reviewAndSave(page);

    const resolved = await cli.json<{ variables: Record<string, string> }>(['resolve', 'shop', 'api']);
    expect(resolved.variables).toEqual({ KEY_1: 'a-1', KEY_2: 'a-2', KEY_3: 'b-3' });

    // The secrets page lists both with type, scope, priority and key counts.
    await page.goto(`${cs.url}/#/p/shop`);
    const rowA = page.locator('tr[data-group="a"]');
    await expect.poll(() => rowA.textContent()).toMatch(/secret.*both.*50.*all workloads.*2/);
    expect(await page.locator('tr[data-group="b"]').textContent()).toMatch(/20.*3/);

    // The workload page explains it: KEY_1 from a, b shadowed.
    await page.locator('tr[data-workload="api"] a').click();
    const key1 = page.locator('tr[data-key="KEY_1"]');
    await expect.poll(() => key1.textContent()).toMatch(/a \(50\).*b \(20\)/);
    expect(await page.locator('tr[data-key="KEY_3"]').textContent()).toContain('b (20)');
  });
});
