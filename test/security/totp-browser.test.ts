/**
 * The second factor in the dashboard, in Chromium against a real master, gateway and the built
 * dashboard: a viewer enrols on the account page (QR code, a typed code, recovery codes shown
 * once), then signs in with a code and with a recovery code (once); an operator, whose role needs
 * a second factor here (MASTER_REQUIRE_2FA=operator), is kept on the account page until enrolled;
 * an admin resets a user's second factor on the users page. Screenshots in
 * `.artifacts/screenshots/`.
 */
import assert from 'node:assert/strict';
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { generate } from 'otplib';
import type { Browser, Page } from 'playwright-core';
import { SCREENSHOTS, VIEWPORT } from '../e2e/dashboard/cluster.ts';
import { launchChromium, waitForPage } from '../support/browser.ts';
import { type Central, startCentral } from '../support/central.ts';
import { ensureDashboardBuild, openDashboard } from '../support/dashboard.ts';
import { startTestDatabase, tempDir } from '../support/index.ts';
import { signIn, TEST_ADMIN_PASSWORD } from '../support/session.ts';

const code = (secret: string, steps = 0) =>
  generate({ secret, epoch: Math.floor(Date.now() / 1000) + 30 * steps });

describe('the second factor in the dashboard', { timeout: 240_000 }, () => {
  let c: Central;
  let dashboard: string;
  let browser: Browser;
  let viewerSecret = '';
  let recoveryCodes: string[] = [];

  before(async () => {
    ensureDashboardBuild();
    const db = await startTestDatabase();
    c = await startCentral(db, await tempDir('cctv-totp-browser-'), { MASTER_REQUIRE_2FA: 'operator' });
    for (const [username, role] of [
      ['totp.viewer', 'viewer'],
      ['totp.operator', 'operator'],
    ] as const) {
      const created = await c.admin.postJson('/api/users', {
        username,
        password: `${role}-totp-password-1`,
        role,
        cameras: 'all',
      });
      assert.equal(created.status, 201);
    }
    dashboard = (await openDashboard(c.masterUrl, c.dashboardPort)).url;
    browser = await launchChromium();
  });
  after(() => browser?.close());

  async function screenshot(page: Page, name: string) {
    await mkdir(SCREENSHOTS, { recursive: true });
    await page.screenshot({ path: join(SCREENSHOTS, `${name}.png`) });
  }

  /** A fresh browser on the sign-in page, username and password typed and sent. */
  async function signInPage(username: string, password: string, path = '/'): Promise<Page> {
    const context = await browser.newContext({ viewport: VIEWPORT });
    const page = await context.newPage();
    await page.goto(`${dashboard}${path}`);
    await page.waitForURL(/\/login/);
    await page.fill('#login-username', username);
    await page.fill('#login-password', password);
    await page.click('button[type=submit]');
    return page;
  }

  const signedInAs = async (page: Page, username: string) => {
    await page.waitForURL((url) => url.pathname !== '/login', { timeout: 20_000 });
    assert.equal(await page.getByTestId('session-user').textContent(), username);
  };

  it('enrols a viewer: QR code, a typed code, ten recovery codes shown once', async () => {
    const page = await signInPage('totp.viewer', 'viewer-totp-password-1', '/account');
    await page.waitForURL(/\/account$/);
    await page.getByRole('button', { name: 'Set up an authenticator app' }).click();
    const qr = page.getByTestId('totp-qr');
    await qr.waitFor();
    const size = await qr.evaluate((img: { complete: boolean; naturalWidth: number }) => [
      img.complete,
      img.naturalWidth,
    ]);
    assert.deepEqual([size[0], (size[1] as number) > 100], [true, true], 'the QR image is drawn');
    viewerSecret = (await page.getByTestId('totp-secret').textContent()) ?? '';
    assert.match(viewerSecret, /^[A-Z2-7]{32}$/);
    await page.fill('#totp-code', '000000');
    await page.getByRole('button', { name: 'Turn on' }).click();
    await page.getByText('That code does not match').waitFor();
    await page.fill('#totp-code', await code(viewerSecret));
    await page.getByRole('button', { name: 'Turn on' }).click();
    const codes = page.getByTestId('recovery-codes').locator('li');
    await codes.first().waitFor();
    recoveryCodes = await codes.allTextContents();
    assert.equal(recoveryCodes.length, 10);
    await screenshot(page, 'totp-enrolment');
    await page.context().close();
  });

  it('signs the viewer in with a code, then with a recovery code once', async () => {
    let page = await signInPage('totp.viewer', 'viewer-totp-password-1');
    // The code that enabled it used up its step: the next one signs in.
    await page.fill('#login-totp', await code(viewerSecret, 1));
    await screenshot(page, 'totp-sign-in-code');
    await page.click('button[type=submit]');
    await signedInAs(page, 'totp.viewer');
    await page.context().close();

    // Without the app: a recovery code, once.
    page = await signInPage('totp.viewer', 'viewer-totp-password-1');
    await page.getByRole('button', { name: 'Use a recovery code' }).click();
    await page.fill('#login-recovery', recoveryCodes[0] ?? '');
    await page.click('button[type=submit]');
    await signedInAs(page, 'totp.viewer');
    await page.getByRole('button', { name: 'Sign out' }).click();
    await page.waitForURL(/\/login/);
    await page.fill('#login-username', 'totp.viewer');
    await page.fill('#login-password', 'viewer-totp-password-1');
    await page.click('button[type=submit]');
    await page.getByRole('button', { name: 'Use a recovery code' }).click();
    await page.fill('#login-recovery', recoveryCodes[0] ?? '');
    await page.click('button[type=submit]');
    await page.getByText('Wrong or already used recovery code.').waitFor();
    assert.match(page.url(), /\/login/, 'a used recovery code does not sign in');
    await screenshot(page, 'totp-recovery-code-used');
    await page.context().close();
  });

  it('keeps an operator, whose role needs a second factor, on the account page until enrolled', async () => {
    const page = await signInPage('totp.operator', 'operator-totp-password-1', '/events');
    await page.waitForURL(/\/account$/);
    await page.getByTestId('enrolment-required').waitFor();
    assert.equal(await page.locator('nav.top a[href="/events"]').count(), 0, 'no way to other pages');
    await screenshot(page, 'totp-enrolment-required');
    await page.goto(`${dashboard}/timeline`);
    await page.waitForURL(/\/account$/);
    await page.getByRole('button', { name: 'Set up an authenticator app' }).click();
    const secret = (await page.getByTestId('totp-secret').textContent()) ?? '';
    await page.fill('#totp-code', await code(secret));
    await page.getByRole('button', { name: 'Turn on' }).click();
    await page.getByTestId('recovery-codes').waitFor();
    await page.goto(`${dashboard}/events`);
    await page.waitForURL(/\/events$/);
    await page.locator('nav.top a[href="/events"]').waitFor();
    await page.context().close();
  });

  it('lets an admin reset a user’s second factor on the users page', async () => {
    const page = await signInPage('admin', TEST_ADMIN_PASSWORD, '/users');
    await page.waitForURL(/\/users$/);
    const row = page.getByTestId('user-totp.viewer');
    assert.equal(await row.getByTestId('user-totp').textContent(), 'on');
    page.once('dialog', (d) => void d.accept());
    await row.getByRole('button', { name: 'Reset second factor' }).click();
    await waitForPage(
      page,
      `document.querySelector('[data-testid="user-totp.viewer"] [data-testid="user-totp"]')?.textContent === 'off'`,
    );
    await screenshot(page, 'totp-users-reset');
    await page.context().close();
    // The password alone signs in again.
    await signIn(c.masterUrl, 'totp.viewer', 'viewer-totp-password-1');
  });
});
