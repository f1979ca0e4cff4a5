/**
 * What a camera's uploader has already sent, kept on disk so that a restart neither re-sends
 * the spool nor skips anything: the newest uploaded segment name (segments go up in order)
 * and the gateway names of the init files already sent. Written atomically; the position after
 * each segment without fsync (writeFileReplace): a position lost to a power cut only makes
 * segments go up again, which the gateway answers with "exists".
 */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { writeFileAtomic, writeFileReplace } from '../fs/atomic-write.ts';

export interface UploadState {
  version: 1;
  /** Newest segment name acknowledged (or given up on) — everything up to it is done. */
  lastUploaded: string | null;
  /** Local init file name → content-addressed name on the gateway. */
  inits: Record<string, string>;
}

export const STATE_FILE = 'upload-state.json';

export const emptyState = (): UploadState => ({ version: 1, lastUploaded: null, inits: {} });

export async function loadUploadState(dir: string): Promise<UploadState> {
  let text: string;
  try {
    text = await readFile(join(dir, STATE_FILE), 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return emptyState();
    throw err;
  }
  let doc: Partial<UploadState>;
  try {
    doc = JSON.parse(text) as Partial<UploadState>;
  } catch {
    // Cut short by a power loss (it is written without fsync): start over, sending the spool
    // again; the gateway keeps what it had and answers the rest.
    return emptyState();
  }
  if (doc.version !== 1) throw new Error(`${join(dir, STATE_FILE)}: unknown version ${String(doc.version)}`);
  return {
    version: 1,
    lastUploaded: typeof doc.lastUploaded === 'string' ? doc.lastUploaded : null,
    inits: doc.inits && typeof doc.inits === 'object' ? { ...doc.inits } : {},
  };
}

/**
 * Written atomically, so a crash leaves the old or the new state; `durable: false` (the
 * position after each segment) skips the fsyncs, so a power cut may leave an older one.
 */
export async function saveUploadState(
  dir: string,
  state: UploadState,
  opts: { durable: boolean } = { durable: true },
): Promise<void> {
  const text = `${JSON.stringify(state)}\n`;
  if (opts.durable) await writeFileAtomic(join(dir, STATE_FILE), text);
  else await writeFileReplace(join(dir, STATE_FILE), text);
}
