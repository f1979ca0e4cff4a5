import { resolve } from 'node:path';

export interface MasterConfig {
  httpHost: string;
  httpPort: number;
  mqttHost: string;
  mqttPort: number;
  /** External PostgreSQL; when null an embedded server is started under `dataDir`. */
  databaseUrl: string | null;
  dataDir: string;
  embeddedPgPort: number;
  corsOrigins: string[] | true;
  /** How often the newest heartbeat of each node is written (one statement per flush). */
  heartbeatFlushMs: number;
  logLevel: string;
}

export class ConfigError extends Error {
  readonly code = 'CONFIG_INVALID';
}

function port(env: NodeJS.ProcessEnv, key: string, dflt: number): number {
  const raw = env[key];
  if (raw === undefined || raw === '') return dflt;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < 0 || n > 65535)
    throw new ConfigError(`${key} must be a TCP port (0-65535), got "${raw}"`);
  return n;
}

function flushMs(env: NodeJS.ProcessEnv): number {
  const raw = env.MASTER_HEARTBEAT_FLUSH_MS;
  if (raw === undefined || raw === '') return 1000;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < 10 || n > 60_000)
    throw new ConfigError(`MASTER_HEARTBEAT_FLUSH_MS must be an integer 10-60000, got "${raw}"`);
  return n;
}

/** Reads and validates the master's environment once, at start. */
export function loadConfig(env: NodeJS.ProcessEnv = process.env): MasterConfig {
  const databaseUrl = env.DATABASE_URL?.trim() || null;
  if (databaseUrl && !/^postgres(ql)?:\/\//.test(databaseUrl))
    throw new ConfigError('DATABASE_URL must start with postgresql:// or postgres://');
  const levels = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'];
  const logLevel = env.LOG_LEVEL ?? 'info';
  if (!levels.includes(logLevel)) throw new ConfigError(`LOG_LEVEL must be one of ${levels.join(', ')}`);
  const origins = env.MASTER_CORS_ORIGINS?.trim();
  return {
    httpHost: env.MASTER_HTTP_HOST ?? '0.0.0.0',
    httpPort: port(env, 'MASTER_HTTP_PORT', 8080),
    mqttHost: env.MQTT_HOST ?? '0.0.0.0',
    mqttPort: port(env, 'MQTT_PORT', 1883),
    databaseUrl,
    dataDir: resolve(env.MASTER_DATA_DIR ?? './data/master'),
    embeddedPgPort: port(env, 'EMBEDDED_PG_PORT', 54329),
    corsOrigins: origins && origins !== '*' ? origins.split(',').map((o) => o.trim()) : true,
    heartbeatFlushMs: flushMs(env),
    logLevel,
  };
}
