/**
 * Just enough of fragmented MP4 (ISO/IEC 14496-12) to cut a live stream into LL-HLS parts: the
 * top-level boxes as they arrive on a socket, the video track's timescale from `moov`, and
 * each `moof`'s duration and whether it starts with a sync sample. Nothing is rewritten: the
 * parts are served as the agent's ffmpeg wrote them.
 */

export class Fmp4Error extends Error {}

/** One top-level box, header included. */
export interface Box {
  type: string;
  data: Buffer;
}

/**
 * Splits a byte stream into top-level boxes. A box larger than `maxBoxBytes`, a size under the
 * header's, or a box "to the end of the file" (size 0, which a live stream never ends) is an
 * error: the stream is refused rather than buffered without bound.
 */
export class BoxSplitter {
  private pending: Buffer[] = [];
  private pendingBytes = 0;

  constructor(private readonly maxBoxBytes: number) {}

  push(chunk: Buffer): Box[] {
    this.pending.push(chunk);
    this.pendingBytes += chunk.length;
    const boxes: Box[] = [];
    while (this.pendingBytes >= 8) {
      const head = this.peek(16);
      let size = head.readUInt32BE(0);
      const type = head.toString('latin1', 4, 8);
      if (size === 1) {
        if (head.length < 16) break;
        const large = head.readBigUInt64BE(8);
        if (large > BigInt(this.maxBoxBytes)) throw this.tooLarge(type, Number(large));
        size = Number(large);
        if (size < 16) throw new Fmp4Error(`box ${printable(type)} declares ${size} bytes`);
      } else if (size === 0) {
        throw new Fmp4Error(`box ${printable(type)} runs to the end of the stream`);
      } else if (size < 8) {
        throw new Fmp4Error(`box ${printable(type)} declares ${size} bytes`);
      }
      if (size > this.maxBoxBytes) throw this.tooLarge(type, size);
      if (this.pendingBytes < size) break;
      boxes.push({ type, data: this.take(size) });
    }
    return boxes;
  }

  /** Bytes received and not yet part of a whole box. */
  get buffered(): number {
    return this.pendingBytes;
  }

  private tooLarge(type: string, size: number) {
    return new Fmp4Error(`box ${printable(type)} of ${size} bytes is over ${this.maxBoxBytes}`);
  }

  private peek(n: number): Buffer {
    const first = this.pending[0] as Buffer;
    if (first.length >= n || this.pending.length === 1) return first.subarray(0, n);
    const joined = Buffer.concat(this.pending);
    this.pending = [joined];
    return joined.subarray(0, n);
  }

  private take(n: number): Buffer {
    const joined = this.pending.length === 1 ? (this.pending[0] as Buffer) : Buffer.concat(this.pending);
    // A copy, so that a part does not hold the whole chunk it arrived in.
    const out = Buffer.from(joined.subarray(0, n));
    const rest = joined.subarray(n);
    this.pending = rest.length > 0 ? [rest] : [];
    this.pendingBytes = rest.length;
    return out;
  }
}

const printable = (type: string) => JSON.stringify(type.replace(/[^\x20-\x7e]/g, '?'));

/** The children of a container box's payload (`start` skips the header and any fields). */
function children(data: Buffer, start: number, end = data.length): Box[] {
  const out: Box[] = [];
  let at = start;
  while (at + 8 <= end) {
    let size = data.readUInt32BE(at);
    let header = 8;
    if (size === 1) {
      if (at + 16 > end) break;
      size = Number(data.readBigUInt64BE(at + 8));
      header = 16;
    } else if (size === 0) size = end - at;
    if (size < header || at + size > end) throw new Fmp4Error('a box overruns its parent');
    out.push({ type: data.toString('latin1', at + 4, at + 8), data: data.subarray(at, at + size) });
    at += size;
  }
  return out;
}

const child = (box: Box, type: string): Box | undefined => children(box.data, 8).find((b) => b.type === type);

/** What the init segment tells about the video track. */
export interface InitInfo {
  trackId: number;
  timescale: number;
  /** `trex` defaults, used when a fragment names none. */
  defaultSampleDuration: number;
  defaultSampleFlags: number;
}

/** The first video track of a `moov`. */
export function parseMoov(moov: Box): InitInfo {
  for (const trak of children(moov.data, 8).filter((b) => b.type === 'trak')) {
    const mdia = child(trak, 'mdia');
    const hdlr = mdia && child(mdia, 'hdlr');
    const mdhd = mdia && child(mdia, 'mdhd');
    const tkhd = child(trak, 'tkhd');
    if (!hdlr || !mdhd || !tkhd || hdlr.data.length < 20) continue;
    if (hdlr.data.toString('latin1', 16, 20) !== 'vide') continue;
    const mdhdV1 = mdhd.data[8] === 1;
    const timescale = mdhd.data.readUInt32BE(mdhdV1 ? 28 : 20);
    const trackId = tkhd.data.readUInt32BE(tkhd.data[8] === 1 ? 28 : 20);
    if (timescale === 0) throw new Fmp4Error('the video track has a timescale of 0');
    const mvex = child(moov, 'mvex');
    const trex =
      mvex && children(mvex.data, 8).find((b) => b.type === 'trex' && b.data.readUInt32BE(12) === trackId);
    return {
      trackId,
      timescale,
      defaultSampleDuration: trex ? trex.data.readUInt32BE(20) : 0,
      defaultSampleFlags: trex ? trex.data.readUInt32BE(28) : 0,
    };
  }
  throw new Fmp4Error('the init segment has no video track');
}

/** What a `moof` says of its video samples. */
export interface FragmentInfo {
  /** In seconds. */
  duration: number;
  /** Starts with a sync sample (a keyframe): a player may begin here. */
  independent: boolean;
  samples: number;
}

const NON_SYNC = 0x10000;

/** Duration and first-sample sync of the video track's runs in one `moof`. */
export function parseMoof(moof: Box, init: InitInfo): FragmentInfo {
  let ticks = 0;
  let samples = 0;
  let firstFlags: number | null = null;
  for (const traf of children(moof.data, 8).filter((b) => b.type === 'traf')) {
    const tfhd = child(traf, 'tfhd');
    if (!tfhd || tfhd.data.length < 16 || tfhd.data.readUInt32BE(12) !== init.trackId) continue;
    const tfhdFlags = tfhd.data.readUInt32BE(8) & 0xffffff;
    let at = 16;
    if (tfhdFlags & 0x01) at += 8; // base data offset
    if (tfhdFlags & 0x02) at += 4; // sample description index
    let defaultDuration = init.defaultSampleDuration;
    let defaultFlags = init.defaultSampleFlags;
    if (tfhdFlags & 0x08) {
      defaultDuration = tfhd.data.readUInt32BE(at);
      at += 4;
    }
    if (tfhdFlags & 0x10) at += 4; // default sample size
    if (tfhdFlags & 0x20) defaultFlags = tfhd.data.readUInt32BE(at);
    for (const trun of children(traf.data, 8).filter((b) => b.type === 'trun')) {
      const d = trun.data;
      const flags = d.readUInt32BE(8) & 0xffffff;
      const count = d.readUInt32BE(12);
      let p = 16;
      if (flags & 0x01) p += 4; // data offset
      let first: number | null = null;
      if (flags & 0x04) {
        first = d.readUInt32BE(p);
        p += 4;
      }
      const perSample = [0x100, 0x200, 0x400, 0x800].filter((f) => flags & f).length * 4;
      if (p + count * perSample > d.length) throw new Fmp4Error('a trun overruns its box');
      for (let i = 0; i < count; i++, p += perSample) {
        let q = p;
        let duration = defaultDuration;
        if (flags & 0x100) {
          duration = d.readUInt32BE(q);
          q += 4;
        }
        if (flags & 0x200) q += 4;
        let sampleFlags = i === 0 && first !== null ? first : defaultFlags;
        if (flags & 0x400) sampleFlags = i === 0 && first !== null ? first : d.readUInt32BE(q);
        if (firstFlags === null) firstFlags = sampleFlags;
        ticks += duration;
      }
      samples += count;
    }
  }
  if (samples === 0) throw new Fmp4Error('a fragment has no video sample');
  return {
    duration: ticks / init.timescale,
    independent: ((firstFlags ?? NON_SYNC) & NON_SYNC) === 0,
    samples,
  };
}
