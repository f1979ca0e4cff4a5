/** A media segment that ffmpeg has finished (it is listed in its run's playlist). */
export interface FinishedSegment {
  cameraId: string;
  /** Absolute path of the `.m4s` file in the spool. */
  path: string;
  /** File name, unique per camera across ffmpeg runs: `<runId>-<counter>.m4s`. */
  name: string;
  /** Absolute path of the run's fMP4 init file. */
  initPath: string;
  /** Wall-clock start from `#EXT-X-PROGRAM-DATE-TIME`. */
  startAt: Date;
  durationMs: number;
  bytes: number;
  /** Codec of the video inside (`hevc`, or `h264` when a camera records its H.264 as sent). */
  codec: string;
}

const nameRe = /^(\d{8}T\d{9}Z)-(\d+)\.m4s$/;

/** A run id: the UTC start of one ffmpeg run with milliseconds, e.g. `20261123T101500123Z`. */
export function newRunId(now: Date): string {
  const iso = now.toISOString(); // 2026-11-23T10:15:00.123Z
  return `${iso.slice(0, 4)}${iso.slice(5, 7)}${iso.slice(8, 10)}T${iso.slice(11, 13)}${iso.slice(14, 16)}${iso.slice(17, 19)}${iso.slice(20, 23)}Z`;
}

export function parseSegmentName(name: string): { runId: string; counter: number } | null {
  const m = nameRe.exec(name);
  if (!m?.[1] || !m[2]) return null;
  return { runId: m[1], counter: Number(m[2]) };
}

/**
 * Recording order of two segment names: by run, then by counter as a number (so a counter
 * that outgrows its zero padding still sorts right). Unknown names sort first, by text.
 */
export function compareSegmentNames(a: string, b: string): number {
  const pa = parseSegmentName(a);
  const pb = parseSegmentName(b);
  if (!pa || !pb) return pa ? 1 : pb ? -1 : a < b ? -1 : a > b ? 1 : 0;
  if (pa.runId !== pb.runId) return pa.runId < pb.runId ? -1 : 1;
  return pa.counter - pb.counter;
}

export const playlistName = (runId: string) => `${runId}.m3u8`;
/** The run id a playlist file name stands for, or null for any other file. */
export const playlistRunId = (name: string) =>
  name.endsWith('.m3u8') ? name.slice(0, -'.m3u8'.length) : null;
export const initName = (runId: string) => `init-${runId}.mp4`;
export const segmentPattern = (runId: string) => `${runId}-%06d.m4s`;
