/**
 * Cuts a raw video byte stream (ffmpeg `-f rawvideo`) into frames of a fixed size. Pipe
 * chunks rarely line up with frames (a pipe hands over at most 64 KiB), so bytes are copied
 * once, into one of a small ring of preallocated frame buffers; nothing is allocated per frame.
 * A frame handed to `onFrame` stays valid until `ringSize - 1` further frames have arrived:
 * whoever keeps one longer copies it.
 */
export class FrameAssembler {
  private readonly ring: Uint8Array[];
  private slot = 0;
  private filled = 0;
  private count = 0;

  constructor(
    readonly frameBytes: number,
    private readonly onFrame: (frame: Uint8Array, index: number) => void,
    ringSize = 4,
  ) {
    if (!Number.isInteger(frameBytes) || frameBytes <= 0)
      throw Object.assign(new RangeError(`frame size must be a positive integer, got ${frameBytes}`), {
        code: 'FRAME_SIZE',
      });
    this.ring = Array.from({ length: Math.max(2, ringSize) }, () => new Uint8Array(frameBytes));
  }

  /** Frames completed so far in this stream. */
  get frames(): number {
    return this.count;
  }

  push(chunk: Uint8Array): void {
    let offset = 0;
    while (offset < chunk.length) {
      const target = this.ring[this.slot] as Uint8Array;
      const take = Math.min(this.frameBytes - this.filled, chunk.length - offset);
      target.set(chunk.subarray(offset, offset + take), this.filled);
      this.filled += take;
      offset += take;
      if (this.filled === this.frameBytes) {
        this.filled = 0;
        this.slot = (this.slot + 1) % this.ring.length;
        this.onFrame(target, this.count++);
      }
    }
  }

  /** Drops a partial frame and restarts the count (a new ffmpeg run). */
  reset(): void {
    this.filled = 0;
    this.count = 0;
  }
}
