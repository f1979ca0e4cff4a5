/**
 * The arm64 agent release (Raspberry Pi 4/5) runs: the tarball scripts/release.ts makes for
 * arm64, started by its own launcher in an arm64 Debian root (Debian's arm64 ffmpeg, the
 * official arm64 Node.js 20) through qemu-user-static, against a real master, storage gateway
 * and test RTSP camera on this machine. Its hello tells the master it is `arm64`, with the
 * release's version; the segments it records are indexed at the gateway with the sha256 of
 * the bytes in its spool; and onnxruntime's arm64 binding, the release's one native part,
 * searches its frames for faces.
 *
 * The root is made from this machine's apt sources and the npm registry and cached
 * (test/support/arm64-root.ts): about half a minute more the first time, seconds after. The
 * agent runs under `chroot`, which shares this machine's network, so it reaches the services
 * on loopback; each run works in an overlay above the cached root with /proc mounted, both
 * undone after the test. Emulation is slow (the agent takes 15 to 25 s to say hello), so the
 * camera is small H.265 recorded as it comes (`-c copy`), analysed at 1 frame per second,
 * with live view off.
 *
 * Root only (chroot, mounts, binfmt_misc); skipped elsewhere with the reason, a failure under
 * CI=true. About a minute with the root cached (45 s of CPU), a minute and a half without.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { copyFile, mkdir, readFile, readlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import { promisify } from 'node:util';
import { createPrismaClient } from '@cctv/db';
import type { NodeView } from '@cctv/protocol';
import { masterPaths } from '@cctv/protocol/master-routes';
import { scanCameraSpool } from '../../node-agent/src/spool/scan.ts';
import { buildRelease } from '../../scripts/release.ts';
import { arm64Root, arm64Unsupported, CHROOT, mountArm64Root } from '../support/arm64-root.ts';
import { startCentral } from '../support/central.ts';
import { enrolTestNodeFully } from '../support/enrol.ts';
import { freePort, onCleanup, startTestDatabase, tempDir, waitFor } from '../support/index.ts';
import { GiveUp, spawnKept } from '../support/plain.ts';
import { rootOnlySkip } from '../support/root-only.ts';
import { ensureRtspServerAvailable, startRtspServer } from '../support/rtsp-server.ts';
import { agentTlsConfig } from '../support/tls.ts';

const run = promisify(execFile);

const NODE_ID = 'arm64-node';
const CAMERA_ID = 'arm64-cam';
const VERSION = '0.1.0-arm64.1';
const SEGMENTS = 3;
/** Where the agent's files are, as it sees them inside the root. */
const ETC = '/etc/cctv-agent';
const VAR = '/var/lib/cctv-agent';

const sha256 = async (path: string) =>
  createHash('sha256')
    .update(await readFile(path))
    .digest('hex');

test('the arm64 agent release runs under qemu-user-static: its hello says arm64, its segments are indexed with their sha256, it searches for faces', {
  skip: rootOnlySkip(await arm64Unsupported()),
  timeout: 600_000,
}, async () => {
  await ensureRtspServerAvailable();
  const started = Date.now();
  const dir = await tempDir('cctv-arm64-');
  // The camera first: its encoder's start is timed, and would starve beside the rest.
  const camera = await startRtspServer({ codec: 'h265', width: 320, height: 180, fps: 10, gop: 20 });
  // The services and the release while the root is made or found.
  const [cached, release, central] = await Promise.all([
    arm64Root((msg) => console.log(msg)),
    buildRelease('agent', { arch: 'arm64', version: VERSION, outDir: join(dir, 'release') }),
    startTestDatabase().then((db) => startCentral(db, dir).then((c) => ({ ...c, dbUrl: db.url }))),
  ]);
  console.log(
    `arm64 root ${cached.built ? 'built' : 'cached'} (${cached.dir}); ready after ${Math.round((Date.now() - started) / 1000)} s`,
  );

  const mount = await mountArm64Root(cached.dir, join(dir, 'arm64'));
  onCleanup(() => mount.unmount());
  const inRoot = (p: string) => join(mount.root, p);
  await mkdir(inRoot('/opt'), { recursive: true });
  await run('tar', ['-xzf', release.tarball, '-C', inRoot('/opt')]);
  await mkdir(inRoot(ETC), { recursive: true });
  const tls = agentTlsConfig();
  await copyFile(tls.ca, inRoot(`${ETC}/ca.crt`));
  const enrolment = await enrolTestNodeFully(central.dbUrl, NODE_ID);
  const metricsPort = await freePort();
  await writeFile(
    inRoot(`${ETC}/agent.yaml`),
    JSON.stringify({
      nodeId: NODE_ID,
      mqtt: { url: central.mqttsUrl, username: NODE_ID, password: enrolment.secret },
      tls: { ca: `${ETC}/ca.crt` },
      gateway: { url: central.gatewayUrl, token: enrolment.uploadToken },
      spool: { dir: `${VAR}/spool`, minFreeBytes: 0 },
      stateDir: `${VAR}/state`,
      heartbeatIntervalS: 2,
      segmentSeconds: 2,
      live: { enabled: false, jsmpeg: { enabled: false } },
      management: 'file',
      httpPort: metricsPort,
      cameras: [
        {
          id: CAMERA_ID,
          name: 'arm64 camera',
          url: camera.url,
          detect: { enabled: true, fps: 1, width: 160, height: 90, faces: { enabled: true } },
        },
      ],
    }),
  );

  // The release as installed on a Pi: its launcher, with Node.js found on PATH.
  const launcher = `/opt/${release.name}/bin/cctv-agent`;
  const agent = spawnKept(CHROOT, [mount.root, launcher, '--config', `${ETC}/agent.yaml`], {
    PATH: '/usr/local/bin:/usr/bin:/bin',
    HOME: '/tmp',
    LOG_LEVEL: 'info',
    NODE_EXTRA_CA_CERTS: `${ETC}/ca.crt`,
  });
  // Registered after the unmount, so it runs before it.
  onCleanup(() => agent.stop('SIGKILL'));
  const failed = (err: Error) =>
    new Error(`${err.message}\n--- agent output ---\n${agent.output().slice(-6000)}`);

  const node = await waitFor(
    'the node online at the master',
    async () => {
      if (agent.exited())
        throw new GiveUp(`the agent exited (${agent.child.exitCode ?? agent.child.signalCode})`);
      const view = await central.admin.getJson<NodeView>(masterPaths.node({ id: NODE_ID })).catch(() => null);
      return view?.state === 'online' && view.arch ? view : null;
    },
    180_000,
    500,
  ).catch((err: Error) => {
    throw failed(err);
  });
  console.log(`hello after ${Math.round((Date.now() - started) / 1000)} s`);
  assert.equal(node.arch, 'arm64', 'the hello reports the arm64 host');
  assert.equal(node.platform, 'linux');
  assert.equal(node.agentVersion, VERSION, 'the release runs, not the sources');
  // The agent is emulated: the kernel runs qemu for it.
  assert.match(await readlink(`/proc/${agent.child.pid}/exe`), /qemu-aarch64/);

  const db = createPrismaClient(central.dbUrl, 2);
  onCleanup(() => db.$disconnect());
  const indexed = () => db.segment.findMany({ where: { cameraId: CAMERA_ID, name: { endsWith: '.m4s' } } });
  await waitFor(
    `${SEGMENTS} segments indexed at the gateway`,
    async () => {
      if (agent.exited())
        throw new GiveUp(`the agent exited (${agent.child.exitCode ?? agent.child.signalCode})`);
      return (await indexed()).length >= SEGMENTS;
    },
    180_000,
    1000,
  ).catch((err: Error) => {
    throw failed(err);
  });
  console.log(`${SEGMENTS} segments indexed after ${Math.round((Date.now() - started) / 1000)} s`);
  // Its ffmpeg is Debian's arm64 one, emulated too.
  const ffmpegPid = Number((await readFile(inRoot(`${VAR}/spool/${CAMERA_ID}/ffmpeg.pid`), 'utf8')).trim());
  assert.match(await readlink(`/proc/${ffmpegPid}/exe`), /qemu-aarch64/);
  assert.match(await readFile(`/proc/${ffmpegPid}/cmdline`, 'utf8'), /\/usr\/bin\/ffmpeg|\bffmpeg\0/);

  // onnxruntime's arm64 binding, the release's one native part, searched frames for faces.
  const inferences = await waitFor(
    'a face search',
    async () => {
      const text = await (await fetch(`http://127.0.0.1:${metricsPort}/metrics`)).text();
      const m = /^cctv_agent_face_inference_seconds_count(?:\{[^}]*\})? (\d+)/m.exec(text);
      return Number(m?.[1] ?? 0) || null;
    },
    120_000,
    1000,
  ).catch((err: Error) => {
    throw failed(err);
  });
  console.log(`${inferences} face searches after ${Math.round((Date.now() - started) / 1000)} s`);
  assert.doesNotMatch(agent.output(), /face model not loaded|face detection failed/);

  await agent.stop('SIGTERM', 30_000);
  const rows = await indexed();
  const spool = await scanCameraSpool(inRoot(`${VAR}/spool`), CAMERA_ID);
  const onDisk = new Map(spool.map((s) => [s.name, s.path]));
  assert.ok(rows.length >= SEGMENTS, `${rows.length} segments indexed`);
  for (const row of rows) {
    const path = onDisk.get(row.name);
    assert.ok(path, `${row.name} is indexed but not in the agent's spool`);
    assert.equal(row.sha256, await sha256(path), `${row.name}: the gateway's sha256`);
    assert.equal(row.nodeId, NODE_ID);
    assert.match(row.codec, /hvc1|hev1|hevc/i, `${row.name}: recorded as the camera sends it`);
  }
  console.log(`${rows.length} segments checked; ${Math.round((Date.now() - started) / 1000)} s in all`);
});
