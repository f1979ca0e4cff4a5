/** The live wall: layouts, live tiles with camera/node/state, drag to rearrange, saved per user, fullscreen. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { WallSettings } from '@cctv/protocol';
import { waitForPage } from '../../support/browser.ts';
import { type DashboardCluster, VIEWPORT } from './cluster.ts';

export function register(c: DashboardCluster): void {
  test('sign-in page, and the camera page live', async () => {
    // No session: the sign-in form.
    const anonymous = await c.browser.newContext({ viewport: VIEWPORT });
    const login = await anonymous.newPage();
    await login.goto(`${c.dashboardUrl}/wall`);
    await login.getByLabel('Username').waitFor();
    assert.equal(new URL(login.url()).pathname, '/login');
    await c.screenshot(login, 'login');
    await anonymous.close();

    const ctx = await c.context();
    const page = await ctx.newPage();
    await page.goto(`${c.dashboardUrl}/cameras/${c.cameraId}`);
    await page.waitForSelector('[data-testid="live-player"][data-state="playing"]', { timeout: 20_000 });
    await c.screenshot(page, 'camera');
    await ctx.close();
  });

  test('live wall: a 2×2 layout plays the camera live, rearranged by drag, saved for this user', async () => {
    const ctx = await c.context();
    const page = await ctx.newPage();
    const errors: string[] = [];
    page.on('pageerror', (e) => errors.push(e.message));
    await page.goto(`${c.dashboardUrl}/wall`);
    await page.getByRole('link', { name: 'Live wall' }).waitFor();
    // Never saved: a 2×2 wall of the first cameras. Keep one camera, in the first tile.
    await page.waitForSelector('[data-testid="live-wall"][data-layout="4"]');
    const tiles = page.locator('[data-testid="wall-tile"]');
    assert.equal(await tiles.count(), 4);
    for (let i = 0; i < 4; i++)
      await tiles
        .nth(i)
        .locator('[data-testid="wall-tile-select"]')
        .selectOption(i === 0 ? c.cameraId : '');
    const first = tiles.nth(0);
    assert.equal(await first.getAttribute('data-camera-id'), c.cameraId);
    await first.locator('[data-testid="live-player"][data-state="playing"]').waitFor({ timeout: 20_000 });
    assert.equal(await first.locator('[data-testid="live-player"]').getAttribute('data-mode'), 'webrtc');
    assert.equal(await first.locator('[data-testid="wall-tile-node"]').textContent(), c.nodeId);
    assert.match((await first.locator('.badge').textContent()) ?? '', /recording/);
    await c.screenshot(page, 'wall');

    // Drag the camera from the first tile onto the last: saved on the master.
    await page.dragAndDrop(
      '[data-testid="wall-tile"] >> nth=0 >> .wall-tile-name',
      '[data-testid="wall-tile"] >> nth=3 >> .wall-tile-head',
    );
    await page.waitForSelector(`[data-testid="wall-tile"]:nth-child(4)[data-camera-id="${c.cameraId}"]`);
    await page.waitForSelector('[data-testid="wall-save"][data-state="saved"]');
    await waitForPage(
      page,
      `fetch('/api/me/settings/wall').then((r) => r.json()).then((b) => b.value.tiles[3] === ${JSON.stringify(c.cameraId)})`,
    );
    const saved = await c.admin.getJson<{ value: WallSettings }>('/api/me/settings/wall');
    assert.deepEqual(saved.value, { layout: 4, tiles: [null, null, null, c.cameraId] });

    // The keyboard does the same: move it back one tile.
    await page.getByRole('button', { name: 'Move tile 4 back' }).click();
    await page.waitForSelector(`[data-testid="wall-tile"]:nth-child(3)[data-camera-id="${c.cameraId}"]`);

    // A reload shows the saved wall.
    await page.waitForSelector('[data-testid="wall-save"][data-state="saved"]');
    await page.reload();
    await page.waitForSelector(
      `[data-testid="live-wall"][data-layout="4"] [data-testid="wall-tile"]:nth-child(3)[data-camera-id="${c.cameraId}"]`,
    );

    // Fullscreen on one tile.
    await tiles.nth(2).locator('[data-testid="wall-tile-fullscreen"]').click();
    await waitForPage(
      page,
      `document.fullscreenElement?.getAttribute('data-camera-id') === ${JSON.stringify(c.cameraId)}`,
    );
    await page.evaluate('document.exitFullscreen()');
    assert.deepEqual(errors, []);
    await ctx.close();
  });

  test('live wall: every user has their own, and bad layouts are refused', async () => {
    const operator = await c.user('wall.operator', 'operator');
    const before = await operator.fetch('/api/me/settings/wall');
    assert.equal(before.status, 404);
    const bad = await operator.fetch('/api/me/settings/wall', {
      method: 'PUT',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ layout: 5, tiles: [] }),
    });
    assert.equal(bad.status, 400);
    assert.equal((await operator.fetch('/api/me/settings/nope')).status, 404);
    const ctx = await c.context(operator);
    const page = await ctx.newPage();
    await page.goto(`${c.dashboardUrl}/wall`);
    // Not the admin's wall: the default one, with both cameras.
    await page.waitForSelector('[data-testid="live-wall"][data-layout="4"]');
    assert.equal(await page.locator(`[data-testid="wall-tile"][data-camera-id="${c.cameraId}"]`).count(), 1);
    await ctx.close();
  });

  test('live wall: a viewer sees only the cameras of its list', async () => {
    const viewer = await c.user('wall.viewer', 'viewer', ['some-other-camera']);
    const ctx = await c.context(viewer);
    const page = await ctx.newPage();
    await page.goto(`${c.dashboardUrl}/wall`);
    await page.waitForSelector('[data-testid="live-wall"]');
    const options = await page.locator('[data-testid="wall-tile-select"] option').allTextContents();
    assert.ok(!options.some((o) => o.includes(c.cameraId)), options.join(', '));
    assert.equal(await page.locator('[data-testid="live-player"]').count(), 0);
    // The camera page refuses it too.
    await page.goto(`${c.dashboardUrl}/cameras/${c.cameraId}`);
    await page.waitForSelector('[data-testid="camera-denied"]');
    await c.screenshot(page, 'camera-refused');
    await ctx.close();
  });
}
