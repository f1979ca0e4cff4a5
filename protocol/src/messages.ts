import { type Static, Type } from '@sinclair/typebox';
import { CameraId, NodeId } from './ids.ts';

const IsoTime = Type.String({ format: 'date-time', maxLength: 40 });
const Text = (max = 200) => Type.String({ maxLength: max });
const NonNeg = Type.Number({ minimum: 0 });

/** Retained on `status`; the offline form is also the agent's last will. */
export const StatusMessage = Type.Object(
  {
    state: Type.Union([Type.Literal('online'), Type.Literal('offline')]),
    at: IsoTime,
    agentVersion: Text(64),
  },
  { additionalProperties: false },
);
export type StatusMessage = Static<typeof StatusMessage>;

export const RecordingPlan = Type.Object({
  mode: Type.Union([Type.Literal('copy'), Type.Literal('transcode')]),
  encoder: Text(64),
  reason: Text(300),
});

export const CameraInfo = Type.Object({
  id: CameraId,
  name: Text(120),
  codec: Text(32),
  width: Type.Integer({ minimum: 0, maximum: 16384 }),
  height: Type.Integer({ minimum: 0, maximum: 16384 }),
  fps: Type.Number({ minimum: 0, maximum: 500 }),
  simulated: Type.Boolean(),
  recording: RecordingPlan,
});
export type CameraInfo = Static<typeof CameraInfo>;

export const HelloMessage = Type.Object({
  protocolVersion: Type.Literal(1),
  nodeId: NodeId,
  agentVersion: Text(64),
  at: IsoTime,
  host: Type.Object({
    hostname: Text(255),
    platform: Text(32),
    arch: Text(32),
    cpus: Type.Integer({ minimum: 0 }),
    memTotalBytes: NonNeg,
  }),
  capabilities: Type.Object({
    ffmpegVersion: Text(120),
    hwEncoders: Type.Array(Text(64), { maxItems: 32 }),
  }),
  cameras: Type.Array(CameraInfo, { maxItems: 64 }),
});
export type HelloMessage = Static<typeof HelloMessage>;

export const CameraState = Type.Union([
  Type.Literal('starting'),
  Type.Literal('recording'),
  Type.Literal('reconnecting'),
  Type.Literal('failed'),
  Type.Literal('stopped'),
]);
export type CameraState = Static<typeof CameraState>;

export const CameraHeartbeat = Type.Object({
  id: CameraId,
  state: CameraState,
  reason: Type.Optional(Text(300)),
  fps: NonNeg,
  bitrateKbps: NonNeg,
  lastSegmentAt: Type.Union([IsoTime, Type.Null()]),
  segmentsRecorded: Type.Integer({ minimum: 0 }),
  backlogFiles: Type.Integer({ minimum: 0 }),
  backlogBytes: NonNeg,
});
export type CameraHeartbeat = Static<typeof CameraHeartbeat>;

export const HeartbeatMessage = Type.Object({
  seq: Type.Integer({ minimum: 0 }),
  at: IsoTime,
  uptimeS: NonNeg,
  cpu: Type.Object({ percent: Type.Number({ minimum: 0, maximum: 100 * 1024 }), load1: NonNeg }),
  mem: Type.Object({ rssBytes: NonNeg, totalBytes: NonNeg, freeBytes: NonNeg }),
  tempC: Type.Union([Type.Number(), Type.Null()]),
  disk: Type.Object({ spoolFreeBytes: NonNeg, spoolUsedBytes: NonNeg }),
  cameras: Type.Array(CameraHeartbeat, { maxItems: 64 }),
});
export type HeartbeatMessage = Static<typeof HeartbeatMessage>;
