/**
 * Deleting from the spool: a segment that was uploaded (or dropped at the quota), and then its
 * run's playlist, init file and clock once the run has nothing left and ffmpeg has moved on.
 */
import { readdir, unlink } from 'node:fs/promises';
import { join } from 'node:path';
import { removeClockBias } from './run-clock.ts';
import { type FinishedSegment, initName, parseSegmentName, playlistName, playlistRunId } from './segment.ts';

/**
 * Deletes a segment file from the camera's spool folder `dir`. When `runHeld` says no other
 * segment of its run is still wanted and a newer run exists (ffmpeg has moved on, so the run
 * will get no more segments), the run's playlist, init file and clock go too.
 * Resolves to the id of the run removed with it, else null.
 */
export async function removeSegment(
  dir: string,
  segment: FinishedSegment,
  runHeld: (runId: string) => boolean,
): Promise<string | null> {
  await unlink(segment.path).catch(() => {});
  const runId = parseSegmentName(segment.name)?.runId;
  if (!runId || runHeld(runId)) return null;
  const files = await readdir(dir).catch(() => [] as string[]);
  const newer = files.some((f) => (playlistRunId(f) ?? '') > runId);
  if (!newer) return null;
  await unlink(join(dir, playlistName(runId))).catch(() => {});
  await unlink(join(dir, initName(runId))).catch(() => {});
  await removeClockBias(dir, runId);
  return runId;
}
