import { RenditionError } from './rendition-error.ts';

/** How many transcodes run and wait right now. */
export interface SlotState {
  running: number;
  queued: number;
}

/**
 * A counting semaphore with a bounded queue: at most `limit` holders, at most `queueMax`
 * waiters in arrival order; one more is refused at once (`busy`) instead of waiting
 * without end while browsers time out.
 */
export class TranscodeSlots {
  private running = 0;
  private readonly waiters: { grant: () => void; refuse: (err: Error) => void }[] = [];

  constructor(
    readonly limit: number,
    readonly queueMax: number,
    private readonly onChange: (state: SlotState) => void = () => {},
    private readonly retryAfterS: (state: SlotState) => number = () => 1,
  ) {}

  get state(): SlotState {
    return { running: this.running, queued: this.waiters.length };
  }

  /** Resolves to a release function once a slot is free; throws `busy` when the queue is full. */
  async acquire(): Promise<() => void> {
    if (this.running < this.limit) {
      this.running++;
      this.onChange(this.state);
      return this.releaser();
    }
    if (this.waiters.length >= this.queueMax)
      throw new RenditionError(
        'busy',
        `all ${this.limit} transcode slots are busy and ${this.waiters.length} requests wait`,
        this.retryAfterS(this.state),
      );
    await new Promise<void>((grant, refuse) => {
      this.waiters.push({ grant, refuse });
      this.onChange(this.state);
    });
    return this.releaser();
  }

  /** Refuses every waiter (the service is stopping); holders keep their slots. */
  refuseWaiting(err: Error): void {
    for (const waiter of this.waiters.splice(0)) waiter.refuse(err);
    this.onChange(this.state);
  }

  private releaser(): () => void {
    let released = false;
    return () => {
      if (released) return;
      released = true;
      // The slot passes straight to the next waiter, so `running` never dips below a queue.
      const next = this.waiters.shift();
      if (next) next.grant();
      else this.running--;
      this.onChange(this.state);
    };
  }
}
