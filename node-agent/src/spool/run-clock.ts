/**
 * Per-run clock correction: the offset (ms) to add to ffmpeg's program date times of one run,
 * kept in `<runId>.clock` beside its playlist so that a rescan after a restart uses it too.
 */
import { readFile, unlink } from 'node:fs/promises';
import { join } from 'node:path';
import { writeFileAtomic } from '../fs/atomic-write.ts';
import type { FinishedSegment } from './segment.ts';

export const clockFile = (runId: string) => `${runId}.clock`;

export async function saveClockBias(dir: string, runId: string, biasMs: number): Promise<void> {
  await writeFileAtomic(join(dir, clockFile(runId)), `${Math.round(biasMs)}\n`);
}

/** The run's correction, 0 when none was recorded. */
export async function loadClockBias(dir: string, runId: string): Promise<number> {
  const text = await readFile(join(dir, clockFile(runId)), 'utf8').catch(() => '');
  const n = Number(text.trim());
  return text.trim() !== '' && Number.isFinite(n) ? n : 0;
}

export async function removeClockBias(dir: string, runId: string): Promise<void> {
  await unlink(join(dir, clockFile(runId))).catch(() => {});
}

export function applyClockBias(segment: FinishedSegment, biasMs: number): FinishedSegment {
  if (!biasMs) return segment;
  return { ...segment, startAt: new Date(segment.startAt.getTime() + Math.round(biasMs)) };
}
