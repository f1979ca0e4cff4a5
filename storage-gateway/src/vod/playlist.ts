import { type PlaylistSegment, writeMediaPlaylist } from './playlist-writer.ts';

export type { PlaylistSegment };

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
  return writeMediaPlaylist(segments, {
    uri: opts.uri,
    map: opts.map ?? true,
    mediaSequence: 0,
    vod: { gapToleranceMs: opts.gapToleranceMs ?? 1000 },
  });
}
