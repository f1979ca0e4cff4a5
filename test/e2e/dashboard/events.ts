/**
 * Event search (`/events`) and one event (`/events/<id>`): real events published over MQTT as
 * the node publishes them, searched with filters kept in the URL, paged by endless scroll,
 * and one event's clip played from the recording with its detection box over the picture.
 */
import assert from 'node:assert/strict';
import { before, describe, test } from 'node:test';
import type { BrowserContext, Page } from 'playwright-core';
import { waitForPage } from '../../support/browser.ts';
import type { DashboardCluster } from './cluster.ts';

interface Seeded {
  motionSnap: string;
  faceHigh: string;
  faceLow: string;
  motionHigh: string;
}

/** What the page shows right now: the cards' ids, types and scores. */
async function cards(page: Page): Promise<{ id: string; type: string; score: number }[]> {
  const json = await page.evaluate(
    `JSON.stringify([...document.querySelectorAll('[data-testid="event-card"]')].map((el) => ({
      id: el.getAttribute('data-event-id'),
      type: el.getAttribute('data-type'),
      score: Number(el.getAttribute('data-score')),
    })))`,
  );
  return JSON.parse(String(json)) as { id: string; type: string; score: number }[];
}

/** Waits until a search is no longer loading and the number of results holds still for a moment. */
async function settledCount(page: Page, timeoutMs = 15_000): Promise<number> {
  const status = page.getByTestId('events-count');
  const deadline = Date.now() + timeoutMs;
  let last = -1;
  while (Date.now() < deadline) {
    const state = await status.getAttribute('data-state');
    const n = Number(await status.getAttribute('data-count'));
    if (state !== 'loading' && n === last) return n;
    last = state === 'loading' ? -1 : n;
    await page.waitForTimeout(700);
  }
  throw new Error(`the event list did not settle in ${timeoutMs} ms`);
}

export function register(cluster: DashboardCluster): void {
  describe('events', () => {
    const seeded: Partial<Seeded> = {};
    let ctx: BrowserContext;
    const url = (path: string) => `${cluster.dashboardUrl}${path}`;

    before(async () => {
      const now = Date.now();
      // Within the recording the agent has been making since the cluster started.
      seeded.motionSnap = await cluster.publishEvent({
        type: 'motion',
        startedAt: new Date(now - 12_000),
        durationMs: 3_000,
        score: 0.35,
        snapshot: true,
      });
      seeded.faceHigh = await cluster.publishEvent({
        type: 'face',
        startedAt: new Date(now - 9_000),
        durationMs: 3_000,
        score: 0.92,
        boxes: [{ x: 0.25, y: 0.25, w: 0.3, h: 0.4, score: 0.92 }],
      });
      seeded.faceLow = await cluster.publishEvent({
        type: 'face',
        startedAt: new Date(now - 7_000),
        durationMs: 2_000,
        score: 0.55,
      });
      seeded.motionHigh = await cluster.publishEvent({
        type: 'motion',
        startedAt: new Date(now - 6_000),
        durationMs: 2_000,
        score: 0.85,
      });
      ctx = await cluster.context();
    });

    test('lists the events, newest first, with a snapshot thumbnail', { timeout: 60_000 }, async () => {
      const s = seeded as Seeded;
      const page = await ctx.newPage();
      const errors: string[] = [];
      page.on('pageerror', (e) => errors.push(e.message));
      try {
        await page.goto(url('/events'));
        await page.locator(`[data-testid="event-card"][data-event-id="${s.motionHigh}"]`).waitFor({
          timeout: 15_000,
        });
        await settledCount(page);
        const ids = (await cards(page)).map((c) => c.id);
        const mine = [s.motionHigh, s.faceLow, s.faceHigh, s.motionSnap];
        for (const id of mine) assert.ok(ids.includes(id), `event ${id} is not listed`);
        // Newest first, as the master orders them.
        assert.deepEqual(
          ids.filter((id) => mine.includes(id)),
          mine,
        );

        const card = page.locator(`[data-testid="event-card"][data-event-id="${s.faceHigh}"]`);
        assert.equal((await card.getByTestId('event-score').textContent())?.trim(), '92%');
        assert.equal((await card.getByTestId('event-duration').textContent())?.trim(), '3.0 s');
        assert.equal((await card.getByTestId('event-type').textContent())?.trim(), 'face');
        assert.match((await card.getByTestId('event-start').getAttribute('datetime')) ?? '', /Z$/);

        // The thumbnail comes from the storage gateway, under a grant, and really decodes.
        const thumb = `[data-testid="event-card"][data-event-id="${s.motionSnap}"] img[data-testid="event-thumb"]`;
        await waitForPage(page, `document.querySelector('${thumb}')?.naturalWidth > 0`, {
          timeout: 10_000,
        });
        assert.match(
          (await page.locator(thumb).getAttribute('src')) ?? '',
          /^https:\/\/127\.0\.0\.1:\d+\/v1\/g\/[^/]+\/snapshots\//,
        );
        await page.getByTestId('live-indicator').and(page.locator('[data-state="live"]')).waitFor({
          timeout: 10_000,
        });
        await cluster.screenshot(page, 'events-search');
        assert.deepEqual(errors, []);
      } finally {
        await page.close();
      }
    });

    test('filters by type through the form, into the URL and back', { timeout: 60_000 }, async () => {
      const s = seeded as Seeded;
      const page = await ctx.newPage();
      try {
        await page.goto(url('/events'));
        await page.locator(`[data-testid="event-card"][data-event-id="${s.motionHigh}"]`).waitFor({
          timeout: 15_000,
        });
        await page.getByLabel('Type').selectOption('face');
        await page.getByRole('button', { name: 'Search' }).click();
        await page.waitForURL(/[?&]type=face/, { timeout: 10_000 });
        await page.locator(`[data-testid="event-card"][data-event-id="${s.faceHigh}"]`).waitFor({
          timeout: 10_000,
        });
        await settledCount(page);
        const faces = await cards(page);
        assert.ok(faces.length >= 2);
        assert.deepEqual([...new Set(faces.map((c) => c.type))], ['face']);
        assert.ok(faces.some((c) => c.id === s.faceLow));
        assert.ok(!faces.some((c) => c.id === s.motionHigh || c.id === s.motionSnap));
        assert.equal(await page.getByLabel('Type').inputValue(), 'face');

        // The back button returns to the unfiltered search.
        await page.goBack();
        await page.waitForURL((u) => !u.search.includes('type='), { timeout: 10_000 });
        await page.locator(`[data-testid="event-card"][data-event-id="${s.motionHigh}"]`).waitFor({
          timeout: 10_000,
        });
        assert.equal(await page.getByLabel('Type').inputValue(), 'any');
      } finally {
        await page.close();
      }
    });

    test('filters by minimum score from a shared URL and from the form', { timeout: 60_000 }, async () => {
      const s = seeded as Seeded;
      const page = await ctx.newPage();
      try {
        await page.goto(url('/events?minScore=0.8'));
        await page.locator(`[data-testid="event-card"][data-event-id="${s.faceHigh}"]`).waitFor({
          timeout: 15_000,
        });
        await settledCount(page);
        const high = await cards(page);
        assert.ok(
          high.every((c) => c.score >= 0.8),
          JSON.stringify(high),
        );
        assert.ok(high.some((c) => c.id === s.motionHigh));
        assert.ok(!high.some((c) => c.id === s.faceLow || c.id === s.motionSnap));
        assert.equal(await page.getByLabel('Min score (%)').inputValue(), '80');

        // From the form: 50 % and faces brings the low face back, but no motion.
        await page.getByLabel('Min score (%)').fill('50');
        await page.getByLabel('Type').selectOption('face');
        await page.getByLabel('Min score (%)').press('Enter');
        await page.waitForURL(/minScore=0\.5/, { timeout: 10_000 });
        await page.locator(`[data-testid="event-card"][data-event-id="${s.faceLow}"]`).waitFor({
          timeout: 10_000,
        });
        await settledCount(page);
        const mid = await cards(page);
        assert.ok(
          mid.every((c) => c.score >= 0.5 && c.type === 'face'),
          JSON.stringify(mid),
        );
      } finally {
        await page.close();
      }
    });

    test('loads further pages as the list scrolls, and on "Load more"', { timeout: 120_000 }, async () => {
      // 30 events in a window of their own, two hours back, paged 5 at a time.
      const base = Date.now() - 2 * 3600_000;
      const ids: string[] = [];
      for (let i = 0; i < 30; i += 10) {
        const batch = await Promise.all(
          Array.from({ length: 10 }, (_, k) =>
            cluster.publishEvent({
              type: k % 2 ? 'face' : 'motion',
              startedAt: new Date(base + (i + k) * 1000),
              durationMs: 500,
              score: 0.4 + k * 0.05,
            }),
          ),
        );
        ids.push(...batch);
      }
      const from = new Date(base - 1000).toISOString();
      const to = new Date(base + 60_000).toISOString();
      const page = await ctx.newPage();
      const pageRequests: string[] = [];
      page.on('request', (r) => {
        if (r.url().includes('/api/events?')) pageRequests.push(r.url());
      });
      try {
        // A smaller window than the screenshots' so the first pages do not fill the whole list.
        await page.setViewportSize({ width: 1280, height: 600 });
        await page.goto(url(`/events?from=${encodeURIComponent(from)}&to=${encodeURIComponent(to)}&limit=5`));
        await page.getByTestId('event-card').first().waitFor({ timeout: 15_000 });
        const first = await settledCount(page);
        // Pages follow each other until the end of the list is out of sight, not further.
        assert.ok(first >= 5 && first < 30, `${first} events after the first pages`);
        assert.equal(first % 5, 0);

        // Keyboard users: "Load more" is a button.
        const more = page.getByTestId('events-load-more');
        await more.focus();
        await page.keyboard.press('Enter');
        await waitForPage(
          page,
          `Number(document.querySelector('[data-testid="events-count"]').dataset.count) >= ${first + 5}`,
          { timeout: 10_000 },
        );

        // Scrolling to the end loads the rest.
        for (let i = 0; i < 20; i += 1) {
          if ((await page.getByTestId('events-end').count()) > 0) break;
          await page.getByTestId('events-sentinel').scrollIntoViewIfNeeded();
          await page.mouse.wheel(0, 2000);
          await page.waitForTimeout(400);
        }
        await page.getByTestId('events-end').waitFor({ timeout: 10_000 });
        const all = await cards(page);
        assert.equal(all.length, 30);
        assert.deepEqual(new Set(all.map((c) => c.id)), new Set(ids));
        // Each page after the first asked with the previous page's cursor.
        assert.ok(pageRequests.filter((u) => u.includes('cursor=')).length >= 5, pageRequests.join('\n'));
      } finally {
        await page.close();
      }
    });

    test('adds pushed events that match the filters, without a reload', { timeout: 60_000 }, async () => {
      const s = seeded as Seeded;
      const page = await ctx.newPage();
      try {
        await page.goto(url('/events?type=face'));
        await page.locator(`[data-testid="event-card"][data-event-id="${s.faceHigh}"]`).waitFor({
          timeout: 15_000,
        });
        await page.locator('[data-testid="live-indicator"][data-state="live"]').waitFor({ timeout: 10_000 });
        await page.evaluate('window.__eventsMarker = "no-reload"');
        const motion = await cluster.publishEvent({
          type: 'motion',
          startedAt: new Date(Date.now() - 3_000),
          durationMs: 1_000,
          score: 0.9,
        });
        const face = await cluster.publishEvent({
          type: 'face',
          startedAt: new Date(Date.now() - 2_000),
          durationMs: 1_000,
          score: 0.7,
        });
        const fresh = page.locator(`[data-testid="event-card"][data-event-id="${face}"][data-fresh="true"]`);
        await fresh.waitFor({ timeout: 10_000 });
        const listed = await cards(page);
        assert.equal(listed[0]?.id, face, 'the newest event is not at the top');
        assert.ok(!listed.some((c) => c.id === motion), 'a motion event was added to a face search');
        assert.equal(await page.evaluate('window.__eventsMarker'), 'no-reload');
      } finally {
        await page.close();
      }
    });

    test('a viewer limited to another camera finds none of these events', { timeout: 60_000 }, async () => {
      const s = seeded as Seeded;
      const viewer = await cluster.user('events-viewer', 'viewer', ['no-such-camera']);
      const vctx = await cluster.context(viewer);
      const page = await vctx.newPage();
      try {
        await page.goto(url('/events'));
        await page.getByTestId('events-empty').waitFor({ timeout: 15_000 });
        assert.equal(await page.getByTestId('event-card').count(), 0);
        const res = await page.goto(url(`/events/${s.faceHigh}`));
        assert.equal(res?.status(), 200);
        await page.getByTestId('event-missing').waitFor({ timeout: 10_000 });
      } finally {
        await vctx.close();
      }
    });

    test('plays the clip of an event with its box over the picture', { timeout: 90_000 }, async () => {
      const s = seeded as Seeded;
      const page = await ctx.newPage();
      const errors: string[] = [];
      page.on('pageerror', (e) => errors.push(e.message));
      try {
        await page.goto(url('/events?type=face'));
        const link = page.locator(`[data-testid="event-card"][data-event-id="${s.faceHigh}"] a`);
        await link.waitFor({ timeout: 15_000 });
        await link.click();
        await page.waitForURL(new RegExp(`/events/${s.faceHigh}$`), { timeout: 10_000 });
        assert.equal((await page.getByTestId('event-type').textContent())?.trim(), 'face');
        assert.equal((await page.getByTestId('event-duration').textContent())?.trim(), '3.0 s');

        const status = page.locator('[data-testid="event-clip-status"]');
        await page
          .locator('[data-testid="event-clip-status"][data-state="ready"]')
          .waitFor({ timeout: 30_000 })
          .catch(async (err: Error) => {
            const why =
              (await page
                .getByTestId('event-clip-error')
                .textContent()
                .catch(() => null)) ?? '';
            throw new Error(
              `${err.message}\nstatus ${await status.getAttribute('data-state')}: ${why}\n${cluster.diagnostics()}`,
            );
          });
        const video = '[data-testid="event-clip-video"]';
        await waitForPage(
          page,
          `document.querySelector('${video}').readyState >= 2 && document.querySelector('${video}').currentTime > 0.3`,
          { timeout: 15_000 },
        );

        // Wait for the playback to reach the event, then measure box and picture at once.
        const measure = `(() => {
          const b = document.querySelector('[data-testid="event-box"]');
          const v = document.querySelector('${video}');
          if (!b || !v || !v.videoWidth) return null;
          v.pause();
          const r = v.getBoundingClientRect();
          const br = b.getBoundingClientRect();
          return JSON.stringify({
            left: r.left + v.clientLeft, top: r.top + v.clientTop, cw: v.clientWidth, ch: v.clientHeight,
            vw: v.videoWidth, vh: v.videoHeight, bx: br.left, by: br.top, bw: br.width, bh: br.height,
            wall: Number(document.querySelector('[data-testid="event-clip-time"]').dataset.wall),
          });
        })()`;
        let handle: unknown = await waitForPage(page, measure, { timeout: 20_000 }).catch(() => null);
        if (!handle) {
          // Playback may have run past the event (or stalled before it): jump to it.
          await page.getByTestId('event-clip-replay').click();
          handle = await waitForPage(page, measure, { timeout: 15_000 });
        }
        const g = JSON.parse(String(handle)) as Record<string, number>;
        const n = (k: string) => g[k] ?? Number.NaN;
        const scale = Math.min(n('cw') / n('vw'), n('ch') / n('vh'));
        const shownW = n('vw') * scale;
        const shownH = n('vh') * scale;
        const x0 = n('left') + (n('cw') - shownW) / 2;
        const y0 = n('top') + (n('ch') - shownH) / 2;
        // The video element is wider than its 16:9 picture here (62vh high): bars left and right.
        assert.ok(n('cw') - shownW > 20, `no pillarbox to account for: ${JSON.stringify(g)}`);
        const near = (a: number, b: number, what: string) =>
          assert.ok(
            Math.abs(a - b) <= 2,
            `${what}: ${a.toFixed(1)} vs ${b.toFixed(1)} (${JSON.stringify(g)})`,
          );
        near(n('bx'), x0 + 0.25 * shownW, 'box left');
        near(n('by'), y0 + 0.25 * shownH, 'box top');
        near(n('bw'), 0.3 * shownW, 'box width');
        near(n('bh'), 0.4 * shownH, 'box height');
        // Shown only while the playback is within the event.
        const start = Date.parse((await page.getByTestId('event-started').getAttribute('datetime')) ?? '');
        assert.ok(
          n('wall') >= start && n('wall') <= start + 3000,
          `box shown at ${n('wall')}, event at ${start}`,
        );

        await cluster.screenshot(page, 'event-clip');
        assert.deepEqual(errors, []);
      } finally {
        await page.close();
      }
    });
  });
}
