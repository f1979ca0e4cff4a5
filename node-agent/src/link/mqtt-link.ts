/**
 * The agent's MQTT link to the master: persistent session, retained status with an offline
 * last will; on every (re)connect it publishes online status and hello, and heartbeats run
 * on an interval while connected. Every outgoing message is validated first.
 */
import type { HeartbeatMessage, HelloMessage, StatusMessage, Validator } from '@cctv/protocol';
import { topics, validators } from '@cctv/protocol';
import mqtt, { type IClientOptions, type MqttClient } from 'mqtt';
import type { Logger } from 'pino';

export interface MqttLinkOptions {
  url: string;
  username?: string | undefined;
  password?: string | undefined;
  nodeId: string;
  agentVersion: string;
  heartbeatIntervalS: number;
  logger: Logger;
  hello: () => Promise<HelloMessage> | HelloMessage;
  heartbeat: () => Promise<HeartbeatMessage>;
  now?: () => Date;
  /** Overrides for tests (e.g. a shorter keepalive). */
  clientOptions?: Partial<IClientOptions>;
}

export class MqttLink {
  private client: MqttClient | null = null;
  private timer: NodeJS.Timeout | null = null;
  private connects = 0;
  private leaving = false;
  private lastError = '';

  constructor(private readonly opts: MqttLinkOptions) {}

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

  /** Starts connecting; reconnects by itself every second while the broker is away. */
  start(): void {
    const o = this.opts;
    const statusTopic = topics.status(o.nodeId);
    const client = mqtt.connect(o.url, {
      clientId: `agent-${o.nodeId}`,
      clean: false,
      keepalive: 10,
      reconnectPeriod: 1000,
      connectTimeout: 10_000,
      ...(o.username !== undefined ? { username: o.username } : {}),
      ...(o.password !== undefined ? { password: o.password } : {}),
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
      if (!this.leaving) void this.announce();
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

  /** Publishes the retained offline status (when connected), then disconnects. */
  async stop(timeoutMs = 3000): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
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
