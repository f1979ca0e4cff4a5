/** Reads finished segments back from the spool: one playlist per ffmpeg run in each camera folder. */
import { readdir, readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { type PlaylistEntry, parsePlaylist } from './playlist.ts';
import { applyClockBias, loadClockBias } from './run-clock.ts';
import { compareSegmentNames, type FinishedSegment, playlistRunId } from './segment.ts';

export const cameraDir = (spoolDir: string, cameraId: string) => join(spoolDir, cameraId);

const initCodecs = new Map<string, string>();

/**
 * The video codec an fMP4 init file declares, from its sample entry (`hvc1`/`hev1` = hevc,
 * `avc1`/`avc3` = h264); cached per file, since a run's init never changes.
 */
export async function initCodec(initPath: string): Promise<string> {
  const known = initCodecs.get(initPath);
  if (known) return known;
  let codec = 'hevc';
  try {
    const head = (await readFile(initPath)).subarray(0, 64 * 1024).toString('latin1');
    if (/avc[13]/.test(head) && !/hvc1|hev1/.test(head)) codec = 'h264';
  } catch {
    return codec; // not written yet or gone; do not cache a guess
  }
  if (initCodecs.size > 1000) initCodecs.clear();
  initCodecs.set(initPath, codec);
  return codec;
}

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
  return (await toSegments(cameraId, dir, parsePlaylist(text).entries, null)).segments;
}

/**
 * Playlist entries as finished segments whose files still exist. A segment without its own
 * program date time starts where the previous one ended (`nextStart` carries that across calls).
 */
export async function toSegments(
  cameraId: string,
  dir: string,
  entries: PlaylistEntry[],
  nextStart: number | null,
): Promise<{ segments: FinishedSegment[]; nextStart: number | null }> {
  const out: FinishedSegment[] = [];
  for (const entry of entries) {
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
    const initPath = join(dir, entry.initUri);
    out.push({
      cameraId,
      path,
      name: entry.uri,
      initPath,
      startAt: new Date(startMs),
      durationMs: entry.durationMs,
      bytes,
      codec: await initCodec(initPath),
    });
  }
  return { segments: out, nextStart };
}

export async function listPlaylists(dir: string): Promise<string[]> {
  try {
    return (await readdir(dir)).filter((f) => playlistRunId(f) !== null).sort();
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw err;
  }
}

/** Every finished segment still in a camera's spool folder, oldest first. */
export async function scanCameraSpool(spoolDir: string, cameraId: string): Promise<FinishedSegment[]> {
  const dir = cameraDir(spoolDir, cameraId);
  const all: FinishedSegment[] = [];
  for (const playlist of await listPlaylists(dir)) {
    const bias = await loadClockBias(dir, playlistRunId(playlist) ?? playlist);
    for (const s of await readFinishedSegments(cameraId, dir, playlist)) all.push(applyClockBias(s, bias));
  }
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
