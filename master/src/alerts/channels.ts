/**
 * Notification channels: kept in the database with their secret (webhook key and header values,
 * SMTP or MQTT password) sealed by the camera-secret key, shown to admins without it, and sent
 * to by `ChannelSenders`: a webhook or an email per delivery, an MQTT connection kept per
 * channel (the site's home automation broker), which also carries the fleet's states and Home
 * Assistant discovery.
 */
import type { NotificationChannel, PrismaClient } from '@cctv/db';
import type {
  AlertChannelInput,
  AlertChannelKind,
  AlertChannelView,
  AlertNotification,
  NodeView,
  NotificationEvent,
} from '@cctv/protocol';
import {
  type EmailChannelSettings,
  type MqttChannelSettings,
  notificationValidators,
  type WebhookChannelSettings,
  webhookHeadersProblem,
} from '@cctv/protocol';
import type { Logger } from 'pino';
import type { SecretBox } from '../config/secret-box.ts';
import { alertEmail } from '../notify/alert-email.ts';
import {
  editedWebhook,
  editedWithPassword,
  emailView,
  mqttView,
  webhookView,
} from '../notify/channel-settings.ts';
import { sendEmail } from '../notify/email.ts';
import { MqttOut } from '../notify/mqtt-out.ts';
import type { SendResult } from '../notify/result.ts';
import { sendWebhook } from '../notify/webhook.ts';
import { type ChannelSender, type OpenChannel, type SnapshotFile, SnapshotNotReady } from './outbox.ts';

export type { NotificationChannel };

type FullSettings = AlertChannelInput['settings'];

const sealContext = (id: string) => `alert-channel:${id}`;

/** The settings with secrets as saved, and the view kept beside them in the clear. */
function edited(
  input: AlertChannelInput,
  saved: FullSettings | null,
): { full: FullSettings; view: AlertChannelView['settings'] } {
  if (input.kind === 'webhook') {
    const full = editedWebhook(saved as WebhookChannelSettings | null, input.settings);
    return { full, view: webhookView(full) };
  }
  if (input.kind === 'email') {
    const full = editedWithPassword(saved as EmailChannelSettings | null, input.settings);
    return { full, view: emailView(full) };
  }
  const full = editedWithPassword(saved as MqttChannelSettings | null, input.settings);
  return { full, view: mqttView(full) };
}

export function toChannelView(row: NotificationChannel): AlertChannelView {
  return {
    id: row.id,
    name: row.name,
    kind: row.kind as AlertChannelKind,
    enabled: row.enabled,
    // Written only as a view (below): never a secret.
    settings: row.settings as unknown as AlertChannelView['settings'],
    createdAt: row.createdAt.toISOString(),
    updatedAt: row.updatedAt.toISOString(),
    createdBy: row.createdBy,
  };
}

/**
 * Channels in the database: the whole settings sealed in `secret` (a webhook's key and header
 * values, a password), their view in `settings` for listing without opening anything.
 */
export class ChannelRepository {
  constructor(
    private readonly db: PrismaClient,
    private readonly box: SecretBox,
  ) {}

  list(): Promise<NotificationChannel[]> {
    return this.db.notificationChannel.findMany({ orderBy: { createdAt: 'asc' } });
  }

  get(id: string): Promise<NotificationChannel | null> {
    return this.db.notificationChannel.findUnique({ where: { id } });
  }

  /** Why an input cannot be saved (a webhook without a key, a header the master sets), or null. */
  problem(input: AlertChannelInput, saved: NotificationChannel | null): string | null {
    const validator =
      input.kind === 'webhook'
        ? notificationValidators.webhookChannel
        : input.kind === 'email'
          ? notificationValidators.emailChannel
          : notificationValidators.mqttChannel;
    if (!validator.check(input.settings)) return 'the settings do not fit the channel kind';
    if (input.kind === 'webhook') {
      const headers = webhookHeadersProblem(input.settings.headers);
      if (headers) return headers;
      const before = saved ? (this.settings(saved) as WebhookChannelSettings) : null;
      if (!input.settings.secret && !before?.secret)
        return 'a webhook needs a secret to sign with (16 characters or more)';
    }
    return null;
  }

  async create(id: string, input: AlertChannelInput, by: string): Promise<NotificationChannel> {
    const { full, view } = edited(input, null);
    return this.db.notificationChannel.create({
      data: {
        id,
        name: input.name,
        kind: input.kind,
        enabled: input.enabled,
        settings: view as object,
        secret: this.box.seal(JSON.stringify(full), sealContext(id)),
        createdBy: by,
      },
    });
  }

  /** A change; a secret left out keeps the saved one (see channel-settings.ts). */
  async update(saved: NotificationChannel, input: AlertChannelInput): Promise<NotificationChannel> {
    const { full, view } = edited(input, this.settings(saved));
    return this.db.notificationChannel.update({
      where: { id: saved.id },
      data: {
        name: input.name,
        enabled: input.enabled,
        settings: view as object,
        secret: this.box.seal(JSON.stringify(full), sealContext(saved.id)),
      },
    });
  }

  /** Removes a channel; its deliveries not yet sent go to the dead-letter list. */
  async delete(id: string): Promise<boolean> {
    const [, deleted] = await this.db.$transaction([
      this.db.alertDelivery.updateMany({
        where: { channelId: id, state: 'pending' },
        data: { state: 'dead', lastError: 'channel removed' },
      }),
      this.db.notificationChannel.deleteMany({ where: { id } }),
    ]);
    return deleted.count > 0;
  }

  /** The whole settings, secrets included. */
  settings(row: NotificationChannel): FullSettings {
    if (!row.secret) throw new Error(`channel ${row.id} has no saved settings`);
    return JSON.parse(this.box.open(row.secret, sealContext(row.id))) as FullSettings;
  }

  /** The channel as a sender needs it. */
  opened(row: NotificationChannel): OpenChannel {
    const full = this.settings(row) as Record<string, unknown>;
    const secret = (full.secret ?? full.password ?? null) as string | null;
    return { id: row.id, name: row.name, kind: row.kind, settings: full, secret };
  }
}

export interface SenderOptions {
  log: Logger;
  /** The site's time zone for email bodies. */
  timeZone: string;
  timeoutMs?: number;
  onMqttFailure?: (what: string) => void;
}

/**
 * Sends to channels of every kind. MQTT channels hold a connection each, made at the first send
 * or fleet update and made again when the channel changes; `sync` drops those of removed or
 * disabled channels.
 */
export class ChannelSenders implements ChannelSender {
  private readonly mqtt = new Map<string, { out: MqttOut; version: number; last: Map<string, string> }>();

  constructor(private readonly o: SenderOptions) {}

  async send(
    channel: OpenChannel,
    notification: AlertNotification,
    snapshot: () => Promise<SnapshotFile | null>,
  ): Promise<SendResult> {
    const timeoutMs = this.o.timeoutMs ?? 10_000;
    const s = channel.settings;
    if (channel.kind === 'webhook') {
      if (!channel.secret) return { ok: false, retry: false, error: 'the channel has no secret' };
      return sendWebhook(
        {
          url: String(s.url),
          secret: channel.secret,
          ...(s.headers ? { headers: s.headers as Record<string, string> } : {}),
        },
        notification,
        { timeoutMs },
      );
    }
    if (channel.kind === 'email') {
      let file: SnapshotFile | null = null;
      try {
        file = await snapshot();
      } catch (err) {
        if (err instanceof SnapshotNotReady)
          return { ok: false, retry: true, error: err.message, retryAfterMs: 2000 };
        // The mail goes without it rather than not at all.
        this.o.log.warn({ err: (err as Error).message, channel: channel.id }, 'snapshot not attached');
      }
      const mail = alertEmail(notification, { timeZone: this.o.timeZone });
      const result = await sendEmail(
        {
          host: String(s.host),
          port: Number(s.port),
          security: s.security as 'tls' | 'starttls' | 'none',
          ...(s.username ? { username: String(s.username) } : {}),
          ...(channel.secret ? { password: channel.secret } : {}),
          from: String(s.from),
          to: s.to as string[],
        },
        { ...mail, ...(file ? { snapshot: file } : {}) },
        { timeoutMs },
      );
      if (!result.ok) return result;
      if (result.warning)
        this.o.log.warn({ channel: channel.id, warning: result.warning }, 'email partly delivered');
      return { ok: true };
    }
    if (channel.kind === 'mqtt') return this.mqttOut(channel, 0).publishAlert(notification);
    return { ok: false, retry: false, error: `unknown channel kind ${channel.kind}` };
  }

  /** Keeps one connection per enabled MQTT channel; `version` changes rebuild it. */
  sync(channels: { channel: OpenChannel; version: number }[]): void {
    const wanted = new Set(channels.map((c) => c.channel.id));
    for (const [id, held] of this.mqtt)
      if (!wanted.has(id)) {
        this.mqtt.delete(id);
        void held.out.stop();
      }
    for (const c of channels) this.mqttOut(c.channel, c.version);
  }

  /** The fleet as the MQTT channels publish it: node and camera states, discovery. */
  fleet(nodes: NodeView[]): void {
    if (this.mqtt.size === 0) return;
    const cameras = nodes.flatMap((n) =>
      n.cameras.map((c) => ({ cameraId: c.id, nodeId: n.id, name: c.name })),
    );
    const announce = JSON.stringify(cameras);
    for (const held of this.mqtt.values()) {
      if (held.last.get('announce') !== announce) {
        held.last.set('announce', announce);
        held.out.announceCameras(cameras);
      }
      for (const n of nodes) {
        if (held.last.get(`node:${n.id}`) !== n.state) {
          held.last.set(`node:${n.id}`, n.state);
          held.out.nodeState(n.id, n.state);
        }
        for (const c of n.heartbeat?.cameras ?? []) {
          const state = n.state === 'offline' ? 'stopped' : c.state;
          if (held.last.get(`camera:${c.id}`) !== state) {
            held.last.set(`camera:${c.id}`, state);
            held.out.cameraState(c.id, state);
          }
        }
      }
    }
  }

  /** A stored event: its detection state, and the event itself when it starts and ends. */
  event(e: NotificationEvent, started: boolean): void {
    for (const held of this.mqtt.values()) {
      const active = e.end === null;
      const key = `det:${e.cameraId}:${e.type}:${e.id}`;
      if (held.last.get(key) === String(active)) continue;
      held.last.set(key, String(active));
      if (!active) held.last.delete(key);
      held.out.detection(e.cameraId, e.type, active);
      if (started || !active) held.out.event(e);
    }
  }

  async stop(): Promise<void> {
    await Promise.all([...this.mqtt.values()].map((h) => h.out.stop()));
    this.mqtt.clear();
  }

  private mqttOut(channel: OpenChannel, version: number): MqttOut {
    const held = this.mqtt.get(channel.id);
    if (held && (version === 0 || held.version === version)) return held.out;
    if (held) void held.out.stop();
    const s = channel.settings;
    const out = new MqttOut({
      url: String(s.url),
      ...(s.username ? { username: String(s.username) } : {}),
      ...(channel.secret ? { password: channel.secret } : {}),
      topicPrefix: String(s.topicPrefix ?? 'cctv'),
      discoveryPrefix: String(s.discoveryPrefix ?? 'homeassistant'),
      homeAssistant: Boolean(s.homeAssistant),
      log: this.o.log.child({ channel: channel.id }),
      onFailure: (what) => this.o.onMqttFailure?.(what),
    });
    out.start();
    this.mqtt.set(channel.id, { out, version, last: new Map() });
    return out;
  }
}
