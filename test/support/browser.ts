/** Debian's headless Chromium for browser tests, driven by playwright-core. */
import { existsSync } from 'node:fs';
import { type Browser, chromium, type Page } from 'playwright-core';
import { testSpki } from './tls.ts';

export const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';

/**
 * Launches Chromium headless with the flags this project's tests use; fails clearly when it is
 * missing. It trusts the services' certificate by its public key (the run's CA is not in its
 * store), or the one whose `spki` is given: any other certificate is refused as usual.
 */
export async function launchChromium(spki?: string): Promise<Browser> {
  if (!existsSync(CHROMIUM)) throw new Error(`Chromium not found at ${CHROMIUM} (set CHROMIUM_PATH)`);
  return chromium.launch({
    executablePath: CHROMIUM,
    args: [
      `--ignore-certificate-errors-spki-list=${spki ?? (await testSpki())}`,
      '--headless',
      '--no-sandbox',
      '--disable-gpu',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
      '--disable-quic',
      '--no-first-run',
    ],
  });
}

/** hls.js as the dashboard ships it, for pages built by tests. */
export const HLS_JS = new URL('../../node_modules/hls.js/dist/hls.min.js', import.meta.url).pathname;

/**
 * A page holding one muted `<video id="v">` and hls.js, its uncaught errors collected; the
 * caller adds its own player script.
 */
export async function hlsPage(browser: Browser): Promise<{ page: Page; pageErrors: string[] }> {
  const page = await browser.newPage();
  const pageErrors: string[] = [];
  page.on('pageerror', (err) => pageErrors.push(err.message));
  await page.setContent('<video id="v" muted playsinline></video>');
  await page.addScriptTag({ path: HLS_JS });
  return { page, pageErrors };
}

/**
 * Polls `expression` in the page until it is truthy and returns its value, like
 * `page.waitForFunction`, which evaluates its predicate with `eval` inside the page once the
 * first check fails — refused by the dashboard's content security policy. `page.evaluate` runs
 * from the debugger protocol, outside the page's policy.
 */
export async function waitForPage<T = unknown>(
  page: Page,
  expression: string,
  opts: { timeout?: number; interval?: number } = {},
): Promise<T> {
  const timeout = opts.timeout ?? 30_000;
  const deadline = Date.now() + timeout;
  for (;;) {
    const value = (await page.evaluate(expression)) as T;
    if (value) return value;
    if (Date.now() > deadline)
      throw new Error(`timed out after ${timeout} ms waiting for ${expression.trim().slice(0, 200)}`);
    await new Promise((r) => setTimeout(r, opts.interval ?? 100));
  }
}
