/**
 * Follows the MQTT fixed headers of one connection's inbound bytes and says when a packet is
 * declared larger than allowed. mqtt-packet's parser (inside aedes) buffers a whole packet,
 * however large its declared remaining length, before it looks at it: a 250 MB CONNECT is 250
 * MB of memory. This guard reads only the type byte and the remaining-length varint of each
 * packet and skips its body by count, so it can refuse a packet at its first bytes, before the
 * parser has buffered anything of it. Pure: no sockets, no timers.
 */

/** `too_large`: over the cap; `connect_too_large`: the first packet over the CONNECT cap; `bad_length`: a varint longer than 4 bytes. */
export type FrameRefusal = 'too_large' | 'connect_too_large' | 'bad_length';

/** The largest remaining length MQTT can express (4 varint bytes). */
export const MQTT_MAX_REMAINING_LENGTH = 268_435_455;

/** Where the guard is in the current packet: its type byte, its length varint, or its body. */
const TYPE = 0;
const LENGTH = 1;
const BODY = 2;

export class MqttFrameGuard {
  private state: typeof TYPE | typeof LENGTH | typeof BODY = TYPE;
  /** Varint being read: value so far, next multiplier, bytes read. */
  private length = 0;
  private multiplier = 1;
  private lengthBytes = 0;
  /** Body bytes still to skip. */
  private left = 0;
  private packets = 0;
  private refusal: FrameRefusal | null = null;
  /** Whole size (fixed header included) of the packet refused; 0 for `bad_length`. */
  declaredBytes = 0;

  /**
   * @param maxPacketBytes largest whole packet (fixed header included), as MQTT 5's Maximum Packet Size counts
   * @param maxFirstPacketBytes largest first packet (the CONNECT, sent before any login)
   */
  constructor(
    private readonly maxPacketBytes: number,
    private readonly maxFirstPacketBytes = maxPacketBytes,
  ) {}

  /**
   * Takes the next bytes read from the connection; null while every packet so far fits, else
   * why not (and from then on always that). O(packets in the chunk), bodies are skipped.
   */
  push(chunk: Uint8Array): FrameRefusal | null {
    if (this.refusal) return this.refusal;
    const n = chunk.length;
    let i = 0;
    while (i < n) {
      if (this.state === BODY) {
        const take = Math.min(this.left, n - i);
        this.left -= take;
        i += take;
        if (this.left === 0) this.state = TYPE;
        continue;
      }
      if (this.state === TYPE) {
        i++;
        this.state = LENGTH;
        this.length = 0;
        this.multiplier = 1;
        this.lengthBytes = 0;
        continue;
      }
      const byte = chunk[i++] as number;
      this.length += (byte & 0x7f) * this.multiplier;
      this.multiplier *= 128;
      this.lengthBytes++;
      if (byte & 0x80) {
        if (this.lengthBytes === 4) return this.refuse('bad_length', 0);
        continue;
      }
      const whole = 1 + this.lengthBytes + this.length;
      const first = this.packets === 0;
      if (whole > (first ? Math.min(this.maxFirstPacketBytes, this.maxPacketBytes) : this.maxPacketBytes))
        return this.refuse(first && whole <= this.maxPacketBytes ? 'connect_too_large' : 'too_large', whole);
      this.packets++;
      this.left = this.length;
      this.state = this.left > 0 ? BODY : TYPE;
    }
    return null;
  }

  private refuse(reason: FrameRefusal, whole: number): FrameRefusal {
    this.refusal = reason;
    this.declaredBytes = whole;
    return reason;
  }
}
