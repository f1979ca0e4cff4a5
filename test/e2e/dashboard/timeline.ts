/**
 * The timeline page: recording coverage and event markers on a camera's time bar; a click
 * plays the recording from that moment (the player's wall clock, from the playlist's
 * program date-times, lands on the clicked moment); previous/next event move the playhead
 * to the events. Two cameras play the same moment, and a player pushed off it is brought back.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { TimelineView } from '@cctv/protocol';
import type { Page } from 'playwright-core';
import { waitForPage } from '../../support/browser.ts';
import { waitFor } from '../../support/index.ts';
import type { DashboardCluster } from './cluster.ts';

/** How far the shown wall clock may be from the moment asked for. */
const POSITION_TOLERANCE_MS = 3_000;

async function barRange(page: Page): Promise<{ from: number; to: number }> {
  const bar = page.getByTestId('timeline-bar').first();
  return {
    from: Number(await bar.getAttribute('data-from')),
    to: Number(await bar.getAttribute('data-to')),
  };
}

/** Clicks the bar at wall-clock `at` (bar range read just before, as it follows now). */
async function clickBarAt(page: Page, at: number): Promise<void> {
  const bar = page.getByTestId('timeline-bar').first();
  const box = await bar.boundingBox();
  assert.ok(box, 'the time bar has no box');
  const { from, to } = await barRange(page);
  assert.ok(at > from && at < to, `${new Date(at).toISOString()} is off the bar`);
  await bar.click({ position: { x: ((at - from) / (to - from)) * box.width, y: box.height - 4 } });
}

const currentTime = (page: Page) =>
  page.evaluate<number>("document.querySelector('[data-testid=timeline-video]')?.currentTime ?? -1");

const playKey = async (page: Page) => {
  const players = page.getByTestId('timeline-player');
  return (await players.count()) === 0 ? -1 : Number(await players.first().getAttribute('data-play-key'));
};

/**
 * Does `action`, then waits for the playback it starts (a new play key) to advance and for
 * the playhead to show a moment near `at`; answers the playhead.
 */
async function playsNear(page: Page, action: () => Promise<void>, at: number, what: string): Promise<number> {
  const before = await playKey(page);
  await action();
  await page.waitForSelector(
    `[data-testid="timeline-player"]:not([data-play-key="${before}"]) [data-testid="timeline-player-status"][data-state="ready"]`,
    { timeout: 30_000 },
  );
  const t0 = await currentTime(page);
  await waitForPage(
    page,
    `(document.querySelector('[data-testid=timeline-video]')?.currentTime ?? -1) > ${t0 + 0.5}`,
    { timeout: 15_000 },
  );
  let shown = Number.NaN;
  await waitFor(
    `${what}: playhead near ${new Date(at).toISOString()}`,
    async () => {
      shown = Number(await page.getByTestId('timeline-position').getAttribute('data-ms'));
      // Half a second of play has passed since the start: the playhead runs ahead by that.
      return Math.abs(shown - at) <= POSITION_TOLERANCE_MS;
    },
    5_000,
  ).catch((err: Error) => {
    throw new Error(`${err.message}; shown ${new Date(shown).toISOString()} (${shown - at} ms off)`);
  });
  return shown;
}

/** Both cameras recorded `[now - back, now - upTo]`, by the master's timeline. */
async function waitRecorded(cluster: DashboardCluster, cameras: string[], backMs: number, upToMs: number) {
  await waitFor(
    `${backMs / 1000} s of recording of ${cameras.join(', ')}`,
    async () => {
      const now = Date.now();
      const q = new URLSearchParams({
        from: new Date(now - 600_000).toISOString(),
        to: new Date(now).toISOString(),
      });
      for (const cam of cameras) {
        const view = await cluster.admin.getJson<TimelineView>(`/api/cameras/${cam}/timeline?${q}`);
        const covered = view.spans.some(
          (s) => Date.parse(s.start) <= now - backMs && Date.parse(s.end) >= now - upToMs,
        );
        if (!covered) return false;
      }
      return true;
    },
    60_000,
  );
}

const walls = (page: Page) =>
  page.evaluate<number[]>(
    "Array.from(document.querySelectorAll('[data-testid=timeline-player]')).map((f) => Number(f.getAttribute('data-wall') || 'NaN'))",
  );

export function register(cluster: DashboardCluster): void {
  describe('timeline', () => {
    test('coverage and markers on the bar; a click plays from that moment; event stepping', {
      timeout: 180_000,
    }, async () => {
      // The camera the cluster publishes events for (H.264, recorded from a minute before the start).
      const cam = cluster.eventCameraId;
      // 35 s of continuous recording behind now, so every moment the test plays is recorded.
      await waitFor(
        '35 s of recording',
        async () => {
          const now = Date.now();
          const q = new URLSearchParams({
            from: new Date(now - 600_000).toISOString(),
            to: new Date(now).toISOString(),
          });
          const view = await cluster.admin.getJson<TimelineView>(`/api/cameras/${cam}/timeline?${q}`);
          return view.spans.some(
            (s) => Date.parse(s.start) <= now - 35_000 && Date.parse(s.end) >= now - 8_000,
          );
        },
        60_000,
      );
      const t = Date.now();
      const e1 = new Date(t - 25_000);
      const e2 = new Date(t - 15_000);
      await cluster.publishEvent({ type: 'motion', startedAt: e1, durationMs: 3_000, score: 0.7 });
      await cluster.publishEvent({ type: 'face', startedAt: e2, durationMs: 2_000, score: 0.9 });

      const ctx = await cluster.context();
      const page = await ctx.newPage();
      try {
        await page.goto(`${cluster.dashboardUrl}/timeline?cameras=${cam}&span=600`);
        assert.equal(await page.locator(`input[type=checkbox][value="${cam}"]`).isChecked(), true);
        const span = page.getByTestId('timeline-span').last();
        await span.waitFor({ timeout: 15_000 });
        const { from, to } = await barRange(page);
        assert.ok(Math.abs(to - from - 600_000) < 1_000, `the bar spans ${to - from} ms, not 10 min`);
        const end = Date.parse((await span.getAttribute('data-end')) ?? '');
        assert.ok(to - end < 20_000, `the coverage ends ${(to - end) / 1000} s before the bar's right end`);

        for (const e of [e1, e2])
          await page
            .locator(`[data-testid="timeline-marker"][data-start="${e.toISOString()}"]`)
            .waitFor({ timeout: 15_000 });
        assert.equal(
          await page
            .locator(`[data-testid="timeline-marker"][data-start="${e2.toISOString()}"]`)
            .getAttribute('data-kind'),
          'face',
        );
        await cluster.screenshot(page, 'timeline');

        // A click inside the coverage, before the first event.
        const clicked = e1.getTime() - 4_000;
        const shown = await playsNear(page, () => clickBarAt(page, clicked), clicked, 'after the click');
        assert.match(page.url(), /[?&]at=/, 'the address does not keep the moment played');
        await page.getByTestId('timeline-playhead').first().waitFor();
        await cluster.screenshot(page, 'timeline-playing');
        process.stdout.write(
          `# timeline: clicked ${new Date(clicked).toISOString()}, shown ${shown - clicked} ms off\n`,
        );

        // Other pages' tests publish events on this camera too: step through all of them.
        const starts = (
          await cluster.admin.getJson<{ events: { startedAt: string }[] }>(
            `/api/events?cameras=${cam}&from=${new Date(clicked - 60_000).toISOString()}&to=${new Date().toISOString()}&limit=500`,
          )
        ).events
          .map((e) => Date.parse(e.startedAt))
          .sort((a, b) => a - b);
        // "Next" steps from the playhead, which runs on while the test looks: the video is paused
        // first, so the event expected is the first one after where it stopped.
        const pausedAt = async () => {
          await page.evaluate("document.querySelector('[data-testid=timeline-video]')?.pause()");
          await page.waitForTimeout(600);
          return Number(await page.getByTestId('timeline-position').getAttribute('data-ms'));
        };
        const next = () => page.getByRole('button', { name: /Next event/ }).click();
        const stepFrom = async (what: string) => {
          const at = await pausedAt();
          const expected = starts.find((s) => s > at) ?? Number.NaN;
          return playsNear(page, next, expected, `${what} (from ${new Date(at).toISOString()})`);
        };
        assert.ok(
          (starts.find((s) => s > clicked) ?? Number.NaN) <= e1.getTime(),
          'the first event after the click is ours or an earlier one',
        );
        await stepFrom('next event (1)');
        await stepFrom('next event (2)');
        // From well after the second event, previous goes back to the newest event before.
        const later = e2.getTime() + 8_000;
        const previous = starts.filter((s) => s < later - 1_000).at(-1) ?? Number.NaN;
        await playsNear(page, () => clickBarAt(page, later), later, 'second click');
        await playsNear(
          page,
          () => page.getByRole('button', { name: /Previous event/ }).click(),
          previous,
          'previous event',
        );

        const exportLink = page.getByRole('link', { name: 'Export this range' });
        const href = (await exportLink.getAttribute('href')) ?? '';
        assert.match(href, new RegExp(`^/exports\\?camera=${cam}&from=`));
      } catch (err) {
        const bars = await page
          .getByTestId('timeline-bars')
          .innerHTML()
          .catch(() => '');
        throw new Error(`${(err as Error).message}\n--- bars ---\n${bars}\n${cluster.diagnostics()}`);
      } finally {
        await ctx.close();
      }
    });
    test('two cameras play the same moment, and a player pushed off it is brought back', {
      timeout: 120_000,
    }, async () => {
      const cams = [cluster.eventCameraId, cluster.cameraId];
      await waitRecorded(cluster, cams, 30_000, 8_000);
      const ctx = await cluster.context();
      const page = await ctx.newPage();
      try {
        await page.goto(`${cluster.dashboardUrl}/timeline?cameras=${cams.join(',')}&span=600`);
        await page.getByTestId('timeline-span').first().waitFor({ timeout: 15_000 });
        assert.equal(await page.getByTestId('timeline-bar').count(), 2);
        const { to } = await barRange(page);
        await clickBarAt(page, to - 20_000);
        for (const cam of cams)
          await page.waitForSelector(
            `[data-testid="timeline-player"][data-camera-id="${cam}"] [data-testid="timeline-player-status"][data-state="ready"]`,
            { timeout: 45_000 },
          );
        await waitFor(
          'both players report a wall clock',
          async () => (await walls(page)).every(Number.isFinite),
          15_000,
        );
        const apart: number[] = [];
        for (let i = 0; i < 6; i += 1) {
          const [a = Number.NaN, b = Number.NaN] = await walls(page);
          apart.push(Math.abs(a - b));
          await new Promise((r) => setTimeout(r, 500));
        }
        apart.sort((x, y) => x - y);
        const [median = Number.NaN, worst = Number.NaN] = [apart[3], apart[5]];
        process.stdout.write(`# sync: the two players ${median} ms apart (median), at most ${worst} ms\n`);
        // In step: within the 0.5 s the sync allows, plus up to 250 ms between the two players'
        // readings of their clocks. A player held up by a loaded box stays off until the next
        // sync round (every second): one reading may be off by that much more, not most of them.
        assert.ok(median <= 750, `the players are ${median} ms apart (median of ${apart.join(', ')})`);
        assert.ok(worst <= 1_750, `the players are ${worst} ms apart at one reading (${apart.join(', ')})`);
        await cluster.screenshot(page, 'timeline-sync');

        // Three seconds off: the next sync round (every second) brings it back.
        await page.evaluate("document.querySelectorAll('[data-testid=timeline-video]')[1].currentTime += 3");
        await waitFor(
          'the second player off by about 3 s',
          async () => {
            const [a = Number.NaN, b = Number.NaN] = await walls(page);
            return b - a > 2_000;
          },
          2_000,
          50,
        );
        await waitFor(
          'the second player back in step',
          async () => {
            const [a = Number.NaN, b = Number.NaN] = await walls(page);
            return b - a < 1_500 && Math.abs(a - b) <= 1_000;
          },
          5_000,
        );
      } catch (err) {
        throw new Error(`${(err as Error).message}\n${cluster.diagnostics()}`);
      } finally {
        await ctx.close();
      }
    });
  });
}
