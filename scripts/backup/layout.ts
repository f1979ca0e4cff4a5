/**
 * Where a cluster keeps what a backup carries besides the database: the signing and sealing
 * keys, TLS files, the embedded server's role passwords, event snapshots. Two layouts, read
 * the way the services read them:
 *
 * - `checkout`: the data folder of `npm start` (CCTV_DATA_DIR, default ./data) and its
 *   embedded PostgreSQL (EMBEDDED_PG_PORT, default 54329).
 * - `env`: a release, run with the master's environment (its EnvironmentFile): DATABASE_URL
 *   (DATABASE_OWNER_URL first: the owner role reads every table), MASTER_DATA_DIR and the
 *   MASTER_*_KEY_FILE variables, MASTER_TLS_CERT/KEY, MASTER_CA_CERT or NODE_EXTRA_CA_CERTS,
 *   and GATEWAY_SNAPSHOT_DIR or GATEWAY_DATA_DIR where the gateway shares the host.
 *
 * Each file has a name in the archive of its own (`keys/session.json`), so a restore puts it
 * where the restoring host's layout keeps it, which need not be the same path.
 */
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';

export interface Place {
  /** Name in the archive: a file, or a folder whose whole tree is carried. */
  part: string;
  path: string;
  kind: 'file' | 'dir';
}

export type Database =
  | { kind: 'external'; ownerUrl: string }
  | { kind: 'embedded'; pgDir: string; port: number };

export interface Layout {
  name: 'checkout' | 'env';
  database: Database;
  places: Place[];
}

export interface Software {
  /** The checkout's root, or the release's folder. */
  root: string;
  /** `cctv-cluster` (a checkout) or `cctv-master` (a release). */
  name: string;
  version: string;
}

/** The package this code runs from: the first package.json above it. */
export function software(from = import.meta.dirname): Software {
  for (let dir = from; ; dir = dirname(dir)) {
    const path = join(dir, 'package.json');
    if (existsSync(path)) {
      const pkg = JSON.parse(readFileSync(path, 'utf8')) as { name?: string; version?: string };
      return { root: dir, name: pkg.name ?? '', version: pkg.version ?? '' };
    }
    if (dir === dirname(dir)) return { root: from, name: '', version: '' };
  }
}

export function layoutFromEnv(env: NodeJS.ProcessEnv = process.env, sw = software()): Layout {
  const ownerUrl = env.DATABASE_OWNER_URL?.trim() || env.DATABASE_URL?.trim();
  if (ownerUrl) return envLayout(env, ownerUrl);
  if (sw.name !== 'cctv-cluster')
    throw new Error(
      "set DATABASE_OWNER_URL (the owner role, cctv_owner) with the master's environment: a release has no embedded database",
    );
  const dataDir = resolve(sw.root, env.CCTV_DATA_DIR?.trim() || 'data');
  const pgDir = join(dataDir, 'master', 'postgres');
  const roles = ['owner', 'master', 'gateway'].map<Place>((role) => ({
    part: `postgres-roles/${role}`,
    path: join(pgDir, 'roles', role),
    kind: 'file',
  }));
  return {
    name: 'checkout',
    database: { kind: 'embedded', pgDir, port: Number(env.EMBEDDED_PG_PORT ?? 54329) },
    places: [
      { part: 'keys', path: join(dataDir, 'master', 'keys'), kind: 'dir' },
      { part: 'tls', path: join(dataDir, 'tls'), kind: 'dir' },
      ...roles,
      { part: 'agent/agent.yaml', path: join(dataDir, 'agent', 'agent.yaml'), kind: 'file' },
      { part: 'snapshots', path: join(dataDir, 'gateway', 'snapshots'), kind: 'dir' },
    ],
  };
}

function envLayout(env: NodeJS.ProcessEnv, ownerUrl: string): Layout {
  if (!/^postgres(ql)?:\/\//.test(ownerUrl))
    throw new Error('DATABASE_OWNER_URL (or DATABASE_URL) must be a postgresql:// URL of the owner role');
  const masterData = resolve(env.MASTER_DATA_DIR?.trim() || './data/master');
  // The master's own rule (master/src/config.ts): the variable, else keys/<name> in its data dir.
  const key = (variable: string, name: string): Place => ({
    part: `keys/${name}`,
    path: resolve(env[variable]?.trim() || join(masterData, 'keys', name)),
    kind: 'file',
  });
  const places: Place[] = [
    key('MASTER_SESSION_KEY_FILE', 'session.json'),
    key('MASTER_GRANT_KEY_FILE', 'grant.json'),
    key('MASTER_CAMERA_KEY_FILE', 'camera-secrets.json'),
  ];
  const file = (part: string, path: string | undefined) => {
    if (path?.trim()) places.push({ part, path: resolve(path.trim()), kind: 'file' });
  };
  file('tls/master.crt', env.MASTER_TLS_CERT);
  file('tls/master.key', env.MASTER_TLS_KEY);
  file('tls/ca.crt', env.MASTER_CA_CERT?.trim() || env.NODE_EXTRA_CA_CERTS);
  const snapshots =
    env.GATEWAY_SNAPSHOT_DIR?.trim() ||
    (env.GATEWAY_DATA_DIR?.trim() ? join(env.GATEWAY_DATA_DIR.trim(), 'snapshots') : '');
  if (snapshots) places.push({ part: 'snapshots', path: resolve(snapshots), kind: 'dir' });
  return { name: 'env', database: { kind: 'external', ownerUrl }, places };
}
