/** Test harness: a real gateway (real PostgreSQL, real files, real HTTP) on a free port. */
import { execFile } from 'node:child_process';
import { createHash, randomUUID } from 'node:crypto';
import { mkdir, readdir, readFile } from 'node:fs/promises';
import { request } from 'node:https';
import { join } from 'node:path';
import { after } from 'node:test';
import { promisify } from 'node:util';
import { createPrismaClient, type PrismaClient } from '@cctv/db';
import { SEGMENT_HEADERS } from '@cctv/protocol';
import pino from 'pino';
import { enrolTestNodeFully, registerTestCameras } from '../../test/support/enrol.ts';
import { grantedUrl, type TestGrant, testGrant } from '../../test/support/grants.ts';
import { type TestDatabase, tempDir } from '../../test/support/index.ts';
import { serviceTlsEnv } from '../../test/support/tls.ts';
import { type GatewayConfig, loadConfig } from '../src/config.ts';
import { createGateway, type Gateway } from '../src/gateway.ts';
import type { Delay } from '../src/nas/nas-mover.ts';

const run = promisify(execFile);

export const sha256 = (data: Buffer | string) => createHash('sha256').update(data).digest('hex');

export interface RunningGateway {
  url: string;
  config: GatewayConfig;
  gateway: Gateway;
  /** The gateway's own client, on its role (`cctv_gateway`). */
  prisma: PrismaClient;
  /** The master's role, for rows the master writes (events); the gateway may only read them. */
  setup: PrismaClient;
  stop(): Promise<void>;
}

/** A short pause instead of the configured backoff, so retries happen within the test. */
export const quickDelay: Delay = (ms, signal) =>
  new Promise((resolve) => {
    const done = () => {
      clearTimeout(timer);
      signal.removeEventListener('abort', done);
      resolve();
    };
    const timer = setTimeout(done, Math.min(ms, 25));
    signal.addEventListener('abort', done, { once: true });
  });

/**
 * Upload tokens by gateway URL, enrolled on first use like a real node. Tokens are shared by
 * every gateway on one database: enrolling again would rotate the token of the others.
 */
const credentials = new Map<string, { databaseUrl: string; tokens: Map<string, Promise<string>> }>();
const tokensByDatabase = new Map<string, Map<string, Promise<string>>>();

/** The upload token of `node` at the gateway on `url` (enrols the node the first time). */
export function uploadToken(url: string, node = 'node-1'): Promise<string> {
  const entry = credentials.get(url);
  if (!entry) throw new Error(`no gateway started at ${url}`);
  let token = entry.tokens.get(node);
  if (!token) {
    token = enrolTestNodeFully(entry.databaseUrl, node).then((e) => e.uploadToken);
    entry.tokens.set(node, token);
  }
  return token;
}

const registered = new Map<string, Promise<void>>();

/**
 * Registers `camera` to `node` in the database of the gateway at `url`, as the node's hello
 * to the master would: the gateway takes uploads only from a camera's owner.
 */
export function registerCamera(url: string, node: string, camera: string): Promise<void> {
  const entry = credentials.get(url);
  if (!entry) throw new Error(`no gateway started at ${url}`);
  const key = `${entry.databaseUrl}|${node}|${camera}`;
  let done = registered.get(key);
  if (!done) {
    done = registerTestCameras(entry.databaseUrl, node, [camera]);
    registered.set(key, done);
  }
  return done;
}

/** A read path of the gateway at `url` under an all-time grant for its camera. */
export function granted(url: string, path: string): Promise<string> {
  const entry = credentials.get(url);
  if (!entry) throw new Error(`no gateway started at ${url}`);
  return grantedUrl(entry.databaseUrl, url, path);
}

/** A grant (signed as the master signs them) for reads from the gateway at `url`. */
export function grantFor(url: string, grant: TestGrant): Promise<string> {
  const entry = credentials.get(url);
  if (!entry) throw new Error(`no gateway started at ${url}`);
  return testGrant(entry.databaseUrl, grant);
}

/**
 * An event row as the master writes it (the table is shared): snapshots are read under a grant
 * only by the event they belong to, `<event id>-<n>.jpg`. Returns the event's id.
 */
export async function createEvent(
  prisma: PrismaClient,
  camera: string,
  startedAt = new Date(),
  nodeId = 'node-1',
): Promise<string> {
  const id = randomUUID();
  await prisma.event.create({
    data: {
      id,
      nodeId,
      cameraId: camera,
      type: 'motion',
      startedAt,
      lastAt: startedAt,
      score: 0.5,
      bestAt: startedAt,
      boxes: [],
      zones: [],
      frames: 1,
      lastSeq: 0,
    },
  });
  return id;
}

/** Headers that authenticate an upload as `node`. */
export async function authHeaders(url: string, node = 'node-1'): Promise<Record<string, string>> {
  return { [SEGMENT_HEADERS.node]: node, authorization: `Bearer ${await uploadToken(url, node)}` };
}

/** A gateway in this process on the gateway's role; enrolment and grants as the master's role. */
export async function startGateway(
  db: TestDatabase,
  env: Record<string, string> = {},
  dirs?: { bufferDir: string; nasDir: string },
): Promise<RunningGateway> {
  const root = await tempDir('cctv-gw-');
  const config = loadConfig({
    ...serviceTlsEnv(),
    DATABASE_URL: db.gateway,
    GATEWAY_HOST: '127.0.0.1',
    GATEWAY_PORT: '0',
    GATEWAY_DATA_DIR: root,
    GATEWAY_BUFFER_DIR: dirs?.bufferDir ?? join(root, 'buffer'),
    GATEWAY_NAS_DIR: dirs?.nasDir ?? join(root, 'nas'),
    LOG_LEVEL: process.env.LOG_LEVEL ?? 'silent',
    // Test footage has fixed dates and test disks may be nearly full: retention is off unless a
    // test turns it on.
    GATEWAY_RETENTION_DAYS: '0',
    GATEWAY_NAS_MIN_FREE_PERCENT: '0',
    ...env,
  });
  const prisma = createPrismaClient(db.gateway, 4);
  const setup = createPrismaClient(db.url, 1);
  const databaseUrl = db.url;
  const logger = pino({ level: config.logLevel });
  const gateway = await createGateway({ config, logger, prisma, delay: quickDelay });
  const url = await gateway.start();
  const tokens = tokensByDatabase.get(databaseUrl) ?? new Map<string, Promise<string>>();
  tokensByDatabase.set(databaseUrl, tokens);
  credentials.set(url, { databaseUrl, tokens });
  let stopped = false;
  const stop = async () => {
    if (stopped) return;
    stopped = true;
    await gateway.stop();
    await prisma.$disconnect();
    await setup.$disconnect();
  };
  after(stop);
  return { url, config, gateway, prisma, setup, stop };
}

export interface Upload {
  status: number;
  body: { error?: { code: string; message: string }; status?: string; segment?: Record<string, unknown> };
}

export async function put(
  url: string,
  camera: string,
  name: string,
  data: Buffer,
  headers: Record<string, string> = {},
): Promise<Upload> {
  // Signed as the node the headers name (node-1 when they name none), unless they bring their own.
  const node = headers[SEGMENT_HEADERS.node] ?? 'node-1';
  const auth = 'authorization' in headers || !credentials.has(url) ? {} : await authHeaders(url, node);
  if (credentials.has(url) && /^[a-z0-9][a-z0-9-]{0,62}$/.test(camera))
    await registerCamera(url, node, camera);
  const res = await fetch(`${url}/v1/segments/${camera}/${name}`, {
    method: 'PUT',
    body: new Uint8Array(data),
    headers: {
      'content-type': 'application/octet-stream',
      [SEGMENT_HEADERS.sha256]: sha256(data),
      ...auth,
      ...headers,
    },
  });
  return { status: res.status, body: (await res.json()) as Upload['body'] };
}

export function mediaHeaders(
  start: Date,
  durationMs: number,
  init: string,
  node = 'node-1',
): Record<string, string> {
  return {
    [SEGMENT_HEADERS.node]: node,
    [SEGMENT_HEADERS.start]: start.toISOString(),
    [SEGMENT_HEADERS.durationMs]: String(durationMs),
    [SEGMENT_HEADERS.init]: init,
    [SEGMENT_HEADERS.codec]: 'hvc1',
  };
}

/** Sends a request with the path exactly as given: fetch would normalise `..` away. */
export function rawRequest(
  url: string,
  method: string,
  path: string,
  body: Buffer,
  headers: Record<string, string> = {},
): Promise<{ status: number; body: string }> {
  const { hostname, port } = new URL(url);
  return new Promise((resolve, reject) => {
    const req = request(
      { hostname, port, method, path, headers: { ...headers, 'content-length': body.length } },
      (res) => {
        let text = '';
        res.setEncoding('utf8');
        res.on('data', (c: string) => {
          text += c;
        });
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body: text }));
      },
    );
    req.on('error', reject);
    req.end(body);
  });
}

/** The value of one sample of a metric in Prometheus text format, 0 when absent. */
export async function metric(url: string, name: string, labels = ''): Promise<number> {
  const text = await (await fetch(`${url}/metrics`)).text();
  const line = text.split('\n').find((l) => l.startsWith(labels ? `${name}{${labels}} ` : `${name} `));
  return line ? Number(line.split(' ').pop()) : 0;
}

export interface HlsFixture {
  init: { name: string; data: Buffer };
  segments: { name: string; data: Buffer; durationMs: number }[];
}

/** Encodes a few seconds of test pattern to fMP4 HLS (H.265, hvc1) with real ffmpeg. */
export async function makeHls(dir: string, prefix: string, size = '160x90'): Promise<HlsFixture> {
  const out = join(dir, prefix);
  await mkdir(out, { recursive: true });
  // ffmpeg writes the init and segment names relative to the playlist's directory.
  await run(
    'ffmpeg',
    [
      ...[
        '-hide_banner',
        '-loglevel',
        'error',
        '-f',
        'lavfi',
        '-i',
        `testsrc2=size=${size}:rate=10`,
        '-t',
        '6',
      ],
      ...['-c:v', 'libx265', '-preset', 'ultrafast', '-x265-params', 'log-level=error', '-tag:v', 'hvc1'],
      ...[
        '-g',
        '20',
        '-f',
        'hls',
        '-hls_time',
        '2',
        '-hls_segment_type',
        'fmp4',
        '-hls_playlist_type',
        'vod',
      ],
      ...[
        '-hls_fmp4_init_filename',
        `init-${prefix}.mp4`,
        '-hls_segment_filename',
        join(out, `${prefix}-%03d.m4s`),
      ],
      join(out, 'index.m3u8'),
    ],
    { timeout: 30_000 },
  );
  return readHlsOutput(out, `init-${prefix}.mp4`);
}

/** The init file and the segments (with their durations) of an ffmpeg HLS output folder. */
export async function readHlsOutput(out: string, initName: string): Promise<HlsFixture> {
  const playlist = await readFile(join(out, 'index.m3u8'), 'utf8');
  const segments: HlsFixture['segments'] = [];
  let duration = 0;
  for (const line of playlist.split('\n')) {
    if (line.startsWith('#EXTINF:')) duration = Math.round(Number.parseFloat(line.slice(8)) * 1000);
    else if (line.endsWith('.m4s'))
      segments.push({ name: line, data: await readFile(join(out, line)), durationMs: duration });
  }
  return { init: { name: initName, data: await readFile(join(out, initName)) }, segments };
}

/** Names of every file under `dir`, recursively, relative to it. */
export async function listFiles(dir: string): Promise<string[]> {
  const entries = await readdir(dir, { recursive: true, withFileTypes: true }).catch(() => []);
  return entries
    .filter((e) => e.isFile())
    .map((e) => join(e.parentPath, e.name).slice(dir.length + 1))
    .sort();
}
