/**
 * The security part of the master's environment: MQTT authentication, service accounts, the
 * TLS listener, the broker's connection and packet limits, and the enrolment API. Throws a
 * plain Error naming the key; `loadConfig` turns it into a ConfigError.
 */
import { existsSync, readFileSync } from 'node:fs';
import { isValidId } from '@cctv/protocol';
import { DEFAULT_MQTT_LIMITS, type MqttLimits } from '../mqtt/connection-gate.ts';
import { MQTT_MAX_REMAINING_LENGTH } from '../mqtt/frame-guard.ts';
import { parseSecretHash } from './secret-hash.ts';

export interface SecurityConfig {
  /** `required`: every MQTT client logs in and is held to its ACL; `off`: the old client-id check. */
  mqttAuth: 'required' | 'off';
  /** How long a verified MQTT password is remembered (ms); 0 checks every CONNECT. */
  mqttAuthCacheMs: number;
  /** Service account name → scrypt hash. */
  mqttServiceAccounts: Map<string, string>;
  /** A second, TLS MQTT listener; null without one. */
  mqttTls: { port: number; host: string; certFile: string; keyFile: string } | null;
  /** What the embedded broker allows before and after a login (both listeners). */
  mqttLimits: MqttLimits;
  /** Serve `POST /api/nodes/:id/credentials` (unauthenticated until user accounts exist). */
  enrolApi: boolean;
}

function oneOf<T extends string>(env: NodeJS.ProcessEnv, key: string, values: T[], dflt: T): T {
  const raw = env[key]?.trim();
  if (raw === undefined || raw === '') return dflt;
  if (!values.includes(raw as T)) throw new Error(`${key} must be one of ${values.join(', ')}, got "${raw}"`);
  return raw as T;
}

/**
 * `name:hash` entries, comma- or newline-separated; `#` starts a comment line. A value starting
 * with `/` or `.` is a file holding such entries (the hashes contain `$`, awkward in env files).
 */
function serviceAccounts(raw: string | undefined): Map<string, string> {
  const accounts = new Map<string, string>();
  let text = raw?.trim() ?? '';
  if (text === '') return accounts;
  const source = text.startsWith('/') || text.startsWith('.') ? text : null;
  if (source) {
    if (!existsSync(source)) throw new Error(`MQTT_SERVICE_ACCOUNTS: file ${source} does not exist`);
    text = readFileSync(source, 'utf8');
  }
  for (const entry of text.split(/[,\n]/).map((e) => e.trim())) {
    if (entry === '' || entry.startsWith('#')) continue;
    const at = entry.indexOf(':');
    const name = entry.slice(0, at);
    const hash = entry.slice(at + 1);
    const where = source ? ` (in ${source})` : '';
    if (at < 0 || !isValidId(name) || name.startsWith('agent-'))
      throw new Error(
        `MQTT_SERVICE_ACCOUNTS${where}: "${name || entry.slice(0, 20)}" is not a valid account name ([a-z0-9][a-z0-9-]{0,62}, not agent-*)`,
      );
    if (!parseSecretHash(hash))
      throw new Error(
        `MQTT_SERVICE_ACCOUNTS${where}: the hash of ${name} is not a scrypt$N$r$p$salt$hash string`,
      );
    if (accounts.has(name)) throw new Error(`MQTT_SERVICE_ACCOUNTS${where}: ${name} appears twice`);
    accounts.set(name, hash);
  }
  return accounts;
}

function tls(env: NodeJS.ProcessEnv): SecurityConfig['mqttTls'] {
  const rawPort = env.MQTT_TLS_PORT?.trim() ?? '';
  const certFile = env.MQTT_TLS_CERT?.trim() ?? '';
  const keyFile = env.MQTT_TLS_KEY?.trim() ?? '';
  if (rawPort === '' && certFile === '' && keyFile === '') return null;
  const port = Number(rawPort);
  if (rawPort === '' || !Number.isInteger(port) || port < 0 || port > 65535)
    throw new Error(
      `MQTT_TLS_PORT must be a TCP port (0-65535) when MQTT_TLS_CERT/KEY are set, got "${rawPort}"`,
    );
  for (const [key, file] of [
    ['MQTT_TLS_CERT', certFile],
    ['MQTT_TLS_KEY', keyFile],
  ] as const) {
    if (file === '') throw new Error(`${key} is required with MQTT_TLS_PORT`);
    if (!existsSync(file)) throw new Error(`${key}: file ${file} does not exist`);
  }
  return { port, host: env.MQTT_TLS_HOST?.trim() || '0.0.0.0', certFile, keyFile };
}

function int(env: NodeJS.ProcessEnv, key: string, min: number, max: number, dflt: number): number {
  const raw = env[key]?.trim() ?? '';
  if (raw === '') return dflt;
  const n = Number(raw);
  if (!/^\d+$/.test(raw) || n < min || n > max)
    throw new Error(`${key} must be an integer ${min}-${max}, got "${raw}"`);
  return n;
}

function limits(env: NodeJS.ProcessEnv): MqttLimits {
  const d = DEFAULT_MQTT_LIMITS;
  return {
    maxPacketBytes: int(env, 'MQTT_MAX_PACKET_BYTES', 1024, MQTT_MAX_REMAINING_LENGTH, d.maxPacketBytes),
    maxConnections: int(env, 'MQTT_MAX_CONNECTIONS', 1, 1_000_000, d.maxConnections),
    maxConnectionsPerAddress: int(
      env,
      'MQTT_MAX_CONNECTIONS_PER_ADDRESS',
      1,
      1_000_000,
      d.maxConnectionsPerAddress,
    ),
    maxPendingPerAddress: int(env, 'MQTT_MAX_PENDING_PER_ADDRESS', 1, 1_000_000, d.maxPendingPerAddress),
    connectTimeoutMs: int(env, 'MQTT_CONNECT_TIMEOUT_MS', 100, 120_000, d.connectTimeoutMs),
  };
}

export function loadSecurityConfig(env: NodeJS.ProcessEnv): SecurityConfig {
  const rawTtl = env.MQTT_AUTH_CACHE_S?.trim() ?? '';
  const ttlS = rawTtl === '' ? 60 : Number(rawTtl);
  if (!Number.isInteger(ttlS) || ttlS < 0 || ttlS > 3600)
    throw new Error(`MQTT_AUTH_CACHE_S must be an integer 0-3600, got "${rawTtl}"`);
  return {
    mqttAuth: oneOf(env, 'MQTT_AUTH', ['required', 'off'], 'required'),
    mqttAuthCacheMs: ttlS * 1000,
    mqttServiceAccounts: serviceAccounts(env.MQTT_SERVICE_ACCOUNTS),
    mqttTls: tls(env),
    mqttLimits: limits(env),
    enrolApi: oneOf(env, 'MASTER_ENROL_API', ['on', 'off'], 'off') === 'on',
  };
}
