import { type Static, Type } from '@sinclair/typebox';
import { ClockHeartbeat } from './clock.ts';
import { CameraId, NodeId } from './ids.ts';
import { ConfigHeartbeat } from './node-config.ts';

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
  // Added after protocol v1 shipped: optional so older agents' heartbeats stay valid.
  /** Start of the oldest segment still waiting for upload; null when nothing waits. */
  backlogOldestAt: Type.Optional(Type.Union([IsoTime, Type.Null()])),
  /** Un-uploaded segments removed from the spool (quota), since the agent started. */
  droppedSegments: Type.Optional(Type.Integer({ minimum: 0 })),
  /** Unexpected ffmpeg exits that led to a restart, since the agent started. */
  restarts: Type.Optional(Type.Integer({ minimum: 0 })),
  /** RTSP transport in use; null for sources that are not RTSP. */
  transport: Type.Optional(Type.Union([Type.Literal('tcp'), Type.Literal('udp'), Type.Null()])),
  mode: Type.Optional(Type.Union([Type.Literal('copy'), Type.Literal('transcode')])),
  encoder: Type.Optional(Text(64)),
  /**
   * Set when the camera's own codec is stored because the encode could not keep up on this
   * node: why (speed, lag, CPU). Optional: absent without a fallback, and from older agents.
   */
  fallback: Type.Optional(Text(300)),
  /** The camera's ffmpeg: CPU in percent of one core, and resident memory. */
  cpuPercent: Type.Optional(NonNeg),
  rssBytes: Type.Optional(NonNeg),
});
export type CameraHeartbeat = Static<typeof CameraHeartbeat>;

/** The whole host. cpuPercent: 100 = every core busy. memFreeBytes is MemFree, memAvailableBytes MemAvailable. */
export const HostFigures = Type.Object({
  cpuPercent: Type.Number({ minimum: 0, maximum: 100 }),
  load1: NonNeg,
  load5: NonNeg,
  load15: NonNeg,
  memTotalBytes: NonNeg,
  memFreeBytes: NonNeg,
  memAvailableBytes: NonNeg,
  uptimeS: NonNeg,
});
export type HostFigures = Static<typeof HostFigures>;

/**
 * The agent with its child processes (ffmpeg): cpuPercent in percent of ONE core (a busy
 * 4-core host can read 400), rssBytes summed over the processes. self* is the agent alone.
 */
export const AgentFigures = Type.Object({
  cpuPercent: Type.Number({ minimum: 0, maximum: 100 * 1024 }),
  rssBytes: NonNeg,
  selfCpuPercent: Type.Number({ minimum: 0, maximum: 100 * 1024 }),
  selfRssBytes: NonNeg,
  /** Live child processes (any depth). */
  children: Type.Integer({ minimum: 0 }),
  uptimeS: NonNeg,
});
export type AgentFigures = Static<typeof AgentFigures>;

/** One kind of live view on a node: serving, configured but not serving now (retried), or off. */
export const LiveKindState = Type.Union([
  Type.Literal('ok'),
  Type.Literal('unavailable'),
  Type.Literal('disabled'),
]);
export type LiveKindState = Static<typeof LiveKindState>;

/**
 * Live view on the node. Recording and uploads go on whatever it says: a live-view port the
 * agent cannot open makes that kind `unavailable` (the agent keeps retrying), never the node.
 */
export const LiveHeartbeat = Type.Object({
  /** The jsmpeg websocket server: `unavailable` while its port cannot be opened. */
  jsmpeg: LiveKindState,
  /** WebRTC sessions (each binds its own ICE ports when it starts). */
  webrtc: LiveKindState,
  /** Why a kind is unavailable, prefixed with the kind, e.g. `jsmpeg: port 8091 in use`. */
  reason: Type.Optional(Text(300)),
});
export type LiveHeartbeat = Static<typeof LiveHeartbeat>;

export const HeartbeatMessage = Type.Object({
  seq: Type.Integer({ minimum: 0 }),
  at: IsoTime,
  /** Agent process uptime. */
  uptimeS: NonNeg,
  /** percent: the agent with its children, percent of one core (same as agent.cpuPercent). */
  cpu: Type.Object({ percent: Type.Number({ minimum: 0, maximum: 100 * 1024 }), load1: NonNeg }),
  /** rssBytes: the agent with its children; freeBytes: the host's available memory. */
  mem: Type.Object({ rssBytes: NonNeg, totalBytes: NonNeg, freeBytes: NonNeg }),
  tempC: Type.Union([Type.Number(), Type.Null()]),
  disk: Type.Object({
    spoolFreeBytes: NonNeg,
    spoolUsedBytes: NonNeg,
    /** Size of the spool's file system (optional: older agents do not send it). */
    spoolTotalBytes: Type.Optional(NonNeg),
  }),
  // Optional so the master keeps accepting heartbeats from older agents.
  host: Type.Optional(HostFigures),
  agent: Type.Optional(AgentFigures),
  /** Live view availability (optional: older agents do not send it). */
  live: Type.Optional(LiveHeartbeat),
  /** Management mode and desired-config version (optional: older agents do not send it). */
  config: Type.Optional(ConfigHeartbeat),
  /** The node's clock against the master's (optional: older agents, or no answer measured yet). */
  clock: Type.Optional(ClockHeartbeat),
  cameras: Type.Array(CameraHeartbeat, { maxItems: 64 }),
});
export type HeartbeatMessage = Static<typeof HeartbeatMessage>;
