/// <reference lib="dom" />
/// <reference lib="dom.iterable" />
/**
 * Browser tests of the web console: the real `sg serve` (with its console on an ephemeral
 * loopback port) driven by Debian's Chromium through playwright-core — no browser download.
 * A missing Chromium fails the suite (CI installs it in .ci/run); it is never skipped.
 */
import { existsSync } from 'node:fs';
import { chromium, type Browser, type BrowserContext, type Page, type Response } from 'playwright-core';
import { expect } from 'vitest';
import { startServerProcess, type ServerProcess, type StartOptions } from '../helpers/server-process.js';

export const CHROMIUM = process.env.SG_CHROMIUM ?? '/usr/bin/chromium';

const MISSING = `Chromium is required for the console tests and was not found at ${CHROMIUM}: apt-get install -y chromium (.ci/run does), or set SG_CHROMIUM`;

export const chromiumPresent = () => existsSync(CHROMIUM);

/**
 * A beforeEach hook: without Chromium every test of the file fails with the reason (a failing
 * beforeAll would only mark them skipped). Files skip their browser setup in that case.
 */
export function requireChromium(): void {
  if (!chromiumPresent()) throw new Error(MISSING);
}

export async function launchBrowser(): Promise<Browser> {
  if (!chromiumPresent()) throw new Error(MISSING);
  return chromium.launch({ executablePath: CHROMIUM, args: ['--no-sandbox', '--disable-dev-shm-usage', '--disable-gpu'] });
}

export interface ConsoleServer {
  server: ServerProcess;
  /** http://127.0.0.1:PORT (no trailing slash). */
  url: string;
}

/** `sg serve` with its console on 127.0.0.1:0 (the URL comes from its start-up line). */
export async function startConsoleServer(opts: StartOptions = {}): Promise<ConsoleServer> {
  const server = await startServerProcess({ ...opts, args: ['--console-addr', '127.0.0.1:0', ...(opts.args ?? [])] });
  if (!server.consoleUrl) {
    await server.cleanup();
    throw new Error(`the server did not print its console address:\n${server.output()}`);
  }
  return { server, url: server.consoleUrl.replace(/\/$/, '') };
}

/** A fresh context (own cookies) and page. */
export async function newPage(browser: Browser): Promise<{ context: BrowserContext; page: Page }> {
  const context = await browser.newContext({ viewport: { width: 1366, height: 800 } });
  const page = await context.newPage();
  page.setDefaultTimeout(15_000);
  return { context, page };
}

export async function signIn(page: Page, url: string, token: string): Promise<void> {
  await page.goto(`${url}/`);
  await page.getByLabel('Token').fill(token);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await expect.poll(() => page.getByRole('button', { name: 'Sign out' }).count()).toBe(1);
}

/** signIn for hooks (beforeAll), where expect.poll does not belong: waits for the Sign out button. */
export async function signInBeforeAll(page: Page, url: string, token: string): Promise<void> {
  await page.goto(`${url}/`);
  await page.getByLabel('Token').fill(token);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.getByRole('button', { name: 'Sign out' }).waitFor();
}

/** Every response body the page receives, for "no value ever reaches the browser" checks. */
export function recordResponses(page: Page): { bodies: { url: string; body: string }[]; settle: () => Promise<void> } {
  const pending: Promise<void>[] = [];
  const bodies: { url: string; body: string }[] = [];
  const on = (res: Response) => {
    // Streams (WatchProject, application/connect+json) stay open; their messages name nothing and hold no value.
    if ((res.headers()['content-type'] ?? '').includes('connect+json')) return;
    pending.push(
      res.text().then(
        (body) => void bodies.push({ url: res.url(), body }),
        () => undefined,
      ),
    );
  };
  page.on('response', on);
  return {
    bodies,
    settle: async () => {
      await Promise.all(pending);
    },
  };
}

/** Form controls and buttons on the page without an accessible name (label, aria-label or text). */
export function unlabelledControls(page: Page): Promise<string[]> {
  return page.evaluate(() => {
    const out: string[] = [];
    for (const el of document.querySelectorAll<HTMLElement>('input, select, textarea, button')) {
      const labelled =
        (el as HTMLInputElement).labels?.length ||
        el.getAttribute('aria-label')?.trim() ||
        el.getAttribute('aria-labelledby') ||
        (el.tagName === 'BUTTON' && el.textContent?.trim());
      if (!labelled) out.push(el.outerHTML.slice(0, 120));
    }
    return out;
  });
}
