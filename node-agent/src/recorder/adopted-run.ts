/**
 * The run an earlier agent left recording (keeper.ts), taken over by this agent's recorder: its
 * playlist followed and each new segment reported (with the clock correction the earlier agent
 * saved for the run), until this recorder's own run has a segment's worth of output; then it is
 * asked to finish (SIGINT to its group: ffmpeg closes its last segment), its last segments are
 * reported, and `done` resolves. The recorder's own segments wait for `done`: segments go
 * upward in recording order (the uploader takes a name before its last as done).
 */
import { join } from 'node:path';
import type { Logger } from 'pino';
import { PlaylistFollower } from '../spool/playlist-follower.ts';
import { applyClockBias, loadClockBias } from '../spool/run-clock.ts';
import { initCodec } from '../spool/scan.ts';
import { type FinishedSegment, initName, playlistName } from '../spool/segment.ts';
import { type Predecessor, running } from './keeper.ts';

export interface AdoptedRunOptions {
  cameraId: string;
  dir: string;
  predecessor: Predecessor;
  logger: Logger;
  onSegment: (segment: FinishedSegment) => void;
  pollMs?: number;
}

export class AdoptedRun {
  readonly runId: string;
  readonly done: Promise<void>;
  private finished: () => void = () => {};
  private readonly playlist: PlaylistFollower;
  private readonly emitted = new Set<string>();
  private timer: NodeJS.Timeout | null = null;
  private chain: Promise<void> = Promise.resolve();
  private asked = false;
  private over = false;

  constructor(private readonly o: AdoptedRunOptions) {
    this.runId = o.predecessor.runId;
    this.playlist = new PlaylistFollower(o.cameraId, o.dir, playlistName(this.runId));
    this.done = new Promise((resolve) => {
      this.finished = resolve;
    });
  }

  get pid(): number {
    return this.o.predecessor.pid;
  }

  /** Follows the run until it exits. */
  start(): void {
    this.o.logger.info(
      { pid: this.pid, runId: this.runId },
      'recorder: taking over the run the previous agent left recording',
    );
    this.timer = setInterval(() => this.tick(), this.o.pollMs ?? 250);
    this.tick();
  }

  /** Asks the run to finish its segment (the new run has footage); killed if it has not in 10 s. */
  retire(): void {
    if (this.asked || this.over) return;
    this.asked = true;
    this.o.logger.info({ pid: this.pid, runId: this.runId }, 'recorder: ending the previous agent’s run');
    this.signal('SIGINT');
    setTimeout(() => {
      if (!this.over) this.signal('SIGKILL');
    }, 10_000).unref();
  }

  private signal(signal: NodeJS.Signals): void {
    try {
      process.kill(-this.pid, signal);
    } catch {
      // gone already
    }
  }

  private tick(): void {
    this.chain = this.chain
      .then(async () => {
        if (this.over) return;
        const alive = await running(this.pid);
        await this.scan(); // a clean exit lists the last segment before the process ends
        if (alive) return;
        this.over = true;
        if (this.timer) clearInterval(this.timer);
        this.timer = null;
        this.o.logger.info(
          { runId: this.runId, segments: this.emitted.size },
          'recorder: the previous agent’s run ended',
        );
        this.finished();
      })
      .catch((err) => this.o.logger.error({ err }, 'recorder: scan of the previous agent’s run failed'));
  }

  private async scan(): Promise<void> {
    const segments = await this.playlist.next();
    if (segments.length === 0) return;
    const bias = await loadClockBias(this.o.dir, this.runId);
    const codec = await initCodec(join(this.o.dir, initName(this.runId)));
    for (const raw of segments) {
      if (this.emitted.has(raw.name)) continue;
      this.emitted.add(raw.name);
      this.o.onSegment({ ...applyClockBias(raw, bias), codec });
    }
  }

  /** This agent stops before the run ended: it is left to the keeper (or the next agent). */
  abandon(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    this.over = true;
    this.finished();
  }
}
