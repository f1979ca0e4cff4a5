/**
 * How many bytes the spool holds, cheaply: the segments the upload queues know of, plus what
 * else is on disk (init files, playlists, the segment being written) as measured by a full scan
 * of the folder at most every `maxAgeMs`. A full scan stats every file, which grows with the
 * spool; running it on every segment made the agent's CPU grow with the hours recorded.
 */
import { spoolUsedBytes } from './scan.ts';

export class SpoolUsage {
  private overhead = 0;
  private scannedAt = Number.NEGATIVE_INFINITY;
  private scanning: Promise<number> | null = null;

  constructor(
    private readonly spoolDir: string,
    private readonly segmentBytes: () => number,
    private readonly maxAgeMs = 30_000,
    private readonly now: () => number = () => Date.now(),
  ) {}

  async bytes(): Promise<number> {
    if (this.now() - this.scannedAt < this.maxAgeMs) return this.segmentBytes() + this.overhead;
    this.scanning ??= spoolUsedBytes(this.spoolDir)
      .then((full) => {
        this.overhead = Math.max(0, full - this.segmentBytes());
        this.scannedAt = this.now();
        return full;
      })
      .finally(() => {
        this.scanning = null;
      });
    return this.scanning;
  }
}
