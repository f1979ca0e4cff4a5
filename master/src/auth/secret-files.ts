/**
 * Secrets the master keeps in files rather than in the database (docs/adr/0011): JSON, 0600,
 * in a 0700 folder, replaced atomically. A database role that reads every table still finds
 * no key to sign with.
 */
import { chmod, chown, mkdir, readFile, rename, stat, writeFile } from 'node:fs/promises';
import { dirname } from 'node:path';

/** The file's JSON, or null when there is none. */
export async function readSecretFile<T>(path: string): Promise<T | null> {
  const text = await readFile(path, 'utf8').catch((err: NodeJS.ErrnoException) => {
    if (err.code === 'ENOENT') return null;
    throw err;
  });
  if (text === null) return null;
  try {
    return JSON.parse(text) as T;
  } catch {
    throw new Error(`${path} is not valid JSON`);
  }
}

/**
 * Writes `value` to `path` (0600) through a temporary file and a rename. A file replaced by
 * root (the rotation command run with sudo) keeps the owner it had, so the service still reads it.
 */
export async function writeSecretFile(path: string, value: unknown): Promise<void> {
  const dir = dirname(path);
  await mkdir(dir, { recursive: true, mode: 0o700 });
  const before = await stat(path).catch(() => null);
  const tmp = `${path}.${process.pid}.tmp`;
  await writeFile(tmp, `${JSON.stringify(value, null, 2)}\n`, { mode: 0o600 });
  await chmod(tmp, 0o600);
  if (before && process.getuid?.() === 0) await chown(tmp, before.uid, before.gid);
  await rename(tmp, path);
}
