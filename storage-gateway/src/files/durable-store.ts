import { createHash, randomUUID } from 'node:crypto';
import { type FileHandle, mkdir, open, rename, rm } from 'node:fs/promises';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import { fsyncDir, isErrno, removeFile } from './durable-fs.ts';

/** Incoming bodies land here first; camera ids never start with a dot, so no clash. */
const INCOMING = '.incoming';
/** How many leading bytes of a body are kept for format checks (magic numbers). */
const HEAD_BYTES = 16;
/** A body is written to its temp file in writes of up to this many bytes (and chunks). */
const WRITE_BATCH_BYTES = 256 * 1024;
const WRITE_BATCH_CHUNKS = 256;

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
   * Chunks are gathered into writes of up to WRITE_BATCH_BYTES, one write in flight while the
   * next batch is read: a TLS socket hands over 16 KiB records, and a write (a threadpool
   * round trip) per record cost more CPU than the decryption.
   */
  async receive(body: Readable, maxBytes: number): Promise<ReceivedBody> {
    const tempPath = join(this.dir, INCOMING, `${randomUUID()}.part`);
    const hash = createHash('sha256');
    const head: Buffer[] = [];
    let bytes = 0;
    const file = await open(tempPath, 'wx', 0o644);
    const writer = new BatchWriter(file);
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
        await writer.settle();
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
    const created = await mkdir(cameraDir, { recursive: true });
    if (created) await fsyncDir(this.dir);
    const target = join(cameraDir, name);
    await rename(tempPath, target);
    await fsyncDir(cameraDir);
    return target;
  }

  async discard(tempPath: string): Promise<void> {
    await removeFile(tempPath);
  }
}

/**
 * Appends buffers to a file in gathered writes, at most one in flight. A failed write is kept
 * and thrown by the next call, never left as an unhandled rejection; a short write is an error.
 */
class BatchWriter {
  private batch: Buffer[] = [];
  private batchBytes = 0;
  private inFlight: Promise<Error | null> | null = null;

  constructor(private readonly file: FileHandle) {}

  /** Queues `buf`; waits only when a full batch must wait for the write before it. */
  async add(buf: Buffer): Promise<void> {
    this.batch.push(buf);
    this.batchBytes += buf.length;
    if (this.batchBytes >= WRITE_BATCH_BYTES || this.batch.length >= WRITE_BATCH_CHUNKS) await this.flush();
  }

  /** Writes what is queued and waits for every write. */
  async finish(): Promise<void> {
    await this.flush();
    await this.wait();
  }

  /** Waits for the write in flight, ignoring its outcome (the body is being given up). */
  async settle(): Promise<void> {
    await this.inFlight;
    this.inFlight = null;
  }

  private async flush(): Promise<void> {
    await this.wait();
    if (this.batch.length === 0) return;
    const buffers = this.batch;
    const expected = this.batchBytes;
    this.batch = [];
    this.batchBytes = 0;
    this.inFlight = this.file.writev(buffers).then(
      ({ bytesWritten }) =>
        bytesWritten === expected ? null : new Error(`short write: ${bytesWritten} of ${expected} bytes`),
      (err: Error) => err,
    );
  }

  private async wait(): Promise<void> {
    const failed = await this.inFlight;
    this.inFlight = null;
    if (failed) throw failed;
  }
}
