/**
 * Every HTTP route of the master: method, URL, request schemas, and the body of every status it
 * sends. The master registers each route with these schemas (fastify validates requests and
 * serialises answers with them: only declared fields leave), `@fastify/swagger` documents them,
 * and dashboards build URLs with `masterPaths`. Browser-safe (`@cctv/protocol/master-routes`):
 * nothing here compiles a validator. Over 300 lines on purpose: one table of the whole API,
 * an entry per route; split, it would scatter what a reviewer reads as one.
 */
import { type Static, Type } from '@sinclair/typebox';
import {
  AlertAckAnswer,
  AlertAckRequest,
  AlertChannelIdParams,
  AlertChannelInput,
  AlertChannelTestAnswer,
  AlertChannelView,
  AlertDeliveryIdParams,
  AlertDeliveryPage,
  AlertDeliveryQuery,
  AlertDeliveryView,
  AlertIdParams,
  AlertPage,
  AlertQuery,
  AlertRuleIdParams,
  AlertRuleInput,
  AlertRuleView,
  AlertView,
} from '../alerts.ts';
import {
  AuditExportQuery,
  AuditPage,
  AuditQuery,
  ExportIdParams,
  ExportJobView,
  ExportRequest,
  LiveViewGrant,
  LiveViewRequest,
  LoginAnswer,
  LoginRequest,
  PasswordChangeRequest,
  PlaybackGrant,
  PlaybackRequest,
  SignedInUser,
  TotpDisableRequest,
  TotpEnabled,
  TotpEnableRequest,
  TotpSetup,
  USER_SETTINGS,
  UserCreateRequest,
  UserIdParams,
  UserUpdateRequest,
  UserView,
} from '../auth-api.ts';
import { NodeCommandRequest } from '../commands.ts';
import { CameraIdParams, EventIdParams, EventSearchQuery, TimelineQuery } from '../event-query.ts';
import {
  CameraView,
  EventPage,
  EventView,
  NodeStateChangeView,
  NodeView,
  TimelineView,
} from '../fleet-api.ts';
import { NodeId } from '../ids.ts';
import {
  InstallArchParams,
  InstallCheckAnswer,
  InstallCheckRequest,
  InstallEnrolment,
  InstallEnrolRequest,
  InstallNodeParams,
  InstallNodeStatus,
  InstallReleaseQuery,
  InstallTokenAnswer,
  InstallTokenRequest,
} from '../install.ts';
import {
  CameraChangeAnswer,
  CameraCreateRequest,
  CameraSettingsInput,
  CameraSettingsList,
  ConfigRollbackRequest,
  NodeConfigView,
} from '../node-config.ts';
import { Nullable } from '../nullable.ts';
import { NodeProbeRequest, ProbeResult } from '../probe.ts';
import {
  CameraMoveAnswer,
  CameraMoveRequest,
  SecurityAlertIdParams,
  SecurityAlertPage,
  SecurityAlertQuery,
  SecurityAlertView,
} from '../security.ts';
import { ErrorBody, NoContent, pathBuilders, type RouteContract } from './route-contract.ts';

export * from './route-contract.ts';

/** What any route behind the session check may answer besides its own statuses. */
const GUARDED = {
  /** No session, or an ended one (`UNAUTHENTICATED`). */
  401: ErrorBody,
  /** A foreign `Origin`, a missing second factor, or a role or camera the user lacks. */
  403: ErrorBody,
  500: ErrorBody,
} as const;
/** A parameter, query or body that does not match its schema. */
const BAD_REQUEST = { 400: ErrorBody } as const;
const TOO_MANY = { 429: ErrorBody } as const;

export const NodeIdParams = Type.Object({ id: NodeId });
export type NodeIdParams = Static<typeof NodeIdParams>;

/** `GET /api/nodes/:id/history`. */
export const NodeHistoryQuery = Type.Object(
  { limit: Type.Integer({ minimum: 1, maximum: 1000, default: 100 }) },
  { additionalProperties: false },
);
export type NodeHistoryQuery = Static<typeof NodeHistoryQuery>;

/** `POST /api/nodes/:id/commands/:name`; the name is checked against `NODE_COMMANDS` by the route. */
export const NodeCommandParams = Type.Object({ id: NodeId, name: Type.String({ maxLength: 64 }) });
export type NodeCommandParams = Static<typeof NodeCommandParams>;

export const NodeCommandAnswer = Type.Object({
  reqId: Type.String(),
  ok: Type.Literal(true),
  result: Type.Record(Type.String(), Type.Unknown()),
  at: Type.String(),
});
export type NodeCommandAnswer = Static<typeof NodeCommandAnswer>;

/** The node answered with an error: its code and message, and the request's id. */
export const NodeCommandRefusal = Type.Composite([ErrorBody, Type.Object({ reqId: Type.String() })]);

/** `POST /api/nodes/:id/credentials` (body optional): `rotate` replaces an existing credential. */
export const NodeEnrolRequest = Type.Object(
  { rotate: Type.Optional(Type.Boolean()) },
  { additionalProperties: false },
);
export type NodeEnrolRequest = Static<typeof NodeEnrolRequest>;

/** The node's MQTT login and gateway upload token, shown this once. */
export const NodeEnrolment = Type.Object({
  nodeId: Type.String(),
  username: Type.String(),
  password: Type.String(),
  uploadToken: Type.String(),
  rotated: Type.Boolean(),
});
export type NodeEnrolment = Static<typeof NodeEnrolment>;

/** `/api/me/settings/:key`: an unknown key is a 404, so the key is not an enum here. */
export const SettingKeyParams = Type.Object({ key: Type.String({ maxLength: 64 }) });
export type SettingKeyParams = Static<typeof SettingKeyParams>;
const SettingValue = Type.Union(Object.values(USER_SETTINGS));
export const SettingAnswer = Type.Object({ key: Type.String(), value: SettingValue });
export type SettingAnswer = Static<typeof SettingAnswer>;

/** `POST /api/auth/logout`: `everywhere` ends every session of the user. */
export const LogoutQuery = Type.Object(
  { everywhere: Type.Optional(Type.Boolean()) },
  { additionalProperties: false },
);
export type LogoutQuery = Static<typeof LogoutQuery>;

export const Health = Type.Object({ status: Type.Literal('ok') });

/** An optional body: a bare POST (no body, or JSON `null`) takes the defaults. */
const optional = Nullable;

export const masterRoutes = {
  health: {
    method: 'GET',
    url: '/healthz',
    summary: 'Liveness and database reachability',
    public: true,
    response: { 200: Health, 503: ErrorBody },
  },
  metrics: {
    method: 'GET',
    url: '/metrics',
    summary: 'Prometheus metrics (a bearer token when MASTER_METRICS_TOKEN is set)',
    public: true,
    response: {
      200: { description: 'Prometheus text format', content: { 'text/plain': { schema: Type.String() } } },
      401: ErrorBody,
    },
  },
  nodes: {
    method: 'GET',
    url: '/api/nodes',
    summary: 'The nodes with the cameras the user may see',
    response: { 200: Type.Array(NodeView), ...GUARDED },
  },
  node: {
    method: 'GET',
    url: '/api/nodes/:id',
    summary: 'One node',
    params: NodeIdParams,
    response: { 200: NodeView, ...BAD_REQUEST, 404: ErrorBody, ...GUARDED },
  },
  nodeHistory: {
    method: 'GET',
    url: '/api/nodes/:id/history',
    summary: "A node's state changes, newest first",
    params: NodeIdParams,
    querystring: NodeHistoryQuery,
    response: { 200: Type.Array(NodeStateChangeView), ...BAD_REQUEST, 404: ErrorBody, ...GUARDED },
  },
  nodeCommand: {
    method: 'POST',
    url: '/api/nodes/:id/commands/:name',
    summary: "Relays a command to a node and answers with the node's reply",
    params: NodeCommandParams,
    body: optional(NodeCommandRequest),
    response: {
      200: NodeCommandAnswer,
      ...BAD_REQUEST,
      404: ErrorBody,
      409: ErrorBody,
      422: NodeCommandRefusal,
      504: ErrorBody,
      ...GUARDED,
    },
  },
  nodeProbe: {
    method: 'POST',
    url: '/api/nodes/:id/probe',
    summary: 'Has a node open a camera URL: codec, size, rate, transports and one frame (audited)',
    params: NodeIdParams,
    body: NodeProbeRequest,
    response: {
      200: ProbeResult,
      ...BAD_REQUEST,
      404: ErrorBody,
      409: ErrorBody,
      422: NodeCommandRefusal,
      502: ErrorBody,
      504: ErrorBody,
      ...GUARDED,
    },
  },
  nodeCredentials: {
    method: 'POST',
    url: '/api/nodes/:id/credentials',
    summary: 'Enrols a node or rotates its credential (admins, MASTER_ENROL_API=on)',
    params: NodeIdParams,
    body: optional(NodeEnrolRequest),
    response: { 200: NodeEnrolment, 201: NodeEnrolment, ...BAD_REQUEST, 409: ErrorBody, ...GUARDED },
  },
  nodeCredentialsRevoke: {
    method: 'DELETE',
    url: '/api/nodes/:id/credentials',
    summary: "Revokes a node's credential: the broker and the gateway refuse it (admins, audited)",
    params: NodeIdParams,
    response: { 204: NoContent, ...BAD_REQUEST, 404: ErrorBody, ...GUARDED },
  },
  // One-line install (install.ts, docs/adr/0016): the admin's token route, then the public
  // routes the install line and its script call. A refused token is 403 (TOKEN_UNKNOWN,
  // TOKEN_USED, TOKEN_EXPIRED); an address with too many refusals gets 429 for a while.
  nodeInstallToken: {
    method: 'POST',
    url: '/api/nodes/:id/install-token',
    summary: 'An install line with a single-use enrolment token for a new node (admins, audited)',
    params: NodeIdParams,
    body: optional(InstallTokenRequest),
    response: { 201: InstallTokenAnswer, ...BAD_REQUEST, 503: ErrorBody, ...GUARDED },
  },
  installCa: {
    method: 'GET',
    url: '/install/ca.pem',
    summary: "The master's CA certificate; the install line checks its sha256 before trusting it",
    public: true,
    response: {
      200: {
        description: 'PEM certificate',
        content: { 'application/x-pem-file': { schema: Type.String() } },
      },
      503: ErrorBody,
    },
  },
  installScript: {
    method: 'GET',
    url: '/install/agent.sh',
    summary: 'The agent install script (POSIX sh)',
    public: true,
    response: {
      200: { description: 'shell script', content: { 'text/x-shellscript': { schema: Type.String() } } },
      503: ErrorBody,
    },
  },
  installRelease: {
    method: 'GET',
    url: '/install/releases/:arch',
    summary: 'The agent release tarball for an architecture (the newest, or `version`)',
    public: true,
    params: InstallArchParams,
    querystring: InstallReleaseQuery,
    response: {
      200: {
        description: 'cctv-agent-<version>-linux-<arch>.tar.gz',
        content: { 'application/gzip': { schema: Type.String({ format: 'binary' }) } },
      },
      ...BAD_REQUEST,
      404: ErrorBody,
      503: ErrorBody,
    },
  },
  installReleaseSha256: {
    method: 'GET',
    url: '/install/releases/:arch/sha256',
    summary: "The release's .sha256 file (`<sha256>  <file>`), as scripts/release.ts writes it",
    public: true,
    params: InstallArchParams,
    querystring: InstallReleaseQuery,
    response: {
      200: { description: 'sha256sum line', content: { 'text/plain': { schema: Type.String() } } },
      ...BAD_REQUEST,
      404: ErrorBody,
      503: ErrorBody,
    },
  },
  installCheck: {
    method: 'POST',
    url: '/install/check',
    summary: 'Checks an enrolment token (without using it) and names the release to install',
    public: true,
    body: InstallCheckRequest,
    response: {
      200: InstallCheckAnswer,
      ...BAD_REQUEST,
      403: ErrorBody,
      404: ErrorBody,
      ...TOO_MANY,
      503: ErrorBody,
    },
  },
  installEnrol: {
    method: 'POST',
    url: '/install/enrol',
    summary: "Uses an enrolment token once: the node's credential and where to connect (audited)",
    public: true,
    body: InstallEnrolRequest,
    response: { 201: InstallEnrolment, ...BAD_REQUEST, 403: ErrorBody, ...TOO_MANY, 503: ErrorBody },
  },
  installNodeStatus: {
    method: 'GET',
    url: '/install/nodes/:id/status',
    summary: "The node's state at the master, for its install script (the node's upload token as bearer)",
    public: true,
    params: InstallNodeParams,
    response: { 200: InstallNodeStatus, ...BAD_REQUEST, 401: ErrorBody, ...TOO_MANY },
  },
  cameras: {
    method: 'GET',
    url: '/api/cameras',
    summary: 'The cameras the user may see',
    response: { 200: Type.Array(CameraView), ...GUARDED },
  },
  cameraMove: {
    method: 'PUT',
    url: '/api/cameras/:id/node',
    summary: 'Gives a camera to another node (admins)',
    params: CameraIdParams,
    body: CameraMoveRequest,
    response: { 200: CameraMoveAnswer, ...BAD_REQUEST, 404: ErrorBody, ...GUARDED },
  },
  // Desired configuration (node-config.ts): every change is a new version of the node's config.
  cameraSettings: {
    method: 'GET',
    url: '/api/config/cameras',
    summary: 'The desired cameras of the master-managed nodes the user may configure',
    response: { 200: CameraSettingsList, ...GUARDED },
  },
  cameraCreate: {
    method: 'POST',
    url: '/api/config/cameras',
    summary: "Adds a camera to a node's desired configuration (admins; operators with every camera)",
    body: CameraCreateRequest,
    response: { 201: CameraChangeAnswer, ...BAD_REQUEST, 404: ErrorBody, 409: ErrorBody, ...GUARDED },
  },
  cameraUpdate: {
    method: 'PUT',
    url: '/api/config/cameras/:id',
    summary: "Changes a camera's desired settings (admins; operators with the camera)",
    params: CameraIdParams,
    body: CameraSettingsInput,
    response: { 200: CameraChangeAnswer, ...BAD_REQUEST, 404: ErrorBody, 409: ErrorBody, ...GUARDED },
  },
  cameraDelete: {
    method: 'DELETE',
    url: '/api/config/cameras/:id',
    summary: "Removes a camera from its node's desired configuration (admins)",
    params: CameraIdParams,
    response: { 200: CameraChangeAnswer, ...BAD_REQUEST, 404: ErrorBody, 409: ErrorBody, ...GUARDED },
  },
  nodeConfig: {
    method: 'GET',
    url: '/api/config/nodes/:id',
    summary: "A node's config status and its desired-config versions, newest first (admins)",
    params: NodeIdParams,
    response: { 200: NodeConfigView, ...BAD_REQUEST, 404: ErrorBody, ...GUARDED },
  },
  nodeConfigRollback: {
    method: 'POST',
    url: '/api/config/nodes/:id/rollback',
    summary: 'Makes a new desired-config version with the cameras of an earlier one (admins)',
    params: NodeIdParams,
    body: ConfigRollbackRequest,
    response: { 200: CameraChangeAnswer, ...BAD_REQUEST, 404: ErrorBody, 409: ErrorBody, ...GUARDED },
  },
  playback: {
    method: 'POST',
    url: '/api/cameras/:id/playback',
    summary: 'A grant to play a recorded range (audited)',
    params: CameraIdParams,
    body: PlaybackRequest,
    response: { 200: PlaybackGrant, ...BAD_REQUEST, 404: ErrorBody, ...GUARDED },
  },
  live: {
    method: 'POST',
    url: '/api/cameras/:id/live',
    summary: 'A grant to watch a camera live (audited)',
    params: CameraIdParams,
    body: optional(LiveViewRequest),
    response: { 200: LiveViewGrant, ...BAD_REQUEST, 404: ErrorBody, ...GUARDED },
  },
  timeline: {
    method: 'GET',
    url: '/api/cameras/:id/timeline',
    summary: "A camera's recording spans and events (or counts) over a range",
    params: CameraIdParams,
    querystring: TimelineQuery,
    response: { 200: TimelineView, ...BAD_REQUEST, ...GUARDED },
  },
  events: {
    method: 'GET',
    url: '/api/events',
    summary: 'Event search, newest first',
    querystring: EventSearchQuery,
    response: { 200: EventPage, ...BAD_REQUEST, ...GUARDED },
  },
  event: {
    method: 'GET',
    url: '/api/events/:id',
    summary: 'One event',
    params: EventIdParams,
    response: { 200: EventView, ...BAD_REQUEST, 404: ErrorBody, ...GUARDED },
  },
  login: {
    method: 'POST',
    url: '/api/auth/login',
    summary: 'Sign in; the session travels in an httpOnly cookie',
    public: true,
    body: LoginRequest,
    response: {
      200: LoginAnswer,
      ...BAD_REQUEST,
      401: ErrorBody,
      403: ErrorBody,
      ...TOO_MANY,
      500: ErrorBody,
    },
  },
  logout: {
    method: 'POST',
    url: '/api/auth/logout',
    summary: 'Sign out (this session, or every one)',
    querystring: LogoutQuery,
    response: { 204: NoContent, ...BAD_REQUEST, ...GUARDED },
  },
  me: {
    method: 'GET',
    url: '/api/auth/me',
    summary: 'Who is signed in',
    response: { 200: SignedInUser, ...GUARDED },
  },
  totpSetup: {
    method: 'POST',
    url: '/api/auth/totp/setup',
    summary: 'A new second-factor secret, pending until enabled',
    response: { 200: TotpSetup, 409: ErrorBody, ...GUARDED },
  },
  totpEnable: {
    method: 'POST',
    url: '/api/auth/totp/enable',
    summary: 'Enables the pending second factor; answers the recovery codes',
    body: TotpEnableRequest,
    response: { 200: TotpEnabled, ...BAD_REQUEST, 409: ErrorBody, ...GUARDED },
  },
  totpDisable: {
    method: 'POST',
    url: '/api/auth/totp/disable',
    summary: 'Disables the second factor (ends every session of the user)',
    body: TotpDisableRequest,
    response: { 204: NoContent, ...BAD_REQUEST, 409: ErrorBody, ...TOO_MANY, ...GUARDED },
  },
  password: {
    method: 'POST',
    url: '/api/auth/password',
    summary: 'Changes the own password (ends every session of the user)',
    body: PasswordChangeRequest,
    response: { 204: NoContent, ...BAD_REQUEST, ...TOO_MANY, ...GUARDED },
  },
  users: {
    method: 'GET',
    url: '/api/users',
    summary: 'Every user (admins)',
    response: { 200: Type.Array(UserView), ...GUARDED },
  },
  userCreate: {
    method: 'POST',
    url: '/api/users',
    summary: 'Creates a user (admins)',
    body: UserCreateRequest,
    response: { 201: UserView, ...BAD_REQUEST, 404: ErrorBody, 409: ErrorBody, ...GUARDED },
  },
  userUpdate: {
    method: 'PATCH',
    url: '/api/users/:id',
    summary: "Changes a user's role, cameras, password or state (admins)",
    params: UserIdParams,
    body: UserUpdateRequest,
    response: { 200: UserView, ...BAD_REQUEST, 404: ErrorBody, 409: ErrorBody, ...GUARDED },
  },
  userTotpReset: {
    method: 'DELETE',
    url: '/api/users/:id/totp',
    summary: "Removes a user's second factor (admins)",
    params: UserIdParams,
    response: { 204: NoContent, ...BAD_REQUEST, 404: ErrorBody, 409: ErrorBody, ...GUARDED },
  },
  userSessionsEnd: {
    method: 'POST',
    url: '/api/users/:id/sessions/end',
    summary: 'Ends every session of a user (admins, audited)',
    params: UserIdParams,
    response: { 204: NoContent, ...BAD_REQUEST, 404: ErrorBody, ...GUARDED },
  },
  audit: {
    method: 'GET',
    url: '/api/audit',
    summary: 'The audit log, newest first (admins)',
    querystring: AuditQuery,
    response: { 200: AuditPage, ...BAD_REQUEST, ...GUARDED },
  },
  auditExport: {
    method: 'GET',
    url: '/api/audit/export.csv',
    summary: 'Every audit entry matching the filters as CSV, newest first (admins, audited)',
    querystring: AuditExportQuery,
    response: {
      200: { description: 'the entries as CSV', content: { 'text/csv': { schema: Type.String() } } },
      ...BAD_REQUEST,
      ...GUARDED,
    },
  },
  settingGet: {
    method: 'GET',
    url: '/api/me/settings/:key',
    summary: 'One of the own dashboard settings',
    params: SettingKeyParams,
    response: { 200: SettingAnswer, ...BAD_REQUEST, 404: ErrorBody, ...GUARDED },
  },
  settingPut: {
    method: 'PUT',
    url: '/api/me/settings/:key',
    summary: 'Keeps one of the own dashboard settings',
    params: SettingKeyParams,
    body: SettingValue,
    response: { 200: SettingAnswer, ...BAD_REQUEST, 404: ErrorBody, ...GUARDED },
  },
  exportCreate: {
    method: 'POST',
    url: '/api/exports',
    summary: "Asks for an MP4 of a camera's range (operators, audited)",
    body: ExportRequest,
    response: { 202: ExportJobView, ...BAD_REQUEST, ...GUARDED },
  },
  exports: {
    method: 'GET',
    url: '/api/exports',
    summary: "The user's exports (admins: everyone's)",
    response: { 200: Type.Array(ExportJobView), ...GUARDED },
  },
  export: {
    method: 'GET',
    url: '/api/exports/:id',
    summary: 'One export',
    params: ExportIdParams,
    response: { 200: ExportJobView, ...BAD_REQUEST, 404: ErrorBody, ...GUARDED },
  },
  exportFile: {
    method: 'GET',
    url: '/api/exports/:id/file',
    summary: "A done export's MP4 (audited)",
    params: ExportIdParams,
    response: {
      200: {
        description: 'the MP4',
        content: { 'video/mp4': { schema: Type.String({ format: 'binary' }) } },
      },
      ...BAD_REQUEST,
      404: ErrorBody,
      409: ErrorBody,
      ...GUARDED,
    },
  },
  securityAlerts: {
    method: 'GET',
    url: '/api/security/alerts',
    summary: 'Security alerts, newest first (admins)',
    querystring: SecurityAlertQuery,
    response: { 200: SecurityAlertPage, ...BAD_REQUEST, ...GUARDED },
  },
  securityAlertAck: {
    method: 'POST',
    url: '/api/security/alerts/:id/ack',
    summary: 'Acknowledges a security alert (admins, audited)',
    params: SecurityAlertIdParams,
    response: { 200: SecurityAlertView, ...BAD_REQUEST, 404: ErrorBody, ...GUARDED },
  },
  alerts: {
    method: 'GET',
    url: '/api/alerts',
    summary: 'Alerts the user may see, newest first, with the number not acknowledged',
    querystring: AlertQuery,
    response: { 200: AlertPage, ...BAD_REQUEST, ...GUARDED },
  },
  alertAck: {
    method: 'POST',
    url: '/api/alerts/:id/ack',
    summary: 'Acknowledges an alert (audited)',
    params: AlertIdParams,
    response: { 200: AlertView, ...BAD_REQUEST, 404: ErrorBody, ...GUARDED },
  },
  alertsAck: {
    method: 'POST',
    url: '/api/alerts/ack',
    summary: 'Acknowledges the listed alerts, or every one the user sees (audited)',
    body: AlertAckRequest,
    response: { 200: AlertAckAnswer, ...BAD_REQUEST, ...GUARDED },
  },
  alertRules: {
    method: 'GET',
    url: '/api/alert-rules',
    summary: 'Alert rules (admins)',
    response: { 200: Type.Array(AlertRuleView), ...GUARDED },
  },
  alertRuleCreate: {
    method: 'POST',
    url: '/api/alert-rules',
    summary: 'Adds an alert rule (admins, audited)',
    body: AlertRuleInput,
    response: { 201: AlertRuleView, ...BAD_REQUEST, ...GUARDED },
  },
  alertRuleUpdate: {
    method: 'PUT',
    url: '/api/alert-rules/:id',
    summary: 'Changes an alert rule (admins, audited)',
    params: AlertRuleIdParams,
    body: AlertRuleInput,
    response: { 200: AlertRuleView, ...BAD_REQUEST, 404: ErrorBody, 409: ErrorBody, ...GUARDED },
  },
  alertRuleDelete: {
    method: 'DELETE',
    url: '/api/alert-rules/:id',
    summary: 'Removes an alert rule; a built-in one can only be disabled (admins, audited)',
    params: AlertRuleIdParams,
    response: { 204: NoContent, ...BAD_REQUEST, 404: ErrorBody, 409: ErrorBody, ...GUARDED },
  },
  alertChannels: {
    method: 'GET',
    url: '/api/alert-channels',
    summary: 'Alert channels: webhooks, email, MQTT (admins; secrets never shown)',
    response: { 200: Type.Array(AlertChannelView), ...GUARDED },
  },
  alertChannelCreate: {
    method: 'POST',
    url: '/api/alert-channels',
    summary: 'Adds an alert channel (admins, audited)',
    body: AlertChannelInput,
    response: { 201: AlertChannelView, ...BAD_REQUEST, ...GUARDED },
  },
  alertChannelUpdate: {
    method: 'PUT',
    url: '/api/alert-channels/:id',
    summary: 'Changes an alert channel; an absent secret keeps the saved one (admins, audited)',
    params: AlertChannelIdParams,
    body: AlertChannelInput,
    response: { 200: AlertChannelView, ...BAD_REQUEST, 404: ErrorBody, 409: ErrorBody, ...GUARDED },
  },
  alertChannelDelete: {
    method: 'DELETE',
    url: '/api/alert-channels/:id',
    summary: 'Removes an alert channel; its pending deliveries go to the dead-letter list (admins, audited)',
    params: AlertChannelIdParams,
    response: { 204: NoContent, ...BAD_REQUEST, 404: ErrorBody, ...GUARDED },
  },
  alertChannelTest: {
    method: 'POST',
    url: '/api/alert-channels/:id/test',
    summary: 'Sends a test notification through a channel now (admins, audited)',
    params: AlertChannelIdParams,
    response: { 200: AlertChannelTestAnswer, ...BAD_REQUEST, 404: ErrorBody, ...GUARDED },
  },
  alertDeliveries: {
    method: 'GET',
    url: '/api/alert-deliveries',
    summary: 'Alert deliveries, newest first; state=dead: the dead-letter list (admins)',
    querystring: AlertDeliveryQuery,
    response: { 200: AlertDeliveryPage, ...BAD_REQUEST, ...GUARDED },
  },
  alertDeliveryRetry: {
    method: 'POST',
    url: '/api/alert-deliveries/:id/retry',
    summary: 'Sends a dead delivery again, same idempotency key (admins, audited)',
    params: AlertDeliveryIdParams,
    response: { 200: AlertDeliveryView, ...BAD_REQUEST, 404: ErrorBody, 409: ErrorBody, ...GUARDED },
  },
  fleetSocket: {
    method: 'GET',
    url: '/ws',
    summary: 'Websocket: fleet snapshots, node changes, events, alerts, security alerts (FleetSocketMessage)',
    websocket: true,
    response: {},
  },
  liveSocket: {
    method: 'GET',
    url: '/ws/live',
    summary: 'Websocket: live view signalling (LiveClientMessage, LiveServerMessage)',
    websocket: true,
    response: {},
  },
} as const satisfies Record<string, RouteContract>;

export type MasterRoutes = typeof masterRoutes;
export type MasterRouteName = keyof MasterRoutes;

/** `masterPaths.exportFile({ id })` → `/api/exports/<id>/file`; `masterPaths.events({ limit: 5 })`. */
export const masterPaths = pathBuilders(masterRoutes);
