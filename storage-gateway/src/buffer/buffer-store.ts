import { createHash, randomUUID } from 'node:crypto';
import { mkdir, open, readdir, rename, rm, stat } from 'node:fs/promises';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import { isValidId, segmentKind } from '@cctv/protocol';
import { fsyncDir, isErrno, removeFile } from '../files/durable-fs.ts';

/** Incoming bodies land here first; camera ids never start with a dot, so no clash. */
const INCOMING = '.incoming';

export interface ReceivedBody {
  tempPath: string;
  sha256: string;
  bytes: number;
}

export interface BufferedFile {
  camera: string;
  name: string;
  mtimeMs: number;
}

export class BodyTooLargeError extends Error {
  readonly code = 'too_large';
  constructor(readonly limit: number) {
    super(`segment body exceeds ${limit} bytes`);
  }
}

export class BodyAbortedError extends Error {
  readonly code = 'aborted';
}

/**
 * The gateway's durable local buffer. A body is streamed to a temp file while hashed and
 * counted, fsynced, and only then renamed into `<buffer>/<camera>/<name>`.
 */
export class BufferStore {
  constructor(readonly dir: string) {}

  /** Creates the buffer and clears temp files left by a crash mid-upload. */
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
    let bytes = 0;
    const file = await open(tempPath, 'wx', 0o644);
    try {
      try {
        for await (const chunk of body.iterator({ destroyOnReturn: false })) {
          const buf = chunk as Buffer;
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
    return { tempPath, sha256: hash.digest('hex'), bytes };
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
        if (st?.isFile()) found.push({ camera, name, mtimeMs: st.mtimeMs });
      }
    }
    return found.sort((a, b) => a.mtimeMs - b.mtimeMs || a.name.localeCompare(b.name));
  }
}
