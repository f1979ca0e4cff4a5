import { rm, stat, statfs } from 'node:fs/promises';
import { join } from 'node:path';
import { fsyncDir, isErrno } from '../files/durable-fs.ts';

/**
 * The NAS file operations retention needs. Injected because NAS file I/O is moving into a
 * worker process of its own (a hung NAS must never block the gateway).
 */
export interface NasFiles {
  /** Removes <nas>/<camera>/<name>; resolves also when it does not exist. */
  remove(camera: string, name: string): Promise<void>;
  /** Filesystem size and free bytes of the NAS (statfs). */
  usage(): Promise<{ totalBytes: number; freeBytes: number }>;
}

/** Plain in-process implementation on the mounted NAS directory, used until the worker lands. */
export function localNasFiles(nasDir: string): NasFiles {
  return {
    async remove(camera, name) {
      const dir = join(nasDir, camera);
      await rm(join(dir, name), { force: true });
      try {
        await fsyncDir(dir);
      } catch (err) {
        if (!isErrno(err, 'ENOENT', 'ENOTDIR')) throw err;
        // No camera directory: the file is gone, unless the whole share is not mounted, in
        // which case the row must stay (as the mover does, a missing NAS root is an error).
        if (!(await stat(nasDir)).isDirectory()) throw new Error(`NAS root ${nasDir} is not a directory`);
      }
    },
    async usage() {
      const fs = await statfs(nasDir);
      // bavail, not bfree: what an unprivileged writer (the mover) can still use.
      return { totalBytes: fs.blocks * fs.bsize, freeBytes: fs.bavail * fs.bsize };
    },
  };
}
