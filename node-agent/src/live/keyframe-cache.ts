/**
 * The H.264 RTP packets since the newest keyframe began, so a viewer who connects to a running
 * relay starts decoding at once instead of waiting up to a whole GOP for the camera's next
 * keyframe (a copied stream cannot ask the camera for one). A keyframe begins with SPS (the
 * relay repeats SPS/PPS before every keyframe) or, without SPS, with an IDR slice.
 */

/** Whether an H.264 RTP packet (RFC 6184) starts a keyframe: SPS or IDR, single, STAP-A or FU-A start. */
export function startsKeyframe(packet: Buffer): boolean {
  if (packet.length < 13) return false;
  const csrcs = (packet[0] ?? 0) & 0x0f;
  let offset = 12 + csrcs * 4;
  if ((packet[0] ?? 0) & 0x10) {
    // Header extension: 4 bytes of header, then `length` 32-bit words.
    if (packet.length < offset + 4) return false;
    offset += 4 + packet.readUInt16BE(offset + 2) * 4;
  }
  const nal = packet[offset];
  if (nal === undefined) return false;
  const type = nal & 0x1f;
  if (type === 7 || type === 5) return true;
  if (type === 24) {
    const inner = packet[offset + 3];
    return inner !== undefined && ((inner & 0x1f) === 7 || (inner & 0x1f) === 5);
  }
  if (type === 28) {
    const fu = packet[offset + 1];
    return fu !== undefined && (fu & 0x80) !== 0 && ((fu & 0x1f) === 5 || (fu & 0x1f) === 7);
  }
  return false;
}

export class KeyframeCache {
  private packets: Buffer[] = [];
  private bytes = 0;
  /** Whether the stream is in a GOP whose keyframe was seen (else the cache stays empty). */
  private open = false;
  /** Consecutive IDR/SPS packets belong to one keyframe: only the first one restarts the cache. */
  private inKeyframe = false;

  constructor(private readonly maxBytes = 8 * 1024 * 1024) {}

  add(packet: Buffer): void {
    const key = startsKeyframe(packet);
    if (key && !this.inKeyframe) {
      this.packets = [];
      this.bytes = 0;
      this.open = true;
    }
    this.inKeyframe = key;
    if (!this.open) return;
    if (this.bytes + packet.length > this.maxBytes) {
      // A GOP this large is not worth replaying; wait for the next keyframe.
      this.packets = [];
      this.bytes = 0;
      this.open = false;
      return;
    }
    this.packets.push(packet);
    this.bytes += packet.length;
  }

  /** The packets of the current GOP so far, oldest first. */
  snapshot(): readonly Buffer[] {
    return this.packets.slice();
  }
}
