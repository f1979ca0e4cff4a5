/**
 * The master's environment, read and checked once at start: every bad variable is listed at
 * once (@cctv/protocol/config-check). The shape is config-types.ts; each variable is documented
 * in master/README.md.
 */
import { existsSync } from 'node:fs';
import { hostname } from 'node:os';
import { join, resolve } from 'node:path';
import { ROLES, type Role } from '@cctv/protocol';
import { ConfigProblems } from '@cctv/protocol/config-check';
import { type MetricsAccess, metricsAccessFromEnv } from '@cctv/tls';
import { checkPasswordPolicy } from './auth/password.ts';
import { loadSecurityConfig, type SecurityConfig } from './auth/security-config.ts';
import type { MasterConfig, TlsFiles, UsersConfig } from './config-types.ts';
import { type IceConfig, loadIceConfig } from './live/ice-servers.ts';

export type { MasterConfig, TlsFiles, UsersConfig } from './config-types.ts';

/**
 * The face model: in a release, its models/ folder; in the sources, where
 * `node scripts/bootstrap.mjs` puts it (it checks its sha256).
 */
const RELEASE_FACE_MODEL = new URL('../models/blazeface-back-256.onnx', import.meta.url).pathname;
const DEFAULT_FACE_MODEL = existsSync(RELEASE_FACE_MODEL)
  ? RELEASE_FACE_MODEL
  : new URL('../../node-agent/models/blazeface-back-256.onnx', import.meta.url).pathname;

/** The master's configuration is invalid: `problems` lists every bad variable. */
export class ConfigError extends Error {
  readonly code = 'CONFIG_INVALID';
  constructor(
    message: string,
    readonly problems: string[] = [message],
  ) {
    super(message);
    this.name = 'ConfigError';
  }
}

/** One problem reads as itself (as it always did); several as a list. */
function configError(problems: string[]): ConfigError {
  const message =
    problems.length === 1
      ? (problems[0] ?? '')
      : `invalid master configuration:\n  - ${problems.join('\n  - ')}`;
  return new ConfigError(message, problems);
}

function port(env: NodeJS.ProcessEnv, key: string, dflt: number, p: ConfigProblems): number {
  const raw = env[key];
  if (raw === undefined || raw === '') return dflt;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < 0 || n > 65535) {
    p.add(`${key} must be a TCP port (0-65535), got "${raw}"`);
    return dflt;
  }
  return n;
}

function flushMs(env: NodeJS.ProcessEnv, p: ConfigProblems): number {
  const raw = env.MASTER_HEARTBEAT_FLUSH_MS;
  if (raw === undefined || raw === '') return 1000;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < 10 || n > 60_000) {
    p.add(`MASTER_HEARTBEAT_FLUSH_MS must be an integer 10-60000, got "${raw}"`);
    return 1000;
  }
  return n;
}

function int(env: NodeJS.ProcessEnv, key: string, dflt: number, min: number, max: number, p: ConfigProblems) {
  const raw = env[key]?.trim();
  if (raw === undefined || raw === '') return dflt;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < min || n > max) {
    p.add(`${key} must be an integer ${min}-${max}, got "${raw}"`);
    return dflt;
  }
  return n;
}

/**
 * TLS is on unless `MASTER_TLS=off`: then the certificate and key files are required, and the
 * embedded broker's TLS listener (`MQTT_TLS_PORT`, default 8883) serves them too unless
 * `MQTT_TLS_CERT`/`KEY` name others, while its plain listener stays on loopback.
 */
function tls(env: NodeJS.ProcessEnv, p: ConfigProblems): TlsFiles | null {
  const mode = env.MASTER_TLS?.trim() || 'on';
  if (mode !== 'on' && mode !== 'off') {
    p.add(`MASTER_TLS must be on or off, got "${mode}"`);
    return null;
  }
  if (mode === 'off') return null;
  const certFile = env.MASTER_TLS_CERT?.trim() ?? '';
  const keyFile = env.MASTER_TLS_KEY?.trim() ?? '';
  if (certFile === '' || keyFile === '') {
    p.add(
      'MASTER_TLS_CERT and MASTER_TLS_KEY must name the certificate and key files: TLS is on by default (MASTER_TLS=off serves plain HTTP, for a TLS-terminating proxy in front)',
    );
    return null;
  }
  let found = true;
  for (const [key, file] of [
    ['MASTER_TLS_CERT', certFile],
    ['MASTER_TLS_KEY', keyFile],
  ] as const)
    if (!existsSync(file)) {
      p.add(`${key}: file ${file} does not exist`);
      found = false;
    }
  return found ? { certFile: resolve(certFile), keyFile: resolve(keyFile) } : null;
}

const LOOPBACK = /^(127\.\d+\.\d+\.\d+|::1|localhost)$/;

/** With TLS on and the embedded broker: a TLS listener by default, the plain one on loopback only. */
function mqttEnv(env: NodeJS.ProcessEnv, files: TlsFiles | null, p: ConfigProblems): NodeJS.ProcessEnv {
  if (!files || env.MQTT_URL?.trim()) return env;
  const host = env.MQTT_HOST?.trim() || '127.0.0.1';
  if (!LOOPBACK.test(host))
    p.add(
      `MQTT_HOST must be a loopback address while TLS is on (clear-text MQTT stays on this host; nodes use the TLS listener on MQTT_TLS_PORT), got "${host}"`,
    );
  return {
    ...env,
    MQTT_HOST: host,
    MQTT_TLS_PORT: env.MQTT_TLS_PORT?.trim() || '8883',
    MQTT_TLS_CERT: env.MQTT_TLS_CERT?.trim() || files.certFile,
    MQTT_TLS_KEY: env.MQTT_TLS_KEY?.trim() || files.keyFile,
  };
}

/** `MASTER_REQUIRE_2FA`: `none` (default), `all`, or a comma-separated list of roles. */
export function totpRequiredRoles(raw: string | undefined): Role[] {
  const list = (raw ?? '')
    .split(',')
    .map((r) => r.trim().toLowerCase())
    .filter((r) => r !== '');
  const expected = `none, all or a comma-separated list of roles (${ROLES.join(', ')})`;
  if (list.length === 0 || (list.length === 1 && list[0] === 'none')) return [];
  if (list.length === 1 && list[0] === 'all') return [...ROLES];
  const bad = list.find((r) => !(ROLES as readonly string[]).includes(r));
  if (bad !== undefined) throw new ConfigError(`MASTER_REQUIRE_2FA must be ${expected}, got "${raw}"`);
  return [...new Set(list)] as Role[];
}

/** A key file: the variable's path, else `keys/<name>` under the master's data dir. */
function keyFile(env: NodeJS.ProcessEnv, variable: string, name: string): string {
  return resolve(env[variable]?.trim() || join(env.MASTER_DATA_DIR ?? './data/master', 'keys', name));
}

function users(env: NodeJS.ProcessEnv, tlsOn: boolean, p: ConfigProblems): UsersConfig {
  const key = env.MASTER_SESSION_KEY?.trim() || null;
  if (key && key.length < 32) p.add('MASTER_SESSION_KEY must have at least 32 characters');
  // Browsers send a Secure cookie only over HTTPS: on with TLS, and behind a TLS proxy too.
  const secure = env.MASTER_COOKIE_SECURE?.trim() || (tlsOn ? 'on' : 'off');
  if (secure !== 'on' && secure !== 'off') p.add('MASTER_COOKIE_SECURE must be on or off');
  const firstAdminPassword = env.MASTER_ADMIN_PASSWORD || null;
  if (firstAdminPassword)
    p.attempt(() => checkPasswordPolicy(firstAdminPassword, 'admin'), undefined, 'MASTER_ADMIN_PASSWORD: ');
  return {
    sessionTtlS: int(env, 'MASTER_SESSION_HOURS', 12, 1, 720, p) * 3600,
    sessionKey: key,
    sessionKeyFile: keyFile(env, 'MASTER_SESSION_KEY_FILE', 'session.json'),
    secureCookie: secure === 'on',
    firstAdminPassword,
    totpRequiredRoles: p.attempt(() => totpRequiredRoles(env.MASTER_REQUIRE_2FA), []),
  };
}

function httpUrl(env: NodeJS.ProcessEnv, key: string, dflt: string, p: ConfigProblems): string {
  const url = (env[key]?.trim() || dflt).replace(/\/+$/, '');
  if (!/^https?:\/\/[^/\s]+/.test(url) || !URL.canParse(url))
    p.add(`${key} must be an http(s) URL, got "${url}"`);
  return url;
}

function trustProxy(env: NodeJS.ProcessEnv, p: ConfigProblems): string[] {
  const list = (env.MASTER_TRUST_PROXY ?? '')
    .split(',')
    .map((a) => a.trim())
    .filter((a) => a !== '');
  const bad = list.find((a) => !/^[0-9a-fA-F:.]+(\/\d{1,3})?$/.test(a));
  if (bad) p.add(`MASTER_TRUST_PROXY must list IP addresses or CIDRs, got "${bad}"`);
  return list;
}

const LOCAL_DASHBOARD = ['https://127.0.0.1:3000', 'https://localhost:3000'];

/** `scheme://host[:port]` entries of a comma-separated list, each checked. */
function originList(raw: string, key: string, p: ConfigProblems): string[] {
  const list = raw
    .split(',')
    .map((o) => o.trim().replace(/\/+$/, ''))
    .filter((o) => o !== '');
  for (const o of list) {
    if (o === '*' || o === 'null') {
      p.add(`${key} must list the dashboard's origins; "${o}" would let any web page in`);
      continue;
    }
    const url = URL.canParse(o) ? new URL(o) : null;
    if (!url) p.add(`${key}: "${o}" is not an origin such as https://cctv.example.org`);
    else if ((url.protocol !== 'http:' && url.protocol !== 'https:') || url.origin !== o)
      p.add(`${key}: "${o}" is not an origin such as https://cctv.example.org (no path)`);
  }
  return list;
}

/** Allowed browser origins: an explicit list, else the dashboard's public URL(s), else the local one. */
function allowedOrigins(env: NodeJS.ProcessEnv, key: string, p: ConfigProblems): string[] {
  const own = env[key]?.trim();
  if (own) return originList(own, key, p);
  const dashboard = env.DASHBOARD_PUBLIC_URL?.trim();
  if (dashboard) return originList(dashboard, 'DASHBOARD_PUBLIC_URL', p);
  return LOCAL_DASHBOARD;
}

function externalMqtt(env: NodeJS.ProcessEnv, p: ConfigProblems): MasterConfig['externalMqtt'] {
  const url = env.MQTT_URL?.trim();
  if (!url) return null;
  if (!/^(mqtts?|wss?|tcp|ssl):\/\/[^/\s]+/.test(url) || !URL.canParse(url))
    p.add(`MQTT_URL must be an mqtt://, mqtts://, ws:// or wss:// URL, got "${url}"`);
  const shareGroup = env.MQTT_SHARE_GROUP?.trim() || 'cctv-master';
  if (!/^[A-Za-z0-9_-]{1,64}$/.test(shareGroup))
    p.add('MQTT_SHARE_GROUP must be 1-64 letters, digits, _ or -');
  const clientId = env.MASTER_INSTANCE_ID?.trim() || `master-${hostname()}-${process.pid}`;
  return {
    url,
    shareGroup,
    clientId,
    ...(env.MQTT_USERNAME ? { username: env.MQTT_USERNAME } : {}),
    ...(env.MQTT_PASSWORD ? { password: env.MQTT_PASSWORD } : {}),
  };
}

const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'];

/**
 * Reads and validates the master's environment once, at start; throws one ConfigError listing
 * every problem.
 */
export function loadConfig(rawEnv: NodeJS.ProcessEnv = process.env): MasterConfig {
  const p = new ConfigProblems();
  const tlsFiles = tls(rawEnv, p);
  const env = mqttEnv(rawEnv, tlsFiles, p);
  const databaseUrl = env.DATABASE_URL?.trim() || null;
  if (databaseUrl && !/^postgres(ql)?:\/\//.test(databaseUrl))
    p.add('DATABASE_URL must start with postgresql:// or postgres://');
  const logLevel = env.LOG_LEVEL ?? 'info';
  if (!LOG_LEVELS.includes(logLevel)) p.add(`LOG_LEVEL must be one of ${LOG_LEVELS.join(', ')}`);
  const gatewayPublicUrl = httpUrl(env, 'GATEWAY_PUBLIC_URL', 'https://127.0.0.1:8090', p);
  // Shared readers that throw at their first problem; their fallbacks are never returned, since
  // any problem throws below.
  const security = p.attempt(() => loadSecurityConfig(env), {} as SecurityConfig);
  const ice = p.attempt(() => loadIceConfig(env), {} as IceConfig);
  const metricsAccess = p.attempt(() => metricsAccessFromEnv(env, 'MASTER'), {} as MetricsAccess);
  const config: MasterConfig = {
    httpHost: env.MASTER_HTTP_HOST ?? '0.0.0.0',
    httpPort: port(env, 'MASTER_HTTP_PORT', 8080, p),
    tls: tlsFiles,
    mqttHost: env.MQTT_HOST ?? '0.0.0.0',
    mqttPort: port(env, 'MQTT_PORT', 1883, p),
    externalMqtt: externalMqtt(env, p),
    databaseUrl,
    dataDir: resolve(env.MASTER_DATA_DIR ?? './data/master'),
    embeddedPgPort: port(env, 'EMBEDDED_PG_PORT', 54329, p),
    allowedOrigins: allowedOrigins(env, 'MASTER_CORS_ORIGINS', p),
    grantTtlS: int(env, 'MASTER_GRANT_TTL_S', 600, 5, 3600, p),
    grantKeyFile: keyFile(env, 'MASTER_GRANT_KEY_FILE', 'grant.json'),
    trustProxy: trustProxy(env, p),
    heartbeatFlushMs: flushMs(env, p),
    staleAfterMs: int(env, 'MASTER_STALE_AFTER_S', 15, 0, 3600, p) * 1000,
    commandTimeoutMs: int(env, 'MASTER_COMMAND_TIMEOUT_MS', 10_000, 100, 60_000, p),
    faceModel: resolve(env.MASTER_FACE_MODEL?.trim() || DEFAULT_FACE_MODEL),
    security,
    live: {
      ice,
      maxSessionsPerSocket: int(env, 'MASTER_LIVE_MAX_SESSIONS_PER_SOCKET', 16, 1, 256, p),
      offerTimeoutMs: int(env, 'MASTER_LIVE_OFFER_TIMEOUT_MS', 15_000, 1000, 60_000, p),
    },
    users: users(env, tlsFiles !== null, p),
    metricsAccess,
    logLevel,
    gatewayPublicUrl,
    gatewayUrl: httpUrl(env, 'GATEWAY_URL', gatewayPublicUrl, p),
  };
  p.throwIfAny(configError);
  return config;
}
