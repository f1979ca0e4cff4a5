/**
 * The outbox on disk: one file per message, `<dir>/<16-digit seq>.json`, written durably (temp
 * file, fsync, rename, fsync of the folder); files that cannot be read as a message are moved to
 * `<dir>/bad/`. Knows nothing of sending or of the caps.
 */
import { mkdir, readdir, readFile, rename, rm, stat, unlink } from 'node:fs/promises';
import { join } from 'node:path';
import type { Logger } from 'pino';
import { writeFileAtomic } from '../fs/atomic-write.ts';

export interface OutboxMessage {
  topic: string;
  payload: string;
  retain?: boolean;
}

/** One queued message: its file and what the sender keeps about it. */
export interface OutboxEntry {
  seq: number;
  name: string;
  bytes: number;
  atMs: number;
  attempts: number;
}

/** An entry's message, or why its file cannot be sent. */
export type OutboxRead = { ok: true; message: Required<OutboxMessage> } | { ok: false; reason: string };

const FILE_RE = /^(\d{16})\.json$/;
const fileName = (seq: number) => `${String(seq).padStart(16, '0')}.json`;

/** A file's content for a message appended at `at` (one JSON line). */
export function encodeEntry(msg: OutboxMessage, at: Date): string {
  return `${JSON.stringify({ v: 1, at: at.toISOString(), topic: msg.topic, payload: msg.payload, retain: msg.retain ?? false })}\n`;
}

export class OutboxFiles {
  private movedAside = 0;

  constructor(
    readonly dir: string,
    private readonly log: Logger,
  ) {}

  /** Entries moved to `bad/` (or deleted when that failed) since this instance was made. */
  get bad(): number {
    return this.movedAside;
  }

  /**
   * The entries an earlier run left, in sequence order. Creates the folder, deletes temp files
   * and moves entries that are not plain files aside.
   */
  async scan(): Promise<OutboxEntry[]> {
    await mkdir(this.dir, { recursive: true });
    const found: OutboxEntry[] = [];
    for (const name of await readdir(this.dir)) {
      // A temp file is an append that never returned to its caller.
      if (name.endsWith('.tmp')) {
        await rm(join(this.dir, name), { force: true, recursive: true }).catch(() => {});
        continue;
      }
      const m = FILE_RE.exec(name);
      if (!m) continue;
      const entry: OutboxEntry = { seq: Number(m[1]), name, bytes: 0, atMs: 0, attempts: 0 };
      try {
        const st = await stat(join(this.dir, name));
        if (!st.isFile()) throw new Error('not a file');
        entry.bytes = st.size;
        entry.atMs = st.mtimeMs;
        found.push(entry);
      } catch (err) {
        await this.moveAside(name, (err as Error).message);
      }
    }
    found.sort((a, b) => a.seq - b.seq);
    return found;
  }

  /** Writes the entry of sequence `seq` durably; resolves with its file name. */
  async write(seq: number, body: string): Promise<string> {
    const name = fileName(seq);
    await writeFileAtomic(join(this.dir, name), body);
    return name;
  }

  /** Reads and checks an entry's file; never throws. */
  async read(name: string): Promise<OutboxRead> {
    let doc: unknown;
    try {
      doc = JSON.parse(await readFile(join(this.dir, name), 'utf8'));
    } catch (err) {
      return { ok: false, reason: (err as Error).message };
    }
    const m = doc as Partial<Record<'v' | 'topic' | 'payload' | 'retain', unknown>> | null;
    if (
      !m ||
      typeof m !== 'object' ||
      m.v !== 1 ||
      typeof m.topic !== 'string' ||
      m.topic === '' ||
      typeof m.payload !== 'string' ||
      (m.retain !== undefined && typeof m.retain !== 'boolean')
    )
      return { ok: false, reason: 'not an outbox message' };
    return { ok: true, message: { topic: m.topic, payload: m.payload, retain: m.retain === true } };
  }

  /** Deletes the file of an entry dropped at the cap; never throws. */
  async drop(name: string): Promise<void> {
    await rm(join(this.dir, name), { force: true }).catch(() => {});
  }

  /** Deletes the file of an acknowledged entry; never throws (a file already gone is fine). */
  async removeSent(name: string): Promise<void> {
    await unlink(join(this.dir, name)).catch((err: NodeJS.ErrnoException) => {
      if (err.code !== 'ENOENT')
        this.log.warn({ file: name, err: err.message }, 'outbox: sent file not removed');
    });
  }

  /** Moves an entry's file to `<dir>/bad/`, or deletes it if that fails; never throws. */
  async moveAside(name: string, reason: string): Promise<void> {
    this.movedAside++;
    const from = join(this.dir, name);
    const badDir = join(this.dir, 'bad');
    const to = join(badDir, `${Date.now()}-${name}`);
    try {
      await mkdir(badDir, { recursive: true });
      await rename(from, to);
      this.log.warn(
        { file: from, movedTo: to, reason, badTotal: this.movedAside },
        'outbox: bad entry moved aside',
      );
    } catch (err) {
      this.log.error(
        { file: from, reason, err: (err as Error).message },
        'outbox: bad entry could not be moved aside; removing it',
      );
      await rm(from, { force: true, recursive: true }).catch(() => {});
    }
  }
}
