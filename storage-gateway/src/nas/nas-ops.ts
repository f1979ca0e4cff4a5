import { createHash, randomUUID } from 'node:crypto';
import { type FileHandle, mkdir, open, readdir, rename, rm, stat, statfs } from 'node:fs/promises';
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

/** Copy and read-back in large pieces: fewer system calls per segment. */
const CHUNK = 1024 * 1024;

async function digestHandle(handle: FileHandle): Promise<{ sha256: string; bytes: number }> {
  const hash = createHash('sha256');
  let bytes = 0;
  for await (const chunk of handle.createReadStream({ autoClose: false, start: 0, highWaterMark: CHUNK })) {
    hash.update(chunk as Buffer);
    bytes += (chunk as Buffer).length;
  }
  return { sha256: hash.digest('hex'), bytes };
}

export type CopyResult = { status: 'copied'; bytes: number } | { status: 'source_missing' };
export interface NasUsage {
  totalBytes: number;
  freeBytes: number;
}

export class NasOps {
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
      if (!(await isMountPoint(root)))
        throw new NasError('not_mounted', `nothing is mounted at the NAS path ${root}`);
      // The directory seen must be the mounted one: a share unmounted between the look and the
      // mount table read would leave the identity of the empty mount point behind.
      const again = await look();
      if (!sameFile(again, st))
        throw new NasError('not_mounted', `the NAS share at ${root} changed while checked`);
    }
    return { dev: st.dev, ino: st.ino };
  }

  /**
   * Copies a buffered segment so that the NAS name either does not exist or holds a full copy
   * that reads back with the acknowledged sha256: temp name, fsync, rename, fsync the
   * directory, re-read.
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
    let input: Awaited<ReturnType<typeof open>>;
    try {
      input = await open(src, 'r');
    } catch (err) {
      if (isErrno(err, 'ENOENT')) return { status: 'source_missing' };
      throw err;
    }
    const dst = join(dir, name);
    const tmp = join(dir, `.${name}.${randomUUID()}.tmp`);
    try {
      const hash = createHash('sha256');
      let bytes = 0;
      let written: FileId;
      const out = await open(tmp, 'wx', 0o644);
      try {
        for await (const chunk of input.createReadStream({ autoClose: false, highWaterMark: CHUNK })) {
          const buf = chunk as Buffer;
          hash.update(buf);
          bytes += buf.length;
          await out.write(buf);
        }
        await out.sync();
        written = await out.stat();
      } finally {
        await out.close();
      }
      const read = hash.digest('hex');
      if (read !== sha256)
        throw new NasError('buffer_corrupt', `buffered ${camera}/${name} hashes to ${read}, not ${sha256}`);
      await rename(tmp, dst);
      await fsyncDir(dir);
      // The name must lead to the file just written, under the same mounted root: a share
      // unmounted (or remounted) during the copy would otherwise let it land on the local disk
      // under the mount point, or the check read another file.
      // The name is looked up between two checks of the root, so a share that comes and goes
      // meanwhile shows in one of them; on a real share (NFS, SMB, another disk) the file's
      // device alone tells the share from the local disk under it.
      const check = await open(dst, 'r');
      try {
        const now = await check.stat();
        const root = await this.checkRoot();
        const named = await stat(dst).catch(() => null);
        const rootAfter = await this.checkRoot();
        const moved = ![now, named ?? { dev: -1, ino: -1 }].every((f) => sameFile(f, written));
        if (moved || !sameFile(root, rootId) || !sameFile(rootAfter, rootId) || written.dev !== rootId.dev)
          throw new NasError('not_mounted', `the NAS share changed while ${camera}/${name} was copied`);
        const back = await digestHandle(check);
        if (back.sha256 !== sha256 || back.bytes !== bytes)
          throw new NasError('verify_failed', `NAS copy of ${camera}/${name} reads back as ${back.sha256}`);
      } finally {
        await check.close();
      }
      return { status: 'copied', bytes };
    } catch (err) {
      await removeFile(tmp).catch(() => {});
      throw err;
    } finally {
      await input.close();
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
