import { type FileHandle, open } from 'node:fs/promises';
import { join } from 'node:path';
import { digestFile, type FileDigest, isErrno } from './durable-fs.ts';

export type SegmentLocation = 'buffer' | 'nas' | 'missing';

export interface OpenedSegment {
  handle: FileHandle;
  location: SegmentLocation;
  size: number;
  mtime: Date;
}

/**
 * Where a segment file lives: `<buffer>/<camera>/<name>` until the mover has put it at
 * `<nas>/<camera>/<name>`. Callers pass names already checked with `segmentKind()` and
 * camera ids checked with `isValidId()`, so neither can leave its root.
 */
export class SegmentFiles {
  constructor(
    readonly bufferDir: string,
    readonly nasDir: string,
  ) {}

  bufferPath(camera: string, name: string): string {
    return join(this.bufferDir, camera, name);
  }

  nasPath(camera: string, name: string): string {
    return join(this.nasDir, camera, name);
  }

  /**
   * Opens the file from the buffer, else the NAS. The mover renames into the NAS before it
   * unlinks the buffered copy, so one of the two always exists; an open handle keeps
   * working even if the buffered copy is unlinked a moment later.
   */
  async open(camera: string, name: string): Promise<OpenedSegment | null> {
    for (const location of ['buffer', 'nas'] as const) {
      const path = location === 'buffer' ? this.bufferPath(camera, name) : this.nasPath(camera, name);
      let handle: FileHandle;
      try {
        handle = await open(path, 'r');
      } catch (err) {
        if (isErrno(err, 'ENOENT', 'ENOTDIR')) continue;
        // An unreachable NAS must not hide a segment that is still in the buffer.
        if (location === 'nas') throw err;
        continue;
      }
      try {
        const st = await handle.stat();
        if (!st.isFile()) {
          await handle.close();
          continue;
        }
        return { handle, location, size: st.size, mtime: st.mtime };
      } catch (err) {
        await handle.close();
        throw err;
      }
    }
    return null;
  }

  /** Digest of the buffered copy, or null when the buffer has none. */
  async digestBuffered(camera: string, name: string): Promise<(FileDigest & { location: 'buffer' }) | null> {
    try {
      return { ...(await digestFile(this.bufferPath(camera, name))), location: 'buffer' };
    } catch (err) {
      if (!isErrno(err, 'ENOENT', 'ENOTDIR', 'EISDIR')) throw err;
      return null;
    }
  }
}
