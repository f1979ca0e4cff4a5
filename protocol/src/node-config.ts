/**
 * The desired configuration the master keeps for each node (docs/adr/0015): versioned camera
 * lists, edited through the master's API, pushed to the node with `cmd/config` and reported
 * back in the heartbeat. A node is either master-managed (it runs what the master pushed, kept
 * on disk so it starts without the master) or file-managed (its config file lists the cameras
 * and it refuses pushed lists); the heartbeat says which.
 */
import { type Static, Type } from '@sinclair/typebox';
import { CameraSpec } from './commands.ts';
import { DetectSpec } from './events.ts';
import { Nullable } from './nullable.ts';
import { ID_PATTERN } from './patterns.ts';

const Time = Type.String();

export const ManagementMode = Type.Union([Type.Literal('master'), Type.Literal('file')]);
export type ManagementMode = Static<typeof ManagementMode>;

/** Error code of a `cmd/config` a file-managed node refuses. */
export const FILE_MANAGED_ERROR = 'FILE_MANAGED';

/** Heartbeat `config`: how the node's cameras are managed and which desired version it runs. */
export const ConfigHeartbeat = Type.Object(
  {
    mode: ManagementMode,
    /** The desired-config version running (master mode); null: none pushed yet, or file mode. */
    version: Nullable(Type.Integer({ minimum: 0 })),
    /** The newest pushed version the node refused, and why (cleared by the next one applied). */
    failed: Type.Optional(
      Type.Object(
        { version: Type.Integer({ minimum: 0 }), reason: Type.String({ maxLength: 1000 }) },
        { additionalProperties: false },
      ),
    ),
  },
  { additionalProperties: false },
);
export type ConfigHeartbeat = Static<typeof ConfigHeartbeat>;

/**
 * Whether a node runs its desired configuration: `in_sync` (it reports the newest version),
 * `pending` (not yet: offline, or the push is on its way), `failed` (it refused the newest
 * version; `reason` says why), `file_managed` (its own file lists the cameras), `unconfigured`
 * (master-managed, no desired configuration kept yet), `unknown` (no heartbeat says).
 */
export const ConfigSync = Type.Union([
  Type.Literal('in_sync'),
  Type.Literal('pending'),
  Type.Literal('failed'),
  Type.Literal('file_managed'),
  Type.Literal('unconfigured'),
  Type.Literal('unknown'),
]);
export type ConfigSync = Static<typeof ConfigSync>;

/** Per node in `/api/nodes` and the config routes. */
export const NodeConfigStatus = Type.Object({
  mode: Nullable(ManagementMode),
  desiredVersion: Nullable(Type.Number()),
  appliedVersion: Nullable(Type.Number()),
  sync: ConfigSync,
  reason: Nullable(Type.String()),
});
export type NodeConfigStatus = Static<typeof NodeConfigStatus>;

const Transport = Type.Union([Type.Literal('tcp'), Type.Literal('udp')]);
const CameraIdText = Type.String({ pattern: ID_PATTERN, maxLength: 63 });

/**
 * The camera settings a user edits: the CameraSpec the node gets, but its id (a URL there names
 * at most a user: `rtsp://user@host/path`), plus what stays at the master.
 */
const { id: _id, ...specFields } = CameraSpec.properties;
const cameraSettingsFields = {
  ...specFields,
  /**
   * Days the storage gateway keeps this camera's recordings on the NAS (0: for ever, until the
   * free-space mark); absent: the gateway's own setting. Not part of what the node gets.
   */
  retentionDays: Type.Optional(Type.Integer({ minimum: 0, maximum: 3650 })),
};

/**
 * `POST /api/config/cameras` and `PUT /api/config/cameras/:id`. A password in `url` is taken
 * out of it and kept as `password`. `password` is write-only: absent keeps the saved one, an
 * empty string removes it. It goes into both URLs where they name a user.
 */
export const CameraSettingsInput = Type.Object(
  {
    ...cameraSettingsFields,
    password: Type.Optional(Type.String({ maxLength: 256 })),
  },
  { additionalProperties: false },
);
export type CameraSettingsInput = Static<typeof CameraSettingsInput>;

export const CameraCreateRequest = Type.Object(
  {
    id: CameraIdText,
    nodeId: Type.String({ pattern: ID_PATTERN, maxLength: 63 }),
    ...cameraSettingsFields,
    password: Type.Optional(Type.String({ maxLength: 256 })),
  },
  { additionalProperties: false },
);
export type CameraCreateRequest = Static<typeof CameraCreateRequest>;

/** One camera of a node's desired configuration, as the API shows it: no password, ever. */
export const CameraSettingsView = Type.Object({
  id: Type.String(),
  nodeId: Type.String(),
  name: Type.String(),
  url: Type.String(),
  substreamUrl: Nullable(Type.String()),
  transports: Nullable(Type.Array(Transport)),
  record: Nullable(Type.Object({ codec: Type.Optional(Type.String()) })),
  enabled: Type.Boolean(),
  detect: Nullable(DetectSpec),
  /** Days the gateway keeps its recordings; null: the gateway's own setting. */
  retentionDays: Nullable(Type.Number()),
  /** A password is saved (it is never shown). */
  hasPassword: Type.Boolean(),
  /** The node's desired-config version this camera was last changed in. */
  version: Type.Number(),
});
export type CameraSettingsView = Static<typeof CameraSettingsView>;

/** `GET /api/config/cameras`: the desired cameras of every master-managed node the user may edit. */
export const CameraSettingsList = Type.Object({
  cameras: Type.Array(CameraSettingsView),
  nodes: Type.Array(Type.Object({ id: Type.String(), state: Type.String(), config: NodeConfigStatus })),
});
export type CameraSettingsList = Static<typeof CameraSettingsList>;

/** The answer to a change: the camera (null once removed) and the node's new version. */
export const CameraChangeAnswer = Type.Object({
  camera: Nullable(CameraSettingsView),
  nodeId: Type.String(),
  version: Type.Number(),
  /** The push to the node: `sent` (it replied and applied), `queued` (offline: on return), or refused. */
  push: Type.Object({
    state: Type.Union([Type.Literal('applied'), Type.Literal('queued'), Type.Literal('refused')]),
    reason: Nullable(Type.String()),
  }),
});
export type CameraChangeAnswer = Static<typeof CameraChangeAnswer>;

/** One version of a node's desired configuration (`GET /api/config/nodes/:id/versions`). */
export const ConfigVersionView = Type.Object({
  version: Type.Number(),
  createdAt: Time,
  createdBy: Type.String(),
  /** What changed: `camera_create c1`, `rollback to 3`… */
  note: Type.String(),
  cameraIds: Type.Array(Type.String()),
});
export type ConfigVersionView = Static<typeof ConfigVersionView>;

export const NodeConfigView = Type.Object({
  nodeId: Type.String(),
  config: NodeConfigStatus,
  versions: Type.Array(ConfigVersionView),
});
export type NodeConfigView = Static<typeof NodeConfigView>;

/** `POST /api/config/nodes/:id/rollback`: makes a new version with the cameras of `version`. */
export const ConfigRollbackRequest = Type.Object(
  { version: Type.Integer({ minimum: 1 }) },
  { additionalProperties: false },
);
export type ConfigRollbackRequest = Static<typeof ConfigRollbackRequest>;
