/** Parser for the media playlists ffmpeg's HLS muxer writes (fMP4, `-hls_list_size 0`). */

export interface PlaylistEntry {
  /** The segment URI as written (a file name relative to the playlist). */
  uri: string;
  durationMs: number;
  /** From the last `#EXT-X-PROGRAM-DATE-TIME` before the URI; null when absent. */
  startAt: Date | null;
  /** The `#EXT-X-MAP` URI in force for this segment; null when absent. */
  initUri: string | null;
}

export interface Playlist {
  entries: PlaylistEntry[];
  /** `#EXT-X-ENDLIST` seen: the run ended cleanly. */
  ended: boolean;
  targetDurationS: number | null;
}

/** Parses the program date time ffmpeg writes (`+0000` offsets) and plain ISO forms. */
export function parseProgramDateTime(raw: string): Date | null {
  const normalized = raw.trim().replace(/([+-]\d{2})(\d{2})$/, '$1:$2');
  const ms = Date.parse(normalized);
  return Number.isNaN(ms) ? null : new Date(ms);
}

function attribute(attrs: string, key: string): string | null {
  const m = new RegExp(`(?:^|,)${key}=("([^"]*)"|[^,]*)`).exec(attrs);
  if (!m) return null;
  return m[2] ?? m[1] ?? null;
}

/**
 * Lenient by design: a playlist caught mid-write (no temp file) may end in a half line, so a
 * trailing URI without its newline is ignored, as is anything that is not a known tag.
 */
export function parsePlaylist(text: string): Playlist {
  const entries: PlaylistEntry[] = [];
  const lines = text.split('\n');
  const complete = text.endsWith('\n') ? lines : lines.slice(0, -1);
  let durationMs: number | null = null;
  let startAt: Date | null = null;
  let initUri: string | null = null;
  let ended = false;
  let targetDurationS: number | null = null;
  for (const rawLine of complete) {
    const line = rawLine.trim();
    if (line === '') continue;
    if (line.startsWith('#EXTINF:')) {
      const value = Number.parseFloat(line.slice('#EXTINF:'.length));
      durationMs = Number.isFinite(value) ? Math.round(value * 1000) : null;
    } else if (line.startsWith('#EXT-X-PROGRAM-DATE-TIME:')) {
      startAt = parseProgramDateTime(line.slice('#EXT-X-PROGRAM-DATE-TIME:'.length));
    } else if (line.startsWith('#EXT-X-MAP:')) {
      initUri = attribute(line.slice('#EXT-X-MAP:'.length), 'URI');
    } else if (line.startsWith('#EXT-X-TARGETDURATION:')) {
      targetDurationS = Number.parseFloat(line.slice('#EXT-X-TARGETDURATION:'.length));
    } else if (line === '#EXT-X-ENDLIST') {
      ended = true;
    } else if (!line.startsWith('#')) {
      if (durationMs !== null) entries.push({ uri: line, durationMs, startAt, initUri });
      durationMs = null;
      startAt = null;
    }
  }
  return { entries, ended, targetDurationS };
}
