/**
 * "Restart dependents" from the console restarts a real `sg-agent exec` child: the page lists
 * the dependents first, asks to confirm, then reports the agents reached.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { runner } from '../cli/harness.js';
import { exitOf, killAgents, lines, startAgent, until, workloadToken } from '../agent/helpers.js';
import { chromiumPresent, launchBrowser, newPage, signIn, startConsoleServer, requireChromium, type ConsoleServer } from './harness.js';

let cs: ConsoleServer;
let browser: Browser;
let dir: string;

beforeAll(async () => {
  if (!chromiumPresent()) return;
  [cs, browser] = await Promise.all([startConsoleServer(), launchBrowser()]);
  dir = mkdtempSync(join(tmpdir(), 'sg-console-restart-'));
  const cli = runner(cs.server);
  await cli.ok(['project', 'create', 'shop']);
  await cli.ok(['workload', 'create', 'shop', 'api']);
  await cli.ok(['workload', 'create', 'shop', 'batch', '--tag', 'jobs']);
  await cli.ok(['group', 'create', 'shop', 'common', '--priority', '10', '--workload', 'api']);
  await cli.ok(['group', 'set', 'shop', 'common', 'V=one']);
});

beforeEach(requireChromium);

afterAll(async () => {
  killAgents();
  await browser?.close();
  await cs?.server.cleanup();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

describe('Restart dependents', () => {
  it('lists the dependents, confirms, reports the agents reached, and the child restarts with the new value', async () => {
    const out = join(dir, 'child.log');
    const token = await workloadToken(cs.server, 'shop/api');
    const agent = startAgent(['exec', '--', 'bash', '-c', `trap 'echo "stop $V" >> ${out}; exit 0' TERM; echo "start $V" >> ${out}; sleep 60 & wait $!`], {
      SG_ADDR: cs.server.addr,
      SG_TOKEN: token,
      SG_PROJECT: 'shop',
      SG_WORKLOAD: 'api',
      SG_LOG_LEVEL: 'warn',
    });
    await until(() => lines(out).includes('start one'), 'the child to start');

    const { page } = await newPage(browser);
    await signIn(page, cs.url, cs.server.adminToken);
    await page.goto(`${cs.url}/#/p/shop/g/common`);
    // Change the value in the browser: the running child keeps the old one until restarted.
    await expect.poll(() => page.locator('tr[data-key="V"]').count()).toBe(1);
    await page.getByLabel('Value 1', { exact: true }).fill('two');
    await page.getByRole('button', { name: 'Review changes' }).click();
    await page.getByRole('region', { name: 'Review changes' }).getByRole('button', { name: 'Save' }).click();
    await expect.poll(() => page.getByTestId('revision').textContent()).toBe('3');
    expect(lines(out)).toEqual(['start one']);

    await page.getByRole('button', { name: 'Restart dependents' }).click();
    const dependents = page.getByRole('list', { name: 'Dependent workloads' });
    await expect.poll(() => dependents.textContent()).toMatch(/api/);
    // batch is not restricted in: it is not a dependent.
    expect(await dependents.textContent()).not.toMatch(/batch/);
    await page.getByRole('alertdialog').getByRole('button', { name: 'Restart 1 dependent' }).click();
    await expect.poll(() => page.getByTestId('agents-reached').textContent()).toBe('1');

    await until(() => lines(out).includes('start two'), 'the child to restart with the new value');
    expect(lines(out)).toEqual(['start one', 'stop one', 'start two']);
    agent.proc.kill('SIGTERM');
    expect((await exitOf(agent)).code).toBe(0);
  });
});
