import type { PlaybackRequest } from '@cctv/protocol';

export const VOD_RANGES_MIN = [2, 10, 60] as const;
export type VodRangeMin = (typeof VOD_RANGES_MIN)[number];

/** The last `minutes` before `nowMs`, as `POST /api/cameras/:id/playback` takes it. */
export function vodRange(minutes: number, nowMs: number): PlaybackRequest {
  return {
    from: new Date(nowMs - minutes * 60_000).toISOString(),
    to: new Date(nowMs).toISOString(),
  };
}
