/**
 * Security alerts (`/api/security/alerts`, websocket `security`) and camera ownership
 * (`PUT /api/cameras/:id/node`): a camera belongs to the node that first registered it, and only
 * an admin moves it.
 */
import { type Static, Type } from '@sinclair/typebox';
import { NodeId } from './ids.ts';
import { Nullable } from './nullable.ts';

/** What was refused. */
export const SECURITY_ALERT_KINDS = [
  /** A node's hello named a camera another node owns. */
  'camera_claim',
  /** A node sent an event for a camera it does not own, or unknown, or reused another node's event id. */
  'foreign_event',
  /** A node uploaded a segment, init file or snapshot for a camera it does not own. */
  'foreign_upload',
  /** A second MQTT connection with a node's credentials replaced the first. */
  'session_takeover',
  /** An install line's token was sent again after its use: the line may have leaked. */
  'install_token_reused',
  /** Sign-ins for one account or from one address held back after repeated failures. */
  'sign_in_failures',
] as const;
export type SecurityAlertKind = (typeof SECURITY_ALERT_KINDS)[number];

/** One alert as admins see it; repeats within a few minutes raise `count`. */
export const SecurityAlertView = Type.Object({
  id: Type.String(),
  kind: Type.Union(SECURITY_ALERT_KINDS.map((k) => Type.Literal(k))),
  /** `master` or `gateway`: the service that refused it. */
  source: Type.String(),
  nodeId: Nullable(Type.String()),
  cameraId: Nullable(Type.String()),
  address: Nullable(Type.String()),
  message: Type.String(),
  count: Type.Number(),
  firstAt: Type.String(),
  lastAt: Type.String(),
  acknowledgedAt: Nullable(Type.String()),
  acknowledgedBy: Nullable(Type.String()),
});
export type SecurityAlertView = Static<typeof SecurityAlertView>;

export const SecurityAlertPage = Type.Object({
  alerts: Type.Array(SecurityAlertView),
  nextCursor: Nullable(Type.String()),
});
export type SecurityAlertPage = Static<typeof SecurityAlertPage>;

/** `PUT /api/cameras/:id/node`: the camera's owner now, and the one it had. */
export const CameraMoveAnswer = Type.Object({
  cameraId: Type.String(),
  nodeId: Type.String(),
  from: Type.String(),
});
export type CameraMoveAnswer = Static<typeof CameraMoveAnswer>;

/** `GET /api/security/alerts` (admin): newest first; `open`: only those not acknowledged. */
export const SecurityAlertQuery = Type.Object(
  {
    open: Type.Optional(Type.Boolean()),
    limit: Type.Integer({ minimum: 1, maximum: 500, default: 100 }),
    cursor: Type.Optional(Type.String({ pattern: '^[0-9]{1,18}$' })),
  },
  { additionalProperties: false },
);
export type SecurityAlertQuery = Static<typeof SecurityAlertQuery>;

export const SecurityAlertIdParams = Type.Object({ id: Type.String({ pattern: '^[0-9]{1,18}$' }) });
export type SecurityAlertIdParams = Static<typeof SecurityAlertIdParams>;

/** `PUT /api/cameras/:id/node` (admin): the camera now belongs to `nodeId`. */
export const CameraMoveRequest = Type.Object({ nodeId: NodeId }, { additionalProperties: false });
export type CameraMoveRequest = Static<typeof CameraMoveRequest>;

/** `args` of `cmd/camera-moved`, sent to the node that owned the camera. */
export const CameraMovedArgs = Type.Object(
  { camera: Type.String({ maxLength: 63 }), nodeId: NodeId, by: Type.String({ maxLength: 64 }) },
  { additionalProperties: false },
);
export type CameraMovedArgs = Static<typeof CameraMovedArgs>;
export const CAMERA_MOVED_COMMAND = 'camera-moved';
