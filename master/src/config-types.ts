/** What the master reads from its environment (config.ts reads and checks it), by concern. */
import type { Role } from '@cctv/protocol';
import type { MetricsAccess } from '@cctv/tls';
import type { SecurityConfig } from './auth/security-config.ts';
import type { IceConfig } from './live/ice-servers.ts';

export interface TlsFiles {
  certFile: string;
  keyFile: string;
}

export interface MasterConfig {
  httpHost: string;
  httpPort: number;
  /**
   * The API's and websockets' certificate (`MASTER_TLS_CERT`/`MASTER_TLS_KEY`); null only with
   * `MASTER_TLS=off` (a TLS-terminating proxy in front). Also the MQTT TLS listener's default.
   */
  tls: TlsFiles | null;
  mqttHost: string;
  mqttPort: number;
  /** An external broker (`MQTT_URL`): the master connects as a client instead of embedding aedes. */
  externalMqtt: {
    url: string;
    username?: string;
    password?: string;
    shareGroup: string;
    clientId: string;
  } | null;
  /** External PostgreSQL; when null an embedded server is started under `dataDir`. */
  databaseUrl: string | null;
  dataDir: string;
  embeddedPgPort: number;
  /**
   * Origins whose pages may call the API cross-origin, change things and open the websockets:
   * `MASTER_CORS_ORIGINS`, else `DASHBOARD_PUBLIC_URL`, else the local dashboard. Never "any".
   */
  allowedOrigins: string[];
  /** How long a footage grant works (`MASTER_GRANT_TTL_S`). */
  grantTtlS: number;
  /** `MASTER_GRANT_KEY_FILE`: the grant signing keys (0600), default `<dataDir>/keys/grant.json`. */
  grantKeyFile: string;
  /**
   * `MASTER_CAMERA_KEY_FILE`: the AES-256 key that encrypts camera passwords in the desired
   * configuration (0600), default `<dataDir>/keys/camera-secrets.json`; replicas share it.
   */
  cameraKeyFile: string;
  /**
   * Addresses (or CIDRs) of reverse proxies, the dashboard server among them, whose
   * X-Forwarded-For is believed: the login rate limit and the audit log see the real client.
   */
  trustProxy: string[];
  /** Base URL dashboards use to reach the storage gateway (event snapshot links). */
  gatewayPublicUrl: string;
  /** Base URL the master itself reaches the gateway at (exports); defaults to the public one. */
  gatewayUrl: string;
  /** How often the newest heartbeat of each node is written (one statement per flush). */
  heartbeatFlushMs: number;
  /** A node online by its status but without a heartbeat for this long is stale; 0: never. */
  staleAfterMs: number;
  /** The BlazeFace model for exports with faces blurred (`MASTER_FACE_MODEL`). */
  faceModel: string;
  /** How long a command to a node waits for its reply when the request names no timeout. */
  commandTimeoutMs: number;
  /** This master process among several (`MASTER_INSTANCE_ID`, default host name and pid). */
  instanceId: string;
  /**
   * Exports: the folder of finished files (`MASTER_EXPORT_DIR`, default `<dataDir>/exports`;
   * several masters share one, on the NAS), how long a claim on a job lasts unless renewed
   * (`MASTER_EXPORT_LEASE_S`, 30) and how many run at once here (`MASTER_EXPORT_MAX_RUNNING`, 2).
   */
  exports: { dir: string; leaseS: number; maxRunning: number };
  /** Alerts: how often conditions are judged, how deliveries are retried, how long alerts are kept. */
  alerts: AlertsConfig;
  /** Live view: STUN/TURN for browsers, and how many sessions one dashboard socket may hold. */
  live: { ice: IceConfig; maxSessionsPerSocket: number; offerTimeoutMs: number };
  /** MQTT authentication, service accounts, TLS listener, enrolment API. */
  security: SecurityConfig;
  /** Dashboard and API users: sessions, cookie, first admin. */
  users: UsersConfig;
  /** Who may read `/metrics` (`MASTER_METRICS_TOKEN[_FILE]`, `MASTER_METRICS_TOKEN_LOOPBACK`). */
  metricsAccess: MetricsAccess;
  logLevel: string;
  /** The one-line agent install (docs/adr/0016). */
  install: InstallConfig;
}

export interface AlertsConfig {
  /** `MASTER_ALERT_EVAL_MS`: conditions (offline nodes, disks, clocks, the NAS) judged this often. */
  evaluateMs: number;
  /** `MASTER_ALERT_RETRY_BASE_MS`, `_MAX_MS`: a failed send waits base × 2^(attempt−1), at most max. */
  retryBaseMs: number;
  retryMaxMs: number;
  /** `MASTER_ALERT_MAX_ATTEMPTS`: sends of one delivery before it goes to the dead-letter list. */
  maxAttempts: number;
  /** `MASTER_ALERT_SNAPSHOT_TTL_S`: how long a snapshot link in a notification works. */
  snapshotTtlS: number;
  /** `MASTER_ALERT_KEEP_DAYS`: resolved alerts and their deliveries are removed after this. */
  keepDays: number;
  /** `MASTER_TIME_ZONE`: the site's time zone (IANA), for times in emails; default the host's. */
  timeZone: string;
}

export interface InstallConfig {
  /** `MASTER_PUBLIC_URL`: the master's URL as new hosts reach it (in the install line). */
  publicUrl: string;
  /** `MASTER_RELEASE_DIR`: agent releases (`cctv-agent-<version>-linux-<arch>.tar.gz` + `.sha256`). */
  releaseDir: string | null;
  /** `MASTER_CA_CERT`: the CA certificate new nodes pin; null: no install line can be made. */
  caFile: string | null;
  /** The install script served at `/install/agent.sh`. */
  scriptFile: string;
  /** `MASTER_NODE_MQTT_URL`; null: `mqtts://` on the public URL's host and the TLS listener's port. */
  nodeMqttUrl: string | null;
  /** `MASTER_NODE_GATEWAY_URL`: the gateway as nodes reach it; default GATEWAY_PUBLIC_URL. */
  nodeGatewayUrl: string;
}

export interface UsersConfig {
  sessionTtlS: number;
  /** Signs session tokens; null: random keys kept in `sessionKeyFile`, shared by replicas. */
  sessionKey: string | null;
  /** `MASTER_SESSION_KEY_FILE`: the session keys (0600), default `<dataDir>/keys/session.json`. */
  sessionKeyFile: string;
  secureCookie: boolean;
  /** The first admin's password when the database has no user; null: a random one, printed once. */
  firstAdminPassword: string | null;
  /** Roles whose users must sign in with a second factor (`MASTER_REQUIRE_2FA`). */
  totpRequiredRoles: Role[];
}
