/**
 * What footage grants cost the storage gateway's VOD serving. The same gateway (in process, on
 * one real PostgreSQL, its segments on the local "NAS") serves a VOD playlist and its segments
 * to a load client in another process, with three grant verifiers, alternating in one run:
 *
 * - `grants`: as in production — each grant's Ed25519 signature checked once, then remembered;
 * - `grants, no memory`: every request checks the signature (the worst case);
 * - `no grant check`: fixed claims, no cryptography (the floor), and a second such gateway whose
 *   difference from the first is the noise of the machine.
 *
 * The camera, scope and range checks of each route run in all three. Prints requests per second
 * (median of the rounds, and the spread), and the ratio of `grants` to `no grant check`.
 * Usage: node --import tsx bench/gateway-grants.ts [--seconds 3] [--rounds 9] [--concurrency 16]
 */
import { execFile } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { createPrismaClient } from '@cctv/db';
import { type GrantClaims, grantedPaths, SEGMENT_HEADERS } from '@cctv/protocol';
import { decodeJwt } from 'jose';
import pino from 'pino';
import { enrolNode, NodeCredentialRepository } from '../master/src/auth/node-credentials.ts';
import { GrantIssuer } from '../master/src/grants/grant-issuer.ts';
import { loadGrantKey } from '../master/src/grants/grant-keys.ts';
import { migrateDatabase, startEmbeddedPostgres } from '../prisma/src/index.ts';
import { GrantVerifier, prismaGrantKeys } from '../storage-gateway/src/auth/grant-verifier.ts';
import { loadConfig } from '../storage-gateway/src/config.ts';
import { createGateway } from '../storage-gateway/src/gateway.ts';
import { encodeHlsFootage } from '../test/support/hls-footage.ts';
import { Cleanups, freePort, repoRoot, trustBenchTls, waitFor } from './support.ts';

const run = promisify(execFile);
const arg = (name: string, dflt: number) => {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? Number(process.argv[i + 1]) : dflt;
};
const SECONDS = arg('seconds', 3);
const ROUNDS = arg('rounds', 9);
const CONCURRENCY = arg('concurrency', 16);
const CAMERA = 'bench-cam';
const NODE = 'bench-node';

const cleanups = new Cleanups();
process.on('SIGINT', () => void cleanups.run().then(() => process.exit(130)));

interface Load {
  requests: number;
  bytes: number;
  failed: number;
  p50: number;
  p99: number;
  seconds: number;
}

async function load(base: string, paths: string[], seconds: number): Promise<Load> {
  const { stdout } = await run(
    process.execPath,
    [
      '--import',
      'tsx',
      join(repoRoot, 'bench/support/http-load.ts'),
      JSON.stringify({ base, paths, concurrency: CONCURRENCY, seconds }),
    ],
    { cwd: repoRoot, maxBuffer: 1024 * 1024 },
  );
  return JSON.parse(stdout) as Load;
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] ?? 0;

try {
  // The gateways serve HTTPS, as deployed; this process and the load client trust the CA.
  const tls = await trustBenchTls();
  const dir = await mkdtemp(join(tmpdir(), 'cctv-bench-grants-'));
  cleanups.add('temp dir', () => rm(dir, { recursive: true, force: true }));
  const pgPort = await freePort();
  const pg = await startEmbeddedPostgres({ dataDir: join(dir, 'pg'), port: pgPort });
  cleanups.add('postgres', () => pg.stop());
  await migrateDatabase(pg.url); // the owner's URL: set-up no service role may do
  const prisma = createPrismaClient(pg.url, 8);
  cleanups.add('prisma', () => prisma.$disconnect());

  // The node and its camera as the master registers them; its upload token.
  await prisma.node.create({ data: { id: NODE, cameras: { create: { id: CAMERA, name: CAMERA } } } });
  const { uploadToken } = await enrolNode(new NodeCredentialRepository(prisma), NODE, { rotate: true });
  const grant = (
    await new GrantIssuer(await loadGrantKey(prisma, join(dir, 'grant.json')), 3600).issue({
      userId: 'bench-user',
      cameraId: CAMERA,
      scope: 'vod',
      from: new Date(0),
      to: new Date(2 ** 46),
    })
  ).token;

  // One minute of H.265 at 640×360, 2 s segments, uploaded as an agent does.
  const footage = await encodeHlsFootage(join(dir, 'footage'), {
    codec: 'hevc',
    size: '640x360',
    fps: 25,
    seconds: 60,
  });
  const names = footage.segments.map((s) => s.name);
  const env = {
    DATABASE_URL: pg.url,
    GATEWAY_HOST: '127.0.0.1',
    GATEWAY_PORT: '0',
    GATEWAY_DATA_DIR: join(dir, 'gateway'),
    GATEWAY_NAS_DIR: join(dir, 'nas'),
    GATEWAY_RETENTION_DAYS: '0',
    GATEWAY_NAS_MIN_FREE_PERCENT: '0',
    LOG_LEVEL: 'silent',
    ...tls.serviceEnv,
  };
  const claims = decodeJwt(grant) as unknown as GrantClaims;
  const verifiers = {
    grants: () => new GrantVerifier({ keys: prismaGrantKeys(prisma) }),
    'grants, no memory': () => new GrantVerifier({ keys: prismaGrantKeys(prisma), maxCached: 0 }),
    'no grant check': () => ({ verify: async () => claims, preload: async () => {} }),
    // The same as the line above: how far two identical gateways differ here is the noise.
    'no grant check (again)': () => ({ verify: async () => claims, preload: async () => {} }),
  };
  type Variant = keyof typeof verifiers;

  const startWith = async (variant: Variant) => {
    const gateway = await createGateway({
      config: loadConfig(env),
      logger: pino({ level: 'silent' }),
      prisma,
      grants: verifiers[variant](),
    });
    return { gateway, url: await gateway.start() };
  };

  // Upload once; the NAS mover moves everything before anything is measured.
  {
    const { gateway, url } = await startWith('grants');
    const put = async (name: string, body: Buffer, headers: Record<string, string>) => {
      const { createHash } = await import('node:crypto');
      const res = await fetch(`${url}/v1/segments/${CAMERA}/${name}`, {
        method: 'PUT',
        body: new Uint8Array(body),
        headers: {
          authorization: `Bearer ${uploadToken}`,
          [SEGMENT_HEADERS.node]: NODE,
          [SEGMENT_HEADERS.sha256]: createHash('sha256').update(body).digest('hex'),
          ...headers,
        },
      });
      if (res.status >= 300) throw new Error(`upload ${name}: ${res.status} ${await res.text()}`);
    };
    await put('init-bench.mp4', footage.init, {});
    const t0 = Date.UTC(2026, 0, 1);
    for (const [i, { name, data }] of footage.segments.entries())
      await put(name, data, {
        [SEGMENT_HEADERS.start]: new Date(t0 + i * 2000).toISOString(),
        [SEGMENT_HEADERS.durationMs]: '2000',
        [SEGMENT_HEADERS.init]: 'init-bench.mp4',
        [SEGMENT_HEADERS.codec]: 'hvc1',
      });
    await waitFor('every segment on the NAS', () => gateway.mover.backlog === 0, 60_000);
    await gateway.stop();
  }
  const bytes = footage.segments.reduce((sum, s) => sum + s.data.length, 0);
  console.log(
    `# ${names.length} segments of ${Math.round(bytes / names.length / 1024)} KiB on the NAS; ${CONCURRENCY} connections, ${SECONDS} s per figure, ${ROUNDS} rounds`,
  );

  const playlist = [grantedPaths.vod(grant, CAMERA)];
  const segments = names.map((n) => grantedPaths.segment(grant, CAMERA, n));
  // The three gateways run side by side (idle but for the one measured), so a figure is never
  // taken during another's start-up; short slices alternate between them, in a rotating order.
  const running = new Map<Variant, string>();
  for (const variant of Object.keys(verifiers) as Variant[]) {
    const { gateway, url } = await startWith(variant);
    cleanups.add(`gateway ${variant}`, () => gateway.stop());
    await gateway.reconciled();
    await load(url, [...playlist, ...segments], 2); // warm-up
    running.set(variant, url);
  }
  const results = new Map<
    Variant,
    { playlist: number[]; segment: number[]; mbps: number[]; p99: number[] }
  >();
  for (let round = 0; round < ROUNDS; round++) {
    const order = [...running.keys()];
    for (let r = 0; r < round % order.length; r++) order.push(order.shift() as Variant);
    for (const variant of order) {
      const url = running.get(variant) as string;
      const p = await load(url, playlist, SECONDS);
      const s = await load(url, segments, SECONDS);
      if (p.failed || s.failed) throw new Error(`${variant}: ${p.failed + s.failed} requests failed`);
      const entry = results.get(variant) ?? { playlist: [], segment: [], mbps: [], p99: [] };
      entry.playlist.push(p.requests / p.seconds);
      entry.segment.push(s.requests / s.seconds);
      entry.mbps.push(s.bytes / s.seconds / 1e6);
      entry.p99.push(s.p99);
      results.set(variant, entry);
    }
  }

  const floor = results.get('no grant check');
  console.log(
    '| verifier | playlist req/s | segment req/s | segment MB/s | segment p99 ms | vs no check (playlist, segment) |',
  );
  console.log('|---|---|---|---|---|---|');
  for (const [variant, r] of results) {
    const spread = (xs: number[]) => `${Math.round(Math.min(...xs))}–${Math.round(Math.max(...xs))}`;
    const ratio = (a: number[], b: number[] | undefined) => (b ? (median(a) / median(b)).toFixed(3) : '—');
    console.log(
      `| ${variant} | ${Math.round(median(r.playlist))} (${spread(r.playlist)}) | ${Math.round(median(r.segment))} (${spread(r.segment)}) | ${median(r.mbps).toFixed(1)} | ${median(r.p99).toFixed(1)} | ${ratio(r.playlist, floor?.playlist)}, ${ratio(r.segment, floor?.segment)} |`,
    );
  }

  // The verification itself, without HTTP: a remembered grant and a new one each time.
  const remembered = new GrantVerifier({ keys: prismaGrantKeys(prisma) });
  const fresh = new GrantVerifier({ keys: prismaGrantKeys(prisma), maxCached: 0 });
  await remembered.verify(grant);
  await fresh.verify(grant);
  const perCall = async (v: GrantVerifier, n: number) => {
    const t = process.hrtime.bigint();
    for (let i = 0; i < n; i++) await v.verify(grant);
    return Number(process.hrtime.bigint() - t) / 1e3 / n;
  };
  const grantsSegment = median(results.get('grants')?.segment ?? []);
  const cached = await perCall(remembered, 200_000);
  console.log(
    `# verify(): ${cached.toFixed(2)} µs for a remembered grant, ${(await perCall(fresh, 2000)).toFixed(0)} µs for a signature check; a segment request took ${(1e6 / grantsSegment).toFixed(0)} µs of wall time per request served (${CONCURRENCY} at once)`,
  );
} catch (err) {
  console.error(err);
  process.exitCode = 1;
} finally {
  await cleanups.run();
}
