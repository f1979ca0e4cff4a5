/** A recorded run in a camera's spool folder, as ffmpeg leaves it, for uploader tests. */
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { initName, playlistName } from '../src/spool/segment.ts';

export const TEST_RUN_ID = '20261123T101500123Z';

/**
 * Writes a run's init file, segments `from` to `from + count - 1` (each of its own bytes) and
 * its playlist (listing every segment up to the last) into the camera's spool folder.
 */
export async function writeRun(dir: string, count: number, from = 0, runId = TEST_RUN_ID): Promise<void> {
  await mkdir(dir, { recursive: true });
  await writeFile(join(dir, initName(runId)), Buffer.from('init-bytes'));
  let playlist = `#EXTM3U\n#EXT-X-VERSION:7\n#EXT-X-TARGETDURATION:2\n#EXT-X-MAP:URI="${initName(runId)}"\n`;
  for (let i = 0; i < from + count; i++) {
    const name = `${runId}-${String(i).padStart(6, '0')}.m4s`;
    if (i >= from) await writeFile(join(dir, name), Buffer.from(`segment ${i} `.repeat(50 + i)));
    const start = new Date(Date.UTC(2026, 10, 23, 10, 15, 0) + i * 2000).toISOString().replace('Z', '+0000');
    playlist += `#EXTINF:2.000000,\n#EXT-X-PROGRAM-DATE-TIME:${start}\n${name}\n`;
  }
  await writeFile(join(dir, playlistName(runId)), playlist);
}
