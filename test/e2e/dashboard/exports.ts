/**
 * The exports page: the last 20 s of the camera, asked from the form (prefilled through the
 * address as the timeline's link does), followed to done, downloaded through the dashboard
 * and checked with ffprobe; the request is in the audit log. A viewer is told exports need
 * the operator role.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { promisify } from 'node:util';
import type { AuditPage } from '@cctv/protocol';
import { tempDir } from '../../support/index.ts';
import type { DashboardCluster } from './cluster.ts';

const run = promisify(execFile);

interface Probe {
  streams: { codec_type: string; codec_name: string }[];
  format: { format_name: string; duration: string };
}

export function register(cluster: DashboardCluster): void {
  describe('exports', () => {
    test('exports the last 20 s, follows it to done, downloads a playable MP4, audited', {
      timeout: 120_000,
    }, async () => {
      const cam = cluster.cameraId;
      // Recording reaches the gateway a segment or two late: the range ends 5 s ago.
      const to = new Date(Math.floor((Date.now() - 5_000) / 1000) * 1000);
      const from = new Date(to.getTime() - 20_000);
      const ctx = await cluster.context();
      const page = await ctx.newPage();
      try {
        const q = new URLSearchParams({ camera: cam, from: from.toISOString(), to: to.toISOString() });
        await page.goto(`${cluster.dashboardUrl}/exports?${q}`);
        assert.equal(await page.getByLabel('Camera').inputValue(), cam);
        assert.equal(await page.getByLabel('Blur faces').isDisabled(), true, 'face blurring is offered');
        const jobsBefore = await page.getByTestId('export-job').count();
        await page.getByRole('button', { name: 'Start export' }).click();

        const job = page.getByTestId('export-job').first();
        await page.waitForFunction(
          `document.querySelectorAll('[data-testid=export-job]').length > ${jobsBefore}`,
        );
        const jobId = (await job.getAttribute('data-job-id')) ?? '';
        await page
          .locator(`[data-testid="export-job"][data-job-id="${jobId}"][data-state="done"]`)
          .waitFor({ timeout: 60_000 })
          .catch(async (err: Error) => {
            throw new Error(`${err.message}; state ${await job.getAttribute('data-state')}`);
          });
        assert.equal(await job.getByTestId('export-progress').getAttribute('aria-valuenow'), '100');
        await cluster.screenshot(page, 'exports');

        const [download] = await Promise.all([
          page.waitForEvent('download'),
          job.getByRole('link', { name: 'Download' }).click(),
        ]);
        const file = join(await tempDir('cctv-e2e-export-'), download.suggestedFilename() || 'export.mp4');
        await download.saveAs(file);
        const { stdout } = await run('ffprobe', [
          ...['-v', 'error', '-show_entries', 'stream=codec_type,codec_name:format=format_name,duration'],
          ...['-of', 'json', file],
        ]);
        const probe = JSON.parse(stdout) as Probe;
        assert.match(probe.format.format_name, /mp4/);
        assert.ok(
          probe.streams.some((s) => s.codec_type === 'video'),
          `no video stream: ${stdout}`,
        );
        const seconds = Number(probe.format.duration);
        process.stdout.write(`# export: ${download.suggestedFilename()} ${seconds} s\n`);
        assert.ok(seconds > 15 && seconds < 25, `the export lasts ${seconds} s, not about 20`);

        const audit = await cluster.admin.getJson<AuditPage>(
          `/api/audit?action=export&camera=${cam}&limit=20`,
        );
        const entry = audit.entries.find((e) => (e.detail as { jobId?: string } | null)?.jobId === jobId);
        assert.ok(entry, `no export audit entry for ${jobId}: ${JSON.stringify(audit.entries)}`);
        assert.equal(entry.username, 'admin');
        const downloads = await cluster.admin.getJson<AuditPage>(
          `/api/audit?action=export_download&camera=${cam}`,
        );
        assert.ok(downloads.entries.length > 0, 'the download is not audited');
      } catch (err) {
        throw new Error(`${(err as Error).message}\n${cluster.diagnostics()}`);
      } finally {
        await ctx.close();
      }
    });

    test('a viewer is told exports need the operator role', { timeout: 60_000 }, async () => {
      const viewer = await cluster.user('export-viewer', 'viewer', [cluster.cameraId]);
      const ctx = await cluster.context(viewer);
      const page = await ctx.newPage();
      try {
        await page.goto(`${cluster.dashboardUrl}/exports`);
        await page.getByTestId('export-forbidden').waitFor({ timeout: 10_000 });
        await page.getByRole('button', { name: 'Start export' }).click();
        const error = page.getByTestId('export-form-error');
        await error.waitFor({ timeout: 10_000 });
        assert.match((await error.textContent()) ?? '', /operator role/);
        assert.equal(await page.getByTestId('export-job').count(), 0);
      } finally {
        await ctx.close();
      }
    });
  });
}
