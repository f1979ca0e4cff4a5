/**
 * Alerts as the master keeps them (`/api/alerts`, websocket `alert`) and the rules that raise
 * them (`/api/alert-rules`). A rule is a kind with its parameters, a severity and the channels
 * its alerts are sent to; the master evaluates it and keeps every alert in its database, so a
 * browser opened later reads the same history. What a channel receives is in
 * notifications.ts.
 */
import { type Static, type TSchema, Type } from '@sinclair/typebox';
import { EventType } from './events.ts';
import { CameraId, NodeId } from './ids.ts';
import {
  EmailChannelSettings,
  EmailChannelView,
  MqttChannelSettings,
  MqttChannelView,
  NotificationSeverity,
  WebhookChannelSettings,
  WebhookChannelView,
} from './notifications.ts';
import { Nullable } from './nullable.ts';
import { ZONE_NAME_PATTERN } from './patterns.ts';
import { SECURITY_ALERT_KINDS } from './security.ts';

export const ALERT_KINDS = [
  /** A stored event matching the rule's types, cameras, zones, score and schedule. */
  'detection',
  /** A node offline (or stale) for longer than the rule's delay; resolved when it returns. */
  'node_offline',
  /** A camera failed or reconnecting for longer than the rule's delay. */
  'camera_down',
  /** A node's spool with less free space than the rule's threshold. */
  'disk_low',
  /** The storage gateway's NAS failing for longer than the rule's delay (the buffer fills). */
  'nas_down',
  /** More segments waiting for the NAS than the rule allows, for longer than its delay. */
  'backlog',
  /** A node's clock further from the master's than the rule allows. */
  'clock_skew',
  /** A TLS certificate of the master (or its CA) expiring within the rule's days. */
  'cert_expiry',
  /** A security alert: a refused ownership claim, a foreign upload, repeated sign-in failures... */
  'security',
] as const;
export type AlertKind = (typeof ALERT_KINDS)[number];
const AlertKindSchema = Type.Union(ALERT_KINDS.map((k) => Type.Literal(k)));

/** How urgent: the same three words notifications carry. */
export const AlertSeverity = NotificationSeverity;
export type AlertSeverity = NotificationSeverity;
export const ALERT_SEVERITIES = ['info', 'warning', 'critical'] as const satisfies readonly AlertSeverity[];

const Time = Type.String();
const RuleId = Type.String({ pattern: '^[a-z0-9][a-z0-9-]{0,62}$' });
const ChannelId = Type.String({ pattern: '^[a-z0-9][a-z0-9-]{0,62}$' });
const Delay = (description: string, max = 7 * 86_400) =>
  Type.Integer({ minimum: 0, maximum: max, description });
const Some = <T extends TSchema>(item: T, description: string) =>
  Type.Array(item, { maxItems: 200, uniqueItems: true, description });

/** `HH:MM`, 00:00 to 24:00. */
export const CLOCK_TIME_PATTERN = '^(([01][0-9]|2[0-3]):[0-5][0-9]|24:00)$';

/**
 * When a detection rule applies: any of its windows, in its time zone. A window whose `to` is
 * before its `from` runs over midnight (22:00–06:00 on Friday is Friday night into Saturday).
 */
export const AlertSchedule = Type.Object(
  {
    /** IANA time zone (`Europe/Berlin`); the site's time zone when the dashboard made the rule. */
    timeZone: Type.String({ minLength: 1, maxLength: 64, pattern: '^[A-Za-z0-9_+/-]+$' }),
    windows: Type.Array(
      Type.Object(
        {
          /** 0 = Sunday … 6 = Saturday: the day the window starts on. */
          days: Type.Array(Type.Integer({ minimum: 0, maximum: 6 }), {
            minItems: 1,
            maxItems: 7,
            uniqueItems: true,
          }),
          from: Type.String({ pattern: CLOCK_TIME_PATTERN }),
          to: Type.String({ pattern: CLOCK_TIME_PATTERN }),
        },
        { additionalProperties: false },
      ),
      { minItems: 1, maxItems: 28 },
    ),
  },
  { additionalProperties: false },
);
export type AlertSchedule = Static<typeof AlertSchedule>;

const DetectionParams = Type.Object(
  {
    kind: Type.Literal('detection'),
    eventTypes: Type.Array(EventType, { minItems: 1, maxItems: 2, uniqueItems: true }),
    /** Empty: every camera. */
    cameras: Some(CameraId, 'cameras; empty: all'),
    /** Empty: anywhere in the picture; else events that touched one of these motion zones. */
    zones: Some(Type.String({ pattern: ZONE_NAME_PATTERN }), 'zone names; empty: any'),
    minScore: Type.Number({ minimum: 0, maximum: 1 }),
    /** null: always. */
    schedule: Nullable(AlertSchedule),
    /** After an alert for a camera, its next events raise none for this long. */
    cooldownS: Delay('seconds between two alerts of one camera', 86_400),
  },
  { additionalProperties: false },
);
const NodeOfflineParams = Type.Object(
  {
    kind: Type.Literal('node_offline'),
    nodes: Some(NodeId, 'nodes; empty: all'),
    afterS: Delay('seconds offline before the alert'),
    /** Also a node whose heartbeats stopped while its connection stays up. */
    includeStale: Type.Boolean(),
  },
  { additionalProperties: false },
);
const CameraDownParams = Type.Object(
  {
    kind: Type.Literal('camera_down'),
    cameras: Some(CameraId, 'cameras; empty: all'),
    afterS: Delay('seconds failed or reconnecting before the alert'),
  },
  { additionalProperties: false },
);
const DiskLowParams = Type.Object(
  {
    kind: Type.Literal('disk_low'),
    minFreePercent: Type.Number({ minimum: 0, maximum: 99 }),
    minFreeBytes: Type.Integer({ minimum: 0, maximum: Number.MAX_SAFE_INTEGER }),
  },
  { additionalProperties: false },
);
const NasDownParams = Type.Object(
  { kind: Type.Literal('nas_down'), afterS: Delay('seconds failing before the alert') },
  { additionalProperties: false },
);
const BacklogParams = Type.Object(
  {
    kind: Type.Literal('backlog'),
    maxSegments: Type.Integer({ minimum: 0, maximum: 10_000_000 }),
    afterS: Delay('seconds over the limit before the alert'),
  },
  { additionalProperties: false },
);
const ClockSkewParams = Type.Object(
  {
    kind: Type.Literal('clock_skew'),
    maxOffsetMs: Type.Integer({ minimum: 100, maximum: 86_400_000 }),
  },
  { additionalProperties: false },
);
const CertExpiryParams = Type.Object(
  { kind: Type.Literal('cert_expiry'), warnDays: Type.Integer({ minimum: 1, maximum: 365 }) },
  { additionalProperties: false },
);
const SecurityParams = Type.Object(
  {
    kind: Type.Literal('security'),
    /** Empty: every kind. */
    kinds: Type.Array(Type.Union(SECURITY_ALERT_KINDS.map((k) => Type.Literal(k))), {
      maxItems: SECURITY_ALERT_KINDS.length,
      uniqueItems: true,
    }),
  },
  { additionalProperties: false },
);

/** A rule's parameters, by its kind. */
export const AlertRuleParams = Type.Union([
  DetectionParams,
  NodeOfflineParams,
  CameraDownParams,
  DiskLowParams,
  NasDownParams,
  BacklogParams,
  ClockSkewParams,
  CertExpiryParams,
  SecurityParams,
]);
export type AlertRuleParams = Static<typeof AlertRuleParams>;
export type AlertRuleParamsOf<K extends AlertKind> = Extract<AlertRuleParams, { kind: K }>;

/** `POST /api/alert-rules`, `PUT /api/alert-rules/:id` (admins, audited). */
export const AlertRuleInput = Type.Object(
  {
    name: Type.String({ minLength: 1, maxLength: 100 }),
    enabled: Type.Boolean(),
    severity: AlertSeverity,
    params: AlertRuleParams,
    channels: Type.Array(ChannelId, { maxItems: 20, uniqueItems: true }),
  },
  { additionalProperties: false },
);
export type AlertRuleInput = Static<typeof AlertRuleInput>;

export const AlertRuleView = Type.Object({
  id: Type.String(),
  name: Type.String(),
  kind: AlertKindSchema,
  enabled: Type.Boolean(),
  severity: AlertSeverity,
  params: AlertRuleParams,
  channels: Type.Array(Type.String()),
  builtIn: Type.Boolean(),
  createdAt: Time,
  updatedAt: Time,
  createdBy: Type.String(),
});
export type AlertRuleView = Static<typeof AlertRuleView>;

export const AlertRuleIdParams = Type.Object({ id: RuleId });
export type AlertRuleIdParams = Static<typeof AlertRuleIdParams>;

/** A rule sends its alerts to a channel, once when raised and once when resolved. */
export const ALERT_DELIVERY_PHASES = ['raised', 'resolved'] as const;

export const AlertView = Type.Object({
  id: Type.String(),
  kind: AlertKindSchema,
  severity: AlertSeverity,
  /** `open` until its condition ends; a detection is raised resolved (it is a moment). */
  state: Type.Union([Type.Literal('open'), Type.Literal('resolved')]),
  ruleId: Nullable(Type.String()),
  ruleName: Nullable(Type.String()),
  nodeId: Nullable(Type.String()),
  cameraId: Nullable(Type.String()),
  eventId: Nullable(Type.String()),
  message: Type.String(),
  /** Times the condition was seen again while open (a repeated security alert, a re-raise). */
  count: Type.Number(),
  raisedAt: Time,
  updatedAt: Time,
  resolvedAt: Nullable(Time),
  acknowledgedAt: Nullable(Time),
  acknowledgedBy: Nullable(Type.String()),
});
export type AlertView = Static<typeof AlertView>;

export const AlertPage = Type.Object({
  alerts: Type.Array(AlertView),
  /** Alerts matching the filters that nobody acknowledged (the bell's number). */
  unacknowledged: Type.Number(),
  nextCursor: Nullable(Type.String()),
});
export type AlertPage = Static<typeof AlertPage>;

const AlertCursor = Type.String({ pattern: '^[0-9]{1,18}$' });

/** `GET /api/alerts`: the alerts the user may see, newest first. */
export const AlertQuery = Type.Object(
  {
    state: Type.Optional(Type.Union([Type.Literal('open'), Type.Literal('resolved')])),
    acknowledged: Type.Optional(Type.Boolean()),
    kind: Type.Optional(AlertKindSchema),
    severity: Type.Optional(AlertSeverity),
    node: Type.Optional(NodeId),
    camera: Type.Optional(CameraId),
    limit: Type.Integer({ minimum: 1, maximum: 200, default: 50 }),
    cursor: Type.Optional(AlertCursor),
  },
  { additionalProperties: false },
);
export type AlertQuery = Static<typeof AlertQuery>;

export const AlertIdParams = Type.Object({ id: AlertCursor });
export type AlertIdParams = Static<typeof AlertIdParams>;

/** `POST /api/alerts/ack`: these alerts, or (no ids) every unacknowledged alert the user sees. */
export const AlertAckRequest = Type.Object(
  { ids: Type.Optional(Type.Array(AlertCursor, { minItems: 1, maxItems: 500, uniqueItems: true })) },
  { additionalProperties: false },
);
export type AlertAckRequest = Static<typeof AlertAckRequest>;

export const AlertAckAnswer = Type.Object({ acknowledged: Type.Number() });
export type AlertAckAnswer = Static<typeof AlertAckAnswer>;

export const ALERT_DELIVERY_STATES = ['pending', 'delivered', 'dead'] as const;

/** One send of an alert to a channel (`/api/alert-deliveries`, admins). */
export const AlertDeliveryView = Type.Object({
  id: Type.String(),
  alertId: Type.String(),
  alertMessage: Type.String(),
  channelId: Type.String(),
  channelName: Nullable(Type.String()),
  channelKind: Nullable(Type.String()),
  phase: Type.Union(ALERT_DELIVERY_PHASES.map((p) => Type.Literal(p))),
  idempotencyKey: Type.String(),
  state: Type.Union(ALERT_DELIVERY_STATES.map((s) => Type.Literal(s))),
  attempts: Type.Number(),
  nextAttemptAt: Time,
  lastError: Nullable(Type.String()),
  createdAt: Time,
  deliveredAt: Nullable(Time),
});
export type AlertDeliveryView = Static<typeof AlertDeliveryView>;

export const AlertDeliveryPage = Type.Object({
  deliveries: Type.Array(AlertDeliveryView),
  nextCursor: Nullable(Type.String()),
});
export type AlertDeliveryPage = Static<typeof AlertDeliveryPage>;

/** `GET /api/alert-deliveries`: newest first; `state=dead` is the dead-letter list. */
export const AlertDeliveryQuery = Type.Object(
  {
    state: Type.Optional(Type.Union(ALERT_DELIVERY_STATES.map((s) => Type.Literal(s)))),
    limit: Type.Integer({ minimum: 1, maximum: 200, default: 50 }),
    cursor: Type.Optional(AlertCursor),
  },
  { additionalProperties: false },
);
export type AlertDeliveryQuery = Static<typeof AlertDeliveryQuery>;

export const AlertDeliveryIdParams = Type.Object({ id: AlertCursor });
export type AlertDeliveryIdParams = Static<typeof AlertDeliveryIdParams>;

const ChannelName = Type.String({ minLength: 1, maxLength: 100 });

/**
 * `POST /api/alert-channels`, `PUT /api/alert-channels/:id` (admins, audited). A secret
 * (webhook key, SMTP or MQTT password) is write-only: absent on a change keeps the saved one.
 */
export const AlertChannelInput = Type.Union([
  Type.Object(
    {
      name: ChannelName,
      enabled: Type.Boolean(),
      kind: Type.Literal('webhook'),
      settings: WebhookChannelSettings,
    },
    { additionalProperties: false },
  ),
  Type.Object(
    {
      name: ChannelName,
      enabled: Type.Boolean(),
      kind: Type.Literal('email'),
      settings: EmailChannelSettings,
    },
    { additionalProperties: false },
  ),
  Type.Object(
    { name: ChannelName, enabled: Type.Boolean(), kind: Type.Literal('mqtt'), settings: MqttChannelSettings },
    { additionalProperties: false },
  ),
]);
export type AlertChannelInput = Static<typeof AlertChannelInput>;

export const ALERT_CHANNEL_KINDS = ['webhook', 'email', 'mqtt'] as const;
export type AlertChannelKind = (typeof ALERT_CHANNEL_KINDS)[number];

/** A channel as admins read it: never a secret, only whether one is saved. */
export const AlertChannelView = Type.Object({
  id: Type.String(),
  name: Type.String(),
  kind: Type.Union(ALERT_CHANNEL_KINDS.map((k) => Type.Literal(k))),
  enabled: Type.Boolean(),
  settings: Type.Union([WebhookChannelView, EmailChannelView, MqttChannelView]),
  createdAt: Time,
  updatedAt: Time,
  createdBy: Type.String(),
});
export type AlertChannelView = Static<typeof AlertChannelView>;

export const AlertChannelIdParams = Type.Object({ id: ChannelId });
export type AlertChannelIdParams = Static<typeof AlertChannelIdParams>;

/** `POST /api/alert-channels/:id/test`: one test notification sent now, and how it went. */
export const AlertChannelTestAnswer = Type.Object({
  ok: Type.Boolean(),
  error: Nullable(Type.String()),
});
export type AlertChannelTestAnswer = Static<typeof AlertChannelTestAnswer>;
