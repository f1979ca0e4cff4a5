/**
 * The camera list the master pushed (`cmd/config`) to a master-managed node, kept in
 * `<stateDir>/cameras.json` with its desired-config version: the node starts with it when the
 * master is out of reach, and reports the version in its heartbeat. The file holds camera
 * passwords, so it is written 0600 like the rest of the state dir.
 */
import { mkdir, readFile, unlink } from 'node:fs/promises';
import { join } from 'node:path';
import type { CameraConfig } from '../config.ts';
import { writeFileAtomic } from '../fs/atomic-write.ts';

const FILE = 'cameras.json';

export interface StoredCameras {
  /** 2: with `configVersion`. Version 1 files (lists without a version) still load. */
  version: 1 | 2;
  at: string;
  /** The master's desired-config version of this list; null: pushed without one. */
  configVersion?: number | null;
  cameras: CameraConfig[];
}

export class RemoteCameras {
  constructor(private readonly stateDir: string) {}

  get path(): string {
    return join(this.stateDir, FILE);
  }

  async load(): Promise<StoredCameras | null> {
    let text: string;
    try {
      text = await readFile(this.path, 'utf8');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null;
      throw err;
    }
    const doc = JSON.parse(text) as Partial<StoredCameras>;
    if ((doc.version !== 1 && doc.version !== 2) || !Array.isArray(doc.cameras))
      throw new Error(`${this.path}: not a stored camera list`);
    return doc as StoredCameras;
  }

  async save(cameras: CameraConfig[], configVersion: number | null, now = new Date()): Promise<void> {
    await mkdir(this.stateDir, { recursive: true, mode: 0o700 });
    const doc: StoredCameras = { version: 2, at: now.toISOString(), configVersion, cameras };
    await writeFileAtomic(this.path, `${JSON.stringify(doc, null, 2)}\n`, 0o600);
  }

  async clear(): Promise<void> {
    await unlink(this.path).catch(() => {});
  }
}
