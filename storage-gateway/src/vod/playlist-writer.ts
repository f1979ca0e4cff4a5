/** What a playlist needs to know about one media segment. */
export interface PlaylistSegment {
  name: string;
  initName: string;
  startAt: Date;
  durationMs: number;
}

export interface MediaPlaylist {
  /** URI of a segment or init file, as written into the playlist. */
  uri: (name: string) => string;
  /** `false` for MPEG-TS segments, which need no init segment: no `EXT-X-MAP`, version 3. */
  map: boolean;
  /** `EXT-X-MEDIA-SEQUENCE`: the number of the first segment. */
  mediaSequence: number;
  /** `EXT-X-DISCONTINUITY-SEQUENCE`, when the playlist numbers its discontinuities (live). */
  discontinuitySequence?: number;
  /**
   * A finished recording (`EXT-X-PLAYLIST-TYPE:VOD`, `EXT-X-ENDLIST`), with an
   * `EXT-X-DISCONTINUITY` before a segment that follows a gap over `gapToleranceMs` or uses
   * another init. Absent: a live playlist, whose window is one run without holes.
   */
  vod?: { gapToleranceMs: number };
}

/**
 * The one writer of HLS media playlists (RFC 8216), VOD and live: version 7 for fMP4, 3 for
 * MPEG-TS; an `EXT-X-MAP` at the start and wherever the init changes; every segment with its
 * wall-clock start (`EXT-X-PROGRAM-DATE-TIME`).
 */
export function writeMediaPlaylist(segments: readonly PlaylistSegment[], opts: MediaPlaylist): string {
  const maxMs = segments.reduce((m, s) => Math.max(m, s.durationMs), 0);
  const lines = [
    '#EXTM3U',
    opts.map ? '#EXT-X-VERSION:7' : '#EXT-X-VERSION:3',
    ...(opts.vod ? ['#EXT-X-PLAYLIST-TYPE:VOD'] : []),
    '#EXT-X-INDEPENDENT-SEGMENTS',
    // Must be at least every EXTINF rounded to the nearest integer.
    `#EXT-X-TARGETDURATION:${Math.max(1, Math.ceil(maxMs / 1000))}`,
    `#EXT-X-MEDIA-SEQUENCE:${opts.mediaSequence}`,
    ...(opts.discontinuitySequence === undefined
      ? []
      : [`#EXT-X-DISCONTINUITY-SEQUENCE:${opts.discontinuitySequence}`]),
  ];
  let previous: PlaylistSegment | undefined;
  for (const seg of segments) {
    if (previous && opts.vod) {
      const expected = previous.startAt.getTime() + previous.durationMs;
      const gap = Math.abs(seg.startAt.getTime() - expected) > opts.vod.gapToleranceMs;
      if (gap || seg.initName !== previous.initName) lines.push('#EXT-X-DISCONTINUITY');
    }
    if (opts.map && (!previous || seg.initName !== previous.initName))
      lines.push(`#EXT-X-MAP:URI="${opts.uri(seg.initName)}"`);
    lines.push(`#EXT-X-PROGRAM-DATE-TIME:${seg.startAt.toISOString()}`);
    lines.push(`#EXTINF:${(seg.durationMs / 1000).toFixed(3)},`);
    lines.push(opts.uri(seg.name));
    previous = seg;
  }
  if (opts.vod) lines.push('#EXT-X-ENDLIST');
  lines.push('');
  return lines.join('\n');
}
