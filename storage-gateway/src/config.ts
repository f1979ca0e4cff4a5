/**
 * The gateway's environment, read and checked once at start: every bad variable is listed at
 * once (@cctv/protocol/config-check). The sections of single parts are config-sections.ts.
 */
import { existsSync } from 'node:fs';
import { isAbsolute, join, resolve } from 'node:path';
import { ConfigProblems } from '@cctv/protocol/config-check';
import { type MetricsAccess, metricsAccessFromEnv } from '@cctv/tls';
import {
  cameraDays,
  type LiveConfig,
  liveConfig,
  MAX_RETENTION_DAYS,
  type RenditionConfig,
  type RetentionConfig,
  renditionConfig,
} from './config-sections.ts';

export type { LiveConfig, RenditionConfig, RetentionConfig } from './config-sections.ts';

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
  logLevel: LogLevel;
  retention: RetentionConfig;
  rendition: RenditionConfig;
  live: LiveConfig;
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

/**
 * Reads and validates the gateway configuration. Throws one ConfigError listing every bad
 * key, so an operator fixes them all in one go.
 */
export function loadConfig(env: NodeJS.ProcessEnv = process.env, cwd = process.cwd()): GatewayConfig {
  const problems = new ConfigProblems();
  const text = (key: string, fallback?: string): string => {
    const raw = env[key]?.trim();
    if (raw) return raw;
    if (fallback === undefined) problems.add(`${key} is required`);
    return fallback ?? '';
  };
  const int = (key: string, fallback: number, min: number, max: number): number => {
    const raw = env[key]?.trim();
    if (!raw) return fallback;
    const n = Number(raw);
    if (!/^\d+$/.test(raw) || !Number.isSafeInteger(n) || n < min || n > max) {
      problems.add(`${key} must be an integer from ${min} to ${max}, got ${JSON.stringify(raw)}`);
      return fallback;
    }
    return n;
  };
  const dir = (key: string, fallback: string): string => {
    const raw = text(key, fallback);
    return isAbsolute(raw) ? raw : resolve(cwd, raw);
  };

  const host = text('GATEWAY_HOST', '0.0.0.0');
  const port = int('GATEWAY_PORT', 8090, 0, 65535);
  const tls = tlsFiles(env, problems, cwd);
  const databaseUrl = text('DATABASE_URL');
  if (databaseUrl && !/^postgres(ql)?:\/\//.test(databaseUrl))
    problems.add('DATABASE_URL must be a postgresql:// URL');
  const dataDir = dir('GATEWAY_DATA_DIR', './data/gateway');
  const bufferDir = dir('GATEWAY_BUFFER_DIR', join(dataDir, 'buffer'));
  const nasDir = dir('GATEWAY_NAS_DIR', './data/nas');
  if (bufferDir === nasDir) problems.add('GATEWAY_BUFFER_DIR and GATEWAY_NAS_DIR must differ');
  const snapshotDir = dir('GATEWAY_SNAPSHOT_DIR', join(dataDir, 'snapshots'));
  if (snapshotDir === bufferDir || snapshotDir === nasDir)
    problems.add('GATEWAY_SNAPSHOT_DIR must differ from GATEWAY_BUFFER_DIR and GATEWAY_NAS_DIR');
  const maxSegmentBytes = int('GATEWAY_MAX_SEGMENT_BYTES', 64 * MiB, 1, 2 ** 31 - 1);
  const nasRetryInitialMs = int('GATEWAY_NAS_RETRY_INITIAL_MS', 500, 1, 3_600_000);
  const nasRetryMaxMs = int('GATEWAY_NAS_RETRY_MAX_MS', 5_000, 1, 3_600_000);
  if (nasRetryMaxMs < nasRetryInitialMs)
    problems.add('GATEWAY_NAS_RETRY_MAX_MS must be at least GATEWAY_NAS_RETRY_INITIAL_MS');
  const oneOf = <T extends string>(key: string, values: readonly T[], fallback: T): T => {
    const raw = (env[key]?.trim() || fallback) as T;
    if (!values.includes(raw))
      problems.add(`${key} must be one of ${values.join(', ')}, got ${JSON.stringify(raw)}`);
    return raw;
  };
  // Durability and faults: who may upload, how full the buffer may get, how the NAS is watched.
  const uploadAuth = oneOf('GATEWAY_UPLOAD_AUTH', ['token', 'off'] as const, 'token');
  const uploadAuthCacheS = int('GATEWAY_UPLOAD_AUTH_CACHE_S', 10, 0, 3600);
  const corsOrigins = origins(env, problems);
  const metricsAccess = problems.attempt<MetricsAccess>(() => metricsAccessFromEnv(env, 'GATEWAY'), {
    token: null,
    loopback: 'exempt',
  });
  const bufferMaxBytes = int('GATEWAY_BUFFER_MAX_BYTES', 0, 0, Number.MAX_SAFE_INTEGER);
  const bufferMinFreeBytes = int('GATEWAY_BUFFER_MIN_FREE_BYTES', 64 * MiB, 0, Number.MAX_SAFE_INTEGER);
  const bufferRetryAfterS = int('GATEWAY_BUFFER_RETRY_AFTER_S', 10, 1, 3600);
  const nasRequireMount = oneOf('GATEWAY_NAS_REQUIRE_MOUNT', ['true', 'false'] as const, 'false') === 'true';
  const nasTimeoutMs = int('GATEWAY_NAS_TIMEOUT_MS', 30_000, 100, 3_600_000);
  const nasDrainBytesPerS = int('GATEWAY_NAS_DRAIN_BYTES_PER_S', 0, 0, Number.MAX_SAFE_INTEGER);
  const nasParallel = int('GATEWAY_NAS_PARALLEL', 4, 1, 32);
  const logLevel = text('LOG_LEVEL', 'info') as LogLevel;
  if (!LOG_LEVELS.includes(logLevel))
    problems.add(`LOG_LEVEL must be one of ${LOG_LEVELS.join(', ')}, got ${JSON.stringify(logLevel)}`);
  const retention: RetentionConfig = {
    intervalS: int('GATEWAY_RETENTION_INTERVAL_S', 300, 1, 86_400),
    days: int('GATEWAY_RETENTION_DAYS', 30, 0, MAX_RETENTION_DAYS),
    cameraDays: cameraDays(env.GATEWAY_RETENTION_CAMERA_DAYS, problems),
    nasMinFreePercent: int('GATEWAY_NAS_MIN_FREE_PERCENT', 10, 0, 99),
    eventPadS: int('GATEWAY_EVENT_PAD_S', 10, 0, 3600),
    eventRetentionDays: int('GATEWAY_EVENT_RETENTION_DAYS', 90, 0, MAX_RETENTION_DAYS),
  };
  const rendition = renditionConfig(int, dir, dataDir, [bufferDir, nasDir, snapshotDir], problems);
  const live = liveConfig(int);

  problems.throwIfAny((list) => new ConfigError(list));
  return {
    host,
    port,
    tls,
    databaseUrl,
    dataDir,
    bufferDir,
    nasDir,
    snapshotDir,
    maxSegmentBytes,
    nasRetryInitialMs,
    nasRetryMaxMs,
    uploadAuth,
    uploadAuthCacheS,
    corsOrigins,
    metricsAccess,
    bufferMaxBytes,
    bufferMinFreeBytes,
    bufferRetryAfterS,
    nasRequireMount,
    nasTimeoutMs,
    nasDrainBytesPerS,
    nasParallel,
    logLevel,
    retention,
    rendition,
    live,
  };
}

/**
 * TLS is on unless `GATEWAY_TLS=off` (a TLS-terminating proxy in front): uploads carry node
 * tokens and reads carry grants, neither of which may cross a network in clear.
 */
function tlsFiles(env: NodeJS.ProcessEnv, problems: ConfigProblems, cwd: string): GatewayConfig['tls'] {
  const mode = env.GATEWAY_TLS?.trim() || 'on';
  if (mode !== 'on' && mode !== 'off') {
    problems.add(`GATEWAY_TLS must be on or off, got ${JSON.stringify(mode)}`);
    return null;
  }
  if (mode === 'off') return null;
  const certFile = env.GATEWAY_TLS_CERT?.trim() ?? '';
  const keyFile = env.GATEWAY_TLS_KEY?.trim() ?? '';
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
function origins(env: NodeJS.ProcessEnv, problems: ConfigProblems): string[] {
  const own = env.GATEWAY_CORS_ORIGINS?.trim();
  const key = own ? 'GATEWAY_CORS_ORIGINS' : 'DASHBOARD_PUBLIC_URL';
  const raw = own || env.DASHBOARD_PUBLIC_URL?.trim();
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
