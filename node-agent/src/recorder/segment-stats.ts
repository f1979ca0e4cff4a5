/** Rolling figures over a camera's most recent segments, for heartbeats. */
import type { FinishedSegment } from '../spool/segment.ts';

interface Sample {
  durationMs: number;
  bytes: number;
  frames: number | null;
}

export class SegmentStats {
  private recent: Sample[] = [];
  segmentsRecorded = 0;
  lastSegmentAt: Date | null = null;

  constructor(private readonly window = 5) {}

  add(segment: FinishedSegment, frames: number | null): void {
    this.segmentsRecorded++;
    this.lastSegmentAt = new Date(segment.startAt.getTime() + segment.durationMs);
    this.recent.push({ durationMs: segment.durationMs, bytes: segment.bytes, frames });
    if (this.recent.length > this.window) this.recent.shift();
  }

  /** Frames per second over the window (0 when unknown). */
  fps(): number {
    const counted = this.recent.filter((s) => s.frames !== null);
    const ms = counted.reduce((a, s) => a + s.durationMs, 0);
    const frames = counted.reduce((a, s) => a + (s.frames ?? 0), 0);
    return ms > 0 ? Math.round((frames / ms) * 1000 * 10) / 10 : 0;
  }

  bitrateKbps(): number {
    const ms = this.recent.reduce((a, s) => a + s.durationMs, 0);
    const bytes = this.recent.reduce((a, s) => a + s.bytes, 0);
    return ms > 0 ? Math.round((bytes * 8) / ms) : 0;
  }
}
