import fs from 'node:fs/promises';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { ExecutionContext } from 'ava';
import { chromium, type Browser, type BrowserContext, type BrowserContextOptions, type Page } from 'playwright-core';

/** The system Chromium (Debian's `chromium` package): playwright-core brings no browser of its own. */
export const chromiumPath = '/usr/bin/chromium';

export const screenshotDir = fileURLToPath(new URL('../output/screenshots/', import.meta.url));

export const desktop = { width: 1280, height: 800 };
export const phone = { width: 390, height: 844 };

export async function launchBrowser(): Promise<Browser> {
  try {
    await fs.access(chromiumPath);
  } catch {
    throw new Error(`no Chromium at ${chromiumPath}: install it with apt-get install -y chromium`);
  }
  return chromium.launch({
    executablePath: chromiumPath,
    // Quiet and deterministic: no sandbox (CI runs as root), no network of Chromium's own.
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
}

/** A fresh browser profile: no cookies, no cache, the desktop viewport unless told. */
export async function newContext(browser: Browser, options: BrowserContextOptions = {}): Promise<BrowserContext> {
  const context = await browser.newContext({ viewport: desktop, locale: 'en-US', ...options });
  context.setDefaultTimeout(15_000);
  context.setDefaultNavigationTimeout(15_000);
  return context;
}

export interface StubApp {
  readonly origin: string;
  readonly callback: string;
  readonly signedOut: string;
  close(): Promise<void>;
}

/**
 * Where a test relying party's redirect URIs point: a real listener, because the browser
 * follows Latchkey's redirects to it (Playwright's request routing does not see redirects).
 * It only shows a page; the test reads the URL the browser landed on.
 */
export async function startStubApp(): Promise<StubApp> {
  const server = http.createServer((_request, response) => {
    response.writeHead(200, { 'content-type': 'text/html; charset=utf-8' });
    response.end('<!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><title>Test app</title></head><body><main><h1>Test app</h1></main></body></html>');
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  const origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return {
    origin,
    callback: `${origin}/callback`,
    signedOut: `${origin}/signed-out`,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

/**
 * Content-Security-Policy refusals on a page. The server's CSP is strict (no inline styles or
 * scripts); a view that breaks it still renders, only less so, and the browser says so only
 * in its console.
 */
export function cspViolations(page: Page): string[] {
  const seen: string[] = [];
  page.on('console', (message) => {
    if (message.type() === 'error' && /Content Security Policy/i.test(message.text())) seen.push(`${page.url()}: ${message.text()}`);
  });
  return seen;
}

const PNG_SIGNATURE = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);

/** Saves the whole page as `<name>.png` in the screenshots directory (gitignored). */
export async function screenshot(t: ExecutionContext, page: Page, name: string): Promise<void> {
  await fs.mkdir(screenshotDir, { recursive: true });
  const file = path.join(screenshotDir, `${name}.png`);
  const png = await page.screenshot({ path: file, fullPage: true });
  t.true(png.subarray(0, 8).equals(PNG_SIGNATURE) && png.length > 1000, `${name}.png is a picture of the page`);
}

/** Waits until the page shows `url` (after any redirects) and has loaded. */
export async function landOn(page: Page, url: (url: URL) => boolean): Promise<void> {
  await page.waitForURL(url, { waitUntil: 'load' });
}
