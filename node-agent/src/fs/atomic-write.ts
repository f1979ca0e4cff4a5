/** Small state files written so that a crash at any moment leaves the old or the new content. */
import { open, rename } from 'node:fs/promises';
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
