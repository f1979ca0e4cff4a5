/** What the playlist needs to know about one media segment. */
export interface PlaylistSegment {
  name: string;
  initName: string;
  startAt: Date;
  durationMs: number;
}

export interface PlaylistOptions {
  /** URI of a segment or init file, as written into the playlist. */
  uri: (name: string) => string;
  /** A jump between one segment's end and the next start larger than this is a gap. */
  gapToleranceMs?: number;
  /** `false` for MPEG-TS segments, which need no init segment: no `EXT-X-MAP`, version 3. */
  map?: boolean;
}

/**
 * Builds an HLS VOD media playlist (RFC 8216, version 7 for fMP4). A new `EXT-X-MAP` is
 * written whenever the init segment changes, and `EXT-X-DISCONTINUITY` before a segment
 * that follows a gap or uses another init. Every segment carries its wall-clock start.
 */
export function buildVodPlaylist(segments: readonly PlaylistSegment[], opts: PlaylistOptions): string {
  const tolerance = opts.gapToleranceMs ?? 1000;
  const map = opts.map ?? true;
  const maxMs = segments.reduce((m, s) => Math.max(m, s.durationMs), 0);
  const lines = [
    '#EXTM3U',
    map ? '#EXT-X-VERSION:7' : '#EXT-X-VERSION:3',
    '#EXT-X-PLAYLIST-TYPE:VOD',
    '#EXT-X-INDEPENDENT-SEGMENTS',
    // Must be at least every EXTINF rounded to the nearest integer.
    `#EXT-X-TARGETDURATION:${Math.max(1, Math.ceil(maxMs / 1000))}`,
    '#EXT-X-MEDIA-SEQUENCE:0',
  ];
  let previous: PlaylistSegment | undefined;
  for (const seg of segments) {
    if (previous) {
      const expected = previous.startAt.getTime() + previous.durationMs;
      const gap = Math.abs(seg.startAt.getTime() - expected) > tolerance;
      if (gap || seg.initName !== previous.initName) lines.push('#EXT-X-DISCONTINUITY');
    }
    if (map && (!previous || seg.initName !== previous.initName))
      lines.push(`#EXT-X-MAP:URI="${opts.uri(seg.initName)}"`);
    lines.push(`#EXT-X-PROGRAM-DATE-TIME:${seg.startAt.toISOString()}`);
    lines.push(`#EXTINF:${(seg.durationMs / 1000).toFixed(3)},`);
    lines.push(opts.uri(seg.name));
    previous = seg;
  }
  lines.push('#EXT-X-ENDLIST', '');
  return lines.join('\n');
}
