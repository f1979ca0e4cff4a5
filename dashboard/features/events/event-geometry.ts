/** Where a video's picture is drawn inside its element, so boxes can be laid over the picture. */

export interface Rect {
  x: number;
  y: number;
  width: number;
  height: number;
}

/**
 * The rectangle a `width`×`height` picture fills in a `boxW`×`boxH` box under
 * `object-fit: contain` (a video element's default): scaled to fit, centred, with bars on
 * the two sides that are too long.
 */
export function containRect(boxW: number, boxH: number, width: number, height: number): Rect | null {
  if (boxW <= 0 || boxH <= 0 || width <= 0 || height <= 0) return null;
  const scale = Math.min(boxW / width, boxH / height);
  const w = width * scale;
  const h = height * scale;
  return { x: (boxW - w) / 2, y: (boxH - h) / 2, width: w, height: h };
}

/**
 * The displayed picture of `video` in the coordinates of its offset parent: the element's
 * content box (inside its border) narrowed by the letterbox or pillarbox bars.
 */
export function displayedVideoRect(video: HTMLVideoElement): Rect | null {
  const inner = containRect(video.clientWidth, video.clientHeight, video.videoWidth, video.videoHeight);
  if (!inner) return null;
  return {
    x: video.offsetLeft + video.clientLeft + inner.x,
    y: video.offsetTop + video.clientTop + inner.y,
    width: inner.width,
    height: inner.height,
  };
}
