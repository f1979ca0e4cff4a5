/**
 * Agent configuration: one YAML file, named by `--config <path>` or `CCTV_AGENT_CONFIG`,
 * validated once at start. Every key is documented in node-agent/README.md.
 */
import { X509Certificate } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { isIP } from 'node:net';
import { createSecureContext } from 'node:tls';
import { CameraSpec, DetectSpec, IceServer, ID_PATTERN } from '@cctv/protocol';
import { ConfigProblems, checkSchema } from '@cctv/protocol/config-check';
import { readServerTls } from '@cctv/tls/server-tls';
import { type Static, Type } from '@sinclair/typebox';
import { parse as parseYaml } from 'yaml';
import { sourceProblem } from './recorder/source.ts';

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
    gateway: Type.Object(
      { url: Url, token: Type.Optional(Type.String({ minLength: 16, maxLength: 256 })) },
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

export class ConfigError extends Error {
  readonly code = 'CONFIG_INVALID';
  constructor(
    message: string,
    readonly problems: string[] = [],
  ) {
    super(message);
    this.name = 'ConfigError';
  }
}

/** Validates an already parsed document, filling defaults; throws ConfigError listing every problem. */
export function parseConfig(doc: unknown, source = 'config'): AgentConfig {
  if (doc === null || typeof doc !== 'object' || Array.isArray(doc))
    throw new ConfigError(`${source}: expected a YAML mapping at the top level`);
  const problems = new ConfigProblems();
  const config = checkSchema(AgentConfigSchema, doc, problems);
  // The checks across keys and on files need a document of the right shape.
  if (problems.empty) for (const problem of semanticProblems(config)) problems.add(problem);
  problems.throwIfAny(
    (unique) => new ConfigError(`${source} is invalid:\n  - ${unique.join('\n  - ')}`, unique),
  );
  return config;
}

/** What the schema cannot say: URLs, camera sources, ranges between keys, TLS files. */
function semanticProblems(config: AgentConfig): string[] {
  const problems: string[] = [];
  checkUrl(problems, 'mqtt.url', config.mqtt.url, ['mqtt:', 'mqtts:', 'tcp:', 'ssl:', 'ws:', 'wss:']);
  checkUrl(problems, 'gateway.url', config.gateway.url, ['http:', 'https:']);
  problems.push(...cameraProblems(config.cameras ?? []));
  const { icePortMin, icePortMax } = config.live;
  if ((icePortMin === undefined) !== (icePortMax === undefined) || (icePortMin ?? 0) >= (icePortMax ?? 1))
    problems.push('live.icePortMin, live.icePortMax: set both, the first below the second');
  if (config.recorder.backoffMaxMs < config.recorder.backoffInitialMs)
    problems.push('recorder.backoffMaxMs: must be at least recorder.backoffInitialMs');
  if (config.live.jsmpeg.retryMaxMs < config.live.jsmpeg.retryInitialMs)
    problems.push('live.jsmpeg.retryMaxMs: must be at least live.jsmpeg.retryInitialMs');
  problems.push(...tlsProblems(config));
  return problems;
}

/** Problems a camera list has beyond its schema: duplicate ids, sources the agent cannot read. */
export function cameraProblems(cameras: CameraConfig[]): string[] {
  const problems: string[] = [];
  const ids = new Set<string>();
  cameras.forEach((cam, i) => {
    if (ids.has(cam.id)) problems.push(`cameras: duplicate camera id "${cam.id}"`);
    ids.add(cam.id);
    for (const [key, url] of [
      ['url', cam.url],
      ['substreamUrl', cam.substreamUrl],
    ] as const) {
      if (url === undefined) continue;
      const problem = sourceProblem(url);
      if (problem) problems.push(`cameras.${i}.${key}: ${problem}`);
    }
  });
  return problems;
}

/** The TLS files: readable, a CA certificate, a certificate with its own key. */
function tlsProblems(config: AgentConfig): string[] {
  const tls = config.tls;
  if (!tls) return [];
  const problems: string[] = [];
  if (tls.ca !== undefined) {
    let pem: Buffer | null = null;
    try {
      pem = readFileSync(tls.ca);
    } catch (err) {
      problems.push(`tls.ca: cannot read ${tls.ca} (${(err as NodeJS.ErrnoException).code ?? err})`);
    }
    try {
      if (pem) new X509Certificate(pem);
    } catch {
      problems.push(`tls.ca: ${tls.ca} is not a PEM certificate`);
    }
  }
  if ((tls.cert === undefined) !== (tls.key === undefined))
    problems.push('tls.cert, tls.key: set both (the live-view certificate and its key) or neither');
  else if (tls.cert !== undefined && tls.key !== undefined) {
    try {
      createSecureContext(readServerTls({ certFile: tls.cert, keyFile: tls.key }, 'tls.cert/tls.key'));
    } catch (err) {
      const message = (err as Error).message;
      problems.push(
        message.startsWith('tls.cert/tls.key:')
          ? message
          : `tls.cert/tls.key: ${tls.cert} and ${tls.key} are not a certificate and its key (${message})`,
      );
    }
    if (config.live.jsmpeg.publicUrl?.startsWith('ws://'))
      problems.push(
        'live.jsmpeg.publicUrl: must be wss:// when tls.cert is set (the server speaks TLS only)',
      );
  }
  return problems;
}

/** True for `localhost` and loopback addresses: traffic that never leaves this host. */
export function isLoopbackHost(hostname: string): boolean {
  const host = hostname.replace(/^\[|\]$/g, '').toLowerCase();
  if (host === 'localhost' || host.endsWith('.localhost')) return true;
  if (isIP(host) === 4) return host.startsWith('127.');
  return host === '::1';
}

/**
 * What this configuration sends in clear text across the network, in words for the log at
 * start: a plain broker or gateway URL to another host, a jsmpeg server without TLS.
 */
export function cleartextWarnings(config: AgentConfig): string[] {
  const warnings: string[] = [];
  const mqtt = new URL(config.mqtt.url);
  if (['mqtt:', 'tcp:', 'ws:'].includes(mqtt.protocol) && !isLoopbackHost(mqtt.hostname))
    warnings.push(
      `mqtt.url: ${mqtt.protocol}// to ${mqtt.host} is clear text (the node's password, commands, events): use mqtts://`,
    );
  const gateway = new URL(config.gateway.url);
  if (gateway.protocol === 'http:' && !isLoopbackHost(gateway.hostname))
    warnings.push(
      `gateway.url: http:// to ${gateway.host} is clear text (the upload token and the footage): use https://`,
    );
  if (config.live.enabled && config.live.jsmpeg.enabled && config.tls?.cert === undefined)
    warnings.push(
      'live.jsmpeg: served without TLS (ws://), so its tickets and video are clear text and a dashboard on https cannot open it: set tls.cert and tls.key',
    );
  return warnings;
}

function checkUrl(problems: string[], key: string, raw: string, protocols: string[]): void {
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    problems.push(`${key}: "${raw}" is not a URL`);
    return;
  }
  if (!protocols.includes(url.protocol))
    problems.push(`${key}: protocol must be one of ${protocols.join(', ')}, got ${url.protocol}`);
}

/** Reads and validates the YAML file; throws ConfigError with a readable message. */
export function loadConfigFile(path: string): AgentConfig {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    throw new ConfigError(`cannot read config file ${path}: ${(err as Error).message}`);
  }
  let doc: unknown;
  try {
    doc = parseYaml(text);
  } catch (err) {
    throw new ConfigError(`config file ${path} is not valid YAML: ${(err as Error).message}`);
  }
  return parseConfig(doc, `config file ${path}`);
}

/** The config path from `--config <path>` / `--config=<path>`, else `CCTV_AGENT_CONFIG`. */
export function configPathFrom(argv: string[], env: NodeJS.ProcessEnv): string {
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i] ?? '';
    if (arg === '--config') {
      const next = argv[i + 1];
      if (!next) throw new ConfigError('--config needs a path');
      return next;
    }
    if (arg.startsWith('--config=')) return arg.slice('--config='.length);
  }
  const fromEnv = env.CCTV_AGENT_CONFIG;
  if (fromEnv) return fromEnv;
  throw new ConfigError('no config: pass --config <path> or set CCTV_AGENT_CONFIG');
}

export function loadConfig(argv = process.argv.slice(2), env = process.env): AgentConfig {
  return loadConfigFile(configPathFrom(argv, env));
}
