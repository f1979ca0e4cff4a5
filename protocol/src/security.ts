/**
 * Security alerts (`/api/security/alerts`, websocket `security`) and camera ownership
 * (`PUT /api/cameras/:id/node`): a camera belongs to the node that first registered it, and only
 * an admin moves it.
 */
import { type Static, Type } from '@sinclair/typebox';
import { NodeId } from './ids.ts';

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
] as const;
export type SecurityAlertKind = (typeof SECURITY_ALERT_KINDS)[number];

/** One alert as admins see it; repeats within a few minutes raise `count`. */
export interface SecurityAlertView {
  id: string;
  kind: SecurityAlertKind;
  /** `master` or `gateway`: the service that refused it. */
  source: string;
  nodeId: string | null;
  cameraId: string | null;
  address: string | null;
  message: string;
  count: number;
  firstAt: string;
  lastAt: string;
  acknowledgedAt: string | null;
  acknowledgedBy: string | null;
}

export interface SecurityAlertPage {
  alerts: SecurityAlertView[];
  nextCursor: string | null;
}

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
