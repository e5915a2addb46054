/// <reference lib="dom" />
/**
 * What a console-only user can finish in the browser (real Chromium, real `sg serve`): restore
 * a deleted group, rename one, edit a workload with review then save, rotate and delete an
 * addon, delete a project, define and change a custom role; history in words, a confirmation
 * after each save, links from a workload's resolution to its groups, and forms whose defaults
 * fit the role (a config editor's New group is a config group; it never sees a workload's values).
 */
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { runner, type Runner } from '../cli/harness.js';
import { chromiumPresent, launchBrowser, newPage, recordResponses, requireChromium, signIn, startConsoleServer, signInBeforeAll, type ConsoleServer } from './harness.js';

let cs: ConsoleServer;
let browser: Browser;
let page: Page;
let cli: Runner;
const pageErrors: string[] = [];
const OWN_SECRET = 'own-value-canary-7c1e';

beforeAll(async () => {
  if (!chromiumPresent()) return;
  [cs, browser] = await Promise.all([startConsoleServer(), launchBrowser()]);
  cli = runner(cs.server);
  await cli.ok(['project', 'create', 'shop']);
  await cli.ok(['workload', 'create', 'shop', 'api', '--tag', 'web', '--var', `OWN=${OWN_SECRET}`, '--build-arg', 'NODE_ENV=production']);
  await cli.ok(['workload', 'create', 'shop', 'worker', '--tag', 'jobs']);
  await cli.ok(['addon', 'create', 'shop', 'db', '--type', 'postgresql', '--detail', 'host=db.internal', '--detail', 'password=first']);
  await cli.ok(['group', 'create', 'shop', 'creds', '--priority', '50', '--var', 'API_TOKEN=t1']);
  await cli.ok(['group', 'link', 'shop', 'creds', 'db', '--addon-key', 'password=DB_PASSWORD']);
  ({ page } = await newPage(browser));
  page.on('pageerror', (e) => pageErrors.push(e.message));
  await signInBeforeAll(page, cs.url, cs.server.adminToken);
});

beforeEach(requireChromium);

afterAll(async () => {
  await browser?.close();
  await cs?.server.cleanup();
});

/** The page's save confirmation: a polite live region. */
const status = (p: Page) => p.locator('p.saved[role=status][aria-live=polite]');

describe('groups: delete names what it affects, restore from the list, rename', () => {
  it('a deleted group is listed under "Deleted groups" and its Restore button brings it back', async () => {
    await cli.ok(['group', 'create', 'shop', 'gone', '--var', 'GONE_KEY=1']);
    await page.goto(`${cs.url}/#/p/shop/g/gone`);
    await page.getByRole('button', { name: 'Delete group' }).click();
    const confirm = page.getByRole('alertdialog');
    // The confirmation names the workloads that lose the group, and how to undo.
    const affected = confirm.getByRole('list', { name: 'Affected workloads' });
    await expect.poll(() => affected.textContent()).toMatch(/api \(runtime, build\).*worker \(runtime, build\)/);
    expect(await confirm.textContent()).toMatch(/Deleted groups.*Restore/);
    await confirm.getByRole('button', { name: 'Delete' }).click();
    await page.waitForURL(/#\/p\/shop$/);
    await expect.poll(() => status(page).textContent()).toMatch(/Deleted group gone\. Its history is kept/);
    const row = page.getByRole('table', { name: 'Deleted groups' }).locator('tr[data-deleted-group="gone"]');
    await expect.poll(() => row.textContent()).toMatch(/gone.*secret/);
    await row.getByRole('button', { name: 'Restore gone' }).click();
    await page.waitForURL(/#\/p\/shop\/g\/gone$/);
    await expect.poll(() => status(page).textContent()).toMatch(/Restored group gone as it was before its deletion \(now revision 3\)/);
    expect((await cli.json<{ variables: Record<string, string> }>(['resolve', 'shop', 'api'])).variables.GONE_KEY).toBe('1');
    await page.goto(`${cs.url}/#/p/shop`);
    await expect.poll(() => page.getByRole('heading', { name: 'Deleted groups' }).count()).toBe(1);
    expect(await page.locator('tr[data-deleted-group="gone"]').count()).toBe(0);
  });

  it('renames a group from its settings; the history says "Renamed from" and every revision in words', async () => {
    await cli.ok(['group', 'create', 'shop', 'old-name', '--type', 'config', '--var', 'A=1']);
    await cli.ok(['group', 'set', 'shop', 'old-name', 'A=2', 'B=3']);
    await cli.ok(['group', 'unset', 'shop', 'old-name', 'B']);
    await cli.ok(['group', 'rollback', 'shop', 'old-name', '2']);
    await page.goto(`${cs.url}/#/p/shop/g/old-name/settings`);
    const form = page.getByRole('form', { name: 'Rename group' });
    await form.getByLabel('New name').fill('new-name');
    await form.getByRole('button', { name: 'Rename' }).click();
    await form.getByRole('alertdialog').getByRole('button', { name: 'Rename to new-name' }).click();
    await page.waitForURL(/#\/p\/shop\/g\/new-name\/settings$/);
    await expect.poll(() => status(page).textContent()).toMatch(/Renamed old-name to new-name \(revision 5\)/);
    await page.getByRole('link', { name: 'History' }).click();
    const rows = page.locator('table[aria-label=Revisions] tbody tr');
    await expect.poll(() => rows.count()).toBe(5);
    const words = async (rev: number) => (await page.locator(`tr[data-revision="${rev}"] td`).nth(3).textContent())?.trim();
    expect(await words(5)).toBe('Renamed from old-name');
    expect(await words(4)).toBe('Rolled back to revision 2: B');
    expect(await words(3)).toBe('Removed variables: B');
    expect(await words(2)).toBe('Set variables: A, B');
    expect(await words(1)).toBe('Created: A');
    expect(await page.locator('table[aria-label=Revisions]').textContent()).not.toMatch(/SetVariables|RollbackGroup|RenameGroup/);
    // The old name is not a deleted group to restore: the group lives on under its new name.
    await page.goto(`${cs.url}/#/p/shop`);
    await expect.poll(() => page.locator('tr[data-group="new-name"]').count()).toBe(1);
    expect(await page.locator('tr[data-deleted-group="old-name"]').count()).toBe(0);
  });

  it('confirms a save where it happened, in a live region', async () => {
    await page.goto(`${cs.url}/#/p/shop/g/new-name`);
    await page.getByLabel('Value 1', { exact: true }).fill('saved-value');
    await page.getByRole('button', { name: 'Review changes' }).click();
    await page.getByRole('region', { name: 'Review changes' }).getByRole('button', { name: 'Save' }).click();
    await expect.poll(() => status(page).textContent()).toBe('Saved: new-name is now at revision 6.');
    await page.getByRole('link', { name: 'Settings' }).click();
    await page.getByRole('form', { name: 'Group settings' }).getByLabel('Description').fill('described');
    await page.getByRole('form', { name: 'Group settings' }).getByRole('button', { name: 'Review changes' }).click();
    await page.getByRole('region', { name: 'Review changes' }).getByRole('button', { name: 'Save' }).click();
    await expect.poll(() => status(page).textContent()).toBe('Saved (settings): new-name is now at revision 7.');
  });
});

describe('a workload', () => {
  it('links each resolved variable to the group it comes from', async () => {
    await page.goto(`${cs.url}/#/p/shop/w/api`);
    const from = page.locator('tr[data-key="API_TOKEN"]').getByRole('link', { name: 'creds' });
    await expect.poll(() => from.count()).toBe(1);
    await expect.poll(() => page.locator('tr[data-key="DB_PASSWORD"]').textContent()).toMatch(/addon db via creds \(50\)/);
    await from.click();
    await page.waitForURL(/#\/p\/shop\/g\/creds$/);
  });

  it('edits tags, own variables and build arguments: review, then save; stored values are never read back', async () => {
    const rec = recordResponses(page);
    await page.goto(`${cs.url}/#/p/shop/w/api`);
    await page.getByRole('button', { name: 'Edit tags and variables' }).click();
    const editor = page.getByRole('form', { name: 'Workload editor' });
    // Existing values are not in the editor: typed ones replace them, the others stay.
    expect(await editor.getByLabel('Runtime value 1', { exact: true }).inputValue()).toBe('');
    await editor.getByLabel('Tags').fill('web canary');
    await editor.getByRole('button', { name: 'Add runtime variable' }).click();
    await editor.getByLabel('Runtime key 2', { exact: true }).fill('FEATURE');
    await editor.getByLabel('Runtime value 2', { exact: true }).fill('on');
    await editor.getByLabel('Build value 1', { exact: true }).fill('staging');
    await editor.getByRole('button', { name: 'Remove runtime OWN' }).click();
    await editor.getByRole('button', { name: 'Review changes' }).click();
    const review = page.getByRole('region', { name: 'Review changes' });
    const text = await review.textContent();
    expect(text).toMatch(/Tags added: canary/);
    expect(text).toMatch(/Added runtime variables: FEATURE/);
    expect(text).toMatch(/Removed runtime variables: OWN/);
    expect(text).toMatch(/Changed build arguments: NODE_ENV/);
    expect(text).not.toMatch(/staging|on\b/);
    await review.getByRole('button', { name: 'Save' }).click();
    await expect.poll(() => status(page).textContent()).toBe('Saved: workload api is now at revision 2.');
    const w = await cli.json<{ tags: string[]; runtimeVariables: Record<string, string>; buildArguments: Record<string, string> }>(['workload', 'get', 'shop', 'api']);
    expect(w.tags).toEqual(['canary', 'web']);
    expect(w.runtimeVariables).toEqual({ FEATURE: 'on' });
    expect(w.buildArguments).toEqual({ NODE_ENV: 'staging' });
    await rec.settle();
    expect(rec.bodies.map((b) => b.body).join('\n')).not.toContain(OWN_SECRET);
  });
});

describe('addons', () => {
  it('rotates details, and deletion names the linking groups and is refused until they unlink', async () => {
    await page.goto(`${cs.url}/#/p/shop`);
    const card = page.locator('[data-addon="db"]');
    await expect.poll(() => card.textContent()).toMatch(/Linked by: creds/);
    await card.getByRole('button', { name: 'Update details of db' }).click();
    const form = card.getByRole('form', { name: 'Update db' });
    await form.getByLabel('New or changed details').fill('password=rotated\nport=5432');
    await form.getByRole('button', { name: 'Save details' }).click();
    await expect.poll(() => status(page).textContent()).toBe('Saved: addon db is now at revision 2; the workloads of creds re-resolve.');
    expect((await cli.json<{ variables: Record<string, string> }>(['resolve', 'shop', 'api'])).variables.DB_PASSWORD).toBe('rotated');
    // Merge keeps host; a detail is removed with its checkbox.
    await card.getByRole('button', { name: 'Update details of db' }).click();
    await card.getByLabel('Remove port').check();
    await card.getByRole('button', { name: 'Save details' }).click();
    await expect.poll(() => status(page).textContent()).toMatch(/revision 3/);
    expect(Object.keys((await cli.json<{ connectionDetails: Record<string, string> }>(['addon', 'get', 'shop', 'db'])).connectionDetails).sort()).toEqual(['host', 'password']);

    await card.getByRole('button', { name: 'Delete addon db' }).click();
    const confirm = card.getByRole('alertdialog');
    expect(await confirm.textContent()).toMatch(/db cannot be deleted while groups link it: creds/);
    expect(await confirm.getByRole('button', { name: 'Delete db' }).isDisabled()).toBe(true);
    await confirm.getByRole('button', { name: 'Cancel' }).click();

    await cli.ok(['group', 'unlink', 'shop', 'creds', 'db']);
    await page.reload();
    await expect.poll(() => card.textContent()).toMatch(/Linked by: no group/);
    await card.getByRole('button', { name: 'Delete addon db' }).click();
    await card.getByRole('alertdialog').getByRole('button', { name: 'Delete db' }).click();
    await expect.poll(() => status(page).textContent()).toBe('Deleted addon db.');
    expect(await cli.fails(['addon', 'get', 'shop', 'db'])).toMatch(/NOT_FOUND/);
  });

  it('an addon linked elsewhere while its delete confirmation is open: the confirmation names the group and refuses', async () => {
    await cli.ok(['addon', 'create', 'shop', 'cache', '--type', 'redis', '--detail', 'url=redis://x']);
    await page.goto(`${cs.url}/#/p/shop`);
    const card = page.locator('[data-addon="cache"]');
    await card.getByRole('button', { name: 'Delete addon cache' }).click();
    const confirm = card.getByRole('alertdialog');
    await expect.poll(() => confirm.textContent()).toMatch(/No group links it/);
    await cli.ok(['group', 'link', 'shop', 'creds', 'cache']);
    await expect.poll(() => confirm.textContent()).toMatch(/cache cannot be deleted while groups link it: creds/);
    expect(await confirm.getByRole('button', { name: 'Delete cache' }).isDisabled()).toBe(true);
    await confirm.getByRole('button', { name: 'Cancel' }).click();
  });
});

describe('changes written as a revision', () => {
  it('removing a file, unlinking an addon and rolling back name the workloads they change, and how to undo', async () => {
    await cli.ok(['addon', 'create', 'shop', 'mq', '--type', 'redis', '--detail', 'url=redis://mq']);
    await cli.ok(['group', 'create', 'shop', 'wired', '--workload', 'worker', '--var', 'W=1']);
    await cli.ok(['group', 'file', 'add', 'shop', 'wired', '/etc/wired.conf', '--from', '-'], { input: 'x' });
    await cli.ok(['group', 'link', 'shop', 'wired', 'mq']); // revision 3
    type Resolved = { variables: Record<string, string>; files: { path: string }[] };
    const worker = () => cli.json<Resolved>(['resolve', 'shop', 'worker']);

    await page.goto(`${cs.url}/#/p/shop/g/wired/files`);
    await page.getByRole('button', { name: 'Remove /etc/wired.conf' }).click();
    const remove = page.getByRole('alertdialog', { name: 'Remove file' });
    const removePreview = remove.getByRole('table', { name: 'Change preview' });
    await expect.poll(() => removePreview.textContent()).toMatch(/worker.*\/etc\/wired\.conf/);
    expect(await removePreview.textContent()).not.toMatch(/api/); // restricted to worker
    expect(await remove.textContent()).toMatch(/The history keeps revision 3: to undo, roll back to it on the History tab/);
    await remove.getByRole('button', { name: 'Remove file' }).click();
    await expect.poll(async () => (await worker()).files.map((f) => f.path)).not.toContain('/etc/wired.conf');

    await page.getByRole('link', { name: /^Addons/ }).click();
    await page.getByRole('button', { name: 'Unlink mq' }).click();
    const unlink = page.getByRole('alertdialog', { name: 'Unlink mq' });
    await expect.poll(() => unlink.getByRole('table', { name: 'Change preview' }).textContent()).toMatch(/worker.*MQ_URL/);
    expect(await unlink.textContent()).toMatch(/The history keeps revision 4/);
    await unlink.getByRole('button', { name: 'Unlink mq' }).click();
    await expect.poll(async () => (await worker()).variables.MQ_URL).toBeUndefined();

    // The undo the confirmations point to; its own confirmation names what comes back, where.
    await page.getByRole('link', { name: 'History' }).click();
    await page.getByRole('button', { name: 'Roll back to revision 3' }).click();
    const back = page.getByRole('alertdialog', { name: 'Roll back to revision 3' });
    const backPreview = back.getByRole('table', { name: 'Change preview' });
    await expect.poll(() => backPreview.textContent()).toMatch(/MQ_URL/);
    expect(await backPreview.textContent()).toMatch(/\/etc\/wired\.conf/);
    expect(await back.textContent()).toMatch(/The history keeps revision 5/);
    await back.getByRole('button', { name: 'Roll back to revision 3' }).click();
    await expect.poll(async () => (await worker()).variables.MQ_URL).toBe('redis://mq');
    expect((await worker()).files.map((f) => f.path)).toContain('/etc/wired.conf');
  });
});

describe('projects', () => {
  it('deletes a project only once its name is typed, after naming everything it removes', async () => {
    await cli.ok(['project', 'create', 'doomed']);
    await cli.ok(['workload', 'create', 'doomed', 'svc']);
    await cli.ok(['group', 'create', 'doomed', 'cfg', '--type', 'config', '--var', 'X=1']);
    await page.goto(`${cs.url}/#/p/doomed`);
    await page.getByRole('button', { name: 'Delete project…' }).click();
    const confirm = page.getByRole('alertdialog');
    const what = confirm.getByRole('list', { name: 'What the delete removes' });
    await expect.poll(() => what.textContent()).toMatch(/1 group\(s\): cfg.*1 workload\(s\): svc.*0 addon\(s\)/);
    const go = confirm.getByRole('button', { name: 'Delete project' });
    expect(await go.isDisabled()).toBe(true);
    await confirm.getByLabel('Project name to confirm').fill('doome');
    expect(await go.isDisabled()).toBe(true);
    await confirm.getByLabel('Project name to confirm').fill('doomed');
    await go.click();
    await page.waitForURL(/#\/$/);
    expect(await cli.ok(['project', 'list'])).not.toMatch(/doomed/);
  });
});

describe('custom roles', () => {
  it('are created and edited on the Roles page; a token using one gets the new rights at once', async () => {
    await page.goto(`${cs.url}/#/roles`);
    const form = page.getByRole('form', { name: 'New role' });
    await form.getByLabel('Role name').fill('auditor');
    await form.getByLabel('Secret groups').selectOption({ label: 'keys only' });
    await form.getByLabel('Config groups').selectOption({ label: 'read' });
    await form.getByLabel('Description').fill('reads configuration');
    await form.getByRole('button', { name: 'Create role' }).click();
    await expect.poll(() => status(page).textContent()).toBe('Created role auditor.');
    await expect.poll(() => page.locator('tr[data-role="auditor"]').textContent()).toMatch(/auditor.*keys only.*read.*no.*no.*no.*reads configuration/);

    const token = (await cli.ok(['token', 'create', '--role', 'auditor', '--project', 'shop'])).trim();
    const asAuditor = { env: { SG_TOKEN: token } };
    expect((await cli.json<{ variables: Record<string, string> }>(['group', 'get', 'shop', 'new-name'], asAuditor)).variables.A).toBe('saved-value');

    await page.getByRole('button', { name: 'Edit role auditor' }).click();
    const edit = page.getByRole('form', { name: 'Edit role auditor' });
    await edit.getByLabel('Config groups').selectOption({ label: 'keys only' });
    await edit.getByRole('button', { name: 'Save role' }).click();
    await expect.poll(() => status(page).textContent()).toBe('Saved role auditor: tokens that use it have the new rights now.');
    await expect.poll(() => page.locator('tr[data-role="auditor"]').textContent()).toMatch(/auditor.*keys only.*keys only/);
    // At once: the very next call sees keys only.
    const after = await cli.json<{ variables: Record<string, string | null> }>(['group', 'get', 'shop', 'new-name'], asAuditor);
    expect(after.variables.A ?? '').not.toBe('saved-value');
    const audit = await cli.json<{ events: { action: string; target: string }[] }>(['audit', '--action', 'UpdateRole']);
    expect(audit.events.map((e) => e.target)).toContain('role auditor');

    // Built-in roles cannot be edited or deleted; a role in use cannot be deleted.
    expect(await page.locator('tr[data-role="admin"]').getByRole('button').count()).toBe(0);
    await page.getByRole('button', { name: 'Delete role auditor' }).click();
    await page.getByRole('alertdialog').getByRole('button', { name: 'Delete role auditor' }).click();
    await expect.poll(() => page.getByRole('alertdialog').getByRole('alert').textContent()).toMatch(/used by 1 active token/);
  });
});

describe('forms fit the role', () => {
  it('gets config as the New group default, cannot pick secret, and never receives a workload value', async () => {
    const editorToken = (await cli.ok(['token', 'create', '--role', 'config-editor', '--project', 'shop'])).trim();
    const { context, page: p } = await newPage(browser);
    const rec = recordResponses(p);
    await signIn(p, cs.url, editorToken);
    await p.goto(`${cs.url}/#/p/shop`);
    const form = p.getByRole('form', { name: 'New group' });
    await expect.poll(() => form.getByLabel('Type').evaluate((el) => (el as HTMLSelectElement).selectedOptions[0]?.textContent)).toBe('config');
    expect(await form.locator('option', { hasText: 'secret' }).isDisabled()).toBe(true);
    await form.getByLabel('Group name').fill('by-editor');
    await form.getByRole('button', { name: 'Create group' }).click();
    await p.waitForURL(/#\/p\/shop\/g\/by-editor$/);
    expect((await cli.json<{ type: string }>(['group', 'get', 'shop', 'by-editor'])).type).toBe('config');
    // No workload editor, nor addon or project actions; the workload's own values stay hidden.
    await cli.ok(['workload', 'update', 'shop', 'worker', '--var', `MINE=${OWN_SECRET}`]);
    await p.goto(`${cs.url}/#/p/shop/w/worker`);
    await expect.poll(() => p.getByRole('table', { name: 'Own runtime variables' }).textContent()).toMatch(/MINE.*hidden/);
    expect(await p.getByRole('button', { name: 'Edit tags and variables' }).count()).toBe(0);
    await p.goto(`${cs.url}/#/p/shop`);
    await expect.poll(() => p.locator('[data-addon="cache"]').count()).toBe(1);
    expect(await p.getByRole('button', { name: /^Update details|^Delete addon|^Delete project/ }).count()).toBe(0);
    await rec.settle();
    expect(rec.bodies.length).toBeGreaterThan(5);
    expect(rec.bodies.map((b) => b.body).join('\n')).not.toContain(OWN_SECRET);
    await context.close();
  });

  it('a viewer, who may write neither type, gets no New group form', async () => {
    const viewerToken = (await cli.ok(['token', 'create', '--role', 'viewer', '--project', 'shop'])).trim();
    const { context, page: p } = await newPage(browser);
    await signIn(p, cs.url, viewerToken);
    await p.goto(`${cs.url}/#/p/shop`);
    await expect.poll(() => p.locator('tr[data-group="creds"]').count()).toBe(1);
    expect(await p.getByRole('form', { name: 'New group' }).count()).toBe(0);
    await context.close();
    expect(pageErrors).toEqual([]);
  });
});
