/// <reference lib="dom" />
/**
 * The console's main flows in a real Chromium against the real `sg serve`: sign-in, the seed's
 * priority example built entirely in the browser and checked with `sg resolve`, refused saves,
 * values rendered as text, history diff and rollback, following CLI changes, tokens.
 */
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { runner, type Runner } from '../cli/harness.js';
import { chromiumPresent, launchBrowser, newPage, signIn, startConsoleServer, unlabelledControls, requireChromium, type ConsoleServer } from './harness.js';

let cs: ConsoleServer;
let browser: Browser;
let page: Page;
let cli: Runner;
const pageErrors: string[] = [];
const cspViolations: string[] = [];

beforeAll(async () => {
  if (!chromiumPresent()) return;
  [cs, browser] = await Promise.all([startConsoleServer(), launchBrowser()]);
  cli = runner(cs.server);
  ({ page } = await newPage(browser));
  page.on('pageerror', (e) => pageErrors.push(e.message));
  page.on('console', (m) => {
    if (m.type() === 'error' && /Content.Security.Policy/i.test(m.text())) cspViolations.push(m.text());
  });
});

beforeEach(requireChromium);

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

/** The tokens page's form, filled for a viewer token of project shop named `name`. */
async function viewerTokenForm(p: Page, name: string) {
  await p.goto(`${cs.url}/#/tokens`);
  const form = p.getByRole('form', { name: 'Create a token' });
  await form.getByLabel('Name').fill(name);
  await form.getByLabel('Role', { exact: true }).selectOption('viewer');
  await form.getByRole('checkbox', { name: 'shop' }).check();
  return form;
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

  it('signs in with the keyboard alone', async () => {
    const { context, page: p } = await newPage(browser);
    await p.goto(`${cs.url}/`);
    // The Token field has the focus; Enter submits.
    await p.getByLabel('Token').waitFor();
    await expect.poll(() => p.evaluate(() => document.activeElement?.getAttribute('name'))).toBe('token');
    await p.keyboard.type(cs.server.adminToken);
    await p.keyboard.press('Enter');
    await expect.poll(() => p.getByRole('button', { name: 'Sign out' }).count()).toBe(1);
    // Tab reaches the navigation links and Enter follows them.
    for (let i = 0; i < 10 && (await p.evaluate(() => document.activeElement?.textContent)) !== 'Audit log'; i++) await p.keyboard.press('Tab');
    await p.keyboard.press('Enter');
    await p.waitForURL(/#\/audit$/);
    await context.close();
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
    // The project's own execution-controlling keys are shown, read-only.
    await cli.ok(['project', 'execution-keys', 'shop', '--add', 'ACME_*']);
    await page.reload();
    await expect.poll(() => page.locator('[data-execution-keys]').textContent()).toContain("this project's own: ACME_*");

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
    await expect.poll(() => page.locator('.tab-body > [role=alert]').textContent()).toMatch(/undefined key in the value of "BROKEN"/);
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

  it('imports pasted secrets as written by default: a ${ in a password is not a template', async () => {
    await page.goto(`${cs.url}/#/p/shop/g/b`);
    await page.getByRole('button', { name: 'Import .env / JSON' }).click();
    const form = page.getByRole('form', { name: 'Import variables' });
    expect(await form.getByLabel(/Store values exactly as written/).isChecked()).toBe(true);
    // The CLI's default is the other one: the form says so, and what it does with a ${.
    expect(await form.textContent()).toMatch(/sg group import defaults the other way: templates, unless --literal/);
    await form.getByLabel('Or paste the content').fill("PASTED_PW='p${ss'\n");
    await expect.poll(() => form.getByRole('status').textContent()).toMatch(/^1 line holds \$\{: stored exactly as written, not as templates/);
    await form.getByLabel(/Store values exactly as written/).uncheck();
    await expect.poll(() => form.getByRole('status').textContent()).toMatch(/read as \$\{KEY\} templates of this group \(as sg group import would\)/);
    await form.getByLabel(/Store values exactly as written/).check();
    await form.getByRole('button', { name: 'Preview import' }).click();
    await form.getByRole('button', { name: 'Import', exact: true }).click();
    await expect.poll(async () => (await cli.json<{ variables: Record<string, string> }>(['resolve', 'shop', 'api'])).variables.PASTED_PW).toBe('p${ss');
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

  it('edits the variables as JSON, naming the line of a syntax error', async () => {
    await createGroup(page, 'shop', 'json-mode', 3, 'config');
    await addVariable(page, 'OLD', 'x');
    await reviewAndSave(page);
    await page.getByRole('button', { name: 'JSON', exact: true }).click();
    const area = page.getByLabel('Variables as JSON');
    await expect.poll(() => area.inputValue()).toContain('"OLD": "x"');
    await area.fill('{\n  "NEW": "1",\n  "BAD": \n}');
    await page.getByRole('button', { name: 'Apply to the table' }).click();
    await expect.poll(() => page.locator('.json-mode [role=alert]').textContent()).toMatch(/line [34]/);
    await area.fill('{\n  "NEW": "1",\n  "TWO": "2"\n}');
    await page.getByRole('button', { name: 'Apply to the table' }).click();
    await expect.poll(() => page.locator('tr.removed[data-key="OLD"]').count()).toBe(1);
    await reviewAndSave(page);
    const g = await cli.json<{ variables: Record<string, string> }>(['group', 'get', 'shop', 'json-mode']);
    expect(g.variables).toEqual({ NEW: '1', TWO: '2' });
  });

  it('shows the newest page of a long history and loads older revisions on request', async () => {
    await cli.ok(['group', 'create', 'shop', 'long', '--type', 'config', '--var', 'N=0']);
    for (let i = 1; i <= 24; i++) await cli.ok(['group', 'set', 'shop', 'long', `N=${i}`]);
    await page.goto(`${cs.url}/#/p/shop/g/long/history`);
    const rows = page.locator('table[aria-label=Revisions] tbody tr');
    // ListGroupHistory answers 20 revisions by default: 6..25.
    await expect.poll(() => rows.count()).toBe(20);
    expect(await rows.last().getAttribute('data-revision')).toBe('6');
    await page.getByRole('button', { name: 'Older revisions' }).click();
    await expect.poll(() => rows.count()).toBe(25);
    expect(await rows.last().getAttribute('data-revision')).toBe('1');
    expect(await page.getByRole('button', { name: 'Older revisions' }).count()).toBe(0);
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

describe('concurrent edits', () => {
  it('keeps typed input when the group changes elsewhere, refuses the stale save with a message, and offers to load the new revision', async () => {
    await page.goto(`${cs.url}/#/p/shop/g/b`);
    const row = page.locator('tr[data-key="KEY_3"]');
    await row.getByRole('textbox', { name: /^Value/ }).fill('typed-in-browser');
    await cli.ok(['group', 'set', 'shop', 'b', 'KEY_3=set-by-cli']);
    await expect.poll(() => page.getByRole('status').filter({ hasText: 'changed elsewhere' }).textContent(), { timeout: 10_000 }).toMatch(/changed elsewhere/);
    expect(await row.getByRole('textbox', { name: /^Value/ }).inputValue()).toBe('typed-in-browser');
    await page.getByRole('button', { name: 'Review changes' }).click();
    await expect.poll(() => page.locator('.tab-body > [role=alert]').textContent()).toMatch(/revision/i);
    expect(await row.getByRole('textbox', { name: /^Value/ }).inputValue()).toBe('typed-in-browser');
    await page.getByRole('button', { name: /^Discard my edits and load revision/ }).click();
    // b is a secret group: the new value is masked until revealed.
    await row.getByRole('button', { name: 'Reveal KEY_3' }).click();
    await expect.poll(() => row.getByRole('textbox', { name: /^Value/ }).inputValue()).toBe('set-by-cli');
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

describe('forms keep what was typed while the page follows changes', () => {
  // Each render used to write a bare `value` prop back: a chosen type became secret again, a
  // typed priority or expiry 0, whenever the page refreshed before the form was sent.
  it('the New group form keeps its type and priority when the project changes elsewhere', async () => {
    await page.goto(`${cs.url}/#/p/shop`);
    const form = page.getByRole('form', { name: 'New group' });
    await form.getByLabel('Group name').fill('typed-first');
    await form.getByLabel('Type').selectOption({ label: 'config' });
    await form.getByLabel('Priority').fill('42');
    await cli.ok(['group', 'create', 'shop', 'meanwhile', '--priority', '3']);
    await expect.poll(() => page.locator('tr[data-group="meanwhile"]').count(), { timeout: 10_000 }).toBe(1);
    expect(await form.getByLabel('Priority').inputValue()).toBe('42');
    await form.getByRole('button', { name: 'Create group' }).click();
    await page.waitForURL(/#\/p\/shop\/g\/typed-first$/);
    const made = await cli.json<{ type: string; priority: number }>(['group', 'get', 'shop', 'typed-first']);
    expect([made.type, made.priority]).toEqual(['config', 42]);
  });

  it('the token form keeps a typed expiry while the token list refreshes', async () => {
    const form = await viewerTokenForm(page, 'expires-in-a-day');
    await form.getByLabel(/Expires after/).fill('1');
    // The list polls; a token made elsewhere shows that it has rendered again.
    await cli.ok(['token', 'create', '--role', 'viewer', '--project', 'shop', '--name', 'made-meanwhile']);
    await expect.poll(() => page.locator('tr', { hasText: 'made-meanwhile' }).count(), { timeout: 10_000 }).toBe(1);
    expect(await form.getByLabel(/Expires after/).inputValue()).toBe('1');
    await form.getByRole('button', { name: 'Create token' }).click();
    await expect.poll(() => form.getByLabel('New token').inputValue()).toMatch(/^sg_/);
    await form.getByRole('button', { name: 'Done' }).click();
    const { tokens } = await cli.json<{ tokens: { name: string; createdAt: string; expiresAt: string | null }[] }>(['token', 'list']);
    const t = tokens.find((x) => x.name === 'expires-in-a-day')!;
    expect(Date.parse(t.expiresAt ?? 'never') - Date.parse(t.createdAt)).toBe(86_400_000);
  });
});

describe('admin pages', () => {
  it('creates a token shown once, which then signs in, and revokes it', async () => {
    const form = await viewerTokenForm(page, 'ci-viewer');
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
    // The revoked token's open page goes back to sign-in by itself: the server ends its project
    // stream within 1 s of the revocation, like every stream of that token.
    await expect.poll(() => other.page.getByRole('button', { name: 'Sign in' }).count(), { timeout: 10_000 }).toBe(1);
    // And the session is gone for good: a reload does not bring the project back.
    await other.page.goto(`${cs.url}/#/p/shop`);
    await expect.poll(() => other.page.getByRole('button', { name: 'Sign in' }).count(), { timeout: 10_000 }).toBe(1);
    await other.context.close();
  });

  it('creates a token bound to one workload, which its agent or `sg resolve` can use', async () => {
    await page.goto(`${cs.url}/#/tokens`);
    const form = page.getByRole('form', { name: 'Create a token' });
    await form.getByLabel('Name').fill('api-agent');
    await form.getByRole('radio', { name: /Bound to one workload/ }).check();
    await form.getByLabel('Project', { exact: true }).selectOption('shop');
    await expect.poll(() => form.getByLabel('Workload', { exact: true }).locator('option').count()).toBeGreaterThan(0);
    await form.getByLabel('Workload', { exact: true }).selectOption('api');
    await form.getByRole('button', { name: 'Create token' }).click();
    const shown = form.getByLabel('New token');
    await expect.poll(() => shown.inputValue()).toMatch(/^sg_/);
    const token = await shown.inputValue();
    await form.getByRole('button', { name: 'Done' }).click();
    await expect.poll(() => page.locator('tr', { hasText: 'api-agent' }).textContent()).toMatch(/workload shop\/api/);
    const resolved = await cli.json<{ variables: Record<string, string> }>(['resolve', 'shop', 'api'], { env: { SG_TOKEN: token } });
    expect(resolved.variables.KEY_1).toBe('a-1');
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

describe('files, addon links, settings and delete', () => {
  it('uploads a secret file with its path and mode', async () => {
    await page.goto(`${cs.url}/#/p/shop/g/a/files`);
    const form = page.getByRole('form', { name: 'Add a secret file' });
    await form.getByLabel('Path', { exact: true }).fill('/etc/app/tls.key');
    await form.getByLabel('Mode', { exact: true }).fill('0640');
    await form.getByLabel('Upload file').setInputFiles({ name: 'tls.key', mimeType: 'application/octet-stream', buffer: Buffer.from('KEY-CONTENT\n') });
    await form.getByRole('button', { name: 'Add file' }).click();
    await expect.poll(() => page.locator('tr[data-path="/etc/app/tls.key"]').textContent()).toMatch(/0640.*12 B/);
    const g = await cli.json<{ files: { path: string; mode: string; contentBase64: string }[] }>(['group', 'get', 'shop', 'a']);
    expect(g.files).toEqual([expect.objectContaining({ path: '/etc/app/tls.key', mode: '0640', contentBase64: Buffer.from('KEY-CONTENT\n').toString('base64') })]);
  });

  it('creates an addon, reveals one detail, and links a key under an alias', async () => {
    await page.goto(`${cs.url}/#/p/shop`);
    const add = page.getByRole('form', { name: 'New addon' });
    await add.getByLabel('Addon name').fill('db');
    await add.getByLabel('Addon type').fill('postgresql');
    await add.getByLabel('Connection details').fill('host=db.internal\npassword=pw-123');
    await add.getByRole('button', { name: 'Create addon' }).click();
    await expect.poll(() => page.locator('[data-addon="db"]').textContent()).toMatch(/host.*password/);
    // Masked until revealed, one value at a time.
    expect(await page.locator('[data-addon="db"]').textContent()).not.toContain('pw-123');
    await page.getByRole('button', { name: 'Reveal db password' }).click();
    await expect.poll(() => page.locator('[data-addon="db"]').textContent()).toContain('pw-123');
    expect(await page.locator('[data-addon="db"]').textContent()).not.toContain('db.internal');
    await page.goto(`${cs.url}/#/p/shop/g/b/addons`);
    const form = page.getByRole('form', { name: 'Link an addon' });
    await form.getByLabel('Addon', { exact: true }).selectOption('db');
    await form.getByLabel('Alias for password').fill('DB_PASS');
    await form.getByRole('button', { name: 'Link addon' }).click();
    await expect.poll(() => page.locator('tr[data-addon="db"]').textContent()).toMatch(/password → DB_PASS/);
    const resolved = await cli.json<{ variables: Record<string, string> }>(['resolve', 'shop', 'api']);
    expect(resolved.variables.DB_PASS).toBe('pw-123');
    expect(resolved.variables.DB_HOST).toBeUndefined();
  });

  it('changes settings after a preview of the workloads they affect, then deletes the group after a confirmation', async () => {
    await createGroup(page, 'shop', 'extra', 30);
    await addVariable(page, 'EXTRA', '1');
    await reviewAndSave(page);
    expect((await cli.json<{ variables: Record<string, string> }>(['resolve', 'shop', 'api'])).variables.EXTRA).toBe('1');

    await page.getByRole('link', { name: 'Settings' }).click();
    const form = page.getByRole('form', { name: 'Group settings' });
    await form.getByLabel('Priority', { exact: true }).fill('35');
    await form.getByLabel('Scope', { exact: true }).selectOption({ label: 'runtime' });
    await form.getByRole('checkbox', { name: /^Restricted/ }).check();
    await form.getByLabel('Tag web').check();
    await form.getByRole('button', { name: 'Review changes' }).click();
    // Restricted to the tag api carries: only api's build resolution loses EXTRA (scope runtime).
    const preview = page.getByRole('table', { name: 'Change preview' });
    await expect.poll(() => preview.locator('tbody tr').first().textContent()).toMatch(/api.*build.*EXTRA/);
    await page.getByRole('region', { name: 'Review changes' }).getByRole('button', { name: 'Save' }).click();
    await expect.poll(() => page.locator('.meta').textContent()).toMatch(/scope runtime · priority 35 · reaches tags: web/);
    const build = await cli.json<{ variables: Record<string, string> }>(['resolve', 'shop', 'api', '--scope', 'build']);
    expect(build.variables.EXTRA).toBeUndefined();

    // The confirmation takes the focus; Escape cancels it.
    await page.getByRole('button', { name: 'Delete group' }).click();
    await expect.poll(() => page.evaluate(() => document.activeElement?.getAttribute('role'))).toBe('alertdialog');
    await page.keyboard.press('Escape');
    await expect.poll(() => page.getByRole('alertdialog').count()).toBe(0);
    await page.getByRole('button', { name: 'Delete group' }).click();
    await page.getByRole('alertdialog').getByRole('button', { name: 'Delete' }).click();
    await page.waitForURL(/#\/p\/shop$/);
    expect(await cli.ok(['group', 'list', 'shop'])).not.toMatch(/extra/);
  });
});

describe('accessibility', () => {
  it('every control on every page has a label', async () => {
    const pages: [string, string][] = [
      ['#/', 'a[href="#/p/shop"]'],
      ['#/p/shop', 'tr[data-group="a"]'],
      ['#/p/shop/g/a', 'tr[data-key="KEY_1"]'],
      ['#/p/shop/g/a/files', 'form[aria-label="Add a secret file"]'],
      ['#/p/shop/g/b/addons', 'form[aria-label="Link an addon"]'],
      ['#/p/shop/g/a/settings', 'form[aria-label="Group settings"]'],
      ['#/p/shop/g/a/history', '.diff'],
      ['#/p/shop/w/api', 'tr[data-key="KEY_1"]'],
      ['#/tokens', 'tr[data-token]'],
      ['#/roles', 'tr[data-role]'],
      ['#/audit', 'table[aria-label="Audit events"]'],
    ];
    for (const [hash, ready] of pages) {
      await page.goto(`${cs.url}/${hash}`);
      await page.locator(ready).first().waitFor();
      expect(await unlabelledControls(page), hash).toEqual([]);
    }
    // The editor in JSON and import modes, and the settings with restrictions open.
    await page.goto(`${cs.url}/#/p/shop/g/b`);
    await page.getByRole('button', { name: 'JSON', exact: true }).click();
    expect(await unlabelledControls(page)).toEqual([]);
    await page.getByRole('button', { name: 'Import .env / JSON' }).click();
    expect(await unlabelledControls(page)).toEqual([]);
  });
});

describe('the whole session above', () => {
  it('raised no script error and no Content-Security-Policy violation', () => {
    expect(pageErrors).toEqual([]);
    expect(cspViolations).toEqual([]);
  });
});
