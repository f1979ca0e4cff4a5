/**
 * The master's environment, read and checked once at start: a TypeBox schema of its variables,
 * then the rules across them, every bad variable listed at once (@cctv/protocol/config-check).
 * The shape is config-types.ts; each variable is documented in master/README.md. Over 300
 * lines on purpose: the one schema of every variable and the rules between them.
 */
import { existsSync } from 'node:fs';
import { hostname } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { ROLES, type Role } from '@cctv/protocol';
import { ConfigProblems, checkEnv, EnvInteger, EnvOneOf, EnvText, envInt } from '@cctv/protocol/config-check';
import { type MetricsAccess, metricsAccessFromEnv } from '@cctv/tls';
import { Type } from '@sinclair/typebox';
import { isTimeZone } from './alerts/schedule.ts';
import { checkPasswordPolicy } from './auth/password.ts';
import { loadSecurityConfig, type SecurityConfig } from './auth/security-config.ts';
import type { InstallConfig, MasterConfig, TlsFiles, UsersConfig } from './config-types.ts';
import { type IceConfig, loadIceConfig } from './live/ice-servers.ts';

export type { InstallConfig, MasterConfig, TlsFiles, UsersConfig } from './config-types.ts';

/**
 * The face model: in a release, its models/ folder; in the sources, where
 * `node scripts/bootstrap.mjs` puts it (it checks its sha256).
 */
const RELEASE_FACE_MODEL = new URL('../models/blazeface-back-256.onnx', import.meta.url).pathname;
const DEFAULT_FACE_MODEL = existsSync(RELEASE_FACE_MODEL)
  ? RELEASE_FACE_MODEL
  : new URL('../../node-agent/models/blazeface-back-256.onnx', import.meta.url).pathname;

/**
 * The agent install script: in a release, its install/ folder; in the sources, deploy/install/.
 */
const RELEASE_INSTALL_SCRIPT = new URL('../install/agent.sh', import.meta.url).pathname;
const INSTALL_SCRIPT = existsSync(RELEASE_INSTALL_SCRIPT)
  ? RELEASE_INSTALL_SCRIPT
  : new URL('../../deploy/install/agent.sh', import.meta.url).pathname;

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

const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'];
const port = () => EnvInteger(0, 65535, 'must be a TCP port (0-65535), got "{value}"');
const int = (min: number, max: number) =>
  EnvInteger(min, max, `must be an integer ${min}-${max}, got "{value}"`);
const onOff = (problem: string) => EnvOneOf(['on', 'off'], problem);
const httpUrlVar = () =>
  EnvText({ pattern: '^\\s*https?://[^/\\s]+', problem: 'must be an http(s) URL, got "{value}"' });

/**
 * The master's own variables and their form; lists, files and rules across variables are
 * checked in code below. The security, live-view and metrics readers read theirs themselves.
 */
const MasterEnv = Type.Object({
  MASTER_HTTP_HOST: EnvText(),
  MASTER_HTTP_PORT: port(),
  MASTER_TLS: onOff('must be on or off, got "{value}"'),
  MASTER_TLS_CERT: EnvText(),
  MASTER_TLS_KEY: EnvText(),
  MQTT_HOST: EnvText(),
  MQTT_PORT: port(),
  MQTT_URL: EnvText({
    pattern: '^\\s*(mqtts?|wss?|tcp|ssl)://[^/\\s]+',
    problem: 'must be an mqtt://, mqtts://, ws:// or wss:// URL, got "{value}"',
  }),
  MQTT_SHARE_GROUP: EnvText({
    pattern: '^\\s*[A-Za-z0-9_-]{1,64}\\s*$',
    problem: 'must be 1-64 letters, digits, _ or -',
  }),
  MQTT_USERNAME: EnvText(),
  MQTT_PASSWORD: EnvText(),
  MASTER_INSTANCE_ID: EnvText(),
  DATABASE_URL: EnvText({
    pattern: '^\\s*postgres(ql)?://',
    problem: 'must start with postgresql:// or postgres://',
  }),
  MASTER_DATA_DIR: EnvText(),
  EMBEDDED_PG_PORT: port(),
  MASTER_CORS_ORIGINS: EnvText(),
  DASHBOARD_PUBLIC_URL: EnvText(),
  MASTER_GRANT_TTL_S: int(5, 3600),
  MASTER_GRANT_KEY_FILE: EnvText(),
  MASTER_CAMERA_KEY_FILE: EnvText(),
  MASTER_TRUST_PROXY: EnvText(),
  MASTER_HEARTBEAT_FLUSH_MS: int(10, 60_000),
  MASTER_STALE_AFTER_S: int(0, 3600),
  MASTER_COMMAND_TIMEOUT_MS: int(100, 60_000),
  MASTER_EXPORT_DIR: EnvText(),
  MASTER_EXPORT_LEASE_S: int(3, 3600),
  MASTER_EXPORT_MAX_RUNNING: int(1, 64),
  MASTER_ALERT_EVAL_MS: int(200, 600_000),
  MASTER_ALERT_RETRY_BASE_MS: int(100, 600_000),
  MASTER_ALERT_RETRY_MAX_MS: int(100, 86_400_000),
  MASTER_ALERT_MAX_ATTEMPTS: int(1, 1000),
  MASTER_ALERT_SNAPSHOT_TTL_S: int(60, 7 * 86_400),
  MASTER_ALERT_KEEP_DAYS: int(1, 3650),
  MASTER_TIME_ZONE: EnvText({
    pattern: '^[A-Za-z0-9_+/-]{1,64}$',
    problem: 'must be an IANA time zone such as Europe/Berlin, got "{value}"',
  }),
  MASTER_FACE_MODEL: EnvText(),
  MASTER_LIVE_MAX_SESSIONS_PER_SOCKET: int(1, 256),
  MASTER_LIVE_OFFER_TIMEOUT_MS: int(1000, 60_000),
  MASTER_SESSION_KEY: EnvText({
    pattern: '^\\s*\\S[\\s\\S]{30,}\\S\\s*$',
    problem: 'must have at least 32 characters',
  }),
  MASTER_SESSION_KEY_FILE: EnvText(),
  MASTER_SESSION_HOURS: int(1, 720),
  MASTER_COOKIE_SECURE: onOff('must be on or off'),
  MASTER_ADMIN_PASSWORD: EnvText(),
  MASTER_REQUIRE_2FA: EnvText(),
  LOG_LEVEL: EnvOneOf(LOG_LEVELS, `must be one of ${LOG_LEVELS.join(', ')}`),
  GATEWAY_PUBLIC_URL: httpUrlVar(),
  GATEWAY_URL: httpUrlVar(),
  MASTER_PUBLIC_URL: httpUrlVar(),
  MASTER_RELEASE_DIR: EnvText(),
  MASTER_CA_CERT: EnvText(),
  MASTER_NODE_MQTT_URL: EnvText({
    pattern: '^\\s*mqtts?://[^/\\s]+',
    problem: 'must be an mqtts:// (or mqtt://) URL, got "{value}"',
  }),
  MASTER_NODE_GATEWAY_URL: httpUrlVar(),
});
type Env = Partial<Record<keyof typeof MasterEnv.properties, string>>;

/**
 * TLS is on unless `MASTER_TLS=off`: then the certificate and key files are required, and the
 * embedded broker's TLS listener (`MQTT_TLS_PORT`, default 8883) serves them too unless
 * `MQTT_TLS_CERT`/`KEY` name others, while its plain listener stays on loopback.
 */
function tls(e: Env, p: ConfigProblems): TlsFiles | null {
  const mode = e.MASTER_TLS?.trim() || 'on';
  if (mode !== 'on') return null; // off, or malformed (reported by the schema)
  const certFile = e.MASTER_TLS_CERT?.trim() ?? '';
  const keyFile = e.MASTER_TLS_KEY?.trim() ?? '';
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

/**
 * With TLS on and the embedded broker: a TLS listener by default, the plain one on loopback
 * only. The plain listener's host, and the environment the security reader sees.
 */
function mqttListeners(
  env: NodeJS.ProcessEnv,
  e: Env,
  files: TlsFiles | null,
  p: ConfigProblems,
): { host: string; env: NodeJS.ProcessEnv } {
  if (!files || e.MQTT_URL?.trim()) return { host: e.MQTT_HOST ?? '0.0.0.0', env };
  const host = e.MQTT_HOST?.trim() || '127.0.0.1';
  if (!LOOPBACK.test(host))
    p.add(
      `MQTT_HOST must be a loopback address while TLS is on (clear-text MQTT stays on this host; nodes use the TLS listener on MQTT_TLS_PORT), got "${host}"`,
    );
  return {
    host,
    env: {
      ...env,
      MQTT_TLS_PORT: env.MQTT_TLS_PORT?.trim() || '8883',
      MQTT_TLS_CERT: env.MQTT_TLS_CERT?.trim() || files.certFile,
      MQTT_TLS_KEY: env.MQTT_TLS_KEY?.trim() || files.keyFile,
    },
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
function keyFile(
  e: Env,
  variable: 'MASTER_SESSION_KEY_FILE' | 'MASTER_GRANT_KEY_FILE' | 'MASTER_CAMERA_KEY_FILE',
  name: string,
): string {
  return resolve(e[variable]?.trim() || join(e.MASTER_DATA_DIR ?? './data/master', 'keys', name));
}

function users(e: Env, tlsOn: boolean, p: ConfigProblems): UsersConfig {
  // Browsers send a Secure cookie only over HTTPS: on with TLS, and behind a TLS proxy too.
  const secure = e.MASTER_COOKIE_SECURE?.trim() || (tlsOn ? 'on' : 'off');
  const firstAdminPassword = e.MASTER_ADMIN_PASSWORD || null;
  if (firstAdminPassword)
    p.attempt(() => checkPasswordPolicy(firstAdminPassword, 'admin'), undefined, 'MASTER_ADMIN_PASSWORD: ');
  return {
    sessionTtlS: envInt(e.MASTER_SESSION_HOURS, 12) * 3600,
    sessionKey: e.MASTER_SESSION_KEY?.trim() || null,
    sessionKeyFile: keyFile(e, 'MASTER_SESSION_KEY_FILE', 'session.json'),
    secureCookie: secure === 'on',
    firstAdminPassword,
    totpRequiredRoles: p.attempt(() => totpRequiredRoles(e.MASTER_REQUIRE_2FA), []),
  };
}

/** An http(s) URL without its trailing slashes; the schema checked its scheme, this that it parses. */
function httpUrl(raw: string | undefined, key: string, dflt: string, p: ConfigProblems): string {
  const url = (raw?.trim() || dflt).replace(/\/+$/, '');
  if (/^https?:\/\/[^/\s]+/.test(url) && !URL.canParse(url))
    p.add(`${key} must be an http(s) URL, got "${url}"`);
  return url;
}

function trustProxy(e: Env, p: ConfigProblems): string[] {
  const list = (e.MASTER_TRUST_PROXY ?? '')
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
function allowedOrigins(e: Env, p: ConfigProblems): string[] {
  const own = e.MASTER_CORS_ORIGINS?.trim();
  if (own) return originList(own, 'MASTER_CORS_ORIGINS', p);
  const dashboard = e.DASHBOARD_PUBLIC_URL?.trim();
  if (dashboard) return originList(dashboard, 'DASHBOARD_PUBLIC_URL', p);
  return LOCAL_DASHBOARD;
}

/** `MASTER_INSTANCE_ID`: this master process among several (its MQTT client id, its export claims). */
function instanceId(e: Env): string {
  return e.MASTER_INSTANCE_ID?.trim() || `master-${hostname()}-${process.pid}`;
}

function externalMqtt(e: Env, p: ConfigProblems): MasterConfig['externalMqtt'] {
  const url = e.MQTT_URL?.trim();
  if (!url) return null;
  // The schema checked the scheme; this, that the rest parses.
  if (/^(mqtts?|wss?|tcp|ssl):\/\/[^/\s]+/.test(url) && !URL.canParse(url))
    p.add(`MQTT_URL must be an mqtt://, mqtts://, ws:// or wss:// URL, got "${url}"`);
  return {
    url,
    shareGroup: e.MQTT_SHARE_GROUP?.trim() || 'cctv-master',
    clientId: instanceId(e),
    ...(e.MQTT_USERNAME ? { username: e.MQTT_USERNAME } : {}),
    ...(e.MQTT_PASSWORD ? { password: e.MQTT_PASSWORD } : {}),
  };
}

/**
 * The one-line install (docs/adr/0016): the master's URL for new hosts (default: its own
 * address and port, or this machine's name when it listens on every address), the agent
 * releases, and the CA new nodes trust (default: `ca.crt` beside MASTER_TLS_CERT, else the CA
 * the master itself trusts, NODE_EXTRA_CA_CERTS).
 */
function install(
  rawEnv: NodeJS.ProcessEnv,
  e: Env,
  files: TlsFiles | null,
  gatewayPublicUrl: string,
  p: ConfigProblems,
): InstallConfig {
  const host = e.MASTER_HTTP_HOST?.trim() || '0.0.0.0';
  const ownHost = ['0.0.0.0', '::', ''].includes(host) ? hostname() : host.includes(':') ? `[${host}]` : host;
  // A malformed port is reported by the schema; the default URL then takes the default port.
  const port = envInt(e.MASTER_HTTP_PORT, 8080);
  const ownUrl = `${files ? 'https' : 'http'}://${ownHost}:${Number.isInteger(port) ? port : 8080}`;
  const releaseDir = e.MASTER_RELEASE_DIR?.trim() || null;
  if (releaseDir && !existsSync(releaseDir)) p.add(`MASTER_RELEASE_DIR: folder ${releaseDir} does not exist`);
  const besideCert = files ? join(dirname(files.certFile), 'ca.crt') : null;
  const caFile =
    e.MASTER_CA_CERT?.trim() ||
    (besideCert && existsSync(besideCert) ? besideCert : null) ||
    rawEnv.NODE_EXTRA_CA_CERTS?.trim() ||
    null;
  if (e.MASTER_CA_CERT?.trim() && !existsSync(e.MASTER_CA_CERT.trim()))
    p.add(`MASTER_CA_CERT: file ${e.MASTER_CA_CERT.trim()} does not exist`);
  return {
    publicUrl: httpUrl(e.MASTER_PUBLIC_URL, 'MASTER_PUBLIC_URL', ownUrl, p),
    releaseDir: releaseDir && resolve(releaseDir),
    caFile: caFile && resolve(caFile),
    scriptFile: INSTALL_SCRIPT,
    nodeMqttUrl: e.MASTER_NODE_MQTT_URL?.trim() || null,
    nodeGatewayUrl: httpUrl(e.MASTER_NODE_GATEWAY_URL, 'MASTER_NODE_GATEWAY_URL', gatewayPublicUrl, p),
  };
}

/**
 * Reads and validates the master's environment once, at start: the schema first (every
 * malformed variable), then the rules in code; throws one ConfigError listing every problem.
 */
export function loadConfig(rawEnv: NodeJS.ProcessEnv = process.env): MasterConfig {
  const p = new ConfigProblems();
  const e = checkEnv(MasterEnv, rawEnv, p);
  const tlsFiles = tls(e, p);
  const mqtt = mqttListeners(rawEnv, e, tlsFiles, p);
  const gatewayPublicUrl = httpUrl(e.GATEWAY_PUBLIC_URL, 'GATEWAY_PUBLIC_URL', 'https://127.0.0.1:8090', p);
  // Shared readers that throw at their first problem; their fallbacks are never returned, since
  // any problem throws below.
  const security = p.attempt(() => loadSecurityConfig(mqtt.env), {} as SecurityConfig);
  const ice = p.attempt(() => loadIceConfig(rawEnv), {} as IceConfig);
  const metricsAccess = p.attempt(() => metricsAccessFromEnv(rawEnv, 'MASTER'), {} as MetricsAccess);
  const config: MasterConfig = {
    httpHost: e.MASTER_HTTP_HOST ?? '0.0.0.0',
    httpPort: envInt(e.MASTER_HTTP_PORT, 8080),
    tls: tlsFiles,
    mqttHost: mqtt.host,
    mqttPort: envInt(e.MQTT_PORT, 1883),
    externalMqtt: externalMqtt(e, p),
    databaseUrl: e.DATABASE_URL?.trim() || null,
    dataDir: resolve(e.MASTER_DATA_DIR ?? './data/master'),
    embeddedPgPort: envInt(e.EMBEDDED_PG_PORT, 54329),
    allowedOrigins: allowedOrigins(e, p),
    grantTtlS: envInt(e.MASTER_GRANT_TTL_S, 600),
    grantKeyFile: keyFile(e, 'MASTER_GRANT_KEY_FILE', 'grant.json'),
    cameraKeyFile: keyFile(e, 'MASTER_CAMERA_KEY_FILE', 'camera-secrets.json'),
    trustProxy: trustProxy(e, p),
    heartbeatFlushMs: envInt(e.MASTER_HEARTBEAT_FLUSH_MS, 1000),
    staleAfterMs: envInt(e.MASTER_STALE_AFTER_S, 15) * 1000,
    commandTimeoutMs: envInt(e.MASTER_COMMAND_TIMEOUT_MS, 10_000),
    instanceId: instanceId(e),
    exports: {
      dir: resolve(e.MASTER_EXPORT_DIR?.trim() || join(e.MASTER_DATA_DIR ?? './data/master', 'exports')),
      leaseS: envInt(e.MASTER_EXPORT_LEASE_S, 30),
      maxRunning: envInt(e.MASTER_EXPORT_MAX_RUNNING, 2),
    },
    faceModel: resolve(e.MASTER_FACE_MODEL?.trim() || DEFAULT_FACE_MODEL),
    alerts: {
      evaluateMs: envInt(e.MASTER_ALERT_EVAL_MS, 5000),
      retryBaseMs: envInt(e.MASTER_ALERT_RETRY_BASE_MS, 2000),
      retryMaxMs: envInt(e.MASTER_ALERT_RETRY_MAX_MS, 600_000),
      maxAttempts: envInt(e.MASTER_ALERT_MAX_ATTEMPTS, 20),
      snapshotTtlS: envInt(e.MASTER_ALERT_SNAPSHOT_TTL_S, 86_400),
      keepDays: envInt(e.MASTER_ALERT_KEEP_DAYS, 90),
      timeZone: timeZone(e.MASTER_TIME_ZONE, p),
    },
    security,
    live: {
      ice,
      maxSessionsPerSocket: envInt(e.MASTER_LIVE_MAX_SESSIONS_PER_SOCKET, 16),
      offerTimeoutMs: envInt(e.MASTER_LIVE_OFFER_TIMEOUT_MS, 15_000),
    },
    users: users(e, tlsFiles !== null, p),
    metricsAccess,
    logLevel: e.LOG_LEVEL?.trim() ?? 'info',
    gatewayPublicUrl,
    gatewayUrl: httpUrl(e.GATEWAY_URL, 'GATEWAY_URL', gatewayPublicUrl, p),
    install: install(rawEnv, e, tlsFiles, gatewayPublicUrl, p),
  };
  p.throwIfAny(configError);
  return config;
}

/** `MASTER_TIME_ZONE`: the site's zone (times in emails); default the host's. */
function timeZone(value: string | undefined, p: ConfigProblems): string {
  const zone = value?.trim() || Intl.DateTimeFormat().resolvedOptions().timeZone || 'UTC';
  if (!isTimeZone(zone)) p.add(`MASTER_TIME_ZONE: unknown time zone "${zone}"`);
  return zone;
}
