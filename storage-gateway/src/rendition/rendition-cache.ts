import { randomUUID } from 'node:crypto';
import { type FileHandle, mkdir, open, readdir, rename, rm, stat, unlink } from 'node:fs/promises';
import { dirname, join, relative, sep } from 'node:path';
import type { Logger } from 'pino';
import { isErrno } from '../files/durable-fs.ts';

export interface CachedRendition {
  handle: FileHandle;
  size: number;
  mtime: Date;
}

export interface CacheState {
  files: number;
  bytes: number;
  maxBytes: number;
}

const EXT = '.ts';

/**
 * Finished renditions at `<dir>/<key>.ts`, bounded by bytes, least recently used evicted
 * first. A file only ever appears under its final name by rename from `<dir>/.tmp/`, so a
 * crash leaves at most a temp file, cleared by the next `prepare()`. Keys are built from
 * checked camera ids and segment names (`h264/<camera>/<stem>`), so none leaves the
 * directory. Recency survives a restart through the files' mtime, touched on every hit.
 */
export class RenditionCache {
  /** key → bytes; a Map iterates in insertion order, so the first entry is the least recent. */
  private readonly entries = new Map<string, number>();
  /** Keys being served right now: never evicted until their handle is open. */
  private readonly pins = new Map<string, number>();
  private bytes = 0;

  constructor(
    readonly dir: string,
    readonly maxBytes: number,
    private readonly logger: Logger,
  ) {}

  get state(): CacheState {
    return { files: this.entries.size, bytes: this.bytes, maxBytes: this.maxBytes };
  }

  private get tmpDir(): string {
    return join(this.dir, '.tmp');
  }

  path(key: string): string {
    return join(this.dir, `${key}${EXT}`);
  }

  /** Clears temp files left by a crash and indexes what is already cached, oldest first. */
  async prepare(): Promise<void> {
    await rm(this.tmpDir, { recursive: true, force: true });
    await mkdir(this.tmpDir, { recursive: true });
    const found: { key: string; size: number; mtimeMs: number }[] = [];
    for (const entry of await readdir(this.dir, { recursive: true, withFileTypes: true })) {
      if (!entry.isFile() || !entry.name.endsWith(EXT)) continue;
      const path = join(entry.parentPath, entry.name);
      const key = relative(this.dir, path).slice(0, -EXT.length).split(sep).join('/');
      const st = await stat(path);
      found.push({ key, size: st.size, mtimeMs: st.mtimeMs });
    }
    found.sort((a, b) => a.mtimeMs - b.mtimeMs);
    this.entries.clear();
    this.bytes = 0;
    for (const { key, size } of found) this.add(key, size);
    await this.evict();
  }

  has(key: string): boolean {
    return this.entries.has(key);
  }

  /** Opens a cached rendition and marks it most recently used; null when not cached. */
  async open(key: string): Promise<CachedRendition | null> {
    if (!this.entries.has(key)) return null;
    let handle: FileHandle;
    try {
      handle = await open(this.path(key), 'r');
    } catch (err) {
      if (!isErrno(err, 'ENOENT', 'ENOTDIR')) throw err;
      this.forget(key); // removed behind our back: transcode again
      return null;
    }
    try {
      const st = await handle.stat();
      this.touch(key);
      const now = new Date();
      await handle
        .utimes(now, now)
        .catch((err: unknown) => this.logger.debug({ err, key }, 'could not touch a cached rendition'));
      return { handle, size: st.size, mtime: st.mtime };
    } catch (err) {
      await handle.close();
      throw err;
    }
  }

  /** A fresh temp path on the cache's own file system, so `commit` is a plain rename. */
  tempPath(): string {
    return join(this.tmpDir, `${randomUUID()}${EXT}`);
  }

  /** Flushes a finished temp file, renames it to its key, then evicts down to the bound. */
  async commit(key: string, tempPath: string): Promise<number> {
    const handle = await open(tempPath, 'r+');
    let size: number;
    try {
      await handle.sync();
      size = (await handle.stat()).size;
    } finally {
      await handle.close();
    }
    const path = this.path(key);
    await mkdir(dirname(path), { recursive: true });
    await rename(tempPath, path);
    this.forget(key);
    this.add(key, size);
    await this.evict();
    return size;
  }

  pin(key: string): void {
    this.pins.set(key, (this.pins.get(key) ?? 0) + 1);
  }

  async unpin(key: string): Promise<void> {
    const left = (this.pins.get(key) ?? 1) - 1;
    if (left > 0) {
      this.pins.set(key, left);
      return;
    }
    this.pins.delete(key);
    if (this.bytes > this.maxBytes) await this.evict();
  }

  /** Drops least recently used, unpinned files until the total fits the bound. */
  private async evict(): Promise<void> {
    const victims: string[] = [];
    for (const [key, size] of this.entries) {
      if (this.bytes <= this.maxBytes) break;
      if (this.pins.has(key)) continue;
      this.entries.delete(key);
      this.bytes -= size;
      victims.push(key);
    }
    // Book-keeping first, unlinks after: a second eviction never picks the same file, and a
    // reader that opened it before keeps reading from its handle.
    await Promise.all(
      victims.map((key) =>
        unlink(this.path(key)).catch((err: unknown) => {
          if (!isErrno(err, 'ENOENT')) this.logger.warn({ err, key }, 'could not evict a cached rendition');
        }),
      ),
    );
    if (victims.length > 0)
      this.logger.debug({ evicted: victims.length, bytes: this.bytes }, 'cache evicted');
  }

  private add(key: string, size: number): void {
    this.entries.set(key, size);
    this.bytes += size;
  }

  private forget(key: string): void {
    const size = this.entries.get(key);
    if (size === undefined) return;
    this.entries.delete(key);
    this.bytes -= size;
  }

  private touch(key: string): void {
    const size = this.entries.get(key);
    if (size === undefined) return;
    this.entries.delete(key);
    this.entries.set(key, size);
  }
}
