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

describe('editing a group', () => {
  it('validates keys as they are typed and blocks saving an invalid one', async () => {
    await page.goto(`${cs.url}/#/p/shop/g/b`);
    await page.getByRole('button', { name: 'Add variable' }).click();
    const n = await page.locator('.kv-editor tbody tr').count();
    await page.getByLabel(`Key ${n}`, { exact: true }).fill('1BAD-KEY');
    await expect.poll(() => page.locator('.kv-editor [role=alert]').textContent()).toMatch(/start with a letter/);
    expect(await page.getByRole('button', { name: 'Review changes' }).isDisabled()).toBe(true);
    await page.getByLabel(`Key ${n}`, { exact: true }).fill('GOOD_KEY');
    await expect.poll(() => page.locator('.kv-editor [role=alert]').count()).toBe(0);
    await page.getByRole('button', { name: 'Discard edits' }).click();
  });

  it("shows the server's message on a refused save and keeps what was typed", async () => {
    await page.goto(`${cs.url}/#/p/shop/g/b`);
    await addVariable(page, 'BROKEN', 'x ${UNDEFINED_KEY} y');
    await page.getByRole('button', { name: 'Review changes' }).click();
    await expect.poll(() => page.locator('.tab-body > [role=alert]').textContent()).toMatch(/UNDEFINED_KEY/);
    const n = await page.locator('.kv-editor tbody tr').count();
    expect(await page.getByLabel(`Key ${n}`, { exact: true }).inputValue()).toBe('BROKEN');
    expect(await page.getByLabel(`Value ${n}`, { exact: true }).inputValue()).toBe('x ${UNDEFINED_KEY} y');
    await page.getByRole('button', { name: 'Discard edits' }).click();
  });

  it('imports .env text and shows the line of an error', async () => {
    await page.goto(`${cs.url}/#/p/shop/g/b`);
    await page.getByRole('button', { name: 'Import .env / JSON' }).click();
    const form = page.getByRole('form', { name: 'Import variables' });
    await form.getByLabel('Or paste the content').fill('# comment\nIMPORTED=1\nthis line is wrong\n');
    await form.getByRole('button', { name: 'Preview import' }).click();
    await expect.poll(() => form.getByRole('alert').textContent()).toMatch(/line 3/);
    // The pasted text is still there; fix it and import.
    expect(await form.getByLabel('Or paste the content').inputValue()).toContain('this line is wrong');
    await form.getByLabel('Or paste the content').fill('# comment\nIMPORTED=1\n');
    await form.getByRole('button', { name: 'Preview import' }).click();
    await form.getByRole('button', { name: 'Import', exact: true }).click();
    await expect.poll(async () => (await cli.json<{ variables: Record<string, string> }>(['group', 'get', 'shop', 'b'])).variables.IMPORTED).toBe('1');
  });

  it('renders a value holding HTML as text; no script runs', async () => {
    const evil = '<img src=x onerror="window.__xss=1"><script>window.__xss=2</script>';
    await createGroup(page, 'shop', 'html', 5, 'config');
    await addVariable(page, 'EVIL', evil);
    await reviewAndSave(page);
    await page.reload();
    await expect.poll(() => page.getByLabel('Value 1', { exact: true }).inputValue()).toBe(evil);
    // Also as plain text: the history diff shows config values.
    await page.goto(`${cs.url}/#/p/shop/g/html/history`);
    await page.getByLabel('From revision', { exact: true }).selectOption('1');
    await expect.poll(() => page.locator('.diff .added').first().textContent()).toContain(evil);
    expect(await page.evaluate(() => (window as unknown as { __xss?: number }).__xss)).toBeUndefined();
    expect(await page.locator('main img, main script').count()).toBe(0);
  });

  it('shows a diff between two revisions and rolls back', async () => {
    await page.goto(`${cs.url}/#/p/shop/g/a`);
    await page.getByLabel('Value 1', { exact: true }).fill('a-1-changed');
    await addVariable(page, 'KEY_9', 'nine');
    await reviewAndSave(page);
    await expect.poll(() => page.getByTestId('revision').textContent()).toBe('3');
    await page.getByRole('link', { name: 'History' }).click();
    await page.getByLabel('From revision', { exact: true }).selectOption('2');
    await page.getByLabel('To revision', { exact: true }).selectOption('3');
    const diff = page.getByRole('region', { name: 'Diff from revision 2 to 3' });
    await expect.poll(() => diff.textContent()).toMatch(/\+ KEY_9/);
    expect(await diff.textContent()).toMatch(/~ KEY_1 \(value changed\)/);
    // A secret group's values only on request (an audited read).
    expect(await diff.textContent()).not.toContain('a-1-changed');
    await diff.getByLabel('Show values (an audited read)').check();
    await expect.poll(() => diff.textContent()).toContain('a-1-changed');

    await page.getByRole('button', { name: 'Roll back to revision 2' }).click();
    await page.getByRole('alertdialog').getByRole('button', { name: 'Roll back to revision 2' }).click();
    await expect.poll(() => page.getByTestId('revision').textContent()).toBe('4');
    const resolved = await cli.json<{ variables: Record<string, string> }>(['resolve', 'shop', 'api']);
    expect(resolved.variables.KEY_1).toBe('a-1');
    expect(resolved.variables.KEY_9).toBeUndefined();
  });
});

describe('live updates', () => {
  it('follows changes made with the CLI without a reload', async () => {
    await page.goto(`${cs.url}/#/p/shop/g/b`);
    await expect.poll(() => page.locator('tr[data-key="KEY_3"]').count()).toBe(1);
    await page.evaluate(() => ((window as unknown as { __marker: number }).__marker = 42));
    await cli.ok(['group', 'set', 'shop', 'b', 'FROM_CLI=1']);
    await expect.poll(() => page.locator('tr[data-key="FROM_CLI"]').count(), { timeout: 10_000 }).toBe(1);
    await cli.ok(['group', 'create', 'shop', 'made-by-cli', '--priority', '7']);
    await page.goto(`${cs.url}/#/p/shop`);
    await cli.ok(['group', 'set', 'shop', 'made-by-cli', 'X=1', 'Y=2']);
    await expect.poll(() => page.locator('tr[data-group="made-by-cli"]').textContent(), { timeout: 10_000 }).toMatch(/7.*2/);
    // The same document all along.
    expect(await page.evaluate(() => (window as unknown as { __marker?: number }).__marker)).toBe(42);
  });
});

describe('admin pages', () => {
  it('creates a token shown once, which then signs in, and revokes it', async () => {
    await page.goto(`${cs.url}/#/tokens`);
    const form = page.getByRole('form', { name: 'Create a token' });
    await form.getByLabel('Name').fill('ci-viewer');
    await form.getByLabel('Role', { exact: true }).selectOption('viewer');
    await form.getByRole('checkbox', { name: 'shop' }).check();
    await form.getByRole('button', { name: 'Create token' }).click();
    const shown = form.getByLabel('New token');
    await expect.poll(() => shown.inputValue()).toMatch(/^sg_/);
    const token = await shown.inputValue();
    await form.getByRole('button', { name: 'Done' }).click();
    expect(await page.locator('body').textContent()).not.toContain(token);
    const row = page.locator('tr', { hasText: 'ci-viewer' });
    await expect.poll(() => row.textContent()).toMatch(/viewer.*projects shop.*active/);

    const other = await newPage(browser);
    await signIn(other.page, cs.url, token);
    await other.page.goto(`${cs.url}/#/p/shop`);
    await expect.poll(() => other.page.locator('tr[data-group="a"]').count()).toBe(1);

    await row.getByRole('button', { name: 'Revoke ci-viewer' }).click();
    await page.getByRole('alertdialog').getByRole('button', { name: 'Revoke' }).click();
    await expect.poll(() => row.textContent()).toMatch(/revoked/);
    // The revoked token's session ends at its next request.
    await other.page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Projects' }).click();
    await expect.poll(() => other.page.getByRole('button', { name: 'Sign in' }).count(), { timeout: 10_000 }).toBe(1);
    await other.context.close();
  });

  it('lists roles and filters the audit log', async () => {
    await page.goto(`${cs.url}/#/roles`);
    await expect.poll(() => page.locator('tr[data-role="config-editor"]').textContent()).toMatch(/keys only.*write/);
    await page.goto(`${cs.url}/#/audit`);
    await page.getByLabel('Action').fill('RollbackGroup');
    await page.getByRole('button', { name: 'Filter' }).click();
    const events = page.getByRole('table', { name: 'Audit events' });
    await expect.poll(() => events.locator('tbody tr').first().textContent()).toMatch(/RollbackGroup.*shop/);
    expect(await events.textContent()).not.toMatch(/SetVariables/);
  });
});
