import { createHash, randomUUID } from 'node:crypto';
import { constants as fsConstants } from 'node:fs';
import { copyFile, type FileHandle, mkdir, open, readdir, rename, rm, stat, statfs } from 'node:fs/promises';
import { join } from 'node:path';
import { isValidId, segmentKind } from '@cctv/protocol';
import { digestFile, fsyncDir, isErrno, removeFile } from '../files/durable-fs.ts';
import { isMountPoint } from './mount-check.ts';
import { NasError } from './nas-errors.ts';

/**
 * The file operations on the NAS. They run in the NAS worker process (nas-worker.ts), never in
 * the gateway itself: a hung NFS/SMB share blocks the thread that touches it, and in the
 * gateway that would be a libuv pool thread that ingest needs.
 */
export interface NasOpsConfig {
  nasDir: string;
  /** The NAS path must be a mount point: with nothing mounted, writes are refused. */
  requireMount: boolean;
}

export type NasRequest =
  | { op: 'copy'; src: string; camera: string; name: string; sha256: string }
  | { op: 'remove'; camera: string; name: string }
  | { op: 'usage' }
  | { op: 'list'; camera: string }
  | { op: 'cameras' }
  | { op: 'digest'; camera: string; name: string }
  | { op: 'cleanTemp'; camera: string; olderThanMs: number }
  | { op: 'probe' };

interface FileId {
  dev: number;
  ino: number;
}

const sameFile = (a: FileId, b: FileId) => a.dev === b.dev && a.ino === b.ino;

/** Read-backs in large pieces: fewer system calls per segment. */
const CHUNK = 1024 * 1024;
/**
 * How long a root identity that was seen mounted is trusted without reading the mount table
 * again. The identity itself (device and inode) is still checked every time: an unmounted share
 * shows the directory under it, which has another identity.
 */
const MOUNT_RECHECK_MS = 1_000;

/**
 * Read buffers reused across read-backs (one per copy in flight): a fresh megabyte per read
 * is memory the garbage collector has to chase at hundreds of segments per second.
 */
class BufferPool {
  private readonly free: Buffer[] = [];
  take(): Buffer {
    return this.free.pop() ?? Buffer.allocUnsafe(CHUNK);
  }
  give(buf: Buffer): void {
    if (this.free.length < 16) this.free.push(buf);
  }
}

async function digestHandle(
  handle: FileHandle,
  pool: BufferPool,
): Promise<{ sha256: string; bytes: number }> {
  const hash = createHash('sha256');
  const buf = pool.take();
  let bytes = 0;
  try {
    for (;;) {
      const { bytesRead } = await handle.read(buf, 0, buf.length, bytes);
      if (bytesRead === 0) break;
      hash.update(bytesRead === buf.length ? buf : buf.subarray(0, bytesRead));
      bytes += bytesRead;
    }
  } finally {
    pool.give(buf);
  }
  return { sha256: hash.digest('hex'), bytes };
}

export type CopyResult = { status: 'copied'; bytes: number } | { status: 'source_missing' };
export interface NasUsage {
  totalBytes: number;
  freeBytes: number;
}

export class NasOps {
  private readonly buffers = new BufferPool();
  /** The root identity last seen mounted, and when (see MOUNT_RECHECK_MS). */
  private mounted: (FileId & { at: number }) | null = null;

  constructor(private readonly config: NasOpsConfig) {}

  async run(req: NasRequest): Promise<unknown> {
    switch (req.op) {
      case 'copy':
        return this.copy(req.src, req.camera, req.name, req.sha256);
      case 'remove':
        return this.remove(req.camera, req.name);
      case 'usage':
        return this.usage();
      case 'list':
        return this.list(req.camera);
      case 'cameras':
        return this.cameras();
      case 'digest':
        return this.digest(req.camera, req.name);
      case 'cleanTemp':
        return this.cleanTemp(req.camera, req.olderThanMs);
      case 'probe':
        return this.checkRoot();
    }
  }

  /**
   * The NAS root is there (and mounted when it must be); it is never created here. Returns the
   * root's identity, so a copy can tell whether the share changed under it meanwhile.
   */
  async checkRoot(): Promise<FileId> {
    const root = this.config.nasDir;
    const look = () =>
      stat(root).catch((err: unknown) => {
        throw new NasError(
          'unreachable',
          `NAS directory ${root} is not reachable: ${(err as Error).message}`,
        );
      });
    const st = await look();
    if (!st.isDirectory()) throw new NasError('unreachable', `NAS path ${root} is not a directory`);
    if (this.config.requireMount) {
      const known = this.mounted;
      if (known && sameFile(known, st) && Date.now() - known.at < MOUNT_RECHECK_MS)
        return { dev: st.dev, ino: st.ino };
      this.mounted = null;
      if (!(await isMountPoint(root)))
        throw new NasError('not_mounted', `nothing is mounted at the NAS path ${root}`);
      // The directory seen must be the mounted one: a share unmounted between the look and the
      // mount table read would leave the identity of the empty mount point behind.
      const again = await look();
      if (!sameFile(again, st))
        throw new NasError('not_mounted', `the NAS share at ${root} changed while checked`);
      this.mounted = { dev: st.dev, ino: st.ino, at: Date.now() };
    }
    return { dev: st.dev, ino: st.ino };
  }

  /**
   * Copies a buffered segment so that the NAS name either does not exist or holds a full copy
   * that reads back with the acknowledged sha256: temp name, fsync, rename, fsync the
   * directory, re-read.
   *
   * The bytes are copied by the kernel (`copyFile`: copy_file_range where the two file systems
   * allow it, else sendfile), never through this process; the one read-back hash of the NAS
   * copy then checks the buffered copy and the NAS write at once. Only when it does not match
   * is the buffered copy hashed too, to tell a damaged buffer (never movable) from a bad NAS
   * write (retried).
   */
  async copy(src: string, camera: string, name: string, sha256: string): Promise<CopyResult> {
    this.checkName(camera, name);
    const rootId = await this.checkRoot();
    const dir = join(this.config.nasDir, camera);
    try {
      await mkdir(dir);
      await fsyncDir(this.config.nasDir);
    } catch (err) {
      if (!isErrno(err, 'EEXIST')) throw err;
    }
    const dst = join(dir, name);
    const tmp = join(dir, `.${name}.${randomUUID()}.tmp`);
    try {
      try {
        await copyFile(src, tmp, fsConstants.COPYFILE_EXCL);
      } catch (err) {
        // The buffered copy went meanwhile (moved or removed since it was queued).
        if (isErrno(err, 'ENOENT') && !(await stat(src).catch(() => null))) {
          await removeFile(tmp);
          return { status: 'source_missing' };
        }
        throw err;
      }
      // fsynced, then read back whole: the hash checks the buffered copy and the NAS copy at
      // once, before the file takes the segment's name (a good copy already there stays).
      let written: FileId;
      let bytes: number;
      const out = await open(tmp, 'r');
      try {
        await out.sync();
        written = await out.stat();
        const back = await digestHandle(out, this.buffers);
        bytes = back.bytes;
        if (back.sha256 !== sha256) {
          const source = await this.sourceDigest(src);
          if (source && source.sha256 !== sha256)
            throw new NasError(
              'buffer_corrupt',
              `buffered ${camera}/${name} hashes to ${source.sha256}, not ${sha256}`,
            );
          throw new NasError('verify_failed', `NAS copy of ${camera}/${name} reads back as ${back.sha256}`);
        }
      } finally {
        await out.close();
      }
      await rename(tmp, dst);
      await fsyncDir(dir);
      // The name must lead to the file just written and read back, under the same mounted
      // root: a share unmounted (or remounted) during the copy would otherwise let it land on
      // the local disk under the mount point, or the check look at another file.
      // The name is looked up between two checks of the root, so a share that comes and goes
      // meanwhile shows in one of them; on a real share (NFS, SMB, another disk) the file's
      // device alone tells the share from the local disk under it.
      const root = await this.checkRoot();
      const named = await stat(dst).catch(() => null);
      const rootAfter = await this.checkRoot();
      if (
        !sameFile(named ?? { dev: -1, ino: -1 }, written) ||
        !sameFile(root, rootId) ||
        !sameFile(rootAfter, rootId) ||
        written.dev !== rootId.dev
      )
        throw new NasError('not_mounted', `the NAS share changed while ${camera}/${name} was copied`);
      return { status: 'copied', bytes };
    } catch (err) {
      await removeFile(tmp).catch(() => {});
      throw err;
    }
  }

  /** The buffered copy's digest, or null when it is gone. */
  private async sourceDigest(src: string): Promise<{ sha256: string } | null> {
    const handle = await open(src, 'r').catch((err: unknown) => {
      if (isErrno(err, 'ENOENT')) return null;
      throw err;
    });
    if (!handle) return null;
    try {
      return await digestHandle(handle, this.buffers);
    } finally {
      await handle.close();
    }
  }

  async remove(camera: string, name: string): Promise<void> {
    this.checkName(camera, name);
    await this.checkRoot();
    const dir = join(this.config.nasDir, camera);
    await rm(join(dir, name), { force: true });
    await fsyncDir(dir).catch((err: unknown) => {
      if (!isErrno(err, 'ENOENT')) throw err;
    });
  }

  async usage(): Promise<NasUsage> {
    await this.checkRoot();
    const fs = await statfs(this.config.nasDir);
    return { totalBytes: fs.blocks * fs.bsize, freeBytes: fs.bavail * fs.bsize };
  }

  /** Segment and init file names in one camera's NAS folder. */
  async list(camera: string): Promise<string[]> {
    if (!isValidId(camera)) throw new NasError('write_error', `bad camera id ${camera}`);
    await this.checkRoot();
    const names = await readdir(join(this.config.nasDir, camera)).catch((err: unknown) => {
      if (isErrno(err, 'ENOENT')) return [] as string[];
      throw err;
    });
    return names.filter((n) => segmentKind(n) !== null);
  }

  /**
   * Removes temp files of copies that never finished (the gateway was killed mid-copy); only
   * old ones, so a copy in progress keeps its file. Returns how many went.
   */
  async cleanTemp(camera: string, olderThanMs: number): Promise<number> {
    if (!isValidId(camera)) throw new NasError('write_error', `bad camera id ${camera}`);
    await this.checkRoot();
    const dir = join(this.config.nasDir, camera);
    const names = await readdir(dir).catch(() => [] as string[]);
    let removed = 0;
    for (const name of names) {
      if (!/^\..+\.[0-9a-f-]{36}\.tmp$/.test(name)) continue;
      const st = await stat(join(dir, name)).catch(() => null);
      if (!st || Date.now() - st.mtimeMs < olderThanMs) continue;
      await rm(join(dir, name), { force: true });
      removed += 1;
    }
    if (removed > 0) await fsyncDir(dir);
    return removed;
  }

  /** sha256 and size of a NAS file, or null when it is not there. */
  async digest(camera: string, name: string): Promise<{ sha256: string; bytes: number } | null> {
    this.checkName(camera, name);
    await this.checkRoot();
    try {
      return await digestFile(join(this.config.nasDir, camera, name));
    } catch (err) {
      if (isErrno(err, 'ENOENT', 'ENOTDIR', 'EISDIR')) return null;
      throw err;
    }
  }

  async cameras(): Promise<string[]> {
    await this.checkRoot();
    return (await readdir(this.config.nasDir)).filter(isValidId);
  }

  private checkName(camera: string, name: string): void {
    // Requests come from the gateway, which checked them; checked again at the file boundary.
    if (!isValidId(camera) || !segmentKind(name))
      throw new NasError('write_error', `refusing NAS path ${camera}/${name}`);
  }
}
