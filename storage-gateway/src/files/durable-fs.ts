import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { open, rm } from 'node:fs/promises';

export interface FileDigest {
  sha256: string;
  bytes: number;
}

/**
 * Flushes a directory's entries to disk, so that a rename or create inside it survives a
 * power cut. Without this an acknowledged segment could vanish on reboot, so a failed fsync is
 * an error, never ignored (the agent's node-agent/src/fs/atomic-write.ts holds the same rule).
 */
export async function fsyncDir(dir: string): Promise<void> {
  const handle = await open(dir, 'r');
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}

/** SHA-256 and size of a file, read as a stream. */
export async function digestFile(path: string): Promise<FileDigest> {
  const hash = createHash('sha256');
  let bytes = 0;
  for await (const chunk of createReadStream(path)) {
    hash.update(chunk as Buffer);
    bytes += (chunk as Buffer).length;
  }
  return { sha256: hash.digest('hex'), bytes };
}

/** Removes a file that may or may not exist; other errors still surface. */
export async function removeFile(path: string): Promise<void> {
  await rm(path, { force: true });
}

export function isErrno(err: unknown, ...codes: string[]): boolean {
  return err instanceof Error && codes.includes((err as NodeJS.ErrnoException).code ?? '');
}
