/**
 * A wall-clock stamp drawn into a test camera's frames by ffmpeg and read back from the pixels of
 * the frame a viewer shows, for glass-to-glass latency: `now − stamp` on the same machine's clock.
 *
 * Layout, everything derived from the frame width W so a uniformly scaled copy decodes too:
 *
 *     block size s = W / 24 (fractional; block edges are rounded to whole pixels)
 *     column i (0..23, left to right) spans x ∈ [round(i·s), round((i+1)·s)) and carries bit 23−i
 *       (most significant bit on the left) of the low 24 bits of the frame's time in ms since
 *       the epoch (wraps every 2^24 ms ≈ 4.66 h)
 *     row 0 spans y ∈ [0, round(s)): white where the bit is 1, black where it is 0
 *     row 1 spans y ∈ [round(s), round(2s)): the inverse, white where the bit is 0
 *     the whole strip (full width, 2s high) is black underneath; below it, the test pattern
 *
 * At 320×180 a block is 13.3 px, at 640×360 26.7 px; the width must be at least 24·8 = 192 px.
 * Every bit is stored twice, once inverted, so the decoder needs each pair to disagree: a block
 * overwritten, smeared by the encoder or cut off fails the read instead of giving a wrong time.
 *
 * Precision. The graph paces itself (the `realtime` filter holds each frame until it is due, so
 * `-re` is not needed; with `-re` too, ffmpeg polls in 10 ms steps and frame times jitter by that
 * much, still truthfully stamped). Right after `realtime` lets a frame go, `setpts=RTCTIME` stamps
 * it with the wall clock at that moment: the "glass" moment of a real camera (the instant its
 * sensor is read), up to the microseconds the few filters before it take. Everything after — the
 * drawboxes themselves, the encoder, the RTSP server, the network, the viewer's decoder and
 * display — is inside the measured latency. The time is truncated to whole ms.
 *
 * The output time base is 1/fps, so ffmpeg knows the frame rate without probing; with the wall
 * clock as timestamps (or a µs time base) ffmpeg would duplicate or stall frames.
 */

/** How many low bits of the ms timestamp the strip carries; `decodeClockBars` has it built in. */
export const CLOCK_BARS_BITS = 24;
/** The narrowest frame whose blocks are still 8 px wide. */
export const CLOCK_BARS_MIN_WIDTH = CLOCK_BARS_BITS * 8;

export interface ClockBarsOptions {
  width: number;
  height: number;
  fps: number;
}

export class ClockBarsLayoutError extends Error {
  readonly code = 'CLOCK_BARS_LAYOUT';
}

/** The strip's height in pixels for a frame `width` wide (two rows of blocks). */
export function clockBarsHeight(width: number): number {
  return Math.round((2 * width) / CLOCK_BARS_BITS);
}

/**
 * An ffmpeg filter graph, source included, for `ffmpeg -f lavfi -i <graph>`: testsrc2 at
 * `width`×`height` and `fps` in real time, every frame stamped with its wall-clock time (see the
 * file comment), timestamps back to 0, 1, 2… in 1/fps on the way out so encoders and muxers see a
 * normal stream.
 * The graph is one argv element (quotes inside are ffmpeg's own); do not pass it through a shell.
 */
export function clockBarsFilter(opts: ClockBarsOptions): string {
  const { width, height, fps } = opts;
  for (const [name, v] of [
    ['width', width],
    ['height', height],
    ['fps', fps],
  ] as const) {
    if (!Number.isInteger(v) || v <= 0) throw new ClockBarsLayoutError(`${name} must be a positive integer`);
  }
  if (width < CLOCK_BARS_MIN_WIDTH)
    throw new ClockBarsLayoutError(`width ${width} < ${CLOCK_BARS_MIN_WIDTH}: blocks would be under 8 px`);
  if (width % 2 || height % 2) throw new ClockBarsLayoutError('width and height must be even (yuv420p)');
  const s = width / CLOCK_BARS_BITS;
  const row1 = Math.round(s);
  const strip = clockBarsHeight(width);
  if (height < 2 * strip)
    throw new ClockBarsLayoutError(`height ${height} < ${2 * strip}: no room for the strip`);

  // Between the two setpts, the frame time t is wall-clock seconds (µs resolution); ms =
  // floor(t*1000) is below 2^53 and dividing it by a power of two is exact, so every bit comes
  // from the same integer.
  const graph = [
    `testsrc2=size=${width}x${height}:rate=${fps}`,
    'realtime',
    'format=yuv420p',
    'settb=AVTB',
    'setpts=RTCTIME',
    `drawbox=x=0:y=0:w=iw:h=${strip}:color=black:t=fill`,
  ];
  for (let i = 0; i < CLOCK_BARS_BITS; i++) {
    const x = Math.round(i * s);
    const w = Math.round((i + 1) * s) - x;
    const bit = `mod(floor(floor(t*1000)/${2 ** (CLOCK_BARS_BITS - 1 - i)}),2)`;
    graph.push(`drawbox=x=${x}:y=0:w=${w}:h=${row1}:color=white:t=fill:enable='${bit}'`);
    graph.push(`drawbox=x=${x}:y=${row1}:w=${w}:h=${strip - row1}:color=white:t=fill:enable='1-${bit}'`);
  }
  graph.push(`settb=1/${fps}`, 'setpts=N');
  return graph.join(',');
}

/**
 * Reads the stamp from an RGBA frame (canvas `getImageData`, or ffmpeg `-pix_fmt rgba`):
 * the time in ms modulo 2^24, or null when the strip is not there or a pair of blocks does not
 * disagree. Self-contained — no imports, no helpers, no nested functions — so it can be shipped to
 * a browser with `page.evaluate` or `decodeClockBars.toString()`.
 */
export function decodeClockBars(
  rgba: Uint8ClampedArray | Uint8Array,
  width: number,
  height: number,
): number | null {
  // Keep in step with CLOCK_BARS_BITS and clockBarsFilter.
  const bits = 24;
  // Each block of a pair must be this far from mid-grey, on opposite sides.
  const margin = 32;
  const s = width / bits;
  if (!(s >= 4) || height < 2 * s || rgba.length < width * height * 4) return null;
  // A patch around each block centre, half the block wide: clear of edge ringing and rounding.
  const r = Math.max(1, Math.floor(s / 4));
  let value = 0;
  for (let i = 0; i < bits; i++) {
    const cx = Math.floor((i + 0.5) * s);
    let top = 0;
    let bottom = 0;
    for (let row = 0; row < 2; row++) {
      const cy = Math.floor((row + 0.5) * s);
      let sum = 0;
      let n = 0;
      for (let y = cy - r; y <= cy + r; y++) {
        for (let x = cx - r; x <= cx + r; x++) {
          const p = (y * width + x) * 4;
          sum += 0.299 * (rgba[p] ?? 0) + 0.587 * (rgba[p + 1] ?? 0) + 0.114 * (rgba[p + 2] ?? 0);
          n++;
        }
      }
      if (row === 0) top = sum / n;
      else bottom = sum / n;
    }
    if (top >= 128 + margin && bottom <= 128 - margin) value = value * 2 + 1;
    else if (top <= 128 - margin && bottom >= 128 + margin) value = value * 2;
    else return null;
  }
  return value;
}

/**
 * Latency in ms of a frame stamped `decodedMod` (ms modulo 2^bits) seen at `nowMs` (ms since the
 * epoch, fractions allowed): the difference taken modulo 2^bits into [−2^(bits−1), 2^(bits−1)),
 * so a stamp a little in the future (clocks of two machines) reads as a small negative number.
 */
export function latencyMs(decodedMod: number, nowMs: number, bits: number = CLOCK_BARS_BITS): number {
  const modulus = 2 ** bits;
  const diff = (((nowMs - decodedMod) % modulus) + modulus) % modulus;
  return diff >= modulus / 2 ? diff - modulus : diff;
}

/**
 * The stand-in camera's feed for `rtsp-server.py --source stdin`: the clock bars encoded like a
 * camera (libx264 zerolatency, a keyframe every second, one thread), written as MPEG-TS with
 * its PES lengths (`stdinFormat: 'mpegts'`, each frame passed on as it arrives) or as Annex-B
 * with access unit delimiters (`'annexb'`, the server closes a frame when the next starts).
 */
export function clockBarsFeed(
  opts: ClockBarsOptions,
  format: 'mpegts' | 'annexb',
): { command: string; args: string[] } {
  return {
    command: 'ffmpeg',
    args: [
      ...['-v', 'error', '-nostdin', '-f', 'lavfi', '-i', clockBarsFilter(opts)],
      ...['-c:v', 'libx264', '-preset', 'ultrafast', '-tune', 'zerolatency', '-g', String(opts.fps)],
      ...['-threads', '1', '-flush_packets', '1'],
      ...(format === 'mpegts'
        ? ['-omit_video_pes_length', '0', '-f', 'mpegts', 'pipe:1']
        : ['-bsf:v', 'h264_metadata=aud=insert', '-f', 'h264', 'pipe:1']),
    ],
  };
}
