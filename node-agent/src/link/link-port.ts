/**
 * What the parts started before the MQTT link need of it. The link starts last, since its hello
 * and heartbeats read the cameras, the uploader and live view; the cameras meanwhile ask for a
 * fresh hello when their state changes (the link sends one on connect anyway) and queue events,
 * which wait here until the link and its outbox are started.
 */
import type { MqttLink } from './mqtt-link.ts';

type LinkSide = Pick<MqttLink, 'republishHello' | 'publishQueued'>;

export class LinkPort {
  private link: LinkSide | null = null;
  private started: (link: Promise<LinkSide>) => void = () => {};
  private readonly ready = new Promise<LinkSide>((resolve) => {
    this.started = resolve;
  });

  constructor() {
    // A link that fails to start fails the agent's start; queued messages just stay unsent.
    this.ready.catch(() => {});
  }

  /** The link, as it starts: hellos go to it now, queued messages once `started` resolves. */
  attach(link: LinkSide, started: Promise<void>): void {
    this.link = link;
    this.started(started.then(() => link));
  }

  /** A fresh hello; before the link is attached there is nothing to refresh. */
  republishHello(): void {
    this.link?.republishHello();
  }

  /** Into the link's outbox, waiting for it to start. */
  async publishQueued(topic: string, payload: string): Promise<void> {
    await (await this.ready).publishQueued(topic, payload);
  }
}
