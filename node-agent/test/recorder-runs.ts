/** What the recorder tests read back from the host: a camera's ffmpeg runs, the clock bars of a spooled segment. */
import { execFile } from 'node:child_process';
import { readdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { decodeClockBars } from '../../bench/support/clock-bars.ts';
import { initName } from '../src/spool/segment.ts';

const run = promisify(execFile);

/** Pids of this camera's recording ffmpeg runs (by their output folder), with their command lines. */
export async function recorderRuns(cameraDir: string): Promise<{ pid: number; cmdline: string }[]> {
  const found: { pid: number; cmdline: string }[] = [];
  for (const entry of await readdir('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    const cmdline = await readFile(`/proc/${entry}/cmdline`, 'utf8').catch(() => '');
    const args = cmdline.split('\0');
    if (args[0]?.endsWith('ffmpeg') && args.some((a) => a.startsWith(cameraDir)))
      found.push({ pid: Number(entry), cmdline: args.join(' ') });
  }
  return found;
}

/**
 * The clock-bar stamps of a spooled segment's frames, in order (null: a frame not decodable
 * alone); `scratch` takes the joined init + segment file.
 */
export async function frameStamps(
  cameraDir: string,
  segment: string,
  scratch: string,
  size: { width: number; height: number },
): Promise<(number | null)[]> {
  const runId = segment.split('-')[0] ?? '';
  const joined = join(scratch, `stamps-${segment}.mp4`);
  await writeFile(
    joined,
    Buffer.concat([
      await readFile(join(cameraDir, initName(runId))),
      await readFile(join(cameraDir, segment)),
    ]),
  );
  const { stdout } = await run(
    'ffmpeg',
    ['-v', 'quiet', '-i', joined, '-f', 'rawvideo', '-pix_fmt', 'rgba', 'pipe:1'],
    { encoding: 'buffer', maxBuffer: 256 * 1024 * 1024 },
  );
  const frame = size.width * size.height * 4;
  const stamps: (number | null)[] = [];
  for (let at = 0; at + frame <= stdout.length; at += frame)
    stamps.push(decodeClockBars(stdout.subarray(at, at + frame), size.width, size.height));
  return stamps;
}
