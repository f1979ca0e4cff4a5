import { type FileHandle, open } from 'node:fs/promises';
import { join } from 'node:path';
import { digestFile, type FileDigest, isErrno } from '../files/durable-fs.ts';
import { DurableStore } from '../files/durable-store.ts';

export interface OpenedSnapshot {
  handle: FileHandle;
  size: number;
  mtime: Date;
}

/**
 * Snapshot files at `<snapshotDir>/<camera>/<name>`, received and committed the durable way.
 * Callers pass names checked with `isSnapshotName()` and camera ids checked with
 * `isValidId()`, so neither can leave the directory.
 */
export class SnapshotStore extends DurableStore {
  path(camera: string, name: string): string {
    return join(this.dir, camera, name);
  }

  /** Opens a stored snapshot for reading, or null when there is none. */
  async open(camera: string, name: string): Promise<OpenedSnapshot | null> {
    let handle: FileHandle;
    try {
      handle = await open(this.path(camera, name), 'r');
    } catch (err) {
      if (isErrno(err, 'ENOENT', 'ENOTDIR')) return null;
      throw err;
    }
    try {
      const st = await handle.stat();
      if (!st.isFile()) {
        await handle.close();
        return null;
      }
      return { handle, size: st.size, mtime: st.mtime };
    } catch (err) {
      await handle.close();
      throw err;
    }
  }

  /** Digest of a stored snapshot, or null when there is none. */
  async digest(camera: string, name: string): Promise<FileDigest | null> {
    try {
      return await digestFile(this.path(camera, name));
    } catch (err) {
      if (isErrno(err, 'ENOENT', 'ENOTDIR', 'EISDIR')) return null;
      throw err;
    }
  }
}
