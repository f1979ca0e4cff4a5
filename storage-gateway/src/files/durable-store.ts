import { createHash, randomUUID } from 'node:crypto';
import { mkdir, open, rename, rm } from 'node:fs/promises';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import { fsyncDir, isErrno, removeFile } from './durable-fs.ts';

/** Incoming bodies land here first; camera ids never start with a dot, so no clash. */
const INCOMING = '.incoming';
/** How many leading bytes of a body are kept for format checks (magic numbers). */
const HEAD_BYTES = 16;

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
   */
  async receive(body: Readable, maxBytes: number): Promise<ReceivedBody> {
    const tempPath = join(this.dir, INCOMING, `${randomUUID()}.part`);
    const hash = createHash('sha256');
    const head: Buffer[] = [];
    let bytes = 0;
    const file = await open(tempPath, 'wx', 0o644);
    try {
      try {
        for await (const chunk of body.iterator({ destroyOnReturn: false })) {
          const buf = chunk as Buffer;
          if (bytes < HEAD_BYTES) head.push(buf.subarray(0, HEAD_BYTES - bytes));
          bytes += buf.length;
          if (bytes > maxBytes) throw new BodyTooLargeError(maxBytes);
          hash.update(buf);
          await file.write(buf);
        }
      } catch (err) {
        if (err instanceof BodyTooLargeError) throw err;
        if (isErrno(err, 'ECONNRESET', 'ERR_STREAM_PREMATURE_CLOSE') || body.destroyed)
          throw new BodyAbortedError('client closed the connection before the body was complete');
        throw err;
      }
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
