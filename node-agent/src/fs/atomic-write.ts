/** Small state files written so that a crash at any moment leaves the old or the new content. */
import { open, rename } from 'node:fs/promises';
import { dirname } from 'node:path';

/** Temp file + fsync + rename + fsync of the folder. */
export async function writeFileAtomic(path: string, text: string): Promise<void> {
  const tmp = `${path}.tmp`;
  const fh = await open(tmp, 'w');
  try {
    await fh.writeFile(text);
    await fh.sync();
  } finally {
    await fh.close();
  }
  await rename(tmp, path);
  const dh = await open(dirname(path), 'r');
  try {
    await dh.sync();
  } catch {
    // some file systems refuse fsync on a directory; the rename is still atomic
  } finally {
    await dh.close();
  }
}
