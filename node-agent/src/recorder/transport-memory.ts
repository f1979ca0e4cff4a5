/**
 * Which RTSP transport last worked for each camera, kept in `<stateDir>/transports.json` so a
 * restart tries it first. Keyed by camera id and a hash of the URL: a changed URL starts over.
 */
import { createHash } from 'node:crypto';
import { mkdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { writeFileAtomic } from '../fs/atomic-write.ts';
import type { Transport } from './source.ts';

interface Entry {
  url: string;
  transport: Transport;
}

const FILE = 'transports.json';

const urlKey = (url: string) => createHash('sha256').update(url).digest('hex').slice(0, 16);

export class TransportMemory {
  private entries: Record<string, Entry> = {};
  private saving: Promise<void> = Promise.resolve();

  constructor(
    private readonly stateDir: string,
    private readonly onError: (err: Error) => void = () => {},
  ) {}

  async load(): Promise<void> {
    try {
      const doc = JSON.parse(await readFile(join(this.stateDir, FILE), 'utf8')) as {
        cameras?: Record<string, Entry>;
      };
      for (const [id, e] of Object.entries(doc.cameras ?? {}))
        if (e && (e.transport === 'tcp' || e.transport === 'udp') && typeof e.url === 'string')
          this.entries[id] = { url: e.url, transport: e.transport };
    } catch {
      this.entries = {}; // missing or unreadable: every camera starts with its configured order
    }
  }

  get(cameraId: string, url: string): Transport | null {
    const e = this.entries[cameraId];
    return e && e.url === urlKey(url) ? e.transport : null;
  }

  /** Remembers a transport that delivered footage; written only when it changes. */
  remember(cameraId: string, url: string, transport: Transport): Promise<void> {
    const key = urlKey(url);
    const e = this.entries[cameraId];
    if (e && e.url === key && e.transport === transport) return this.saving;
    this.entries[cameraId] = { url: key, transport };
    const text = `${JSON.stringify({ version: 1, cameras: this.entries })}\n`;
    this.saving = this.saving
      .then(async () => {
        await mkdir(this.stateDir, { recursive: true });
        await writeFileAtomic(join(this.stateDir, FILE), text);
      })
      .catch((err: Error) => this.onError(err)); // losing this only costs one extra probe later
    return this.saving;
  }
}

/** The order to try: the remembered transport first, then the rest in configured order. */
export function transportOrder(configured: Transport[], remembered: Transport | null): Transport[] {
  if (!remembered || !configured.includes(remembered)) return configured;
  return [remembered, ...configured.filter((t) => t !== remembered)];
}
