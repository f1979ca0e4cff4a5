/** Reads finished segments back from the spool: one playlist per ffmpeg run in each camera folder. */
import { readdir, readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { parsePlaylist } from './playlist.ts';
import { compareSegmentNames, type FinishedSegment } from './segment.ts';

export const cameraDir = (spoolDir: string, cameraId: string) => join(spoolDir, cameraId);

/** Segments listed in one playlist whose files still exist, in playlist order. */
export async function readFinishedSegments(
  cameraId: string,
  dir: string,
  playlistFile: string,
): Promise<FinishedSegment[]> {
  let text: string;
  try {
    text = await readFile(join(dir, playlistFile), 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw err;
  }
  const out: FinishedSegment[] = [];
  let nextStart: number | null = null;
  for (const entry of parsePlaylist(text).entries) {
    // Only plain names: the playlist is ours, but never let it point outside the folder.
    if (entry.uri.includes('/') || entry.uri.includes('\\') || !entry.initUri) continue;
    const path = join(dir, entry.uri);
    let bytes: number;
    let mtimeMs: number;
    try {
      const st = await stat(path);
      bytes = st.size;
      mtimeMs = st.mtimeMs;
    } catch {
      continue; // already removed from the spool
    }
    const startMs: number = entry.startAt?.getTime() ?? nextStart ?? mtimeMs - entry.durationMs;
    nextStart = startMs + entry.durationMs;
    out.push({
      cameraId,
      path,
      name: entry.uri,
      initPath: join(dir, entry.initUri),
      startAt: new Date(startMs),
      durationMs: entry.durationMs,
      bytes,
    });
  }
  return out;
}

export async function listPlaylists(dir: string): Promise<string[]> {
  try {
    return (await readdir(dir)).filter((f) => f.endsWith('.m3u8')).sort();
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw err;
  }
}

/** Every finished segment still in a camera's spool folder, oldest first. */
export async function scanCameraSpool(spoolDir: string, cameraId: string): Promise<FinishedSegment[]> {
  const dir = cameraDir(spoolDir, cameraId);
  const all: FinishedSegment[] = [];
  for (const playlist of await listPlaylists(dir))
    all.push(...(await readFinishedSegments(cameraId, dir, playlist)));
  return all.sort((a, b) => compareSegmentNames(a.name, b.name));
}

/** Bytes used by the spool (camera folders one level deep). */
export async function spoolUsedBytes(spoolDir: string): Promise<number> {
  let total = 0;
  let cams: string[];
  try {
    cams = await readdir(spoolDir);
  } catch {
    return 0;
  }
  for (const cam of cams) {
    let files: string[];
    try {
      files = await readdir(join(spoolDir, cam));
    } catch {
      continue;
    }
    for (const f of files) {
      try {
        total += (await stat(join(spoolDir, cam, f))).size;
      } catch {
        // removed while counting
      }
    }
  }
  return total;
}
