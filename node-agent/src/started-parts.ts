/**
 * The parts `startAgent` has started so far, each with how to stop it: should a later part
 * fail to start, those already running (ffmpeg children, listeners, timers, the MQTT
 * connection) are stopped, newest first, before the error goes up.
 */
import type { Logger } from 'pino';

export class StartedParts {
  private readonly parts: { name: string; stop: () => unknown }[] = [];

  constructor(private readonly log: Logger) {}

  /** `name` is running from now on; `stop` ends it (and resolves when it has ended). */
  add(name: string, stop: () => unknown): void {
    this.parts.push({ name, stop });
  }

  /** Stops every part added, in reverse order; a part that fails to stop is logged, not thrown. */
  async stopAll(): Promise<void> {
    for (let part = this.parts.pop(); part; part = this.parts.pop()) {
      try {
        await part.stop();
      } catch (err) {
        this.log.warn({ err, part: part.name }, 'part not stopped after a failed start');
      }
    }
  }
}
