/**
 * A camera list set by `cmd/config` outlives a restart: it is kept in
 * `<stateDir>/cameras.json` together with a hash of the config file's own camera list at that
 * moment. While the file's list is unchanged the stored list applies; once someone edits the
 * file's cameras (and restarts or sends SIGHUP), the file wins and the stored list is dropped.
 */
import { createHash } from 'node:crypto';
import { mkdir, readFile, unlink } from 'node:fs/promises';
import { join } from 'node:path';
import type { CameraConfig } from '../config.ts';
import { writeFileAtomic } from '../fs/atomic-write.ts';

const FILE = 'cameras.json';

export interface StoredCameras {
  version: 1;
  at: string;
  /** Hash of the config file's camera list when this list was set. */
  fileHash: string;
  cameras: CameraConfig[];
}

export function hashCameras(cameras: CameraConfig[] | undefined): string {
  return createHash('sha256')
    .update(JSON.stringify(cameras ?? []))
    .digest('hex')
    .slice(0, 32);
}

export class RemoteCameras {
  constructor(private readonly stateDir: string) {}

  async load(): Promise<StoredCameras | null> {
    let text: string;
    try {
      text = await readFile(join(this.stateDir, FILE), 'utf8');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null;
      throw err;
    }
    const doc = JSON.parse(text) as Partial<StoredCameras>;
    if (doc.version !== 1 || !Array.isArray(doc.cameras) || typeof doc.fileHash !== 'string')
      throw new Error(`${join(this.stateDir, FILE)}: not a stored camera list`);
    return doc as StoredCameras;
  }

  async save(
    cameras: CameraConfig[],
    fileCameras: CameraConfig[] | undefined,
    now = new Date(),
  ): Promise<void> {
    await mkdir(this.stateDir, { recursive: true });
    const doc: StoredCameras = {
      version: 1,
      at: now.toISOString(),
      fileHash: hashCameras(fileCameras),
      cameras,
    };
    await writeFileAtomic(join(this.stateDir, FILE), `${JSON.stringify(doc, null, 2)}\n`);
  }

  async clear(): Promise<void> {
    await unlink(join(this.stateDir, FILE)).catch(() => {});
  }

  /** The list to run: the stored one while the file's list is as it was, else the file's. */
  async effective(
    fileCameras: CameraConfig[] | undefined,
  ): Promise<{ cameras: CameraConfig[]; from: 'file' | 'command'; note?: string }> {
    let stored: StoredCameras | null;
    try {
      stored = await this.load();
    } catch (err) {
      await this.clear();
      return {
        cameras: fileCameras ?? [],
        from: 'file',
        note: `stored camera list unreadable, removed: ${(err as Error).message}`,
      };
    }
    if (!stored) return { cameras: fileCameras ?? [], from: 'file' };
    if (stored.fileHash === hashCameras(fileCameras)) return { cameras: stored.cameras, from: 'command' };
    await this.clear();
    return {
      cameras: fileCameras ?? [],
      from: 'file',
      note: `the config file's cameras changed after cmd/config set them at ${stored.at}; the file wins`,
    };
  }
}
