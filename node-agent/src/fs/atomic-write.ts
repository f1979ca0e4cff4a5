/** Small state files written so that a crash at any moment leaves the old or the new content. */
import { open, rename, writeFile } from 'node:fs/promises';
import { dirname } from 'node:path';

/**
 * Temp file + fsync + rename + fsync of the folder. A failed folder fsync is an error, as in
 * the gateway (storage-gateway/src/files/durable-fs.ts): without it the rename may not survive
 * a power cut, and a caller told "written" (an outbox message, the upload position) would be
 * wrong after a reboot. Callers decide what a failed write means for them.
 */
/** `mode`: the file's permissions (default: as the process's umask makes them). */
export async function writeFileAtomic(path: string, text: string, mode?: number): Promise<void> {
  const tmp = `${path}.tmp`;
  const fh = await open(tmp, 'w', mode ?? 0o666);
  try {
    if (mode !== undefined) await fh.chmod(mode);
    await fh.writeFile(text);
    await fh.sync();
  } finally {
    await fh.close();
  }
  await rename(tmp, path);
  const dh = await open(dirname(path), 'r');
  try {
    await dh.sync();
  } finally {
    await dh.close();
  }
}

/**
 * Temp file + rename, without fsync: readers see the old or the new content, never a mix, but
 * after a power cut the file may hold older content, or none. Only for state whose loss costs
 * repeated work and nothing else (the upload position: the gateway answers a segment sent
 * again with "exists"), written too often to pay two fsyncs each time (every segment of every
 * camera, on an SD card).
 */
export async function writeFileReplace(path: string, text: string): Promise<void> {
  const tmp = `${path}.tmp`;
  await writeFile(tmp, text);
  await rename(tmp, path);
}
