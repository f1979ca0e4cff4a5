import { isAbsolute, join, resolve } from 'node:path';

/** Everything the gateway reads from its environment, validated once at start. */
export interface GatewayConfig {
  host: string;
  port: number;
  databaseUrl: string;
  dataDir: string;
  bufferDir: string;
  nasDir: string;
  snapshotDir: string;
  maxSegmentBytes: number;
  nasRetryInitialMs: number;
  nasRetryMaxMs: number;
  logLevel: LogLevel;
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
  const problems: string[] = [];
  const text = (key: string, fallback?: string): string => {
    const raw = env[key]?.trim();
    if (raw) return raw;
    if (fallback === undefined) problems.push(`${key} is required`);
    return fallback ?? '';
  };
  const int = (key: string, fallback: number, min: number, max: number): number => {
    const raw = env[key]?.trim();
    if (!raw) return fallback;
    const n = Number(raw);
    if (!/^\d+$/.test(raw) || !Number.isSafeInteger(n) || n < min || n > max) {
      problems.push(`${key} must be an integer from ${min} to ${max}, got ${JSON.stringify(raw)}`);
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
  const databaseUrl = text('DATABASE_URL');
  if (databaseUrl && !/^postgres(ql)?:\/\//.test(databaseUrl))
    problems.push('DATABASE_URL must be a postgresql:// URL');
  const dataDir = dir('GATEWAY_DATA_DIR', './data/gateway');
  const bufferDir = dir('GATEWAY_BUFFER_DIR', join(dataDir, 'buffer'));
  const nasDir = dir('GATEWAY_NAS_DIR', './data/nas');
  if (bufferDir === nasDir) problems.push('GATEWAY_BUFFER_DIR and GATEWAY_NAS_DIR must differ');
  const snapshotDir = dir('GATEWAY_SNAPSHOT_DIR', join(dataDir, 'snapshots'));
  if (snapshotDir === bufferDir || snapshotDir === nasDir)
    problems.push('GATEWAY_SNAPSHOT_DIR must differ from GATEWAY_BUFFER_DIR and GATEWAY_NAS_DIR');
  const maxSegmentBytes = int('GATEWAY_MAX_SEGMENT_BYTES', 64 * MiB, 1, 2 ** 31 - 1);
  const nasRetryInitialMs = int('GATEWAY_NAS_RETRY_INITIAL_MS', 500, 1, 3_600_000);
  const nasRetryMaxMs = int('GATEWAY_NAS_RETRY_MAX_MS', 30_000, 1, 3_600_000);
  if (nasRetryMaxMs < nasRetryInitialMs)
    problems.push('GATEWAY_NAS_RETRY_MAX_MS must be at least GATEWAY_NAS_RETRY_INITIAL_MS');
  const logLevel = text('LOG_LEVEL', 'info') as LogLevel;
  if (!LOG_LEVELS.includes(logLevel))
    problems.push(`LOG_LEVEL must be one of ${LOG_LEVELS.join(', ')}, got ${JSON.stringify(logLevel)}`);

  if (problems.length > 0) throw new ConfigError(problems);
  return {
    host,
    port,
    databaseUrl,
    dataDir,
    bufferDir,
    nasDir,
    snapshotDir,
    maxSegmentBytes,
    nasRetryInitialMs,
    nasRetryMaxMs,
    logLevel,
  };
}
