/**
 * The gateway's environment, read and checked once at start: a TypeBox schema of its variables,
 * then the rules across them, every bad variable listed at once (@cctv/protocol/config-check). The sections of single parts are config-sections.ts.
 */
import { existsSync } from 'node:fs';
import { hostname } from 'node:os';
import { isAbsolute, join, resolve } from 'node:path';
import { ConfigProblems, checkEnv, EnvOneOf, EnvText, envInt } from '@cctv/protocol/config-check';
import { type MetricsAccess, metricsAccessFromEnv } from '@cctv/tls';
import { Type } from '@sinclair/typebox';
import {
  type ClusterConfig,
  ClusterVars,
  clusterConfig,
  envInteger,
  type LiveConfig,
  LiveVars,
  liveConfig,
  type RenditionConfig,
  RenditionVars,
  type RetentionConfig,
  RetentionVars,
  renditionConfig,
  retentionConfig,
} from './config-sections.ts';

export type { ClusterConfig, LiveConfig, RenditionConfig, RetentionConfig } from './config-sections.ts';

/** Everything the gateway reads from its environment, validated once at start. */
export interface GatewayConfig {
  host: string;
  port: number;
  /** HTTPS certificate and key (`GATEWAY_TLS_CERT`/`KEY`); null only with `GATEWAY_TLS=off`. */
  tls: { certFile: string; keyFile: string } | null;
  databaseUrl: string;
  dataDir: string;
  bufferDir: string;
  nasDir: string;
  snapshotDir: string;
  maxSegmentBytes: number;
  nasRetryInitialMs: number;
  nasRetryMaxMs: number;
  /** Upload credentials: `token` (each node's upload token) or `off` (closed lab networks). */
  uploadAuth: 'token' | 'off';
  uploadAuthCacheS: number;
  /** Origins whose pages may read footage from the browser (the dashboard's). */
  corsOrigins: string[];
  /** Who may read `/metrics` (`GATEWAY_METRICS_TOKEN[_FILE]`, `GATEWAY_METRICS_TOKEN_LOOPBACK`). */
  metricsAccess: MetricsAccess;
  bufferMaxBytes: number;
  bufferMinFreeBytes: number;
  bufferRetryAfterS: number;
  nasRequireMount: boolean;
  nasTimeoutMs: number;
  nasDrainBytesPerS: number;
  nasParallel: number;
  /** Refuse uploads (503 `nas_behind`) while the mover is this far behind a healthy NAS; 0: never. */
  nasLagMaxBytes: number;
  logLevel: LogLevel;
  retention: RetentionConfig;
  rendition: RenditionConfig;
  live: LiveConfig;
  /** This gateway among those sharing the database and the NAS. */
  cluster: ClusterConfig;
}

const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];

export class ConfigError extends Error {
  readonly code = 'config_invalid';
  constructor(readonly problems: string[]) {
    super(`invalid storage-gateway configuration:\n  - ${problems.join('\n  - ')}`);
    this.name = 'ConfigError';
  }
}

const MiB = 1024 * 1024;
const int = envInteger;
const oneOf = (values: readonly string[]) =>
  EnvOneOf(values, `must be one of ${values.join(', ')}, got {json}`);

/**
 * The gateway's variables and their form; lists, files and rules across variables are checked
 * in code below. The metrics reader reads its own.
 */
const GatewayEnv = Type.Object({
  GATEWAY_HOST: EnvText(),
  GATEWAY_PORT: int(0, 65535),
  GATEWAY_TLS: EnvOneOf(['on', 'off'], 'must be on or off, got {json}'),
  GATEWAY_TLS_CERT: EnvText(),
  GATEWAY_TLS_KEY: EnvText(),
  DATABASE_URL: EnvText({ pattern: '^\\s*postgres(ql)?://', problem: 'must be a postgresql:// URL' }),
  GATEWAY_DATA_DIR: EnvText(),
  GATEWAY_BUFFER_DIR: EnvText(),
  GATEWAY_NAS_DIR: EnvText(),
  GATEWAY_SNAPSHOT_DIR: EnvText(),
  GATEWAY_MAX_SEGMENT_BYTES: int(1, 2 ** 31 - 1),
  GATEWAY_NAS_RETRY_INITIAL_MS: int(1, 3_600_000),
  GATEWAY_NAS_RETRY_MAX_MS: int(1, 3_600_000),
  // Durability and faults: who may upload, how full the buffer may get, how the NAS is watched.
  GATEWAY_UPLOAD_AUTH: oneOf(['token', 'off']),
  GATEWAY_UPLOAD_AUTH_CACHE_S: int(0, 3600),
  GATEWAY_CORS_ORIGINS: EnvText(),
  DASHBOARD_PUBLIC_URL: EnvText(),
  GATEWAY_BUFFER_MAX_BYTES: int(0, Number.MAX_SAFE_INTEGER),
  GATEWAY_BUFFER_MIN_FREE_BYTES: int(0, Number.MAX_SAFE_INTEGER),
  GATEWAY_BUFFER_RETRY_AFTER_S: int(1, 3600),
  GATEWAY_NAS_REQUIRE_MOUNT: oneOf(['true', 'false']),
  GATEWAY_NAS_TIMEOUT_MS: int(100, 3_600_000),
  GATEWAY_NAS_DRAIN_BYTES_PER_S: int(0, Number.MAX_SAFE_INTEGER),
  GATEWAY_NAS_PARALLEL: int(1, 32),
  GATEWAY_NAS_LAG_MAX_BYTES: int(0, Number.MAX_SAFE_INTEGER),
  LOG_LEVEL: oneOf(LOG_LEVELS),
  ...RetentionVars,
  ...RenditionVars,
  ...LiveVars,
  ...ClusterVars,
});

/**
 * Reads and validates the gateway configuration: the schema first (every malformed variable),
 * then the rules in code. Throws one ConfigError listing every bad key, so an operator fixes
 * them all in one go.
 */
export function loadConfig(
  env: NodeJS.ProcessEnv = process.env,
  cwd = process.cwd(),
  host = hostname(),
): GatewayConfig {
  const problems = new ConfigProblems();
  const e = checkEnv(GatewayEnv, env, problems);
  const dir = (raw: string | undefined, fallback: string): string => {
    const path = raw?.trim() || fallback;
    return isAbsolute(path) ? path : resolve(cwd, path);
  };

  const tls = tlsFiles(e, problems, cwd);
  const databaseUrl = e.DATABASE_URL?.trim() ?? '';
  if (!databaseUrl) problems.add('DATABASE_URL is required');
  const dataDir = dir(e.GATEWAY_DATA_DIR, './data/gateway');
  const bufferDir = dir(e.GATEWAY_BUFFER_DIR, join(dataDir, 'buffer'));
  const nasDir = dir(e.GATEWAY_NAS_DIR, './data/nas');
  if (bufferDir === nasDir) problems.add('GATEWAY_BUFFER_DIR and GATEWAY_NAS_DIR must differ');
  const snapshotDir = dir(e.GATEWAY_SNAPSHOT_DIR, join(dataDir, 'snapshots'));
  if (snapshotDir === bufferDir || snapshotDir === nasDir)
    problems.add('GATEWAY_SNAPSHOT_DIR must differ from GATEWAY_BUFFER_DIR and GATEWAY_NAS_DIR');
  const nasRetryInitialMs = envInt(e.GATEWAY_NAS_RETRY_INITIAL_MS, 500);
  const nasRetryMaxMs = envInt(e.GATEWAY_NAS_RETRY_MAX_MS, 5_000);
  if (nasRetryMaxMs < nasRetryInitialMs)
    problems.add('GATEWAY_NAS_RETRY_MAX_MS must be at least GATEWAY_NAS_RETRY_INITIAL_MS');
  const corsOrigins = origins(e, problems);
  const metricsAccess = problems.attempt<MetricsAccess>(() => metricsAccessFromEnv(env, 'GATEWAY'), {
    token: null,
    loopback: 'exempt',
  });
  const retention = retentionConfig(e, problems);
  const rendition = renditionConfig(e, dir, dataDir, [bufferDir, nasDir, snapshotDir], problems);
  const cluster = clusterConfig(e, (e.GATEWAY_TLS?.trim() || 'on') === 'on', host, problems);

  problems.throwIfAny((list) => new ConfigError(list));
  return {
    host: e.GATEWAY_HOST?.trim() || '0.0.0.0',
    port: envInt(e.GATEWAY_PORT, 8090),
    tls,
    databaseUrl,
    dataDir,
    bufferDir,
    nasDir,
    snapshotDir,
    maxSegmentBytes: envInt(e.GATEWAY_MAX_SEGMENT_BYTES, 64 * MiB),
    nasRetryInitialMs,
    nasRetryMaxMs,
    uploadAuth: (e.GATEWAY_UPLOAD_AUTH?.trim() || 'token') as GatewayConfig['uploadAuth'],
    uploadAuthCacheS: envInt(e.GATEWAY_UPLOAD_AUTH_CACHE_S, 10),
    corsOrigins,
    metricsAccess,
    bufferMaxBytes: envInt(e.GATEWAY_BUFFER_MAX_BYTES, 0),
    bufferMinFreeBytes: envInt(e.GATEWAY_BUFFER_MIN_FREE_BYTES, 64 * MiB),
    bufferRetryAfterS: envInt(e.GATEWAY_BUFFER_RETRY_AFTER_S, 10),
    nasRequireMount: e.GATEWAY_NAS_REQUIRE_MOUNT?.trim() === 'true',
    nasTimeoutMs: envInt(e.GATEWAY_NAS_TIMEOUT_MS, 30_000),
    nasDrainBytesPerS: envInt(e.GATEWAY_NAS_DRAIN_BYTES_PER_S, 0),
    nasParallel: envInt(e.GATEWAY_NAS_PARALLEL, 16),
    nasLagMaxBytes: envInt(e.GATEWAY_NAS_LAG_MAX_BYTES, 256 * MiB),
    logLevel: (e.LOG_LEVEL?.trim() || 'info') as LogLevel,
    retention,
    rendition,
    live: liveConfig(e),
    cluster,
  };
}

type Env = Partial<Record<keyof typeof GatewayEnv.properties, string>>;

/**
 * TLS is on unless `GATEWAY_TLS=off` (a TLS-terminating proxy in front): uploads carry node
 * tokens and reads carry grants, neither of which may cross a network in clear.
 */
function tlsFiles(e: Env, problems: ConfigProblems, cwd: string): GatewayConfig['tls'] {
  const mode = e.GATEWAY_TLS?.trim() || 'on';
  if (mode !== 'on') return null; // off, or malformed (reported by the schema)
  const certFile = e.GATEWAY_TLS_CERT?.trim() ?? '';
  const keyFile = e.GATEWAY_TLS_KEY?.trim() ?? '';
  if (certFile === '' || keyFile === '') {
    problems.add(
      'GATEWAY_TLS_CERT and GATEWAY_TLS_KEY must name the certificate and key files: TLS is on by default (GATEWAY_TLS=off serves plain HTTP, for a TLS-terminating proxy in front)',
    );
    return null;
  }
  const files = { certFile: resolve(cwd, certFile), keyFile: resolve(cwd, keyFile) };
  if (!existsSync(files.certFile)) problems.add(`GATEWAY_TLS_CERT: file ${files.certFile} does not exist`);
  if (!existsSync(files.keyFile)) problems.add(`GATEWAY_TLS_KEY: file ${files.keyFile} does not exist`);
  return files;
}

// --- Browsers ----------------------------------------------------------------------------

const LOCAL_DASHBOARD = ['https://127.0.0.1:3000', 'https://localhost:3000'];

/**
 * `GATEWAY_CORS_ORIGINS`, else `DASHBOARD_PUBLIC_URL`, else the local dashboard: origins as
 * `scheme://host[:port]`. Never "any": footage is read only by the dashboard's pages.
 */
function origins(e: Env, problems: ConfigProblems): string[] {
  const own = e.GATEWAY_CORS_ORIGINS?.trim();
  const key = own ? 'GATEWAY_CORS_ORIGINS' : 'DASHBOARD_PUBLIC_URL';
  const raw = own || e.DASHBOARD_PUBLIC_URL?.trim();
  if (!raw) return LOCAL_DASHBOARD;
  const list = raw
    .split(',')
    .map((o) => o.trim().replace(/\/+$/, ''))
    .filter((o) => o !== '');
  for (const o of list) {
    let ok = false;
    try {
      const url = new URL(o);
      ok = (url.protocol === 'http:' || url.protocol === 'https:') && url.origin === o;
    } catch {
      ok = false;
    }
    if (!ok)
      problems.add(
        `${key} must list origins such as https://cctv.example.org (no path, no "*"), got ${JSON.stringify(o)}`,
      );
  }
  return list;
}
