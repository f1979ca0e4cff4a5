/**
 * The master as a publisher on the site's home automation broker (not the cluster's own):
 * alerts and events as they happen, node and camera states and detections as retained values,
 * and Home Assistant discovery configs (ha-discovery.ts). Topics: protocol `mqttOutTopics`.
 *
 * It connects on its own and keeps reconnecting; nothing here throws into the caller. Retained
 * values are kept here too and published again on every connect, so a broker restarted without
 * persistence, or one that was away when a state changed, ends up with the current values.
 */
import { randomBytes } from 'node:crypto';
import {
  type AlertNotification,
  type DetectionKind,
  isValidId,
  mqttOutTopics,
  type NodeOnlineState,
  type NotificationEvent,
  redactCredentials,
} from '@cctv/protocol';
import mqtt, { type MqttClient } from 'mqtt';
import type { Logger } from 'pino';
import { type AnnouncedCamera, discoveryConfigs, discoveryFilter, siteKey } from './ha-discovery.ts';
import { delivered, failed, type SendResult } from './result.ts';

export interface MqttOutOptions {
  /** `mqtt://host:1883` or `mqtts://host:8883`, without credentials. */
  url: string;
  username?: string;
  password?: string;
  /** CA certificate (PEM) of a broker with a private CA. */
  ca?: Buffer;
  topicPrefix: string;
  discoveryPrefix: string;
  /** Publish Home Assistant discovery configs. */
  homeAssistant: boolean;
  log: Logger;
  /** Called for each message that could not be published (a metric counts them). */
  onFailure?: (what: string, error: string) => void;
  /** How long a QoS 1 publish may wait for the broker's acknowledgement (default 10 s). */
  publishTimeoutMs?: number;
  /** Pause between connection attempts (default 5 s). */
  reconnectPeriodMs?: number;
}

export class MqttOut {
  private client: MqttClient | null = null;
  private readonly topics: ReturnType<typeof mqttOutTopics>;
  /** Retained topics and their current payloads, published again on every connect. */
  private readonly retained = new Map<string, string>();
  /** Retained topics emptied while the broker was away: emptied there on the next connect. */
  private readonly pendingClears = new Set<string>();
  /** The cameras of the last `announceCameras`; null before the first. */
  private cameras: AnnouncedCamera[] | null = null;
  /** Our discovery configs found retained on the broker that no announced camera accounts for. */
  private readonly strayConfigs = new Set<string>();
  private lastError = '';

  constructor(private readonly opts: MqttOutOptions) {
    this.topics = mqttOutTopics(opts.topicPrefix);
  }

  /** Starts connecting and returns at once: an absent broker must not hold up the master. */
  start(): void {
    if (this.client) return;
    const o = this.opts;
    // The channel's URL carries no credentials (its schema refuses them); logs redact it anyway.
    const url = redactCredentials(o.url);
    const client = mqtt.connect(o.url, {
      protocolVersion: 4,
      clientId: `cctv-master-${randomBytes(6).toString('hex')}`,
      clean: true,
      keepalive: 30,
      connectTimeout: 10_000,
      reconnectPeriod: o.reconnectPeriodMs ?? 5000,
      reconnectOnConnackError: true,
      ...(o.username ? { username: o.username } : {}),
      ...(o.password ? { password: o.password } : {}),
      ...(o.ca ? { ca: o.ca } : {}),
      will: { topic: this.topics.status, payload: Buffer.from('offline'), qos: 1, retain: true },
    });
    this.client = client;
    client.on('connect', () => {
      this.lastError = '';
      o.log.info({ url }, 'connected to the home automation broker');
      void this.onConnect(client);
    });
    client.on('message', (topic, payload, packet) => this.onDiscoveryConfig(topic, payload, packet.retain));
    client.on('offline', () => o.log.warn({ url }, 'home automation broker unreachable; retrying'));
    client.on('error', (err) => {
      // The same refusal at every attempt is logged once.
      const level = err.message === this.lastError ? 'debug' : 'warn';
      this.lastError = err.message;
      o.log[level]({ url, err: err.message }, 'home automation broker error');
    });
  }

  /** Says `offline` on the status topic and disconnects; resolves when closed. */
  async stop(): Promise<void> {
    const client = this.client;
    this.client = null;
    if (!client) return;
    if (client.connected)
      await this.withTimeout(
        client.publishAsync(this.topics.status, 'offline', { qos: 1, retain: true }),
      ).catch(() => {});
    await client.endAsync(true).catch(() => {});
  }

  get connected(): boolean {
    return this.client?.connected ?? false;
  }

  /**
   * The cameras to show in Home Assistant, all of them each time: configs of cameras no longer
   * in the list are emptied (Home Assistant removes their entities), with their retained states.
   */
  announceCameras(cameras: readonly AnnouncedCamera[]): void {
    const valid = cameras.filter((c) => isValidId(c.cameraId) && isValidId(c.nodeId));
    const gone = (this.cameras ?? []).filter((old) => !valid.some((c) => c.cameraId === old.cameraId));
    this.cameras = valid.map((c) => ({ ...c }));
    for (const c of gone) {
      this.setRetained(this.topics.detection(c.cameraId, 'motion'), '');
      this.setRetained(this.topics.detection(c.cameraId, 'face'), '');
      this.setRetained(this.topics.cameraState(c.cameraId), '');
    }
    // With discovery off, none is wanted: those of an earlier run with it on are emptied too.
    const configs = this.opts.homeAssistant ? discoveryConfigs(this.opts, valid) : new Map<string, string>();
    for (const topic of [...this.retained.keys()])
      if (this.isDiscoveryTopic(topic) && !configs.has(topic)) this.setRetained(topic, '');
    for (const [topic, payload] of configs) this.setRetained(topic, payload);
    this.sweepStrayConfigs();
  }

  nodeState(nodeId: string, state: NodeOnlineState): void {
    if (isValidId(nodeId)) this.setRetained(this.topics.nodeState(nodeId), state);
  }

  /** The camera's recording state (`recording`, `reconnecting`, `failed`…). */
  cameraState(cameraId: string, state: string): void {
    if (isValidId(cameraId)) this.setRetained(this.topics.cameraState(cameraId), state);
  }

  detection(cameraId: string, kind: DetectionKind, active: boolean): void {
    if (isValidId(cameraId)) this.setRetained(this.topics.detection(cameraId, kind), active ? 'ON' : 'OFF');
  }

  /** A stored detection event; not retained, dropped (and counted) while the broker is away. */
  event(event: NotificationEvent): void {
    void this.publishNow('event', this.topics.events, JSON.stringify(event));
  }

  /** An alert notification for the outbox: it retries what this reports as failed. */
  async publishAlert(notification: AlertNotification): Promise<SendResult> {
    return this.publishNow('alert', this.topics.alerts, JSON.stringify(notification));
  }

  private async publishNow(what: string, topic: string, payload: string): Promise<SendResult> {
    const client = this.client;
    if (!client?.connected) return this.failure(what, 'not connected to the broker');
    try {
      await this.withTimeout(client.publishAsync(topic, payload, { qos: 1, retain: false }));
      return delivered;
    } catch (err) {
      return this.failure(what, (err as Error).message);
    }
  }

  private failure(what: string, error: string): SendResult {
    this.opts.onFailure?.(what, error);
    return failed(true, error);
  }

  /** Keeps a retained value (empty: removes it) and publishes it when connected. */
  private setRetained(topic: string, payload: string): void {
    if (payload === '') this.retained.delete(topic);
    else this.retained.set(topic, payload);
    const client = this.client;
    if (client?.connected) void this.publishRetained(client, topic, payload);
    else if (payload === '') this.pendingClears.add(topic);
    else this.pendingClears.delete(topic);
  }

  private async publishRetained(client: MqttClient, topic: string, payload: string): Promise<void> {
    try {
      await this.withTimeout(client.publishAsync(topic, payload, { qos: 1, retain: true }));
    } catch (err) {
      this.opts.onFailure?.('state', (err as Error).message);
    }
  }

  private async onConnect(client: MqttClient): Promise<void> {
    await this.publishRetained(client, this.topics.status, 'online');
    for (const topic of this.pendingClears) void this.publishRetained(client, topic, '');
    this.pendingClears.clear();
    for (const [topic, payload] of this.retained) void this.publishRetained(client, topic, payload);
    try {
      await client.subscribeAsync(discoveryFilter(this.opts), { qos: 1 });
    } catch (err) {
      this.opts.log.warn({ err: (err as Error).message }, 'could not look for old discovery configs');
    }
  }

  /**
   * A retained discovery config of this site on the broker (from an earlier run) that no
   * announced camera has: a camera removed while the master was away, or discovery since turned
   * off. It is emptied once the cameras are known.
   */
  private onDiscoveryConfig(topic: string, payload: Buffer, retain: boolean): void {
    if (!retain || payload.length === 0 || !this.isDiscoveryTopic(topic)) return;
    if (this.retained.has(topic)) return;
    this.strayConfigs.add(topic);
    this.sweepStrayConfigs();
  }

  private sweepStrayConfigs(): void {
    if (this.cameras === null && this.opts.homeAssistant) return;
    for (const topic of this.strayConfigs) {
      this.strayConfigs.delete(topic);
      if (!this.retained.has(topic)) {
        this.opts.log.info({ topic }, 'removing the discovery config of a camera no longer announced');
        const client = this.client;
        if (client?.connected) void this.publishRetained(client, topic, '');
      }
    }
  }

  /** `<discoveryPrefix>/<component>/<this site>/<object>/config`. */
  private isDiscoveryTopic(topic: string): boolean {
    const rest = topic.startsWith(`${this.opts.discoveryPrefix}/`)
      ? topic.slice(this.opts.discoveryPrefix.length + 1).split('/')
      : [];
    return rest.length === 4 && rest[1] === siteKey(this.opts.topicPrefix) && rest[3] === 'config';
  }

  private withTimeout<T>(p: Promise<T>): Promise<T> {
    const ms = this.opts.publishTimeoutMs ?? 10_000;
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`no acknowledgement within ${ms} ms`)), ms);
    });
    return Promise.race([p, timeout]).finally(() => clearTimeout(timer));
  }
}
