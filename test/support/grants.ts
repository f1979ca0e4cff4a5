/**
 * Footage grants for tests that read from a storage gateway without going through the master's
 * API: signed with a key published in the test database as the master publishes its own, for
 * a test user, so the gateway checks them exactly as it checks the dashboard's.
 */
import { join } from 'node:path';
import { createPrismaClient } from '@cctv/db';
import { type GrantScope, grantedPath } from '@cctv/protocol';
import { GrantIssuer } from '../../master/src/grants/grant-issuer.ts';
import { loadGrantKey } from '../../master/src/grants/grant-keys.ts';
import { tempDir } from './index.ts';

const issuers = new Map<string, Promise<GrantIssuer>>();

function issuerFor(databaseUrl: string): Promise<GrantIssuer> {
  let issuer = issuers.get(databaseUrl);
  if (!issuer) {
    issuer = (async () => {
      const prisma = createPrismaClient(databaseUrl, 1);
      try {
        // A key of the tests' own (the master's is a file in its data dir), published as the
        // master publishes its: the gateway verifies any published key.
        return new GrantIssuer(
          await loadGrantKey(prisma, join(await tempDir('cctv-grant-key-'), 'grant.json')),
          600,
        );
      } finally {
        await prisma.$disconnect();
      }
    })();
    issuers.set(databaseUrl, issuer);
  }
  return issuer;
}

export interface TestGrant {
  camera: string;
  scope: GrantScope;
  /** The range in ms; all time by default. */
  from?: number;
  to?: number;
  ttlS?: number;
  userId?: string;
}

export async function testGrant(databaseUrl: string, g: TestGrant): Promise<string> {
  const issuer = await issuerFor(databaseUrl);
  const { token } = await issuer.issue({
    userId: g.userId ?? 'test-user',
    cameraId: g.camera,
    scope: g.scope,
    from: new Date(g.from ?? 0),
    to: new Date(g.to ?? 2 ** 46),
    ...(g.ttlS !== undefined ? { ttlS: g.ttlS } : {}),
  });
  return token;
}

/**
 * `base` + `path` (a gateway read path such as `/v1/vod/cam.m3u8?from=…`) under an all-time
 * grant for the path's camera, of the scope the path needs.
 */
export async function grantedUrl(databaseUrl: string, base: string, path: string): Promise<string> {
  const m = /^\/v1\/(vod|live|segments|renditions\/h264|snapshots)\/([^/.?]+)/.exec(path);
  if (!m?.[1] || !m[2]) throw new Error(`not a gateway read path: ${path}`);
  const scope: GrantScope = m[1] === 'live' ? 'live' : m[1] === 'snapshots' ? 'snapshot' : 'vod';
  const token = await testGrant(databaseUrl, { camera: decodeURIComponent(m[2]), scope });
  return `${base}${grantedPath(token, path)}`;
}
