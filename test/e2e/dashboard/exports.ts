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
import type { Page } from 'playwright-core';
import { grantedUrl } from '../../support/grants.ts';
import { repoRoot, tempDir } from '../../support/index.ts';
import type { DashboardCluster } from './cluster.ts';

const run = promisify(execFile);

interface Probe {
  streams: { codec_type: string; codec_name: string }[];
  format: { format_name: string; duration: string };
}

/** Submits the form; the id of the job the master created, from its answer. */
async function startExport(page: Page): Promise<string> {
  const [answer] = await Promise.all([
    page.waitForResponse(
      (r) => r.request().method() === 'POST' && new URL(r.url()).pathname === '/api/exports',
    ),
    page.getByRole('button', { name: 'Start export' }).click(),
  ]);
  assert.equal(answer.status(), 202, await answer.text());
  return ((await answer.json()) as { id: string }).id;
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
        assert.equal(await page.getByLabel('Blur faces').isChecked(), false);
        const jobId = await startExport(page);
        const job = page.locator(`[data-testid="export-job"][data-job-id="${jobId}"]`);
        await job.waitFor();
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

    test('blurs every face of an export: a detector finds them in the recording, none in the export', {
      timeout: 180_000,
    }, async () => {
      const cam = cluster.eventCameraId; // three people in view
      const to = new Date(Math.floor((Date.now() - 5_000) / 1000) * 1000);
      const from = new Date(to.getTime() - 6_000);
      const ctx = await cluster.context();
      const page = await ctx.newPage();
      const dir = await tempDir('cctv-e2e-blur-');
      try {
        const q = new URLSearchParams({ camera: cam, from: from.toISOString(), to: to.toISOString() });
        await page.goto(`${cluster.dashboardUrl}/exports?${q}`);
        await page.getByLabel('Blur faces').check();
        const jobId = await startExport(page);
        const job = page.locator(`[data-testid="export-job"][data-job-id="${jobId}"]`);
        await job.waitFor();
        assert.match((await job.textContent()) ?? '', /faces blurred/);
        await page
          .locator(`[data-testid="export-job"][data-job-id="${jobId}"][data-state="done"]`)
          .waitFor({ timeout: 150_000 })
          .catch(async (err: Error) => {
            throw new Error(`${err.message}; state ${await job.getAttribute('data-state')}`);
          });
        await cluster.screenshot(page, 'exports-blurred');
        const [download] = await Promise.all([
          page.waitForEvent('download'),
          job.getByRole('link', { name: 'Download' }).click(),
        ]);
        const blurred = join(dir, 'blurred.mp4');
        await download.saveAs(blurred);
        const audit = await cluster.admin.getJson<AuditPage>(`/api/audit?action=export&camera=${cam}`);
        const entry = audit.entries.find((e) => (e.detail as { jobId?: string } | null)?.jobId === jobId);
        assert.equal((entry?.detail as { blurFaces?: boolean } | undefined)?.blurFaces, true);

        // The same moment as recorded, and as exported: faces, then none.
        const { FaceDetector } = await import('@cctv/vision/faces');
        const detector = await FaceDetector.create({
          modelPath: join(repoRoot, 'node-agent/models/blazeface-back-256.onnx'),
          minScore: 0.5,
        });
        try {
          const recorded = await grantedUrl(
            cluster.databaseUrl,
            cluster.gatewayUrl,
            `/v1/vod/${cam}.m3u8?from=${from.toISOString()}&to=${to.toISOString()}`,
          );
          const faces = async (input: string) => {
            const { stdout } = await run(
              'ffmpeg',
              [
                ...['-v', 'error', '-i', input, '-ss', '2', '-frames:v', '1'],
                ...['-vf', 'scale=640:426,format=yuv420p', '-f', 'rawvideo', 'pipe:1'],
              ],
              { encoding: 'buffer', maxBuffer: 8 * 1024 * 1024 },
            );
            return detector.detect({ width: 640, height: 426, data: new Uint8Array(stdout) });
          };
          const before = await faces(recorded);
          const after = await faces(blurred);
          process.stdout.write(
            `# blurred export: ${before.length} faces in the recording, ${after.length} in the export\n`,
          );
          assert.ok(before.length >= 2, `the recording shows ${before.length} faces`);
          assert.deepEqual(after, [], 'a face is left in the blurred export');
        } finally {
          await detector.close();
        }
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
