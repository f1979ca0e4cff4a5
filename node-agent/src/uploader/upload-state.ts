/**
 * What a camera's uploader has already sent, kept on disk so that a restart neither re-sends
 * the spool nor skips anything: the newest uploaded segment name (segments go up in order)
 * and the gateway names of the init files already sent. Written atomically.
 */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { writeFileAtomic } from '../fs/atomic-write.ts';

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
  const doc = JSON.parse(text) as Partial<UploadState>;
  if (doc.version !== 1) throw new Error(`${join(dir, STATE_FILE)}: unknown version ${String(doc.version)}`);
  return {
    version: 1,
    lastUploaded: typeof doc.lastUploaded === 'string' ? doc.lastUploaded : null,
    inits: doc.inits && typeof doc.inits === 'object' ? { ...doc.inits } : {},
  };
}

/** Written atomically, so a crash leaves the old or the new state. */
export async function saveUploadState(dir: string, state: UploadState): Promise<void> {
  await writeFileAtomic(join(dir, STATE_FILE), `${JSON.stringify(state)}\n`);
}
