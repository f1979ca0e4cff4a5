/**
 * Users, sessions and the audit log as the master's API serves them (`/api/auth/*`,
 * `/api/users`, `/api/audit`, camera views). One TypeBox definition per body or query: the
 * master validates with it, dashboards and scripts get the type. Over 300 lines on purpose:
 * one schema per body of one API area, with no logic between them.
 */
import { type Static, Type } from '@sinclair/typebox';
import { Polygon } from './events.ts';
import { CameraId, NodeId } from './ids.ts';
import { Nullable } from './nullable.ts';
import { WALL_LAYOUTS } from './patterns.ts';

export { EXPORT_MAX_RANGE_MS, WALL_LAYOUTS } from './patterns.ts';

const IsoTime = Type.String({ format: 'date-time', maxLength: 40 });
/** A time in an answer (ISO-8601); answers are serialised, not validated: no format. */
const Time = Type.String();

/** admin: everything; operator: views, exports, commands to nodes; viewer: views only. */
export const ROLES = ['admin', 'operator', 'viewer'] as const;
export type Role = (typeof ROLES)[number];
export const Role = Type.Union(ROLES.map((r) => Type.Literal(r)));

/** Case-insensitive: stored and compared in lower case. */
export const USERNAME_PATTERN = '^[A-Za-z0-9][A-Za-z0-9._-]{1,62}$';
export const Username = Type.String({ pattern: USERNAME_PATTERN });
export const PASSWORD_MIN_LENGTH = 12;
export const PASSWORD_MAX_LENGTH = 256;
export const Password = Type.String({ minLength: PASSWORD_MIN_LENGTH, maxLength: PASSWORD_MAX_LENGTH });

/** `all`: every camera, including ones added later; otherwise the listed camera ids. */
export const CameraAccess = Type.Union([
  Type.Literal('all'),
  Type.Array(CameraId, { maxItems: 1000, uniqueItems: true }),
]);
export type CameraAccess = Static<typeof CameraAccess>;

/** A code of an authenticator app (TOTP, RFC 6238: six digits, a new one every 30 s). */
export const TotpCode = Type.String({ pattern: '^[0-9]{6}$' });
/** A recovery code as shown at enrolment (`xxxx-xxxx-xxxx`); case, spaces and dashes do not matter. */
export const RecoveryCode = Type.String({ minLength: 12, maxLength: 40, pattern: '^[A-Za-z0-9 -]+$' });

/**
 * `POST /api/auth/login`. Lengths are only bounded here: the policy applies when setting one.
 * A user with a second factor adds `totp` or `recoveryCode`; without either the answer is 401
 * `TOTP_REQUIRED` (once the password was found right).
 */
export const LoginRequest = Type.Object(
  {
    // No control characters (a NUL cannot be stored or looked up): refused as a bad request.
    username: Type.String({ minLength: 1, maxLength: 64, pattern: '^[^\\u0000-\\u001f\\u007f]+$' }),
    password: Type.String({ minLength: 1, maxLength: PASSWORD_MAX_LENGTH }),
    totp: Type.Optional(TotpCode),
    recoveryCode: Type.Optional(RecoveryCode),
  },
  { additionalProperties: false },
);
export type LoginRequest = Static<typeof LoginRequest>;

/** `POST /api/auth/password`: the signed-in user changes their own password. */
export const PasswordChangeRequest = Type.Object(
  { currentPassword: Type.String({ minLength: 1, maxLength: PASSWORD_MAX_LENGTH }), newPassword: Password },
  { additionalProperties: false },
);
export type PasswordChangeRequest = Static<typeof PasswordChangeRequest>;

/** `POST /api/users` (admin). */
export const UserCreateRequest = Type.Object(
  { username: Username, password: Password, role: Role, cameras: CameraAccess },
  { additionalProperties: false },
);
export type UserCreateRequest = Static<typeof UserCreateRequest>;

/** `PATCH /api/users/:id` (admin): any subset; every change ends the user's open sessions. */
export const UserUpdateRequest = Type.Object(
  {
    role: Type.Optional(Role),
    cameras: Type.Optional(CameraAccess),
    disabled: Type.Optional(Type.Boolean()),
    password: Type.Optional(Password),
  },
  { additionalProperties: false, minProperties: 1 },
);
export type UserUpdateRequest = Static<typeof UserUpdateRequest>;

/** `POST /api/auth/totp/enable`: the first code of the app the pending secret went into. */
export const TotpEnableRequest = Type.Object({ code: TotpCode }, { additionalProperties: false });
export type TotpEnableRequest = Static<typeof TotpEnableRequest>;

/** `POST /api/auth/totp/disable`: a current code or the password, one of them. */
export const TotpDisableRequest = Type.Object(
  {
    code: Type.Optional(TotpCode),
    password: Type.Optional(Type.String({ minLength: 1, maxLength: PASSWORD_MAX_LENGTH })),
  },
  { additionalProperties: false, minProperties: 1, maxProperties: 1 },
);
export type TotpDisableRequest = Static<typeof TotpDisableRequest>;

/** `POST /api/auth/totp/setup`: a new secret, pending until a code of it enables it. */
export const TotpSetup = Type.Object({
  /** Base32, for typing into an app that cannot scan. */
  secret: Type.String(),
  /** `otpauth://totp/…`, what the QR code holds. */
  otpauthUrl: Type.String(),
  /** The QR code of `otpauthUrl` as a `data:image/png;base64,…` URL. */
  qrDataUrl: Type.String(),
});
export type TotpSetup = Static<typeof TotpSetup>;

/** `POST /api/auth/totp/enable`: ten single-use recovery codes, shown this once. */
export const TotpEnabled = Type.Object({ recoveryCodes: Type.Array(Type.String()) });
export type TotpEnabled = Static<typeof TotpEnabled>;

export const UserIdParams = Type.Object({ id: Type.String({ format: 'uuid' }) });
export type UserIdParams = Static<typeof UserIdParams>;

/** Who is signed in (`GET /api/auth/me`, the login answer). */
export const SessionUser = Type.Object({
  id: Type.String(),
  username: Type.String(),
  role: Role,
  cameras: Type.Union([Type.Literal('all'), Type.Array(Type.String())]),
});
export type SessionUser = Static<typeof SessionUser>;

/**
 * `GET /api/auth/me` and the login answer's `user`: who is signed in and their second factor.
 * `totpEnrolmentRequired`: their role needs a second factor they have not set up yet; until
 * they do, the session reaches only `/api/auth/me`, `/api/auth/logout` and `/api/auth/totp/*`
 * (everything else: 403 `TOTP_ENROLMENT_REQUIRED`).
 */
export const SignedInUser = Type.Composite([
  SessionUser,
  Type.Object({ totpEnabled: Type.Boolean(), totpEnrolmentRequired: Type.Boolean() }),
]);
export type SignedInUser = Static<typeof SignedInUser>;

/** `POST /api/auth/login`: the session itself travels only in the httpOnly cookie. */
export const LoginAnswer = Type.Object({ user: SignedInUser, expiresAt: Time });
export type LoginAnswer = Static<typeof LoginAnswer>;

/** A user as admins see them (`/api/users`). */
export const UserView = Type.Composite([
  SessionUser,
  Type.Object({
    disabled: Type.Boolean(),
    /** A second factor (TOTP) is enabled. */
    totpEnabled: Type.Boolean(),
    createdAt: Time,
    lastLoginAt: Nullable(Time),
  }),
]);
export type UserView = Static<typeof UserView>;

/** What the audit log records. */
export const AUDIT_ACTIONS = [
  'login',
  'login_failed',
  'logout',
  'password_change',
  'password_change_failed',
  'user_create',
  'user_update',
  'totp_enable',
  'totp_disable',
  'totp_disable_failed',
  'totp_reset',
  'live_view',
  'playback',
  'export',
  'export_download',
  'node_command',
  'node_enrol',
  'camera_move',
  'security_alert_ack',
  'camera_create',
  'camera_update',
  'camera_delete',
  'camera_probe',
  'config_rollback',
  'node_enrol_token',
  'node_install',
  'node_revoke',
  'user_sessions_end',
  'audit_export',
  'alert_ack',
  'alert_rule_create',
  'alert_rule_update',
  'alert_rule_delete',
  'alert_channel_create',
  'alert_channel_update',
  'alert_channel_delete',
  'alert_channel_test',
  'alert_delivery_retry',
] as const;
export type AuditAction = (typeof AUDIT_ACTIONS)[number];
const AuditAction = Type.Union(AUDIT_ACTIONS.map((a) => Type.Literal(a)));

/** What the audit log is filtered by, in a page and in the CSV export alike. */
const auditFilters = {
  action: Type.Optional(AuditAction),
  /** A username. */
  user: Type.Optional(Type.String({ minLength: 1, maxLength: 64 })),
  camera: Type.Optional(CameraId),
  node: Type.Optional(NodeId),
  from: Type.Optional(IsoTime),
  to: Type.Optional(IsoTime),
};

/** `GET /api/audit` (admin): newest first, keyset-paginated. */
export const AuditQuery = Type.Object({
  ...auditFilters,
  limit: Type.Integer({ minimum: 1, maximum: 500, default: 100 }),
  cursor: Type.Optional(Type.String({ pattern: '^[0-9]{1,19}$' })),
});
export type AuditQuery = Static<typeof AuditQuery>;

/** `GET /api/audit/export.csv` (admin): every entry that matches, newest first. */
export const AuditExportQuery = Type.Object(auditFilters);
export type AuditExportQuery = Static<typeof AuditExportQuery>;

export const AuditEntryView = Type.Object({
  id: Type.String(),
  at: Time,
  userId: Nullable(Type.String()),
  username: Type.String(),
  action: AuditAction,
  cameraId: Nullable(Type.String()),
  nodeId: Nullable(Type.String()),
  ip: Nullable(Type.String()),
  detail: Type.Unknown(),
});
export type AuditEntryView = Static<typeof AuditEntryView>;

export const AuditPage = Type.Object({
  entries: Type.Array(AuditEntryView),
  nextCursor: Nullable(Type.String()),
});
export type AuditPage = Static<typeof AuditPage>;

/**
 * `POST /api/cameras/:id/playback`: a recorded range to play, at most 24 h. `renewal`: the
 * player already plays this range and asks for a fresh grant before its grant expires (audited
 * as such).
 */
export const PlaybackRequest = Type.Object(
  { from: IsoTime, to: IsoTime, renewal: Type.Optional(Type.Boolean()) },
  { additionalProperties: false },
);
export type PlaybackRequest = Static<typeof PlaybackRequest>;

/**
 * The answer to a playback request. Its URLs carry a grant (see `grants.ts`): they work for
 * anyone holding them until `expiresAt`, for this camera and range only.
 */
export const PlaybackGrant = Type.Object({
  cameraId: Type.String(),
  from: Time,
  to: Time,
  /** When the URLs stop working; a player asks again (`renewal`) before then. */
  expiresAt: Time,
  /** The storage gateway's VOD playlist for the range, as recorded (H.265). */
  playlistUrl: Type.String(),
  /** The same range as the gateway's H.264 rendition, for browsers without H.265 decoding. */
  h264PlaylistUrl: Type.String(),
});
export type PlaybackGrant = Static<typeof PlaybackGrant>;

/** `POST /api/cameras/:id/live` (body optional): `renewal` as for playback. */
export const LiveViewRequest = Type.Object(
  { renewal: Type.Optional(Type.Boolean()) },
  { additionalProperties: false },
);
export type LiveViewRequest = Static<typeof LiveViewRequest>;

/** `POST /api/cameras/:id/live`: the audited start of a live view. */
export const LiveViewGrant = Type.Object({
  cameraId: Type.String(),
  nodeId: Type.String(),
  /** Identifies this view in the audit log and in live signalling. */
  viewId: Type.String(),
  at: Time,
  /** When the HLS URLs' grant expires; the player asks again (`renewal`) before then. */
  expiresAt: Time,
  /** The storage gateway's live HLS playlist of the camera, as recorded. */
  hlsUrl: Type.String(),
  /** The same through the gateway's H.264 rendition, for browsers without H.265 decoding. */
  hlsH264Url: Type.String(),
  /**
   * Low-latency live HLS (LL-HLS parts of the camera as it comes), when the node started its
   * feed to the gateway; the player falls back to `hlsUrl` without it or when it fails.
   */
  llHlsUrl: Type.Optional(Type.String()),
});
export type LiveViewGrant = Static<typeof LiveViewGrant>;

/** `POST /api/exports`: an MP4 of one camera's recording, at most 1 h (`EXPORT_MAX_RANGE_MS`). */
export const ExportRequest = Type.Object(
  {
    cameraId: CameraId,
    from: IsoTime,
    to: IsoTime,
    /** Blur every face (detected frame by frame); the video is encoded again as H.264. */
    blurFaces: Type.Optional(Type.Boolean()),
    /** Blur whatever moves (people, not only their faces); encoded again as H.264 too. */
    blurMotion: Type.Optional(Type.Boolean()),
    /**
     * Only these areas (polygons of 0..1 points over the frame) stay visible; the rest of every
     * frame is blurred. Encoded again as H.264 too.
     */
    keepVisible: Type.Optional(Type.Array(Polygon, { minItems: 1, maxItems: 8 })),
  },
  { additionalProperties: false },
);
export type ExportRequest = Static<typeof ExportRequest>;

export const ExportIdParams = Type.Object({ id: Type.String({ format: 'uuid' }) });
export type ExportIdParams = Static<typeof ExportIdParams>;

export const EXPORT_STATES = ['queued', 'running', 'done', 'failed', 'expired'] as const;

export const ExportJobView = Type.Object({
  id: Type.String(),
  cameraId: Type.String(),
  from: Time,
  to: Time,
  username: Type.String(),
  state: Type.Union(EXPORT_STATES.map((st) => Type.Literal(st))),
  blurFaces: Type.Boolean(),
  blurMotion: Type.Boolean(),
  /** Polygons (0..1) outside which every frame is blurred; null: none. */
  keepVisible: Nullable(Type.Array(Polygon)),
  /** 0..1 */
  progress: Type.Number(),
  bytes: Nullable(Type.Number()),
  error: Nullable(Type.String()),
  createdAt: Time,
  finishedAt: Nullable(Time),
  expiresAt: Nullable(Time),
  /** `/api/exports/:id/file` once done. */
  downloadUrl: Nullable(Type.String()),
});
export type ExportJobView = Static<typeof ExportJobView>;

export type WallLayout = (typeof WALL_LAYOUTS)[number];

/** `PUT /api/me/settings/wall`: the user's live wall, each tile a camera or empty. */
export const WallSettings = Type.Object(
  {
    layout: Type.Union(WALL_LAYOUTS.map((n) => Type.Literal(n))),
    tiles: Type.Array(Type.Union([CameraId, Type.Null()]), { maxItems: 16 }),
  },
  { additionalProperties: false },
);
export type WallSettings = Static<typeof WallSettings>;

/** The settings a user may keep on the master (`/api/me/settings/:key`), each with its schema. */
export const USER_SETTINGS = { wall: WallSettings } as const;
export type UserSettingKey = keyof typeof USER_SETTINGS;
