/**
 * The agent's config file, as a TypeBox schema: every key with its default and bounds
 * (documented in node-agent/README.md). Checks across keys and on files are in config.ts.
 */
import { CameraSpec, DetectSpec, IceServer, ID_PATTERN } from '@cctv/protocol';
import { type Static, Type } from '@sinclair/typebox';

const Id = Type.String({ pattern: ID_PATTERN, description: 'lowercase letters, digits and dashes' });
const Url = Type.String({ minLength: 1 });

/** One camera: the same shape the `cmd/config` command carries (protocol's CameraSpec). */
export const CameraConfigSchema = CameraSpec;

export const AgentConfigSchema = Type.Object(
  {
    nodeId: Id,
    mqtt: Type.Object(
      {
        url: Url,
        username: Type.Optional(Type.String()),
        password: Type.Optional(Type.String()),
      },
      { additionalProperties: false },
    ),
    /**
     * The storage gateway, and others on the same index and NAS to fail over to, in order of
     * preference (`url` first); a gateway that refused service is tried again after
     * `retryPrimaryS` (uploader/gateway-pool.ts).
     */
    gateway: Type.Object(
      {
        url: Url,
        fallbackUrls: Type.Optional(Type.Array(Url, { maxItems: 8 })),
        retryPrimaryS: Type.Number({ minimum: 1, maximum: 3600, default: 30 }),
        token: Type.Optional(Type.String({ minLength: 16, maxLength: 256 })),
      },
      { additionalProperties: false },
    ),
    spool: Type.Object(
      {
        dir: Type.String({ minLength: 1, default: './data/agent/spool' }),
        quotaBytes: Type.Integer({ minimum: 64 * 1024, default: 2 * 1024 ** 3 }),
        minFreeBytes: Type.Integer({ minimum: 0, default: 256 * 1024 ** 2 }),
      },
      { additionalProperties: false, default: {} },
    ),
    stateDir: Type.String({ minLength: 1, default: './data/agent/state' }),
    heartbeatIntervalS: Type.Number({ minimum: 1, maximum: 3600, default: 5 }),
    segmentSeconds: Type.Integer({ minimum: 2, maximum: 6, default: 2 }),
    recorder: Type.Object(
      {
        stallTimeoutS: Type.Number({ minimum: 2, maximum: 600, default: 15 }),
        /**
         * Seconds each camera's recording ffmpeg goes on once the agent is gone (stopped,
         * restarted, upgraded, crashed), for the next agent to take it over without a gap in
         * the footage (recorder/keeper.ts); 0: it ends with the agent. Deployments set 30.
         */
        handoffS: Type.Integer({ minimum: 0, maximum: 600, default: 0 }),
        probeTimeoutS: Type.Number({ minimum: 1, maximum: 120, default: 10 }),
        failedAfterS: Type.Number({ minimum: 5, maximum: 86_400, default: 60 }),
        failedRetryMs: Type.Integer({ minimum: 100, maximum: 3_600_000, default: 10_000 }),
        backoffInitialMs: Type.Integer({ minimum: 10, maximum: 600_000, default: 500 }),
        backoffMaxMs: Type.Integer({ minimum: 10, maximum: 3_600_000, default: 5000 }),
        hevcEncoder: Type.Union(
          [Type.Literal('auto'), Type.Literal('libx265'), Type.Literal('hevc_v4l2m2m')],
          { default: 'auto' },
        ),
        x265Preset: Type.Union(
          ['ultrafast', 'superfast', 'veryfast', 'faster', 'fast', 'medium'].map((p) => Type.Literal(p)),
          { default: 'ultrafast' },
        ),
        /**
         * The libx265 watch (recorder/encode-watch.ts): an encode slower than this many output
         * seconds per second (0: never judged), or over its share of the host's CPU (0: no
         * limit), is replaced by a copy of an H.264 camera's stream. docs/adr/0021.
         */
        x265MinSpeed: Type.Number({ minimum: 0, maximum: 1, default: 0.9 }),
        x265CpuBudgetPercent: Type.Number({ minimum: 0, maximum: 100, default: 80 }),
        x265WarmupS: Type.Number({ minimum: 0, maximum: 600, default: 1 }),
        x265WindowS: Type.Number({ minimum: 3, maximum: 600, default: 10 }),
      },
      { additionalProperties: false, default: {} },
    ),
    outbox: Type.Object(
      {
        maxMessages: Type.Integer({ minimum: 1, default: 10_000 }),
        maxBytes: Type.Integer({ minimum: 1024, default: 50 * 1024 ** 2 }),
      },
      { additionalProperties: false, default: {} },
    ),
    /** Host-wide detection settings; per-camera ones are each camera's `detect`. */
    detection: Type.Object(
      {
        /** BlazeFace ONNX model; default: node-agent/models/blazeface-back-256.onnx. */
        faceModel: Type.Optional(Type.String({ minLength: 1 })),
        faceThreads: Type.Integer({ minimum: 1, maximum: 16, default: 2 }),
        maxDetailWidth: Type.Integer({ minimum: 256, maximum: 3840, default: 1280 }),
        maxDetailHeight: Type.Integer({ minimum: 144, maximum: 2160, default: 720 }),
        thumbnailWidth: Type.Integer({ minimum: 64, maximum: 640, default: 240 }),
        snapshotPendingBytes: Type.Integer({ minimum: 1024 * 1024, default: 64 * 1024 ** 2 }),
      },
      { additionalProperties: false, default: {} },
    ),
    /** Live view: WebRTC sessions, and the jsmpeg fallback (node-agent/README.md). */
    live: Type.Object(
      {
        enabled: Type.Boolean({ default: true }),
        maxViewersPerCamera: Type.Integer({ minimum: 1, maximum: 64, default: 4 }),
        maxSessions: Type.Integer({ minimum: 1, maximum: 256, default: 16 }),
        lingerS: Type.Number({ minimum: 0, maximum: 600, default: 10 }),
        connectTimeoutS: Type.Number({ minimum: 2, maximum: 120, default: 20 }),
        transcode: Type.Boolean({ default: true }),
        transcodeMaxWidth: Type.Integer({ minimum: 160, maximum: 3840, default: 960 }),
        iceServers: Type.Array(IceServer, { maxItems: 8, default: [] }),
        icePortMin: Type.Optional(Type.Integer({ minimum: 1024, maximum: 65535 })),
        icePortMax: Type.Optional(Type.Integer({ minimum: 1024, maximum: 65535 })),
        additionalHostAddresses: Type.Array(Type.String({ minLength: 1, maxLength: 64 }), {
          maxItems: 8,
          default: [],
        }),
        useIpv6: Type.Boolean({ default: false }),
        gatherTimeoutMs: Type.Integer({ minimum: 0, maximum: 10_000, default: 2000 }),
        /** Low-latency live HLS: the camera copied to the gateway in parts while someone watches. */
        hls: Type.Object(
          {
            enabled: Type.Boolean({ default: true }),
            partTargetMs: Type.Integer({ minimum: 100, maximum: 2000, default: 300 }),
          },
          { additionalProperties: false, default: {} },
        ),
        jsmpeg: Type.Object(
          {
            enabled: Type.Boolean({ default: true }),
            host: Type.String({ minLength: 1, default: '0.0.0.0' }),
            port: Type.Integer({ minimum: 0, maximum: 65535, default: 8091 }),
            /** `ws://host:port` browsers reach this server at; default: this host's first address. */
            publicUrl: Type.Optional(Type.String({ pattern: '^wss?://' })),
            bitrateKbps: Type.Integer({ minimum: 100, maximum: 8000, default: 800 }),
            maxWidth: Type.Integer({ minimum: 160, maximum: 1920, default: 640 }),
            fps: Type.Integer({ minimum: 1, maximum: 30, default: 15 }),
            ticketTtlS: Type.Integer({ minimum: 5, maximum: 600, default: 30 }),
            /** Listen retries while the port cannot be opened: doubling from the first, capped. */
            retryInitialMs: Type.Integer({ minimum: 10, maximum: 600_000, default: 1000 }),
            retryMaxMs: Type.Integer({ minimum: 10, maximum: 3_600_000, default: 60_000 }),
          },
          { additionalProperties: false, default: {} },
        ),
      },
      { additionalProperties: false, default: {} },
    ),
    /**
     * TLS: `ca` pins the broker's and the gateway's certificates (the only trust anchor for
     * `mqtts://`, `wss://` and `https://`; without it the system's roots); `cert` and `key` are
     * the agent's own, for its jsmpeg live-view server (`wss://`). Paths, read at start.
     */
    tls: Type.Optional(
      Type.Object(
        {
          ca: Type.Optional(Type.String({ minLength: 1 })),
          cert: Type.Optional(Type.String({ minLength: 1 })),
          key: Type.Optional(Type.String({ minLength: 1 })),
        },
        { additionalProperties: false },
      ),
    ),
    httpPort: Type.Optional(Type.Integer({ minimum: 0, maximum: 65535 })),
    /**
     * `/metrics` access: with `token`, peers other than loopback need `Authorization: Bearer
     * <token>`; `loopback: required` asks it of loopback peers too.
     */
    metrics: Type.Object(
      {
        token: Type.Optional(Type.String({ minLength: 16, pattern: '^\\S+$' })),
        loopback: Type.Union([Type.Literal('exempt'), Type.Literal('required')], { default: 'exempt' }),
      },
      { additionalProperties: false, default: {} },
    ),
    /**
     * Who lists this node's cameras: `master` (the master's desired configuration, pushed with
     * `cmd/config` and kept in the state dir) or `file` (`cameras` below; pushed lists are
     * refused). Absent: `file` when `cameras` is given, else `master`.
     */
    management: Type.Optional(Type.Union([Type.Literal('master'), Type.Literal('file')])),
    cameras: Type.Optional(Type.Array(CameraConfigSchema, { maxItems: 64 })),
    simulatedCamera: Type.Object(
      {
        width: Type.Integer({ minimum: 16, maximum: 3840, default: 320 }),
        height: Type.Integer({ minimum: 16, maximum: 2160, default: 180 }),
        fps: Type.Integer({ minimum: 1, maximum: 60, default: 10 }),
        detect: Type.Optional(DetectSpec),
      },
      { additionalProperties: false, default: {} },
    ),
  },
  { additionalProperties: false },
);

export type AgentConfig = Static<typeof AgentConfigSchema>;
export type CameraConfig = Static<typeof CameraConfigSchema>;
