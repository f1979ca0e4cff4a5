import { readdir, stat, statfs } from 'node:fs/promises';
import { join } from 'node:path';
import { isValidId, segmentKind } from '@cctv/protocol';
import { isErrno } from '../files/durable-fs.ts';
import { DurableStore } from '../files/durable-store.ts';

export interface BufferedFile {
  camera: string;
  name: string;
  bytes: number;
  mtimeMs: number;
}

export interface BufferLimits {
  /** Most bytes waiting for the NAS plus bodies being received (0: no cap but free space). */
  maxBytes: number;
  /** Free space the buffer's filesystem keeps; an upload that would cut into it is refused. */
  minFreeBytes: number;
}

/** The buffer cannot take this body now; the agent keeps it and comes back later. */
export class BufferFullError extends Error {
  readonly code = 'buffer_full';
}

/**
 * The gateway's durable local buffer: segments are received and committed the durable way
 * into `<buffer>/<camera>/<name>` and wait there for the NAS mover. Before a body is read,
 * `reserve` checks that it fits, so the gateway never acknowledges what it cannot keep.
 */
export class BufferStore extends DurableStore {
  private reserved = 0;
  private free: { bytes: number; at: number } | null = null;

  constructor(
    dir: string,
    private readonly limits: BufferLimits = { maxBytes: 0, minFreeBytes: 0 },
    /** Bytes committed and waiting for the NAS (the mover's backlog). */
    private readonly waitingBytes: () => number = () => 0,
  ) {
    super(dir);
  }

  /** Bytes waiting for the NAS plus bodies being received. */
  get usedBytes(): number {
    return this.waitingBytes() + this.reserved;
  }

  /**
   * Holds room for a body of `bytes` until the returned release is called (after commit or
   * discard). Throws BufferFullError when the cap or the free-space floor would be crossed.
   */
  async reserve(bytes: number): Promise<() => void> {
    const { maxBytes, minFreeBytes } = this.limits;
    if (maxBytes > 0 && this.usedBytes + bytes > maxBytes)
      throw new BufferFullError(`the buffer holds ${this.usedBytes} of ${maxBytes} bytes`);
    if (minFreeBytes > 0) {
      const free = await this.freeBytes();
      if (free - this.reserved - bytes < minFreeBytes)
        throw new BufferFullError(`the buffer disk has ${free} bytes free, keeping ${minFreeBytes}`);
    }
    this.reserved += bytes;
    let released = false;
    return () => {
      if (released) return;
      released = true;
      // The free-space reading stays up to 500 ms old: a statfs per upload costs more than the
      // minimum free space (tens of MiB) can be overrun by in that time.
      this.reserved -= bytes;
    };
  }

  /** Free bytes on the buffer's filesystem, read at most every 500 ms. */
  private async freeBytes(): Promise<number> {
    const now = Date.now();
    if (this.free && now - this.free.at < 500) return this.free.bytes;
    const fs = await statfs(this.dir);
    this.free = { bytes: fs.bavail * fs.bsize, at: now };
    return this.free.bytes;
  }

  /** Cameras with a folder in the buffer: those this gateway has taken uploads for. */
  async cameras(): Promise<string[]> {
    const entries = await readdir(this.dir, { withFileTypes: true }).catch(() => []);
    return entries.filter((e) => e.isDirectory() && isValidId(e.name)).map((e) => e.name);
  }

  /** Every segment file waiting in the buffer, oldest first (arrival order). */
  async scan(): Promise<BufferedFile[]> {
    const found: BufferedFile[] = [];
    for (const camera of await readdir(this.dir).catch(() => [] as string[])) {
      if (!isValidId(camera)) continue;
      const cameraDir = join(this.dir, camera);
      const names = await readdir(cameraDir).catch((err: unknown) => {
        if (isErrno(err, 'ENOTDIR', 'ENOENT')) return [] as string[];
        throw err;
      });
      for (const name of names) {
        if (!segmentKind(name)) continue;
        const st = await stat(join(cameraDir, name)).catch(() => null);
        if (st?.isFile()) found.push({ camera, name, bytes: st.size, mtimeMs: st.mtimeMs });
      }
    }
    return found.sort((a, b) => a.mtimeMs - b.mtimeMs || a.name.localeCompare(b.name));
  }
}
