/**
 * Counts the video samples (frames) in an fMP4 media segment by reading only its `moof`
 * boxes (`moof/traf/trun` sample_count), skipping over `mdat` payloads.
 */
import { open, readFile, stat } from 'node:fs/promises';

function boxes(buf: Buffer, start: number, end: number, visit: (type: string, body: Buffer) => void): void {
  let off = start;
  while (off + 8 <= end) {
    let size = buf.readUInt32BE(off);
    const type = buf.toString('latin1', off + 4, off + 8);
    let header = 8;
    if (size === 1 && off + 16 <= end) {
      size = Number(buf.readBigUInt64BE(off + 8));
      header = 16;
    } else if (size === 0) size = end - off;
    if (size < header || off + size > end) return;
    visit(type, buf.subarray(off + header, off + size));
    off += size;
  }
}

/** Sum of trun sample counts inside one moof box body. */
export function samplesInMoof(moof: Buffer): number {
  let count = 0;
  boxes(moof, 0, moof.length, (type, body) => {
    if (type !== 'traf') return;
    boxes(body, 0, body.length, (inner, trun) => {
      if (inner === 'trun' && trun.length >= 8) count += trun.readUInt32BE(4);
    });
  });
  return count;
}

/** Segments up to this size are read whole: one read instead of two per fragment. */
const WHOLE_READ_MAX_BYTES = 16 * 1024 * 1024;

export async function countSamples(path: string): Promise<number> {
  // ffmpeg's HLS fMP4 segments hold a fragment (moof + mdat) per frame or so: walking the file
  // with a read per box header cost ~60 reads through the thread pool per 2 s segment, more than
  // reading it whole from the page cache (where it was just written).
  const { size } = await stat(path);
  if (size <= WHOLE_READ_MAX_BYTES) {
    const buf = await readFile(path);
    let total = 0;
    boxes(buf, 0, buf.length, (type, body) => {
      if (type === 'moof') total += samplesInMoof(body);
    });
    return total;
  }
  const fh = await open(path, 'r');
  try {
    const { size: fileSize } = await fh.stat();
    const head = Buffer.alloc(16);
    let off = 0;
    let total = 0;
    while (off + 8 <= fileSize) {
      const { bytesRead } = await fh.read(head, 0, 16, off);
      if (bytesRead < 8) break;
      let size = head.readUInt32BE(0);
      const type = head.toString('latin1', 4, 8);
      let header = 8;
      if (size === 1 && bytesRead >= 16) {
        size = Number(head.readBigUInt64BE(8));
        header = 16;
      } else if (size === 0) size = fileSize - off;
      if (size < header) break;
      if (type === 'moof' && size < 4 * 1024 * 1024) {
        const body = Buffer.alloc(size - header);
        await fh.read(body, 0, body.length, off + header);
        total += samplesInMoof(body);
      }
      off += size;
    }
    return total;
  } finally {
    await fh.close();
  }
}
