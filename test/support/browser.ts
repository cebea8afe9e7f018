import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium, type BrowserContext, type Page } from 'playwright-core';

export const SCREENSHOTS = fileURLToPath(new URL('../../test-artifacts/screenshots/', import.meta.url));

/**
 * Debian's Chromium, never a browser downloaded by a test tool. CHROMIUM_PATH overrides;
 * otherwise the first of chromium or chromium-browser on the PATH.
 */
export function findChromium(): string | undefined {
  if (process.env.CHROMIUM_PATH) return existsSync(process.env.CHROMIUM_PATH) ? process.env.CHROMIUM_PATH : undefined;
  for (const name of ['chromium', 'chromium-browser']) {
    try {
      const path = execFileSync('sh', ['-c', `command -v ${name}`], { stdio: ['ignore', 'pipe', 'ignore'] })
        .toString()
        .trim();
      if (path) return path;
    } catch {
      // not this one
    }
  }
  return undefined;
}

/**
 * Whether the browser tests can run here, and why not. Missing Chromium skips them with the
 * reason printed, except in CI (CI=true), where it is a failure: CI installs it.
 */
export function browserAvailability(): { path: string } | { path: undefined; reason: string } {
  const path = findChromium();
  if (path) return { path };
  const reason = 'Chromium is not installed (apt-get install chromium, or set CHROMIUM_PATH)';
  if (process.env.CI === 'true') throw new Error(`browser tests cannot run in CI: ${reason}`);
  console.log(`browser tests skipped: ${reason}`);
  return { path: undefined, reason };
}

/** Problems the page reported: console errors and uncaught exceptions. */
export interface PageWatch {
  page: Page;
  problems: string[];
}

export interface TestBrowser {
  context: BrowserContext;
  /** A new tab whose console errors and page errors are collected. */
  open(): Promise<PageWatch>;
  screenshot(page: Page, name: string): Promise<string>;
  close(): Promise<void>;
}

/** Headless Chromium with a fresh profile, the flags a closed network needs, and a laptop-sized window. */
export async function launchBrowser(executablePath: string): Promise<TestBrowser> {
  const profile = mkdtempSync(join(tmpdir(), 'gridgov-chromium-'));
  const context = await chromium.launchPersistentContext(profile, {
    executablePath,
    headless: true,
    viewport: { width: 1366, height: 900 },
    args: [
      '--no-sandbox',
      '--disable-gpu',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
      '--disable-quic',
    ],
  });
  mkdirSync(SCREENSHOTS, { recursive: true });
  const first = context.pages()[0];
  let firstUsed = false;
  return {
    context,
    async open() {
      const page = !firstUsed && first ? first : await context.newPage();
      firstUsed = true;
      const problems: string[] = [];
      page.on('console', (message) => {
        if (message.type() === 'error') problems.push(`console error: ${message.text()} (${message.location().url})`);
      });
      page.on('pageerror', (error) => problems.push(`page error: ${error.message}`));
      return { page, problems };
    },
    async screenshot(page, name) {
      const path = join(SCREENSHOTS, `${name}.png`);
      await page.screenshot({ path, fullPage: true });
      return path;
    },
    async close() {
      await context.close();
      rmSync(profile, { recursive: true, force: true });
    },
  };
}

export const TIMEOUT = 10_000;

/**
 * Runs `fn` with fresh tabs, then fails the test on anything they reported (console errors,
 * uncaught exceptions); the tabs are closed whatever happens, so a failure cannot leave event
 * streams open for the next test.
 */
export async function withPages(browser: TestBrowser, count: number, fn: (...watches: PageWatch[]) => Promise<void>): Promise<void> {
  const watches: PageWatch[] = [];
  try {
    for (let i = 0; i < count; i++) watches.push(await browser.open());
    await fn(...watches);
    for (const w of watches) assert.deepEqual(w.problems, [], 'the page reported errors');
  } finally {
    for (const w of watches) await w.page.close().catch(() => undefined);
  }
}

/** Goes to a page of the dashboard at `base`: by the hash alone once there, as a user would. */
export async function visit(page: Page, base: string, hash: string): Promise<void> {
  if (page.url().startsWith(base)) await page.evaluate((h) => (location.hash = h), hash);
  else await page.goto(`${base}/${hash}`);
}

export const text = (page: Page, selector: string) => page.locator(selector).first().innerText();

export const waitText = (page: Page, selector: string, pattern: RegExp | string) =>
  page.locator(selector).filter({ hasText: pattern }).first().waitFor({ timeout: TIMEOUT });

/** A table's body as text, row by row. */
export async function rowsOf(page: Page, table: string): Promise<string[][]> {
  return page.$$eval(`${table} tbody tr`, (rows) =>
    rows.map((r) => [...r.querySelectorAll('td')].map((c) => (c as HTMLElement).innerText.trim())),
  );
}
