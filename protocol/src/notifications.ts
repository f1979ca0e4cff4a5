/**
 * What the master sends outside the cluster when an alert is raised or resolved, and the
 * settings of the channels it goes through (webhook, e-mail, MQTT to the site's home automation
 * broker). Receivers outside this repository read these shapes: every field is documented, and
 * fields are only ever added (docs/operations.md, "Notifications"; ADR 0019).
 */
import { type Static, Type } from '@sinclair/typebox';
import { EventType } from './events.ts';
import { CameraId, NodeId } from './ids.ts';
import { Nullable } from './nullable.ts';
import { EMAIL_ADDRESS_PATTERN } from './patterns.ts';
import { compile } from './validate.ts';

const IsoTime = Type.String({ format: 'date-time', maxLength: 40 });

/** The alert's severity (the same values as the alerts the dashboard shows). */
export const NotificationSeverity = Type.Union([
  Type.Literal('info'),
  Type.Literal('warning'),
  Type.Literal('critical'),
]);
export type NotificationSeverity = Static<typeof NotificationSeverity>;

export const AlertNotificationType = Type.Union([
  Type.Literal('alert.raised'),
  Type.Literal('alert.resolved'),
]);
export type AlertNotificationType = Static<typeof AlertNotificationType>;

/** The alert a notification is about, as it stood when the notification was made. */
export const NotificationAlert = Type.Object(
  {
    /** The alert's id at the master: the same in its `alert.raised` and `alert.resolved`. */
    id: Type.String({ minLength: 1, maxLength: 100 }),
    /** What went wrong, machine-readable, as the master's alert rules name it (`node_offline`…). */
    kind: Type.String({ minLength: 1, maxLength: 100 }),
    severity: NotificationSeverity,
    /** One line for people, in English. */
    message: Type.String({ maxLength: 1000 }),
    /** The node it concerns, or null for one that concerns no single node. */
    nodeId: Nullable(NodeId),
    /** The camera it concerns, or null. */
    cameraId: Nullable(CameraId),
    raisedAt: IsoTime,
    /** When it cleared; null while it is still active. */
    resolvedAt: Nullable(IsoTime),
    /** The alert rule that raised it, or null for the master's built-in alerts. */
    ruleId: Nullable(Type.String({ maxLength: 100 })),
    ruleName: Nullable(Type.String({ maxLength: 200 })),
  },
  { additionalProperties: false },
);
export type NotificationAlert = Static<typeof NotificationAlert>;

/** The detection event behind an alert (a motion or face alert), as the master stored it. */
export const NotificationEvent = Type.Object(
  {
    /** The event's id (a UUID), the one the dashboard and `GET /api/events` use. */
    id: Type.String({ maxLength: 100 }),
    type: EventType,
    cameraId: CameraId,
    nodeId: NodeId,
    start: IsoTime,
    /** Null while the event goes on. */
    end: Nullable(IsoTime),
    /** Best score: face confidence, or for motion the largest changed share of the frame (0..1). */
    score: Nullable(Type.Number({ minimum: 0, maximum: 1 })),
    /** Names of the camera's motion zones the event touched (empty: no zones set). */
    zones: Type.Array(Type.String({ maxLength: 63 }), { maxItems: 32 }),
  },
  { additionalProperties: false },
);
export type NotificationEvent = Static<typeof NotificationEvent>;

/**
 * The JSON body of a webhook delivery and of the MQTT message on `<prefix>/alerts`. Delivery is
 * at least once: a receiver may see the same notification again (a retry after a lost answer)
 * and should drop an `id` it has already handled.
 */
export const AlertNotification = Type.Object(
  {
    /**
     * The idempotency key of this notification: one per alert and transition, the same on every
     * retry and on every channel (also the webhook's `X-CCTV-Delivery` header).
     */
    id: Type.String({ minLength: 1, maxLength: 200 }),
    /** `alert.raised` when the alert starts, `alert.resolved` when it clears. */
    type: AlertNotificationType,
    /** When the master made the notification (not when this attempt was sent: retries keep it). */
    sentAt: IsoTime,
    alert: NotificationAlert,
    /** The detection event behind the alert, or null for alerts that have none (a node offline). */
    event: Nullable(NotificationEvent),
    /**
     * An address of the event's snapshot (JPEG) that needs no login for a limited time, or null
     * when there is none or the master is not set up to hand them out.
     */
    snapshotUrl: Nullable(Type.String({ maxLength: 2000, pattern: '^https?://' })),
  },
  { additionalProperties: false },
);
export type AlertNotification = Static<typeof AlertNotification>;

/** The headers of a webhook delivery (docs/operations.md tells receivers how to verify them). */
export const WEBHOOK_HEADERS = {
  /** The notification's `type`. */
  event: 'X-CCTV-Event',
  /** The notification's `id`: the idempotency key. */
  delivery: 'X-CCTV-Delivery',
  /** Unix time in seconds of this attempt; part of what is signed. */
  timestamp: 'X-CCTV-Timestamp',
  /** `sha256=<hex HMAC-SHA256 of "<timestamp>.<raw body>" with the channel's secret>`. */
  signature: 'X-CCTV-Signature',
} as const;

/** Headers a channel's own `headers` may not set: the ones the master sends or the transport owns. */
export const WEBHOOK_RESERVED_HEADERS = [
  ...Object.values(WEBHOOK_HEADERS).map((h) => h.toLowerCase()),
  'content-type',
  'content-length',
  'host',
  'connection',
  'transfer-encoding',
  'user-agent',
];

/** Why a channel's own headers cannot be sent (one the master sets itself), or null. */
export function webhookHeadersProblem(headers: Record<string, string> | undefined): string | null {
  for (const name of Object.keys(headers ?? {}))
    if (WEBHOOK_RESERVED_HEADERS.includes(name.toLowerCase())) return `header ${name} is set by the master`;
  return null;
}

const Secret = (minLength: number) => Type.String({ minLength, maxLength: 256, writeOnly: true });
/** An http(s) URL without credentials in it (a secret there would show in every view and log). */
const WebhookUrl = Type.String({
  maxLength: 2000,
  pattern: '^[Hh][Tt][Tt][Pp][Ss]?://[^\\s/?#@]+([/?#]\\S*)?$',
});
const HeaderName = '^[A-Za-z0-9][A-Za-z0-9-]{0,63}$';
const HeaderValue = Type.String({ maxLength: 1000, pattern: '^[^\\r\\n\\x00]*$' });
/** MQTT topic levels without wildcards, not starting with `$` (the broker's own topics). */
const TOPIC_PREFIX_PATTERN = '^[A-Za-z0-9_-]{1,64}(/[A-Za-z0-9_-]{1,64}){0,4}$';
const EmailAddress = Type.String({ maxLength: 254, pattern: EMAIL_ADDRESS_PATTERN });

/**
 * A webhook channel as given to the channels API. `secret` is write-only: absent keeps the saved
 * one (a new channel must give it), and it is never shown again. `headers` are sent as they are
 * (say, `Authorization` for a receiver behind a proxy); absent keeps the saved ones.
 */
export const WebhookChannelSettings = Type.Object(
  {
    url: WebhookUrl,
    secret: Type.Optional(Secret(16)),
    headers: Type.Optional(
      Type.Record(Type.String({ pattern: HeaderName }), HeaderValue, {
        maxProperties: 10,
        additionalProperties: false,
      }),
    ),
  },
  { additionalProperties: false },
);
export type WebhookChannelSettings = Static<typeof WebhookChannelSettings>;

/** A webhook channel as the API shows it: header values may hold tokens, so only their names. */
export const WebhookChannelView = Type.Object({
  url: Type.String(),
  headerNames: Type.Array(Type.String()),
  hasSecret: Type.Boolean(),
});
export type WebhookChannelView = Static<typeof WebhookChannelView>;

export const SmtpSecurity = Type.Union([Type.Literal('tls'), Type.Literal('starttls'), Type.Literal('none')]);
export type SmtpSecurity = Static<typeof SmtpSecurity>;

/**
 * An e-mail channel: the SMTP server mail goes through. `security`: `tls` speaks TLS from the
 * first byte (port 465), `starttls` requires the upgrade (port 587), `none` sends in the clear
 * (a relay on the same host or network only; no login then). `password` is write-only: absent
 * keeps the saved one, empty removes it.
 */
export const EmailChannelSettings = Type.Object(
  {
    host: Type.String({ minLength: 1, maxLength: 253, pattern: '^[A-Za-z0-9.:\\[\\]-]+$' }),
    port: Type.Integer({ minimum: 1, maximum: 65535 }),
    security: SmtpSecurity,
    username: Type.Optional(Type.String({ minLength: 1, maxLength: 256 })),
    password: Type.Optional(Secret(0)),
    from: EmailAddress,
    to: Type.Array(EmailAddress, { minItems: 1, maxItems: 20, uniqueItems: true }),
  },
  { additionalProperties: false },
);
export type EmailChannelSettings = Static<typeof EmailChannelSettings>;

export const EmailChannelView = Type.Object({
  host: Type.String(),
  port: Type.Number(),
  security: SmtpSecurity,
  username: Nullable(Type.String()),
  from: Type.String(),
  to: Type.Array(Type.String()),
  /** A password is saved (it is never shown). */
  hasSecret: Type.Boolean(),
});
export type EmailChannelView = Static<typeof EmailChannelView>;

/**
 * An MQTT channel: the site's home automation broker (not the cluster's own). `topicPrefix`
 * roots every topic the master publishes there; `homeAssistant` also publishes Home Assistant
 * discovery configs under `discoveryPrefix`. `password` is write-only: absent keeps the saved
 * one, empty removes it.
 */
export const MqttChannelSettings = Type.Object(
  {
    url: Type.String({ maxLength: 2000, pattern: '^[Mm][Qq][Tt][Tt][Ss]?://[^\\s/?#@]+/?$' }),
    username: Type.Optional(Type.String({ minLength: 1, maxLength: 256 })),
    password: Type.Optional(Secret(0)),
    /** Default `cctv`. */
    topicPrefix: Type.Optional(Type.String({ pattern: TOPIC_PREFIX_PATTERN })),
    /** Default `homeassistant`. */
    discoveryPrefix: Type.Optional(Type.String({ pattern: TOPIC_PREFIX_PATTERN })),
    homeAssistant: Type.Boolean(),
  },
  { additionalProperties: false },
);
export type MqttChannelSettings = Static<typeof MqttChannelSettings>;

export const MqttChannelView = Type.Object({
  url: Type.String(),
  username: Nullable(Type.String()),
  topicPrefix: Type.String(),
  discoveryPrefix: Type.String(),
  homeAssistant: Type.Boolean(),
  hasSecret: Type.Boolean(),
});
export type MqttChannelView = Static<typeof MqttChannelView>;

export type NodeOnlineState = 'online' | 'stale' | 'offline';
export type DetectionKind = 'motion' | 'face';

/**
 * The topics published on the site's broker under a channel's `topicPrefix`. Retained: the
 * status, node and camera states and detections (a subscriber gets the current value at once);
 * not retained: alerts and events (things that happened).
 */
export function mqttOutTopics(prefix: string) {
  return {
    /** `online` / `offline` (retained; `offline` is also the connection's last will). */
    status: `${prefix}/status`,
    /** `AlertNotification` JSON, QoS 1. */
    alerts: `${prefix}/alerts`,
    /** `NotificationEvent` JSON of each stored detection event, QoS 1. */
    events: `${prefix}/events`,
    /** `online`, `stale` or `offline`. */
    nodeState: (nodeId: string) => `${prefix}/nodes/${nodeId}/state`,
    /** The camera's recording state: `starting`, `recording`, `reconnecting`, `failed`, `stopped`. */
    cameraState: (cameraId: string) => `${prefix}/cameras/${cameraId}/state`,
    /** `ON` while a motion (or face) event is active on the camera, `OFF` after it. */
    detection: (cameraId: string, kind: DetectionKind) => `${prefix}/cameras/${cameraId}/${kind}`,
  };
}

/** Validators of the notification contracts (receivers and the master's tests share them). */
export const notificationValidators = {
  alertNotification: compile(AlertNotification),
  webhookChannel: compile(WebhookChannelSettings),
  emailChannel: compile(EmailChannelSettings),
  mqttChannel: compile(MqttChannelSettings),
};
