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

export async function launchBrowser(): Promise<Browser> {
  if (!existsSync(CHROMIUM)) {
    throw new Error(`Chromium is required for the console tests and was not found at ${CHROMIUM}: apt-get install -y chromium (.ci/run does), or set SG_CHROMIUM`);
  }
  return chromium.launch({ executablePath: CHROMIUM, args: ['--no-sandbox', '--disable-dev-shm-usage', '--disable-gpu'] });
}

export interface ConsoleServer {
  server: ServerProcess;
  /** http://127.0.0.1:PORT (no trailing slash). */
  url: string;
}

/** `sg serve` with its console on 127.0.0.1:0; the URL comes from its start-up line. */
export async function startConsoleServer(opts: StartOptions = {}): Promise<ConsoleServer> {
  const server = await startServerProcess({ ...opts, args: ['--console-addr', '127.0.0.1:0', ...(opts.args ?? [])] });
  const m = /web console: (https?:\/\/[^\s)]+?)\/?\)/.exec(server.output());
  if (!m) {
    await server.cleanup();
    throw new Error(`the server did not print its console address:\n${server.output()}`);
  }
  return { server, url: m[1]! };
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

/** Every response body the page receives, for "no value ever reaches the browser" checks. */
export function recordResponses(page: Page): { bodies: { url: string; body: string }[]; settle: () => Promise<void> } {
  const pending: Promise<void>[] = [];
  const bodies: { url: string; body: string }[] = [];
  const on = (res: Response) => {
    // Streams (WatchProject) stay open; their lines name nothing and hold no value.
    if ((res.headers()['content-type'] ?? '').includes('ndjson')) return;
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

/** Polls `fn` until it returns true. */
export async function until(fn: () => Promise<boolean> | boolean, what: string, ms = 15_000): Promise<void> {
  const end = Date.now() + ms;
  while (!(await fn())) {
    if (Date.now() > end) throw new Error(`timed out after ${ms} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}
