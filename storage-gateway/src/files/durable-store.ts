import { createHash, randomUUID } from 'node:crypto';
import { type FileHandle, mkdir, open, rename, rm } from 'node:fs/promises';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import { fsyncDir, isErrno, removeFile } from './durable-fs.ts';

/** Incoming bodies land here first; camera ids never start with a dot, so no clash. */
const INCOMING = '.incoming';
/** How many leading bytes of a body are kept for format checks (magic numbers). */
const HEAD_BYTES = 16;
/** A body is copied into slabs of this size, each written to the temp file in one write. */
const SLAB_BYTES = 256 * 1024;
/** Free slabs kept for the next uploads (the rest go back to the allocator). */
const SLABS_KEPT = 64;

export interface ReceivedBody {
  tempPath: string;
  sha256: string;
  bytes: number;
  /** The first bytes of the body (fewer when the body is shorter). */
  head: Buffer;
}

export class BodyTooLargeError extends Error {
  readonly code = 'too_large';
  constructor(readonly limit: number) {
    super(`body exceeds ${limit} bytes`);
  }
}

export class BodyAbortedError extends Error {
  readonly code = 'aborted';
}

/**
 * A directory of `<dir>/<camera>/<name>` files written so that an acknowledgement survives
 * a power cut: a body is streamed to `<dir>/.incoming/` while hashed and counted, fsynced,
 * and only then renamed into place and the directory fsynced. The temp files sit in the
 * same directory tree, so the rename never crosses a filesystem.
 */
export class DurableStore {
  constructor(readonly dir: string) {}

  /** Creates the directory and clears temp files left by a crash mid-upload. */
  async prepare(): Promise<void> {
    await rm(join(this.dir, INCOMING), { recursive: true, force: true });
    await mkdir(join(this.dir, INCOMING), { recursive: true });
    await fsyncDir(this.dir);
  }

  /**
   * Streams a body to a temp file, hashing as it goes and refusing past `maxBytes`. The
   * request is not destroyed on overflow, so the caller can still answer 413.
   *
   * Each chunk is hashed and copied into a reused slab at once, and a full slab is written while
   * the next fills (one write in flight): a TLS socket hands over 16 KiB records, a write per
   * record cost more CPU than the decryption, and records kept until a gathered write ended
   * lived long enough to reach V8's old generation, where only full collections free them.
   */
  async receive(body: Readable, maxBytes: number): Promise<ReceivedBody> {
    const tempPath = join(this.dir, INCOMING, `${randomUUID()}.part`);
    const hash = createHash('sha256');
    const head: Buffer[] = [];
    let bytes = 0;
    const file = await open(tempPath, 'wx', 0o644);
    const writer = new SlabWriter(file);
    try {
      try {
        for await (const chunk of body.iterator({ destroyOnReturn: false })) {
          const buf = chunk as Buffer;
          if (bytes < HEAD_BYTES) head.push(buf.subarray(0, HEAD_BYTES - bytes));
          bytes += buf.length;
          if (bytes > maxBytes) throw new BodyTooLargeError(maxBytes);
          hash.update(buf);
          await writer.add(buf);
        }
      } catch (err) {
        await writer.abandon();
        if (err instanceof BodyTooLargeError) throw err;
        if (isErrno(err, 'ECONNRESET', 'ERR_STREAM_PREMATURE_CLOSE') || body.destroyed)
          throw new BodyAbortedError('client closed the connection before the body was complete');
        throw err;
      }
      await writer.finish();
      if ((body as Readable & { complete?: boolean }).complete === false)
        throw new BodyAbortedError('request body ended early');
      await file.sync();
    } catch (err) {
      await file.close().catch(() => {});
      await removeFile(tempPath);
      throw err;
    }
    await file.close();
    // Copied, so the kept bytes do not pin the request's chunks in memory.
    return { tempPath, sha256: hash.digest('hex'), bytes, head: Buffer.from(Buffer.concat(head)) };
  }

  /** Moves a received body into place durably: rename, then fsync the directories. */
  async commit(tempPath: string, camera: string, name: string): Promise<string> {
    const cameraDir = join(this.dir, camera);
    const target = join(cameraDir, name);
    if (!this.cameraDirs.has(camera)) await this.makeCameraDir(camera);
    try {
      await rename(tempPath, target);
    } catch (err) {
      // The folder went since it was made (removed by hand): made again, durably.
      if (!isErrno(err, 'ENOENT')) throw err;
      await this.makeCameraDir(camera);
      await rename(tempPath, target);
    }
    await fsyncDir(cameraDir);
    return target;
  }

  /** Camera folders known to exist: a mkdir per upload is a system call for nothing. */
  private readonly cameraDirs = new Set<string>();

  private async makeCameraDir(camera: string): Promise<void> {
    const created = await mkdir(join(this.dir, camera), { recursive: true });
    if (created) await fsyncDir(this.dir);
    this.cameraDirs.add(camera);
  }

  async discard(tempPath: string): Promise<void> {
    await removeFile(tempPath);
  }
}

/** Slabs shared by every upload in this process. */
const slabs: Buffer[] = [];
const takeSlab = () => slabs.pop() ?? Buffer.allocUnsafeSlow(SLAB_BYTES);
const giveSlab = (slab: Buffer) => {
  if (slabs.length < SLABS_KEPT) slabs.push(slab);
};

/**
 * Appends bytes to a file through two slabs: one filling, one being written (at most one write
 * in flight). A failed write is kept and thrown by the next call, never left as an unhandled
 * rejection; a short write is an error.
 */
class SlabWriter {
  private slab: Buffer | null = null;
  private fill = 0;
  private position = 0;
  private inFlight: Promise<Error | null> | null = null;

  constructor(private readonly file: FileHandle) {}

  /** Copies `buf` in; waits only when a full slab must wait for the write before it. */
  async add(buf: Buffer): Promise<void> {
    for (let at = 0; at < buf.length; ) {
      this.slab ??= takeSlab();
      const n = buf.copy(this.slab, this.fill, at);
      this.fill += n;
      at += n;
      if (this.fill === SLAB_BYTES) await this.flush();
    }
  }

  /** Writes what is left and waits for every write. */
  async finish(): Promise<void> {
    await this.flush();
    await this.wait();
  }

  /** Waits for the write in flight, ignoring its outcome (the body is being given up). */
  async abandon(): Promise<void> {
    await this.inFlight;
    this.inFlight = null;
    if (this.slab) giveSlab(this.slab);
    this.slab = null;
  }

  private async flush(): Promise<void> {
    await this.wait();
    const slab = this.slab;
    const length = this.fill;
    this.slab = null;
    this.fill = 0;
    if (!slab) return;
    if (length === 0) {
      giveSlab(slab);
      return;
    }
    const position = this.position;
    this.position += length;
    this.inFlight = this.file.write(slab, 0, length, position).then(
      ({ bytesWritten }) => {
        giveSlab(slab);
        return bytesWritten === length ? null : new Error(`short write: ${bytesWritten} of ${length} bytes`);
      },
      (err: Error) => {
        giveSlab(slab);
        return err;
      },
    );
  }

  private async wait(): Promise<void> {
    const failed = await this.inFlight;
    this.inFlight = null;
    if (failed) throw failed;
  }
}
