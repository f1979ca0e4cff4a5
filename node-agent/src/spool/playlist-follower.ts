/**
 * Follows the playlist of the ffmpeg run being recorded, reading only what was appended since
 * the last call. With `-hls_list_size 0` the playlist lists every segment of the run, so reading
 * and checking it whole on every change made each segment cost more than the one before.
 * ffmpeg replaces the file whole (temp file + rename), always with the same beginning, so the
 * part already read never changes.
 */
import { open } from 'node:fs/promises';
import { join } from 'node:path';
import { parsePlaylist } from './playlist.ts';
import { toSegments } from './scan.ts';
import type { FinishedSegment } from './segment.ts';

export class PlaylistFollower {
  /** Bytes read up to the end of the last complete entry. */
  private offset = 0;
  /** The `#EXT-X-MAP` line in force, carried into each new part. */
  private mapLine = '';
  private nextStart: number | null = null;

  constructor(
    private readonly cameraId: string,
    private readonly dir: string,
    private readonly playlistFile: string,
  ) {}

  /** Segments listed since the previous call, in order. */
  async next(): Promise<FinishedSegment[]> {
    let fh: Awaited<ReturnType<typeof open>>;
    try {
      fh = await open(join(this.dir, this.playlistFile), 'r');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return [];
      throw err;
    }
    let text: string;
    try {
      const { size } = await fh.stat();
      if (size < this.offset) {
        // Not the file we were following: read it from the start (callers skip what they saw).
        this.offset = 0;
        this.mapLine = '';
      }
      if (size === this.offset) return [];
      const buf = Buffer.alloc(size - this.offset);
      const { bytesRead } = await fh.read(buf, 0, buf.length, this.offset);
      text = buf.subarray(0, bytesRead).toString('utf8');
    } finally {
      await fh.close();
    }
    // Take whole entries only: up to the end of the last complete segment URI line.
    let consumed = 0;
    for (let pos = 0; ; ) {
      const nl = text.indexOf('\n', pos);
      if (nl < 0) break;
      const line = text.slice(pos, nl).trim();
      if (line.startsWith('#EXT-X-MAP:')) this.mapLine = line;
      else if (line !== '' && !line.startsWith('#')) consumed = nl + 1;
      pos = nl + 1;
    }
    if (consumed === 0) return [];
    const part = text.slice(0, consumed);
    this.offset += Buffer.byteLength(part);
    const { entries } = parsePlaylist(`${this.mapLine}\n${part}`);
    const { segments, nextStart } = await toSegments(this.cameraId, this.dir, entries, this.nextStart);
    this.nextStart = nextStart;
    return segments;
  }
}
