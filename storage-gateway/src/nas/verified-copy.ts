import { createHash, randomUUID } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { mkdir, open, rename, stat } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { digestFile, type FileDigest, fsyncDir, isErrno, removeFile } from '../files/durable-fs.ts';

export class NasUnavailableError extends Error {
  readonly code = 'nas_unavailable';
}

/**
 * Copies `src` to `dst` under `root` so that `dst` either does not change or holds a full,
 * verified copy: write to a temp name, fsync, rename, fsync the directory, re-read and
 * compare sha256. The NAS root itself is never created here, so an unmounted share
 * cannot silently turn into a directory on the local disk.
 */
export async function copyVerified(src: string, root: string, dst: string): Promise<FileDigest> {
  const rootStat = await stat(root).catch((err: unknown) => {
    throw new NasUnavailableError(`NAS directory ${root} is not reachable: ${(err as Error).message}`);
  });
  if (!rootStat.isDirectory()) throw new NasUnavailableError(`NAS path ${root} is not a directory`);
  const dir = dirname(dst);
  try {
    await mkdir(dir);
    await fsyncDir(root);
  } catch (err) {
    if (!isErrno(err, 'EEXIST')) throw err;
  }
  const tmp = join(dir, `.${basename(dst)}.${randomUUID()}.tmp`);
  try {
    const hash = createHash('sha256');
    let bytes = 0;
    const out = await open(tmp, 'wx', 0o644);
    try {
      for await (const chunk of createReadStream(src)) {
        const buf = chunk as Buffer;
        hash.update(buf);
        bytes += buf.length;
        await out.write(buf);
      }
      await out.sync();
    } finally {
      await out.close();
    }
    const written = { sha256: hash.digest('hex'), bytes };
    await rename(tmp, dst);
    await fsyncDir(dir);
    const check = await digestFile(dst);
    if (check.sha256 !== written.sha256 || check.bytes !== written.bytes)
      throw new Error(
        `NAS copy of ${basename(dst)} reads back as ${check.sha256}, expected ${written.sha256}`,
      );
    return written;
  } catch (err) {
    await removeFile(tmp).catch(() => {});
    throw err;
  }
}
