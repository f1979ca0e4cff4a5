/**
 * Live view latency, measured in the product's own camera page in Chromium:
 *  - glass-to-glass: a test camera (ffmpeg) stamps every frame with the wall clock as a strip
 *    of blocks (support/clock-bars.ts), encodes H.264 and feeds the stand-in RTSP server; the
 *    agent relays it (WebRTC: copied into RTP; HLS: recorded segments through the gateway);
 *    the page reads the stamp back from each frame it shows (requestVideoFrameCallback) and
 *    subtracts it from the display time, on the same machine's clock;
 *  - time to first frame (WebRTC): from the navigation to the camera page, and from the live
 *    player's start, to the first frame shown; cold (relay not running) and warm.
 * For WebRTC it also prints where the time goes: from the stamp to the frame's last packet in
 * the browser (camera encode, RTSP server, the agent's relay, loopback: the frame callback's
 * receiveTime), then the browser's share from its receiver statistics (jitter buffer, decode)
 * and what is left to the screen (render, paint, vsync).
 * Targets (docs/TARGETS.md): WebRTC glass-to-glass ≤ 100 ms p50 on loopback, live HLS ≤ 2 s
 * p50, first WebRTC frame ≤ 1.5 s after the tile opens; each printed as a ratio to its target.
 *
 *   node --import tsx bench/live-latency.ts [--seconds 20] [--width 640 --height 360 --fps 25]
 */
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { parseArgs } from 'node:util';
import { spkiSha256 } from '@cctv/tls';
import type { Browser, Page } from 'playwright-core';
import { launchChromium } from '../test/support/browser.ts';
import { enrolTestNodeFully } from '../test/support/enrol.ts';
import { freePort } from '../test/support/plain.ts';
import { CLOCK_BARS_BITS, clockBarsFilter, decodeClockBars } from './support/clock-bars.ts';
import {
  type Cleanups,
  repoRoot,
  runBench,
  sleep,
  startDatabase,
  startNodeService,
  startProcess,
  waitFor,
  waitHttpOk,
} from './support.ts';

const { values: flags } = parseArgs({
  options: {
    seconds: { type: 'string', default: '20' },
    width: { type: 'string', default: '640' },
    height: { type: 'string', default: '360' },
    fps: { type: 'string', default: '25' },
    opens: { type: 'string', default: '5' },
  },
});
const SECONDS = Number(flags.seconds);
const size = { width: Number(flags.width), height: Number(flags.height), fps: Number(flags.fps) };
const OPENS = Number(flags.opens);
const ADMIN_PASSWORD = 'bench-live-secret-pw-1';
const NODE = 'bench-live';
const CAMERA = 'bench-live-cam';
const log = (line: string) => console.log(line);

/** The stand-in camera: ffmpeg draws the clock and encodes like a camera, the RTSP server serves it. */
async function startClockCamera(cleanups: Cleanups): Promise<string> {
  const python = existsSync('/usr/bin/python3') ? '/usr/bin/python3' : 'python3';
  const port = await freePort();
  const feed = spawn(
    'ffmpeg',
    [
      ...['-hide_banner', '-loglevel', 'error', '-f', 'lavfi', '-i', clockBarsFilter(size)],
      ...['-c:v', 'libx264', '-preset', 'ultrafast', '-tune', 'zerolatency', '-bf', '0'],
      ...['-g', String(size.fps), '-b:v', '1500k', '-threads', '1', '-flush_packets', '1'],
      // Framed (MPEG-TS with its PES lengths): the server passes each frame on as soon as it
      // is in, as a camera's encoder does, instead of when the next one starts.
      ...['-omit_video_pes_length', '0', '-f', 'mpegts', 'pipe:1'],
    ],
    { stdio: ['ignore', 'pipe', 'inherit'] },
  );
  cleanups.add('stop the camera feed', () => feed.kill('SIGKILL'));
  const server = spawn(
    python,
    [
      join(repoRoot, 'test/support/rtsp-server.py'),
      '--port',
      String(port),
      '--source',
      'stdin',
      '--stdin-format',
      'mpegts',
      '--exit-with-parent',
    ],
    { stdio: [feed.stdout, 'pipe', 'inherit'] },
  );
  cleanups.add('stop the RTSP server', () => server.kill('SIGKILL'));
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('RTSP server not ready in 20 s')), 20_000);
    server.once('exit', (code) => reject(new Error(`RTSP server exited (${code})`)));
    createInterface({ input: server.stdout as NodeJS.ReadableStream }).on('line', (line) => {
      if (!line.startsWith('READY ')) return;
      clearTimeout(timer);
      resolve(line.slice(6).trim().split(/\s+/)[0] ?? '');
    });
  });
}

/** Runs in the page: reads the stamp of every frame the live video shows for `ms`. */
const SAMPLE = (decoder: string, ms: number) => `(async () => {
  const decode = ${decoder};
  const video = document.querySelector('[data-testid="live-video"]');
  const canvas = document.createElement('canvas');
  const ctx = canvas.getContext('2d', { willReadFrequently: true });
  const out = { latencies: [], arrivals: [], unreadable: 0 };
  const modulus = 2 ** ${CLOCK_BARS_BITS};
  await new Promise((resolve) => {
    const end = performance.now() + ${ms};
    const frame = (_now, meta) => {
      const w = video.videoWidth, h = video.videoHeight;
      if (w > 0) {
        canvas.width = w; canvas.height = h;
        ctx.drawImage(video, 0, 0, w, h);
        const stamp = decode(ctx.getImageData(0, 0, w, h).data, w, h);
        if (stamp === null) out.unreadable++;
        else {
          const shown = performance.timeOrigin + meta.expectedDisplayTime;
          const diff = (((shown - stamp) % modulus) + modulus) % modulus;
          out.latencies.push(diff >= modulus / 2 ? diff - modulus : diff);
          // WebRTC frames say when their last packet arrived: the part before the browser.
          if (meta.receiveTime !== undefined) {
            const got = ((((performance.timeOrigin + meta.receiveTime) - stamp) % modulus) + modulus) % modulus;
            out.arrivals.push(got >= modulus / 2 ? got - modulus : got);
          }
        }
      }
      if (performance.now() < end) video.requestVideoFrameCallback(frame); else resolve();
    };
    video.requestVideoFrameCallback(frame);
  });
  return out;
})()`;

/** Bench only: keeps the page's peer connections, for their receivers' statistics. */
const KEEP_PEER_CONNECTIONS = `(() => {
  const Native = window.RTCPeerConnection;
  if (!Native) return;
  window.__benchPeers = [];
  window.RTCPeerConnection = class extends Native {
    constructor(...args) { super(...args); window.__benchPeers.push(this); }
  };
})()`;

/** The browser's share per video frame, from the receiver's statistics (ms). */
/** Which playlist plays, and how far the buffered media runs ahead of the picture, 20 times. */
const HLS_BUFFER = `(async () => {
  const video = document.querySelector('[data-testid="live-video"]');
  const aheadMs = [];
  for (let i = 0; i < 20; i++) {
    const b = video.buffered;
    if (b.length > 0) aheadMs.push((b.end(b.length - 1) - video.currentTime) * 1000);
    await new Promise((r) => setTimeout(r, 50));
  }
  return { source: video.dataset.hlsSource || 'unknown', aheadMs };
})()`;

const RECEIVER_STATS = `(async () => {
  const pc = (window.__benchPeers || []).at(-1);
  if (!pc) return null;
  for (const r of (await pc.getStats()).values()) {
    if (r.type !== 'inbound-rtp' || r.kind !== 'video' || !r.framesDecoded) continue;
    return {
      jitterBuffer: (1000 * r.jitterBufferDelay) / r.jitterBufferEmittedCount,
      decode: (1000 * r.totalDecodeTime) / r.framesDecoded,
      // From the first packet of a frame in to the frame decoded: assembly, buffer and decode.
      processing: (1000 * (r.totalProcessingDelay ?? NaN)) / r.framesDecoded,
      framesDropped: r.framesDropped ?? 0,
    };
  }
  return null;
})()`;

function summary(values: number[]): string {
  if (values.length === 0) return 'no samples';
  const sorted = [...values].sort((a, b) => a - b);
  const at = (q: number) => sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] ?? NaN;
  const f = (v: number) => `${Math.round(v)} ms`;
  return `p50 ${f(at(0.5))}, p95 ${f(at(0.95))}, min ${f(sorted[0] ?? NaN)}, max ${f(sorted.at(-1) ?? NaN)} (${values.length} samples)`;
}

interface FirstFrame {
  fromNavigation: number;
  fromPlayer: number;
  /** From the player's start: the agent's answer, ICE+DTLS connected, first media (WebRTC only). */
  offer: number;
  answer: number;
  connected: number;
  media: number;
}
async function firstFrame(page: Page, mode: string): Promise<FirstFrame> {
  await page.waitForSelector(`[data-testid="live-player"][data-mode="${mode}"][data-state="playing"]`, {
    timeout: 30_000,
  });
  return (await page.evaluate(`(() => {
    const mark = (n) => performance.getEntriesByName('cctv-live:${mode}:' + n).at(-1)?.startTime ?? NaN;
    const since = (n) => mark(n) - mark('start');
    return { fromNavigation: mark('first-frame'), fromPlayer: since('first-frame'), offer: since('offer'), answer: since('answer'),
      connected: since('connected'), media: since('media') };
  })()`)) as FirstFrame;
}

runBench(log, async (cleanups, tls) => {
  const dir = await mkdtemp(join(tmpdir(), 'cctv-bench-live-'));
  cleanups.add('remove the temp dir', () => rm(dir, { recursive: true, force: true }));
  if (!existsSync(join(repoRoot, 'dashboard/.next/BUILD_ID')))
    throw new Error('build the dashboard first: npm run build:dashboard');
  const databaseUrl = await startDatabase(cleanups, join(dir, 'pg'));
  const [httpPort, mqttPort, mqttTlsPort, gatewayPort, dashboardPort, jsmpegPort] = await Promise.all(
    Array.from({ length: 6 }, () => freePort()),
  );
  const masterUrl = `https://127.0.0.1:${httpPort}`;
  const gatewayUrl = `https://127.0.0.1:${gatewayPort}`;
  const dashboardUrl = `https://127.0.0.1:${dashboardPort}`;
  // Every service over TLS with the benchmarks' certificate, as deployed.
  const quiet = { LOG_LEVEL: 'warn', ...tls.serviceEnv };
  const master = startNodeService(cleanups, 'master', 'master/src/main.ts', {
    ...quiet,
    DATABASE_URL: databaseUrl,
    MASTER_HTTP_HOST: '127.0.0.1',
    MASTER_HTTP_PORT: String(httpPort),
    MQTT_HOST: '127.0.0.1',
    MQTT_PORT: String(mqttPort),
    MQTT_TLS_PORT: String(mqttTlsPort),
    MASTER_DATA_DIR: join(dir, 'master'),
    MASTER_ADMIN_PASSWORD: ADMIN_PASSWORD,
    MASTER_TRUST_PROXY: '127.0.0.1,::1',
    GATEWAY_PUBLIC_URL: gatewayUrl,
    // Only the dashboard's pages may open the live socket and read footage.
    DASHBOARD_PUBLIC_URL: dashboardUrl,
  });
  const gateway = startNodeService(cleanups, 'gateway', 'storage-gateway/src/main.ts', {
    ...quiet,
    DATABASE_URL: databaseUrl,
    GATEWAY_HOST: '127.0.0.1',
    GATEWAY_PORT: String(gatewayPort),
    GATEWAY_DATA_DIR: join(dir, 'gateway'),
    GATEWAY_NAS_DIR: join(dir, 'nas'),
    DASHBOARD_PUBLIC_URL: dashboardUrl,
  });
  await waitHttpOk(master, `${masterUrl}/healthz`);
  await waitHttpOk(gateway, `${gatewayUrl}/healthz`);
  const cameraUrl = await startClockCamera(cleanups);
  log(
    `camera: ${size.width}x${size.height}@${size.fps} H.264 (libx264 zerolatency, keyframe every second) at ${cameraUrl}`,
  );

  const enrolment = await enrolTestNodeFully(databaseUrl, NODE);
  const agentConfig = join(dir, 'agent.yaml');
  await writeFile(
    agentConfig,
    JSON.stringify({
      nodeId: NODE,
      mqtt: { url: `mqtts://127.0.0.1:${mqttTlsPort}`, username: NODE, password: enrolment.secret },
      gateway: { url: gatewayUrl, token: enrolment.uploadToken },
      spool: { dir: join(dir, 'spool') },
      stateDir: join(dir, 'state'),
      segmentSeconds: 2,
      live: { lingerS: 0, jsmpeg: { host: '127.0.0.1', port: jsmpegPort } },
      cameras: [
        {
          id: CAMERA,
          name: 'Clock camera',
          url: cameraUrl,
          record: { codec: 'source' },
          detect: { enabled: false },
        },
      ],
    }),
  );
  const agent = startNodeService(cleanups, 'agent', 'node-agent/src/main.ts', { LOG_LEVEL: 'info' }, [
    '--config',
    agentConfig,
  ]);
  const dashboard = startProcess(
    cleanups,
    'dashboard',
    process.execPath,
    [join(repoRoot, 'dashboard/server.mjs'), '-p', String(dashboardPort), '-H', '127.0.0.1'],
    { ...tls.serviceEnv, NEXT_TELEMETRY_DISABLED: '1', MASTER_URL: masterUrl, MASTER_PUBLIC_URL: masterUrl },
  );
  await waitHttpOk(dashboard, `${dashboardUrl}/login`);

  const login = await fetch(`${masterUrl}/api/auth/login`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ username: 'admin', password: ADMIN_PASSWORD }),
  });
  const [name, value] = (login.headers.get('set-cookie') ?? '').split(';')[0]?.split('=') ?? [];
  if (!login.ok || !name || !value) throw new Error(`sign-in refused: ${login.status}`);
  await waitFor(
    'the camera online with recorded segments',
    async () => {
      // The gateway serves footage under a grant only: the master hands out the live URL.
      const grant = await fetch(`${masterUrl}/api/cameras/${CAMERA}/live`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', cookie: `${name}=${value}` },
        body: '{}',
      });
      if (!grant.ok) return false;
      const { hlsUrl } = (await grant.json()) as { hlsUrl: string };
      return (await fetch(new URL(hlsUrl, gatewayUrl))).ok;
    },
    60_000,
  ).catch((err: Error) => {
    throw new Error(`${err.message}\n--- agent output ---\n${agent.output().slice(-3000)}`);
  });

  const browser: Browser = await launchChromium(await spkiSha256(await readFile(tls.certFile, 'utf8')));
  cleanups.add('close Chromium', () => browser.close());
  const open = async (mode: string) => {
    const ctx = await browser.newContext({ viewport: { width: 1280, height: 900 } });
    await ctx.addInitScript(KEEP_PEER_CONNECTIONS);
    await ctx.addCookies([{ name, value, url: dashboardUrl }]);
    const page = await ctx.newPage();
    await page.goto(`${dashboardUrl}/cameras/${CAMERA}?live=${mode}`);
    return { ctx, page };
  };
  const decoder = decodeClockBars.toString();

  // Time to first frame: the first open starts the relay (cold); later ones find it running
  // only when another viewer keeps it (lingerS 0 stops it as the last one leaves).
  const keeper = await open('webrtc');
  await firstFrame(keeper.page, 'webrtc');
  const cold: number[][] = [];
  const warm: number[][] = [];
  await keeper.ctx.close();
  await sleep(1000);
  for (let i = 0; i < OPENS; i++) {
    const { ctx, page } = await open('webrtc');
    const t = await firstFrame(page, 'webrtc');
    cold.push([t.fromNavigation, t.fromPlayer, t.answer, t.connected, t.media, t.offer]);
    await ctx.close();
    await sleep(1500);
  }
  const holder = await open('webrtc');
  await firstFrame(holder.page, 'webrtc');
  for (let i = 0; i < OPENS; i++) {
    const { ctx, page } = await open('webrtc');
    const t = await firstFrame(page, 'webrtc');
    warm.push([t.fromNavigation, t.fromPlayer, t.answer, t.connected, t.media, t.offer]);
    await ctx.close();
  }
  await holder.ctx.close();

  // WebRTC twice: alone (the relay starts at a keyframe), and joining a running relay (the
  // current GOP is replayed first: its latency must settle like the other's).
  const runs = [
    { mode: 'webrtc', name: 'WebRTC', join: false },
    { mode: 'webrtc', name: 'WebRTC joining a running relay', join: true },
    { mode: 'hls', name: 'live HLS', join: false },
  ];
  for (const { mode, name, join } of runs) {
    const other = join ? await open(mode) : null;
    if (other) {
      await firstFrame(other.page, mode);
      await sleep(500 + Math.random() * 1000); // join anywhere in the GOP
    }
    const { ctx, page } = await open(mode);
    await firstFrame(page, mode);
    await sleep(mode === 'hls' ? 6000 : 2000); // past hls.js's catch-up after the start
    const result = (await page.evaluate(SAMPLE(decoder, SECONDS * 1000))) as {
      latencies: number[];
      arrivals: number[];
      unreadable: number;
    };
    log(`glass-to-glass ${name}: ${summary(result.latencies)}, ${result.unreadable} frames unreadable`);
    if (mode === 'hls') {
      // What the player holds ahead of the picture it shows (its hold-back from the live edge),
      // sampled over a second; the rest of the latency is the way to the player's buffer.
      const hls = (await page.evaluate(HLS_BUFFER)) as { source: string; aheadMs: number[] };
      const ahead = [...hls.aheadMs].sort((a, b) => a - b)[Math.floor(hls.aheadMs.length / 2)] ?? NaN;
      const p50 = [...result.latencies].sort((a, b) => a - b)[Math.floor(result.latencies.length / 2)] ?? NaN;
      log(
        `  breakdown (p50): playlist ${hls.source}; stamp to the newest frame in the player's buffer ` +
          `${Math.round(p50 - ahead)} ms (camera encode, RTSP server, the node's feed ffmpeg closing ` +
          `each part, upload, gateway, the part listed and fetched); held in the player's buffer ` +
          `${Math.round(ahead)} ms (hls.js keeps PART-HOLD-BACK, 0.9 s, from the live edge)`,
      );
    }
    const target = mode === 'hls' ? 2000 : 100;
    const p50All =
      [...result.latencies].sort((a, b) => a - b)[Math.floor(result.latencies.length / 2)] ?? NaN;
    log(`  p50 ${(p50All / target).toFixed(2)}× the target (≤ ${target} ms p50)`);
    if (mode === 'webrtc') {
      const p50 = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] ?? NaN;
      const stats = (await page.evaluate(RECEIVER_STATS)) as Record<string, number> | null;
      const before = p50(result.arrivals);
      const inBrowser = p50(result.latencies) - before;
      const f = (v: number | undefined) => `${Math.round(v ?? NaN)} ms`;
      log(
        `  breakdown (p50): stamp to the frame's last packet in the browser ${f(before)} (camera encode, ` +
          `RTSP server, agent relay, loopback); in the browser ${f(inBrowser)}: jitter buffer ` +
          `${f(stats?.jitterBuffer)}, decode ${f(stats?.decode)}, first packet to decoded ` +
          `${f(stats?.processing)}, to the screen (render, paint, vsync) ` +
          `${f(inBrowser - (stats?.jitterBuffer ?? 0) - (stats?.decode ?? 0))}; ` +
          `${stats?.framesDropped ?? '?'} frames dropped`,
      );
    }
    await ctx.close();
    await other?.ctx.close();
  }
  const col = (rows: number[][], i: number) => rows.map((r) => r[i] ?? NaN);
  const offerMs = [...agent.output().matchAll(/"command":"webrtc-offer".*?"ms":(\d+)/g)].map((m) =>
    Number(m[1]),
  );
  log(`the agent's webrtc-offer handling: ${summary(offerMs)}`);
  for (const [name, rows] of [
    ['cold', cold],
    ['warm', warm],
  ] as const) {
    log(`first WebRTC frame, relay ${name}: from navigation ${summary(col(rows, 0))}`);
    log(`  from the player's start: ${summary(col(rows, 1))}`);
    log(`    offer sent ${summary(col(rows, 5))}`);
    log(`    answer ${summary(col(rows, 2))}`);
    log(`    connected ${summary(col(rows, 3))}`);
    log(`    first media ${summary(col(rows, 4))}`);
  }
});
