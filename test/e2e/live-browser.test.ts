/**
 * Live view end to end, in Chromium against a real master, storage gateway and agent reading
 * a real RTSP camera: the camera page plays WebRTC from the agent (frames decoded keep
 * increasing, audio as Opus where the camera has it), ends and reopens the view when the
 * camera restarts, and falls back on its own to live HLS (no WebRTC) and to jsmpeg (neither
 * WebRTC nor Media Source Extensions). Signalling refuses cameras a user may not see and
 * viewers beyond the camera's limit; a viewer leaving tears its session down on the agent.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { promisify } from 'node:util';
import type { LiveServerMessage } from '@cctv/protocol';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import type { WebSocket } from 'ws';
import { launchChromium } from '../support/browser.ts';
import { startCentral } from '../support/central.ts';
import { ensureDashboardBuild, openDashboard } from '../support/dashboard.ts';
import { enrolTestNodeFully } from '../support/enrol.ts';
import {
  freePort,
  processAlive,
  startService,
  startTestDatabase,
  tempDir,
  waitFor,
} from '../support/index.ts';
import { startRtspServer } from '../support/rtsp-server.ts';
import { signIn } from '../support/session.ts';
import { agentTlsConfig } from '../support/tls.ts';

const run = promisify(execFile);
const NODE_ID = 'e2e-live-node';
const CAMERA = 'live-cam';
const AUDIO_CAMERA = 'live-audio';

ensureDashboardBuild();
const dir = await tempDir('cctv-e2e-live-');
const db = await startTestDatabase();
const [jsmpegPort, agentHttpPort] = await Promise.all([freePort(), freePort()]);

// A camera that sends H.264 with a keyframe every second, and a looped file with AAC audio.
const camera = await startRtspServer({ codec: 'h264', width: 320, height: 180, fps: 10, gop: 10 });
const audioClip = join(dir, 'with-audio.mp4');
await run('ffmpeg', [
  ...['-hide_banner', '-loglevel', 'error', '-f', 'lavfi', '-i', 'testsrc2=size=320x180:rate=10'],
  ...['-f', 'lavfi', '-i', 'sine=frequency=440:sample_rate=48000', '-t', '4'],
  ...['-c:v', 'libx264', '-preset', 'ultrafast', '-g', '10', '-c:a', 'aac', '-shortest', audioClip],
]);

// A low-latency feed nobody reads for 4 s ends (20 s by default), so the test sees it go.
const central = await startCentral(db, dir, {}, { GATEWAY_LIVE_FEED_IDLE_S: '4' });
const { masterUrl, gatewayUrl, mqttsUrl, admin } = central;

const enrolment = await enrolTestNodeFully(db.url, NODE_ID);
const cameraSettings = { record: { codec: 'source' }, detect: { enabled: false } };
const agentConfig = join(dir, 'agent.yaml');
await writeFile(
  agentConfig,
  JSON.stringify({
    nodeId: NODE_ID,
    mqtt: { url: mqttsUrl, username: NODE_ID, password: enrolment.secret },
    tls: agentTlsConfig(),
    gateway: { url: gatewayUrl, token: enrolment.uploadToken },
    spool: { dir: join(dir, 'spool') },
    stateDir: join(dir, 'state'),
    httpPort: agentHttpPort,
    heartbeatIntervalS: 1,
    recorder: { stallTimeoutS: 5 },
    live: {
      maxViewersPerCamera: 2,
      lingerS: 0,
      jsmpeg: { host: '127.0.0.1', port: jsmpegPort, publicUrl: `wss://127.0.0.1:${jsmpegPort}` },
    },
    cameras: [
      { id: CAMERA, name: 'Live camera', url: camera.url, ...cameraSettings },
      { id: AUDIO_CAMERA, name: 'Camera with audio', url: audioClip, ...cameraSettings },
    ],
  }),
);
const agent = startService('node-agent/src/main.ts', {}, ['--config', agentConfig]);
await waitFor(
  'both cameras online at the master',
  async () => {
    const cams = await admin.getJson<{ id: string; online: boolean }[]>('/api/cameras');
    return [CAMERA, AUDIO_CAMERA].every((id) => cams.some((c) => c.id === id && c.online));
  },
  60_000,
).catch((err: Error) => {
  throw new Error(`${err.message}\n--- agent output ---\n${agent.output().slice(-6000)}`);
});

const dashboard = await openDashboard(masterUrl, central.dashboardPort);
const dashboardUrl = dashboard.url;

const browser: Browser = await launchChromium();
after(() => browser.close());

/** Keeps every RTCPeerConnection the page makes in `window.__pcs`, for getStats. */
const KEEP_PEERS = `(() => {
  const Native = window.RTCPeerConnection;
  if (!Native) return;
  window.__pcs = [];
  window.RTCPeerConnection = function (...args) { const pc = new Native(...args); window.__pcs.push(pc); return pc; };
  window.RTCPeerConnection.prototype = Native.prototype;
})();`;
const NO_WEBRTC = 'delete window.RTCPeerConnection; delete window.webkitRTCPeerConnection;';
const NO_MSE =
  'delete window.MediaSource; delete window.ManagedMediaSource; delete window.WebKitMediaSource;';

/** A signed-in browser context (the admin's session cookie), with `scripts` run before the page's own. */
async function context(...scripts: string[]): Promise<BrowserContext> {
  const ctx = await browser.newContext();
  const [name, value] = admin.cookie.split('=') as [string, string];
  await ctx.addCookies([{ name, value, url: dashboardUrl }]);
  for (const s of scripts) await ctx.addInitScript(s);
  return ctx;
}

async function openCamera(
  ctx: BrowserContext,
  cameraId: string,
): Promise<{ page: Page; errors: string[]; openedAt: number }> {
  const page = await ctx.newPage();
  const errors: string[] = [];
  page.on('pageerror', (e) => errors.push(e.message));
  const openedAt = Date.now();
  await page.goto(`${dashboardUrl}/cameras/${cameraId}`);
  return { page, errors, openedAt };
}

const player = (page: Page) => page.locator('[data-testid="live-player"]');

async function playing(page: Page, mode: string, timeoutMs: number): Promise<void> {
  try {
    await page.waitForSelector(`[data-testid="live-player"][data-mode="${mode}"][data-state="playing"]`, {
      timeout: timeoutMs,
    });
  } catch (err) {
    const state = await player(page).evaluate(
      (el) => `${el.getAttribute('data-mode')}/${el.getAttribute('data-state')}: ${el.textContent}`,
    );
    throw new Error(
      `${(err as Error).message}\nplayer: ${state}\n--- agent ---\n${agent.output().slice(-4000)}`,
    );
  }
}

interface Inbound {
  peers: number;
  out: Record<string, { framesDecoded?: number; packetsReceived: number; codec?: string }>;
}
/** Inbound RTP of the page's newest peer connection, by kind (run in the page). */
const INBOUND = `(async () => {
  const pcs = window.__pcs ?? [];
  const pc = pcs.at(-1);
  const out = {};
  if (!pc) return { peers: 0, out };
  const stats = await pc.getStats();
  stats.forEach((r) => {
    if (r.type !== 'inbound-rtp') return;
    const codec = r.codecId ? stats.get(r.codecId)?.mimeType : undefined;
    out[r.kind] = { framesDecoded: r.framesDecoded, packetsReceived: r.packetsReceived, codec };
  });
  return { peers: pcs.length, out };
})()`;
const inbound = (page: Page) => page.evaluate(INBOUND) as Promise<Inbound>;

async function agentMetric(name: string, labels = ''): Promise<number> {
  const text = await (await fetch(`http://127.0.0.1:${agentHttpPort}/metrics`)).text();
  const line = text
    .split('\n')
    .find((l) =>
      labels
        ? l.startsWith(`${name}{`) && labels.split(',').every((p) => l.includes(p))
        : l.startsWith(`${name} `),
    );
  return line ? Number(line.split(' ').at(-1)) : 0;
}

test('plays the camera over WebRTC from the agent, frames decoded increasing', async () => {
  const ctx = await context(KEEP_PEERS);
  const { page, errors, openedAt } = await openCamera(ctx, CAMERA);
  await playing(page, 'webrtc', 15_000);
  console.log(`first WebRTC frame ${Date.now() - openedAt} ms after the page was opened`);
  const first = await inbound(page);
  await page.waitForTimeout(1500);
  const second = await inbound(page);
  assert.ok((first.out.video?.framesDecoded ?? 0) > 0, JSON.stringify(first));
  assert.ok(
    (second.out.video?.framesDecoded ?? 0) > (first.out.video?.framesDecoded ?? 0),
    JSON.stringify({ first, second }),
  );
  assert.match(second.out.video?.codec ?? '', /H264/i);
  assert.equal(await agentMetric('cctv_agent_live_viewers', `camera="${CAMERA}",kind="webrtc"`), 1);
  const audit = await admin.getJson<{
    entries: { action: string; cameraId: string; detail: { mode?: string } }[];
  }>(`/api/audit?action=live_view&camera=${CAMERA}`);
  assert.ok(
    audit.entries.some((e) => e.detail.mode === 'webrtc'),
    JSON.stringify(audit.entries),
  );

  // The viewer leaves: the socket closes, the master closes the session on the agent.
  await ctx.close();
  await waitFor(
    'the agent ended the session',
    async () => (await agentMetric('cctv_agent_live_viewers', `camera="${CAMERA}",kind="webrtc"`)) === 0,
    10_000,
  );
  assert.deepEqual(errors, []);
});

test("carries the camera's audio as Opus", async () => {
  const ctx = await context(KEEP_PEERS);
  const { page } = await openCamera(ctx, AUDIO_CAMERA);
  await playing(page, 'webrtc', 15_000);
  const stats = await waitFor(
    'audio packets',
    async () => {
      const s = await inbound(page);
      return (s.out.audio?.packetsReceived ?? 0) > 10 ? s : null;
    },
    10_000,
  );
  assert.match(stats.out.audio?.codec ?? '', /opus/i);
  await ctx.close();
});

test('ends the view when the camera restarts, and the page reconnects by itself', async () => {
  const ctx = await context(KEEP_PEERS);
  const { page } = await openCamera(ctx, CAMERA);
  await playing(page, 'webrtc', 15_000);
  await camera.restart();
  const again = await waitFor(
    'a second peer connection playing',
    async () => {
      const s = await inbound(page);
      return s.peers >= 2 && (s.out.video?.framesDecoded ?? 0) > 5 ? s : null;
    },
    30_000,
  );
  assert.equal(await player(page).getAttribute('data-mode'), 'webrtc', JSON.stringify(again));
  await ctx.close();
});

test('refuses cameras the user may not see and viewers beyond the limit', async () => {
  // A real offer from the browser, sent by hand.
  const ctx = await context();
  const page = await ctx.newPage();
  const sdp = (await page.evaluate(`(async () => {
    const pc = new RTCPeerConnection();
    pc.addTransceiver('video', { direction: 'recvonly' });
    await pc.setLocalDescription(await pc.createOffer());
    return pc.localDescription.sdp;
  })()`)) as string;
  await ctx.close();

  const created = await admin.postJson('/api/users', {
    username: 'live.viewer',
    password: 'live-viewer-pw-12345',
    role: 'viewer',
    cameras: [AUDIO_CAMERA],
  });
  assert.equal(created.status, 201, await created.text());
  const viewer = await signIn(masterUrl, 'live.viewer', 'live-viewer-pw-12345');
  const vs = await liveSocket(viewer.socket('/ws/live'));
  assert.equal((await vs.request({ type: 'offer', ref: 'a', camera: CAMERA, sdp })).type, 'error');
  const refused = vs.last();
  assert.equal(refused?.type === 'error' && refused.code, 'FORBIDDEN');
  const bogus = await vs.request({ type: 'bogus' });
  assert.equal(bogus.type === 'error' && bogus.code, 'BAD_MESSAGE');
  vs.close();

  const as = await liveSocket(admin.socket('/ws/live'));
  const answers = [];
  for (const ref of ['1', '2', '3'])
    answers.push(await as.request({ type: 'offer', ref, camera: CAMERA, sdp }));
  assert.deepEqual(
    answers.map((a) => a.type),
    ['answer', 'answer', 'error'],
    JSON.stringify(answers),
  );
  assert.equal(answers[2]?.type === 'error' && answers[2].code, 'LIVE_LIMIT');
  // Closing the socket ends both sessions on the agent.
  as.close();
  await waitFor(
    'sessions closed',
    async () => (await agentMetric('cctv_agent_live_viewers', `camera="${CAMERA}",kind="webrtc"`)) === 0,
    10_000,
  );
});

test('falls back to live HLS from the gateway where WebRTC is missing: low-latency parts the node sends while watched', async () => {
  const ctx = await context(NO_WEBRTC);
  const { page } = await openCamera(ctx, CAMERA);
  await playing(page, 'hls', 30_000);
  const frames = Number(await player(page).getAttribute('data-frames'));
  await page.waitForTimeout(2000);
  assert.ok(Number(await player(page).getAttribute('data-frames')) > frames);
  const video = `document.querySelector('[data-testid="live-video"]')`;
  const position = Number(await page.evaluate(`${video}.currentTime`));
  assert.ok(position > 0);
  assert.equal(await page.evaluate(`${video}.dataset.hlsSource`), 'low-latency');
  assert.equal(await agentMetric('cctv_agent_live_feeds'), 1);
  await ctx.close();
  // Nobody reads the feed any more: the gateway ends it and the node stops its ffmpeg.
  const feeders = async () => {
    const { stdout } = await run('pgrep', ['-P', String(agent.child.pid), '-f', 'frag_duration']).catch(
      () => ({
        stdout: '',
      }),
    );
    return stdout.split('\n').filter(Boolean).map(Number).filter(processAlive);
  };
  await waitFor(
    'the live feed ended',
    async () => (await agentMetric('cctv_agent_live_feeds')) === 0,
    20_000,
  );
  await waitFor('its ffmpeg gone', async () => (await feeders()).length === 0, 8_000);
});

test('falls back to jsmpeg where neither WebRTC nor Media Source Extensions exist, and stops it after', async () => {
  const ctx = await context(NO_WEBRTC, NO_MSE);
  const { page } = await openCamera(ctx, CAMERA);
  await playing(page, 'jsmpeg', 30_000);
  const frames = Number(await player(page).getAttribute('data-frames'));
  await page.waitForTimeout(1500);
  assert.ok(Number(await player(page).getAttribute('data-frames')) > frames);
  assert.equal(await agentMetric('cctv_agent_live_viewers', `camera="${CAMERA}",kind="jsmpeg"`), 1);
  await ctx.close();
  await waitFor(
    'the jsmpeg viewer gone',
    async () => (await agentMetric('cctv_agent_live_viewers', `camera="${CAMERA}",kind="jsmpeg"`)) === 0,
    10_000,
  );
  // No mpeg1video encoder left running on the agent. The viewer stops counting at once; the
  // encoder is told to stop then and is killed if it lingers past 3 s, so allow for that.
  const encoders = async () => {
    const { stdout } = await run('pgrep', ['-P', String(agent.child.pid), '-f', 'mpeg1video']).catch(() => ({
      stdout: '',
    }));
    return stdout.split('\n').filter(Boolean).map(Number).filter(processAlive);
  };
  const stoppedAt = Date.now();
  await waitFor('the mpeg1video encoder gone', async () => (await encoders()).length === 0, 8_000);
  console.log(`jsmpeg encoder gone ${Date.now() - stoppedAt} ms after the last viewer`);
});

/** A live socket client: `request` resolves with the next message after sending. */
async function liveSocket(ws: WebSocket) {
  const messages: LiveServerMessage[] = [];
  let waiting: ((m: LiveServerMessage) => void) | null = null;
  ws.on('message', (data) => {
    const msg = JSON.parse(String(data)) as LiveServerMessage;
    messages.push(msg);
    const w = waiting;
    waiting = null;
    w?.(msg);
  });
  const ready = await new Promise<LiveServerMessage>((resolve, reject) => {
    waiting = resolve;
    ws.once('error', reject);
  });
  assert.equal(ready.type, 'ready');
  return {
    request(msg: unknown): Promise<LiveServerMessage> {
      const next = new Promise<LiveServerMessage>((resolve) => {
        waiting = resolve;
      });
      ws.send(JSON.stringify(msg));
      return next;
    },
    last: () => messages.at(-1),
    close: () => ws.close(),
  };
}
