/**
 * A browser page on a dashboard-like origin, for the hls.js tests: the gateway answers the CORS
 * of footage reads only for the origins in GATEWAY_CORS_ORIGINS, so a page on about:blank
 * (origin `null`) cannot play. The page is served by a tiny HTTP server of the test's own on a
 * loopback port (a page Chromium did not load from a loopback address may not read from one at
 * all); the gateway is started with that origin in GATEWAY_CORS_ORIGINS.
 */
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after } from 'node:test';
import type { Browser, Page } from 'playwright-core';
import { HLS_JS } from '../../test/support/browser.ts';

const PAGE = '<!doctype html><html><body><video id="v" muted playsinline></video></body></html>';

/** Serves the player page until the test file ends; resolves to its origin. */
export async function startDashboardOrigin(): Promise<string> {
  const server = createServer((_req, res) => {
    res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' });
    res.end(PAGE);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  after(() => new Promise<void>((resolve) => server.close(() => resolve())));
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

/**
 * A page at `origin` holding one muted `<video id="v">` and hls.js, its uncaught errors
 * collected; the caller adds its own player script.
 */
export async function dashboardHlsPage(
  browser: Browser,
  origin: string,
): Promise<{ page: Page; pageErrors: string[] }> {
  const page = await browser.newPage();
  const pageErrors: string[] = [];
  page.on('pageerror', (err) => pageErrors.push(err.message));
  await page.goto(`${origin}/`);
  await page.addScriptTag({ path: HLS_JS });
  return { page, pageErrors };
}
