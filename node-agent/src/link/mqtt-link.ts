/**
 * The agent's MQTT link to the master: persistent session, retained status with an offline
 * last will; on every (re)connect it publishes online status and hello, subscribes to its
 * commands, and heartbeats run on an interval while connected. Every outgoing message is
 * validated first. Command replies (and `publishQueued` messages) go through the on-disk outbox,
 * so what is produced while the broker is away is delivered after the reconnect. Incoming
 * commands are validated, deduplicated and answered by `CommandDispatch`; the master's clock
 * answers, which share the command channel (`cmd/time`), go to `onTimeAnswer` instead.
 */
import type { HeartbeatMessage, HelloMessage, StatusMessage, Validator } from '@cctv/protocol';
import { parseNodeTopic, TIME_ANSWER_NAME, topics, validators } from '@cctv/protocol';
import mqtt, { type IClientOptions, type MqttClient } from 'mqtt';
import type { Logger } from 'pino';
import { Outbox, type OutboxOptions } from '../outbox/outbox.ts';
import { CommandDispatch, type CommandHandlers, type CommandRejection } from './command-dispatch.ts';

export type { CommandHandler, CommandHandlers, CommandRejection, CommandResult } from './command-dispatch.ts';

export interface MqttLinkOptions {
  url: string;
  username?: string | undefined;
  password?: string | undefined;
  /**
   * For `mqtts://` and `wss://`: the only CA the broker's certificate may chain to (config
   * `tls.ca`); without it the system's roots. The host name is verified either way.
   */
  ca?: Buffer | undefined;
  nodeId: string;
  agentVersion: string;
  heartbeatIntervalS: number;
  logger: Logger;
  hello: () => Promise<HelloMessage> | HelloMessage;
  heartbeat: () => Promise<HeartbeatMessage>;
  now?: () => Date;
  /** Overrides for tests (e.g. a shorter keepalive). */
  clientOptions?: Partial<IClientOptions>;
  /**
   * Folder of the on-disk outbox for QoS 1 messages (command replies, `publishQueued`). Without
   * it replies are published only while connected and `publishQueued` refuses.
   */
  outboxDir?: string | undefined;
  /** Outbox caps and timings; see `OutboxOptions` for the defaults. */
  outbox?: Pick<OutboxOptions, 'maxMessages' | 'maxBytes' | 'stopTimeoutMs' | 'retryDelayMs'>;
  /** Commands besides the built-in `ping`. */
  commands?: CommandHandlers;
  /** Called for every command refused as malformed, unknown or expired (for a metric). */
  onRejected?: (reason: CommandRejection) => void;
  /** After each (re)connect, once the command subscription is in place (answers can arrive). */
  onReady?: () => void;
  /** The master's clock answers (`cmd/time`), kept apart from the commands. */
  onTimeAnswer?: (payload: Buffer) => void;
}

export class MqttLink {
  private client: MqttClient | null = null;
  private timer: NodeJS.Timeout | null = null;
  private connects = 0;
  private leaving = false;
  private lastError = '';
  private box: Outbox | null = null;
  private readonly dispatch: CommandDispatch;
  private helloWanted = false;
  private helloSending = false;

  constructor(private readonly opts: MqttLinkOptions) {
    this.dispatch = new CommandDispatch(opts, (reqId, payload) => this.sendReply(reqId, payload));
  }

  /** The outbox, once started (sizes and counters for heartbeats and metrics). */
  get outbox(): Outbox | null {
    return this.box;
  }

  get connected(): boolean {
    return this.client?.connected ?? false;
  }

  /** Times the link has connected (first connect and reconnects). */
  get connectCount(): number {
    return this.connects;
  }

  private status(state: StatusMessage['state']): StatusMessage {
    return {
      state,
      at: (this.opts.now?.() ?? new Date()).toISOString(),
      agentVersion: this.opts.agentVersion,
    };
  }

  /**
   * Starts connecting; reconnects by itself every second while the broker is away. Resolves once
   * the outbox has read what an earlier run left (rejects when its folder cannot be used).
   */
  async start(): Promise<void> {
    const o = this.opts;
    const statusTopic = topics.status(o.nodeId);
    const client = mqtt.connect(o.url, {
      clientId: `agent-${o.nodeId}`,
      clean: false,
      keepalive: 10,
      reconnectPeriod: 1000,
      // A refusal (say, while the master provisions this node) must not end the retries.
      reconnectOnConnackError: true,
      connectTimeout: 10_000,
      ...(o.username !== undefined ? { username: o.username } : {}),
      ...(o.password !== undefined ? { password: o.password } : {}),
      ...(o.ca !== undefined ? { ca: o.ca } : {}),
      will: {
        topic: statusTopic,
        payload: Buffer.from(JSON.stringify(this.status('offline'))),
        qos: 1,
        retain: true,
      },
      ...o.clientOptions,
    });
    this.client = client;
    client.on('connect', () => {
      this.connects++;
      this.lastError = '';
      o.logger.info({ url: o.url, reconnect: this.connects > 1 }, 'mqtt connected');
      // The broker may have lost the session (restart, expiry): subscribe again every time.
      client.subscribeAsync(topics.cmdFilter(o.nodeId), { qos: 1 }).then(
        () => {
          if (!this.leaving) o.onReady?.();
        },
        (err: Error) => o.logger.warn({ err: err.message }, 'command subscription failed'),
      );
      if (!this.leaving) void this.announce();
    });
    client.on('message', (topic, payload) => {
      const parsed = parseNodeTopic(topic);
      if (parsed?.kind !== 'cmd' || parsed.nodeId !== o.nodeId || !parsed.arg) return;
      if (parsed.arg === TIME_ANSWER_NAME) o.onTimeAnswer?.(payload);
      else
        this.dispatch
          .handle(parsed.arg, payload)
          .catch((err: Error) => o.logger.error({ topic, err: err.message }, 'command handling failed'));
    });
    client.on('close', () => {
      // The will is sent with the next CONNECT; give it a fresher time.
      if (client.options.will)
        client.options.will.payload = Buffer.from(JSON.stringify(this.status('offline')));
    });
    client.on('offline', () => o.logger.warn('mqtt offline, reconnecting every second'));
    client.on('error', (err) => {
      // The same refusal every second while the broker is away is logged once.
      const level = err.message === this.lastError ? 'debug' : 'warn';
      this.lastError = err.message;
      o.logger[level]({ err: err.message }, 'mqtt error');
    });
    this.timer = setInterval(() => {
      if (client.connected && !this.leaving) void this.sendHeartbeat();
    }, o.heartbeatIntervalS * 1000);
    if (o.outboxDir !== undefined) {
      const box = new Outbox({ ...o.outbox, dir: o.outboxDir, client, logger: o.logger, now: o.now });
      this.box = box;
      await box.start();
    }
  }

  /**
   * Publishes hello again (the cameras changed). Calls that come while one is being sent are
   * folded into one more; nothing is sent while disconnected, as every connect sends hello.
   */
  republishHello(): void {
    this.helloWanted = true;
    if (this.helloSending) return;
    this.helloSending = true;
    void (async () => {
      try {
        while (this.helloWanted) {
          this.helloWanted = false;
          if (!this.client?.connected || this.leaving) continue;
          const o = this.opts;
          try {
            await this.publish(validators.hello, topics.hello(o.nodeId), await o.hello(), 1, false);
          } catch (err) {
            o.logger.warn({ err: (err as Error).message }, 'hello not republished');
          }
        }
      } finally {
        this.helloSending = false;
      }
    })();
  }

  /**
   * Queues a QoS 1 publish in the outbox; resolves once it is on disk. The caller validates the
   * payload; the topic must be under this node's prefix (the broker refuses anything else).
   */
  async publishQueued(topic: string, payload: string, opts: { retain?: boolean } = {}): Promise<void> {
    if (parseNodeTopic(topic)?.nodeId !== this.opts.nodeId)
      throw Object.assign(new Error(`${topic} is not a topic of node ${this.opts.nodeId}`), {
        code: 'FOREIGN_TOPIC',
      });
    if (!this.box)
      throw Object.assign(new Error('no outbox: the link has no outboxDir or is not started'), {
        code: 'NO_OUTBOX',
      });
    await this.box.append({ topic, payload, retain: opts.retain ?? false });
  }

  /**
   * Publishes at QoS 0 now, past the outbox: for what is worthless later (a clock request).
   * Rejects while disconnected. The caller validates the payload.
   */
  async publishNow(topic: string, payload: string): Promise<void> {
    if (!this.client?.connected || this.leaving)
      throw Object.assign(new Error('not connected'), { code: 'DISCONNECTED' });
    await this.client.publishAsync(topic, payload, { qos: 0 });
  }

  /** Sends a reply through the outbox (or directly when there is none); never throws. */
  private async sendReply(reqId: string, payload: string): Promise<void> {
    const o = this.opts;
    const topic = topics.reply(o.nodeId, reqId);
    try {
      if (this.box) await this.box.append({ topic, payload });
      else if (this.client?.connected) await this.client.publishAsync(topic, payload, { qos: 1 });
      else o.logger.warn({ topic }, 'reply dropped: disconnected and no outbox');
    } catch (err) {
      o.logger.error({ topic, err: (err as Error).message }, 'reply not sent');
    }
  }

  private async announce(): Promise<void> {
    const o = this.opts;
    try {
      await this.publish(validators.status, topics.status(o.nodeId), this.status('online'), 1, true);
      await this.publish(validators.hello, topics.hello(o.nodeId), await o.hello(), 1, false);
      await this.sendHeartbeat();
    } catch (err) {
      o.logger.warn({ err: (err as Error).message }, 'mqtt announce failed; will repeat on reconnect');
    }
  }

  private async sendHeartbeat(): Promise<void> {
    try {
      const hb = await this.opts.heartbeat();
      await this.publish(validators.heartbeat, topics.heartbeat(this.opts.nodeId), hb, 0, false);
    } catch (err) {
      this.opts.logger.warn({ err: (err as Error).message }, 'heartbeat not sent');
    }
  }

  private async publish<T>(
    v: Validator<T>,
    topic: string,
    msg: T,
    qos: 0 | 1,
    retain: boolean,
  ): Promise<void> {
    const checked = v.validate(msg);
    if (!checked.ok) {
      // Our own message breaks the contract: a bug, never a runtime condition.
      this.opts.logger.error(
        { topic, error: checked.error, msg },
        'BUG: outgoing message fails its schema, not sent',
      );
      return;
    }
    if (!this.client) return;
    await this.client.publishAsync(topic, JSON.stringify(msg), { qos, retain });
  }

  /**
   * Stops the outbox (the publish in flight gets its `stopTimeoutMs`; the rest stays on disk),
   * publishes the retained offline status (when connected), then disconnects.
   */
  async stop(timeoutMs = 3000): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    await this.box?.stop();
    const client = this.client;
    if (!client) return;
    if (client.connected) {
      const offline = this.publish(
        validators.status,
        topics.status(this.opts.nodeId),
        this.status('offline'),
        1,
        true,
      );
      await Promise.race([offline.catch(() => {}), new Promise((r) => setTimeout(r, timeoutMs).unref())]);
    }
    await Promise.race([
      client.endAsync(!client.connected),
      new Promise((r) => setTimeout(r, timeoutMs).unref()),
    ]);
    this.client = null;
  }

  /** Publishes the offline status now, leaving the connection up (shutdown starts with this). */
  async announceOffline(timeoutMs = 3000): Promise<void> {
    this.leaving = true;
    if (!this.client?.connected) return;
    // A broker that goes away at the same moment never acknowledges; do not wait for it.
    const offline = this.publish(
      validators.status,
      topics.status(this.opts.nodeId),
      this.status('offline'),
      1,
      true,
    ).catch(() => {});
    await Promise.race([offline, new Promise((r) => setTimeout(r, timeoutMs).unref())]);
  }
}
