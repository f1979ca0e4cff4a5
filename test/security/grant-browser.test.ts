/**
 * A grant URL leaving the dashboard: a signed-in viewer's playback URL, copied into another
 * browser context without any session, plays there, but only its camera and its range, and
 * only until the grant expires. Meanwhile the viewer's own page plays on across the expiry: its
 * player renews the grant. Real master, gateway, recorded nodes, dashboard and Chromium.
 */
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { grantOf } from '@cctv/protocol';
import type { Browser, Page } from 'playwright-core';
import { startRecordedNode } from '../e2e/dashboard/recorded-node.ts';
import { launchChromium } from '../support/browser.ts';
import { ensureDashboardBuild, openDashboard } from '../support/dashboard.ts';
import { repoRoot, waitFor } from '../support/index.ts';
import { type ApiSession, signIn } from '../support/session.ts';
import { type SecurityCluster, startSecurityCluster } from './support/cluster.ts';

const TTL_S = 20;

describe('a copied grant URL plays only its camera and range, and only until it expires', {
  timeout: 240_000,
}, () => {
  let c: SecurityCluster;
  let dashboard: string;
  let browser: Browser;
  let viewer: ApiSession;
  let camera: string;
  let otherCamera: string;

  before(async () => {
    ensureDashboardBuild();
    c = await startSecurityCluster({ MASTER_GRANT_TTL_S: String(TTL_S) });
    const [mine, other] = await Promise.all(
      ['grant-node', 'other-node'].map((nodeId) =>
        startRecordedNode({
          databaseUrl: c.databaseUrl,
          mqttUrl: c.mqttUrl,
          gatewayUrl: c.gatewayUrl,
          nodeId,
        }),
      ),
    );
    camera = mine?.cameraId ?? '';
    otherCamera = other?.cameraId ?? '';
    const created = await c.admin.postJson('/api/users', {
      username: 'grant.viewer',
      password: 'grant-viewer-pass-1',
      role: 'viewer',
      cameras: [camera],
    });
    assert.equal(created.status, 201);
    viewer = await signIn(c.masterUrl, 'grant.viewer', 'grant-viewer-pass-1');
    dashboard = (await openDashboard(c.masterUrl, c.dashboardPort)).url;
    browser = await launchChromium();
  });
  after(() => browser?.close());

  /** Plays `url` with hls.js on a page of the dashboard's origin that has no session. */
  async function playElsewhere(url: string): Promise<Page> {
    const context = await browser.newContext();
    const page = await context.newPage();
    await page.goto(`${dashboard}/login`);
    assert.deepEqual(await context.cookies(), [], 'no session in this context');
    await page.addScriptTag({
      content: await readFile(join(repoRoot, 'node_modules/hls.js/dist/hls.min.js'), 'utf8'),
    });
    await page.evaluate(`(() => {
      const video = document.createElement('video');
      video.muted = true;
      document.body.append(video);
      window.video = video;
      window.errors = [];
      // A short buffer: segments are fetched as they are played, so an expiry shows at once.
      const hls = new Hls({ maxBufferLength: 4, maxMaxBufferLength: 6 });
      hls.on(Hls.Events.ERROR, (_e, d) => {
        if (d.fatal) window.errors.push(d.details + ' ' + (d.response ? d.response.code : ''));
      });
      hls.loadSource(${JSON.stringify(url)});
      hls.attachMedia(video);
      video.play().catch(() => {});
    })()`);
    return page;
  }

  const playedS = (page: Page) => page.evaluate<number>('window.video.currentTime');

  it('plays there, refuses another camera and range, and stops after the grant expires; the viewer’s own page renews and plays on', async () => {
    // The viewer's own page: the camera live over HLS, watched for the gateway's answers.
    const own = await browser.newContext();
    const [name, value] = viewer.cookie.split('=') as [string, string];
    await own.addCookies([{ name, value, url: dashboard }]);
    const ownPage = await own.newPage();
    const answers: { at: number; grant: string; status: number }[] = [];
    ownPage.on('response', (res) => {
      const g = grantOf(res.url());
      if (g) answers.push({ at: Date.now(), grant: g, status: res.status() });
    });
    const started = Date.now();
    await ownPage.goto(`${dashboard}/cameras/${camera}?live=hls`);
    // The recorded range the camera page plays: its URL carries the viewer's grant.
    const src = ownPage.locator('.player .src');
    await src.waitFor({ timeout: 20_000 });
    const url = (await src.textContent())?.trim() ?? '';
    const grant = grantOf(url) ?? '';
    assert.match(url, new RegExp(`/v1/g/[^/]+/vod/${camera}/h264\\.m3u8$`));

    // Elsewhere, without a session: it plays.
    const elsewhere = await playElsewhere(url);
    const refusedElsewhere: { at: number; status: number }[] = [];
    elsewhere.on('response', (res) => {
      if (grantOf(res.url()) && res.status() >= 400)
        refusedElsewhere.push({ at: Date.now(), status: res.status() });
    });
    await waitFor('the copied URL plays', async () => (await playedS(elsewhere)) > 2, 30_000, 500);
    // Only this camera and this range, whatever is asked with it.
    const status = (u: string) =>
      elsewhere.evaluate<number>(`fetch(${JSON.stringify(u)}).then((r) => r.status)`);
    assert.equal(await status(url.replace(`/vod/${camera}/`, `/vod/${otherCamera}/`)), 403);
    assert.equal(await status(url.replace(`/vod/${camera}/h264.m3u8`, `/live/${camera}.m3u8`)), 403);
    const rows = await c.db.segment.findMany({ where: { cameraId: camera }, orderBy: { startAt: 'asc' } });
    const claims = JSON.parse(Buffer.from(grant.split('.')[1] ?? '', 'base64url').toString()) as {
      rng: [number, number];
      exp: number;
    };
    const outside = rows.find((r) => r.startAt.getTime() >= claims.rng[1]);
    if (outside)
      assert.equal(await status(url.replace(/\/vod\/.*$/, `/segments/${camera}/${outside.name}`)), 403);
    const wider = new Date(claims.rng[0] - 3600_000).toISOString();
    assert.equal(
      await status(
        `${url.replace('/h264.m3u8', '.m3u8')}?from=${wider}&to=${new Date(claims.rng[1]).toISOString()}`,
      ),
      403,
    );

    // After the expiry: refused, and the copied playback stops where its buffer ends.
    const expiresAt = claims.exp * 1000;
    await new Promise((r) => setTimeout(r, Math.max(0, expiresAt - Date.now()) + 1000));
    assert.equal(await status(url), 401);
    await waitFor(
      'the copied playback’s next request refused',
      () => refusedElsewhere.find((r) => r.at > expiresAt && r.status === 401),
      60_000,
      500,
    );
    // It plays out what it had buffered (a few seconds), then no more picture.
    await waitFor(
      'the copied playback stopped',
      async () => {
        const before = await playedS(elsewhere);
        await new Promise((r) => setTimeout(r, 2500));
        return (await playedS(elsewhere)) - before < 0.1;
      },
      30_000,
      0,
    );

    // The viewer's own live view went on through the expiry, under a renewed grant: one the
    // page did not have in its first seconds, served after those first grants expired.
    const first = new Set(answers.filter((a) => a.at < started + 5000).map((a) => a.grant));
    await waitFor(
      'a renewed grant in use by the viewer’s page',
      () =>
        answers.some((a) => a.at > started + (TTL_S + 2) * 1000 && !first.has(a.grant) && a.status === 200),
      20_000,
      500,
    ).catch((err: Error) => {
      const seen = answers.map(
        (x) => `${Math.round((x.at - started) / 1000)}s …${x.grant.slice(-6)} ${x.status}`,
      );
      throw new Error(`${err.message}\n${seen.join('\n')}`);
    });
    const refused = answers.filter((a) => a.status >= 400);
    assert.deepEqual(refused, [], 'the viewer’s page never met a refusal');
    await own.close();
    await elsewhere.context().close();
  });
});
