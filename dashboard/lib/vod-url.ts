export const VOD_RANGES_MIN = [2, 10, 60] as const;
export type VodRangeMin = (typeof VOD_RANGES_MIN)[number];

/** `playlistUrl` (the gateway's `vodPath` for a camera) limited to the last `minutes` before `nowMs`. */
export function vodRangeUrl(playlistUrl: string, minutes: number, nowMs: number): string {
  const url = new URL(playlistUrl);
  url.searchParams.set('from', new Date(nowMs - minutes * 60_000).toISOString());
  url.searchParams.set('to', new Date(nowMs).toISOString());
  return url.toString();
}
