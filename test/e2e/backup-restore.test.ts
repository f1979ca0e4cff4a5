/**
 * Backup and restore with every part real: a master and a gateway on one PostgreSQL with users
 * (one with a TOTP second factor), events from a node over MQTT, recorded segments uploaded
 * and moved to the NAS, a week of index rows, a camera added through the API. Backed up with
 * the command, restored with the other into a new database and new data folders; then the
 * restored cluster signs the same users in (the second factor too), answers the same events,
 * timelines and desired configuration, and plays the same bytes from the same NAS.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { mkdir, readFile, stat, symlink } from 'node:fs/promises';
import { join } from 'node:path';
import { before, describe, it } from 'node:test';
import { promisify } from 'node:util';
import {
  type EventPage,
  type PlaybackGrant,
  SEGMENT_HEADERS,
  type TimelineView,
  type TotpEnabled,
  type TotpSetup,
  topics,
} from '@cctv/protocol';
import mqtt from 'mqtt';
import { generate } from 'otplib';
import pg from 'pg';
import { startEmbeddedPostgres } from '../../prisma/src/embedded-postgres.ts';
import { eventOf, type Footage, helloOf, makeFootage, sha256 } from '../security/support/cluster.ts';
import { type Central, startCentral } from '../support/central.ts';
import { enrolTestNodeFully } from '../support/enrol.ts';
import { freePort, onCleanup, repoRoot, startTestDatabase, tempDir, waitFor } from '../support/index.ts';
import { signIn } from '../support/session.ts';
import { testTls } from '../support/tls.ts';

const run = promisify(execFile);
const NODE = 'bk-node';
const VIEWER = { username: 'bk.viewer', password: 'bk-viewer-password-1' };
const WEEK_MS = 7 * 24 * 3600_000;
const SEGMENT_MS = 2000;
const code = (secret: string, steps = 0) =>
  generate({ secret, epoch: Math.floor(Date.now() / 1000) + 30 * steps });

/** Runs scripts/backup.ts or restore.ts; resolves with its exit code and output. */
async function command(
  script: 'backup' | 'restore',
  args: string[],
  env: Record<string, string>,
): Promise<{ code: number; out: string }> {
  try {
    const r = await run(process.execPath, ['--import', 'tsx', `scripts/${script}.ts`, ...args], {
      cwd: repoRoot,
      env: { ...process.env, ...env },
      timeout: 60_000,
    });
    return { code: 0, out: r.stdout + r.stderr };
  } catch (err) {
    const e = err as { code?: number; stdout?: string; stderr?: string };
    return { code: e.code ?? -1, out: `${e.stdout ?? ''}${e.stderr ?? ''}` };
  }
}

/** What a user sees of the cluster, to compare before and after. */
interface Seen {
  events: EventPage;
  timelines: TimelineView[];
  config: unknown;
  cameras: unknown;
  segmentNames: string[];
  segmentBytes: string[];
}

describe('backup and restore', () => {
  let dir1: string;
  let dir2: string;
  let c1: Central;
  let footage: Footage;
  let secret = '';
  const t0 = Date.now() - 10 * 60_000;
  const at = (i: number) => new Date(t0 + i * SEGMENT_MS);
  const range = { from: new Date(t0 - WEEK_MS).toISOString(), to: new Date().toISOString() };

  async function seen(c: Central): Promise<Seen> {
    const admin = c.admin;
    const timelines = await Promise.all(
      ['cam-a', 'cam-week'].map((cam) =>
        admin.getJson<TimelineView>(
          `/api/cameras/${cam}/timeline?from=${range.from}&to=${range.to}&buckets=200`,
        ),
      ),
    );
    const res = await admin.postJson('/api/cameras/cam-a/playback', {
      from: at(0).toISOString(),
      to: at(3).toISOString(),
    });
    assert.equal(res.status, 200, await res.clone().text());
    const grant = (await res.json()) as PlaybackGrant;
    const playlist = await (await fetch(grant.playlistUrl)).text();
    const uris = playlist.split('\n').filter((l) => l.includes('.m4s'));
    const segmentBytes: string[] = [];
    for (const uri of uris) {
      const seg = await fetch(new URL(uri, grant.playlistUrl));
      assert.equal(seg.status, 200, uri);
      segmentBytes.push(sha256(Buffer.from(await seg.arrayBuffer())));
    }
    return {
      events: await admin.getJson<EventPage>('/api/events?limit=100'),
      timelines,
      config: await admin.getJson(`/api/config/nodes/${NODE}`),
      cameras: await admin.getJson('/api/config/cameras'),
      segmentNames: uris.map((u) => new URL(u, grant.playlistUrl).pathname.split('/').pop() ?? ''),
      segmentBytes,
    };
  }

  let before1: Seen;
  let adminCookie: string;
  let archive: string;
  let restoreEnv: Record<string, string>;
  let fresh: { urls: { owner: string; master: string; gateway: string }; port: number };

  before(async () => {
    const db = await startTestDatabase();
    dir1 = await tempDir('cctv-bk-1-');
    [c1, footage] = await Promise.all([startCentral(db, dir1), makeFootage()]);
    adminCookie = c1.admin.cookie;

    // A node over the real protocols: hello, events, uploads with its own token.
    const enrolment = await enrolTestNodeFully(db.url, NODE);
    const client = await mqtt.connectAsync(c1.mqttUrl, {
      clientId: `agent-${NODE}`,
      username: NODE,
      password: enrolment.secret,
      reconnectPeriod: 0,
    });
    onCleanup(() => client.endAsync(true));
    await client.publishAsync(topics.hello(NODE), JSON.stringify(helloOf(NODE, ['cam-a', 'cam-week'])), {
      qos: 1,
    });
    const owner = new pg.Client({ connectionString: db.owner });
    await owner.connect();
    onCleanup(() => owner.end());
    await waitFor('cameras registered', async () => {
      const r = await owner.query(`SELECT count(*)::int AS n FROM "Camera" WHERE "nodeId" = $1`, [NODE]);
      return r.rows[0].n === 2;
    });
    const put = (path: string, body: Buffer, headers: Record<string, string>) =>
      fetch(`${c1.gatewayUrl}${path}`, {
        method: 'PUT',
        body: new Uint8Array(body),
        headers: {
          'content-type': 'application/octet-stream',
          [SEGMENT_HEADERS.sha256]: sha256(body),
          [SEGMENT_HEADERS.node]: NODE,
          authorization: `Bearer ${enrolment.uploadToken}`,
          ...headers,
        },
      });
    assert.equal((await put('/v1/segments/cam-a/init-cam-a.mp4', footage.init, {})).status, 201);
    for (const [i, segment] of footage.segments.slice(0, 3).entries()) {
      const res = await put(`/v1/segments/cam-a/cam-a-${i}.m4s`, segment, {
        [SEGMENT_HEADERS.start]: at(i).toISOString(),
        [SEGMENT_HEADERS.durationMs]: String(SEGMENT_MS),
        [SEGMENT_HEADERS.init]: 'init-cam-a.mp4',
        [SEGMENT_HEADERS.codec]: 'avc1',
      });
      assert.equal(res.status, 201, await res.text());
    }
    for (const i of [0, 2])
      await client.publishAsync(topics.events(NODE), JSON.stringify(eventOf(randomUUID(), 'cam-a', at(i))), {
        qos: 1,
      });
    // A week of index rows (one a minute, a gap each hour) of a camera whose files are elsewhere.
    await owner.query(
      `INSERT INTO "Segment" ("cameraId", "nodeId", name, "initName", "startAt", "durationMs", bytes, codec, sha256, location)
       SELECT 'cam-week', $1, 'w-' || i || '.m4s', 'init-w.mp4', $2::timestamptz + i * interval '1 minute',
              60000, 1000, 'avc1', repeat('0', 64), 'nas'
       FROM generate_series(0, 7 * 24 * 60 - 1) AS i WHERE i % 60 <> 59`,
      [NODE, range.from],
    );

    // A viewer with a second factor; a camera added through the API (its password sealed).
    const created = await c1.admin.postJson('/api/users', { ...VIEWER, role: 'viewer', cameras: ['cam-a'] });
    assert.equal(created.status, 201, await created.text());
    const viewer = await signIn(c1.masterUrl, VIEWER.username, VIEWER.password);
    const setup = (await (await viewer.postJson('/api/auth/totp/setup', {})).json()) as TotpSetup;
    const enabled = await viewer.postJson('/api/auth/totp/enable', { code: await code(setup.secret) });
    assert.equal(enabled.status, 200, await enabled.clone().text());
    assert.equal(((await enabled.json()) as TotpEnabled).recoveryCodes.length, 10);
    secret = setup.secret;
    const camera = await c1.admin.postJson('/api/config/cameras', {
      id: 'bk-door',
      nodeId: NODE,
      name: 'Door',
      url: 'rtsp://viewer:Door-s3cret-1@127.0.0.1:8554/door',
      transports: ['tcp'],
    });
    assert.ok(camera.ok, await camera.text());

    await waitFor(
      'segments on the NAS, events stored',
      async () => {
        const s = await owner.query(
          `SELECT count(*)::int AS n FROM "Segment" WHERE "cameraId" = 'cam-a' AND location = 'nas'`,
        );
        const e = await owner.query(`SELECT count(*)::int AS n FROM "Event"`);
        return s.rows[0].n === 3 && e.rows[0].n === 2;
      },
      30_000,
    );
    before1 = await seen(c1);
    assert.equal(before1.segmentNames.length, 3);
    assert.equal(before1.events.events.length, 2);
    await client.endAsync(true);
    await Promise.all([c1.master.kill(), c1.gateway.kill()]);

    // The backup: the master's environment, the owner's URL.
    const tls = testTls();
    dir2 = await tempDir('cctv-bk-2-');
    archive = join(dir2, 'cluster.backup.tar.gz');
    const made = await command('backup', ['--out', archive], {
      DATABASE_OWNER_URL: db.owner,
      MASTER_DATA_DIR: join(dir1, 'master'),
      MASTER_TLS_CERT: tls.certFile,
      MASTER_TLS_KEY: tls.keyFile,
      GATEWAY_DATA_DIR: join(dir1, 'gateway'),
    });
    assert.equal(made.code, 0, made.out);
    assert.equal(made.out.trim().split('\n').pop(), archive);

    // A new, empty database (roles only, nothing migrated) and new folders for the files.
    const port = await freePort();
    const server = await startEmbeddedPostgres({ dataDir: await tempDir('cctv-bk-pg-'), port });
    onCleanup(() => server.stop());
    fresh = { urls: server.urls, port };
    restoreEnv = {
      DATABASE_OWNER_URL: server.urls.owner,
      MASTER_DATA_DIR: join(dir2, 'master'),
      MASTER_TLS_CERT: join(dir2, 'tls', 'master.crt'),
      MASTER_TLS_KEY: join(dir2, 'tls', 'master.key'),
      MASTER_CA_CERT: join(dir2, 'tls', 'ca.crt'),
      GATEWAY_DATA_DIR: join(dir2, 'gateway'),
    };
  });

  it('writes one private file that a changed byte makes unusable', async () => {
    assert.equal((await stat(archive)).mode & 0o777, 0o600);
    const listing = (await run('tar', ['-tzf', archive])).stdout;
    assert.match(listing, /manifest\.json/);
    assert.match(listing, /keys\/session\.json/);
    assert.match(listing, /keys\/camera-secrets\.json/);
    assert.match(listing, /db\/\d+-Segment\.copy/);

    // A part altered inside an otherwise sound archive: refused before anything is touched.
    const work = await tempDir('cctv-bk-tamper-');
    await mkdir(join(work, 'x'));
    await run('tar', ['-xzf', archive, '-C', join(work, 'x')]);
    await run('sh', ['-c', `printf ' ' >> "${join(work, 'x', 'keys', 'grant.json')}"`]);
    const tampered = join(work, 'tampered.tar.gz');
    await run('tar', ['-czf', tampered, '-C', join(work, 'x'), '.']);
    const refused = await command('restore', [tampered], restoreEnv);
    assert.equal(refused.code, 1, refused.out);
    assert.match(refused.out, /does not match its manifest[\s\S]*keys\/grant\.json: \d+ bytes/);
    await assert.rejects(stat(join(dir2, 'master')), 'nothing was written');
  });

  it('restores into a new database and data folder, and refuses to do it twice without --force', async () => {
    const done = await command('restore', [archive], restoreEnv);
    assert.equal(done.code, 0, done.out);
    assert.match(done.out, /restore: schema: applied the backup's \d+ migrations/);
    assert.match(done.out, /restore: data: \d+ tables, \d+ rows loaded and counted/);
    assert.match(done.out, /restore: file: keys\/session\.json -> /);
    for (const name of ['session.json', 'grant.json', 'camera-secrets.json']) {
      const path = join(dir2, 'master', 'keys', name);
      assert.deepEqual(await readFile(path), await readFile(join(dir1, 'master', 'keys', name)), name);
      assert.equal((await stat(path)).mode & 0o777, 0o600, name);
    }
    assert.deepEqual(await readFile(join(dir2, 'tls', 'master.key')), await readFile(testTls().keyFile));

    const again = await command('restore', [archive], restoreEnv);
    assert.equal(again.code, 1, again.out);
    assert.match(
      again.out,
      /the database is not empty \(rows in .*User.*\): restore into a new one, or --force/,
    );
  });

  it('signs the same users in, second factor too, and answers and plays as before', async () => {
    // Footage stays on the NAS: the restored gateway mounts the same one.
    await symlink(join(dir1, 'nas'), join(dir2, 'nas'));
    const c2 = await startCentral({ url: fresh.urls.master, gateway: fresh.urls.gateway } as never, dir2, {
      // What the restore put back, not the run's copies.
      MASTER_TLS_CERT: restoreEnv.MASTER_TLS_CERT ?? '',
      MASTER_TLS_KEY: restoreEnv.MASTER_TLS_KEY ?? '',
    });
    // The session key came back: a session of the old cluster is still good.
    const me = await fetch(`${c2.masterUrl}/api/auth/me`, { headers: { cookie: adminCookie } });
    assert.equal(me.status, 200);

    const noCode = await fetch(`${c2.masterUrl}/api/auth/login`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(VIEWER),
    });
    assert.equal(noCode.status, 401);
    assert.equal(((await noCode.json()) as { error: { code: string } }).error.code, 'TOTP_REQUIRED');
    // The step used to enable it is spent (the restored record says so): the next one signs in.
    const withCode = await fetch(`${c2.masterUrl}/api/auth/login`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ ...VIEWER, totp: await code(secret, 1) }),
    });
    assert.equal(withCode.status, 200, await withCode.clone().text());
    const viewer = { cookie: (withCode.headers.get('set-cookie') ?? '').split(';')[0] ?? '' };
    assert.match(viewer.cookie, /^cctv_session=/);

    const after = await seen(c2);
    assert.deepEqual(after.events, before1.events);
    assert.deepEqual(after.timelines, before1.timelines);
    assert.ok((before1.timelines[1]?.spans.length ?? 0) >= 7 * 24, 'a week of hourly spans');
    assert.deepEqual(after.config, before1.config);
    assert.deepEqual(after.cameras, before1.cameras);
    assert.deepEqual(after.segmentNames, before1.segmentNames);
    assert.deepEqual(after.segmentBytes, before1.segmentBytes);
    assert.deepEqual(
      after.segmentBytes,
      footage.segments.slice(0, 3).map((s) => sha256(s)),
    );
  });
});
