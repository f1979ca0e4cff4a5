import { readdir, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { isValidId, segmentKind } from '@cctv/protocol';
import { isErrno } from '../files/durable-fs.ts';
import { DurableStore } from '../files/durable-store.ts';

export interface BufferedFile {
  camera: string;
  name: string;
  mtimeMs: number;
}

/**
 * The gateway's durable local buffer: segments are received and committed the durable way
 * into `<buffer>/<camera>/<name>` and wait there for the NAS mover.
 */
export class BufferStore extends DurableStore {
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
