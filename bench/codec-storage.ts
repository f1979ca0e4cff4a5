/**
 * Storage per camera-hour: the camera's H.264 stored as sent (`-c copy`) against H.265 made by
 * the agent's libx265 arguments (`x265Args` of node-agent/src/recorder/codec-policy.ts, with the
 * agent's default preset and keyframe interval), at equal quality against the same raw source.
 *
 *   node --import tsx bench/codec-storage.ts [--seconds 20] [--scenes photo,testsrc2]
 *       [--camera-kbps 4000] [--tolerance 0.001] [--x265-preset ultrafast]   # ~5–7 min
 *
 * Scenes, 1920×1080 at 15 fps: "photo" — a still photo (a room with people, from the face-api
 * samples the face fixtures use) with light temporal luma noise and a part of another photo
 * crossing it at 100 px/s: mostly static, as most camera views are; "testsrc2" — the benches'
 * 1080p clip (`clips.ts`: testsrc2, strong temporal noise, 3.5 Mb/s): motion and noise
 * everywhere, the hard case. Both are regenerated bit-exactly from their ffmpeg graphs, so every
 * encode is scored against the raw frames: SSIM (ffmpeg's `ssim`, "All": Y, U and V weighted by
 * size) and PSNR (`psnr`, average).
 *
 * Per scene: the camera's H.264 (photo: libx264 veryfast, main profile, VBR at --camera-kbps, no
 * B-frames, a keyframe per segment as the agent needs for copy; testsrc2: the cached clip),
 * copied as the agent stores it; then H.265 with the agent's arguments
 *   default     no quality setting, as the agent runs today (libx265's own CRF, 28), from the
 *               camera's H.264 — what the agent records when it transcodes;
 *   transcode   from the camera's H.264, CRF searched until SSIM equals the copy's (within
 *               ±--tolerance; the first point found that does, the smallest if several):
 *               the equal-quality figure of issue #21. A transcode cannot be more faithful to the scene than its input, so this
 *               may not exist;
 *   from raw    from the raw frames, CRF searched the same way: what H.265 saves as a codec
 *               (a camera sending H.265, or the agent encoding an uncompressed source).
 * The CRF search starts at 28 and steps down by 8 until the target is bracketed (giving up at
 * twice the H.264's size or CRF 4), then interpolates.
 * Bytes per camera-hour are the file's bytes × 3600 / --seconds (MP4, as segments are stored).
 * Goal (issue #21): H.265 ≥ 30 % smaller than H.264 at equal SSIM. `--x265-preset` swaps the
 * agent's default preset for another (the rest of its arguments unchanged), to see what one would
 * take.
 */
import { execFile } from 'node:child_process';
import { mkdir, mkdtemp, rm, stat, writeFile } from 'node:fs/promises';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { AgentConfigSchema } from '../node-agent/src/config-schema.ts';
import { x265Args } from '../node-agent/src/recorder/codec-policy.ts';
import { clipCacheDir, ensureClip } from './clips.ts';
import { type Cleanups, repoRoot, runBench } from './support.ts';

const { values: opts } = parseArgs({
  options: {
    seconds: { type: 'string', default: '20' },
    scenes: { type: 'string', default: 'photo,testsrc2' },
    'camera-kbps': { type: 'string', default: '4000' },
    tolerance: { type: 'string', default: '0.001' },
    'x265-preset': { type: 'string' },
  },
});
const seconds = Number(opts.seconds);
const cameraKbps = Number(opts['camera-kbps']);
const tolerance = Number(opts.tolerance);
const GOAL = 30;
const width = 1920;
const height = 1080;
const fps = 15;

// The agent's defaults, read from its config schema so the figure follows them.
const agentDefaults = AgentConfigSchema.properties;
const segmentSeconds = agentDefaults.segmentSeconds.default as number;
const x265Preset = opts['x265-preset'] ?? (agentDefaults.recorder.properties.x265Preset.default as string);
const gop = segmentSeconds * fps;

const began = Date.now();
const log = (line: string) =>
  console.log(`[${((Date.now() - began) / 1000).toFixed(0).padStart(4)} s] ${line}`);

interface Scene {
  name: string;
  /** ffmpeg input arguments of the raw source. */
  inputs: string[];
  /** A filter graph from the inputs, which start at index `first`, to raw yuv420p frames. */
  graph(first: number): string;
  /** The camera's H.264 file (at least `seconds` long). */
  camera(source: Scene): Promise<string>;
}

const photos = join(repoRoot, 'node_modules/@vladmandic/face-api/demo');
const still = (file: string) => ['-loop', '1', '-framerate', String(fps), '-i', join(photos, file)];

const scenes: Scene[] = [
  {
    name: 'photo',
    inputs: [...still('sample1.jpg'), ...still('sample2.jpg')],
    graph: (i) =>
      `[${i}:v]scale=${width}:${height}:force_original_aspect_ratio=increase,crop=${width}:${height}[bg];` +
      `[${i + 1}:v]crop=400:720:760:300[fg];` +
      // Temporal noise on luma only: what a camera's sensor leaves after its own denoising.
      `[bg][fg]overlay=x='mod(t*100,${width + 400})-400':y=300,noise=c0s=3:c0f=t,format=yuv420p`,
    camera: async (scene) => {
      const path = join(
        clipCacheDir,
        `photo-h264-${width}x${height}-${fps}fps-${seconds}s-g${gop}-${cameraKbps}k.mp4`,
      );
      if (await exists(path)) return path;
      await mkdir(clipCacheDir, { recursive: true });
      log(`encoding the camera's H.264 ${path} (once; cached)`);
      const partial = `${path}.partial.mp4`;
      await ffmpeg([
        ...scene.inputs,
        ...['-filter_complex', scene.graph(0), '-t', String(seconds)],
        ...cameraH264Args(cameraKbps),
        partial,
      ]);
      await ffmpeg(['-i', partial, '-c', 'copy', path]);
      await rm(partial, { force: true });
      return path;
    },
  },
  {
    name: 'testsrc2',
    // The source of clips.ts, byte for byte (its noise is seeded, so the frames repeat).
    inputs: ['-f', 'lavfi', '-i', `testsrc2=size=${width}x${height}:rate=${fps},noise=alls=10:allf=t+u`],
    graph: (i) => `[${i}:v]format=yuv420p`,
    camera: async () => {
      const clip = await ensureClip({ codec: 'h264', width, height, fps, seconds: 30, gop, kbps: 3500 }, log);
      if (seconds > 30) throw new Error('the testsrc2 clip is 30 s long: use --seconds 30 or less');
      return clip.path;
    },
  },
];

/** What an IP camera sends at its usual settings: a fixed GOP, no B-frames, VBR with a cap. */
function cameraH264Args(kbps: number): string[] {
  return [
    ...['-c:v', 'libx264', '-preset', 'veryfast', '-profile:v', 'main', '-pix_fmt', 'yuv420p'],
    ...['-b:v', `${kbps}k`, '-maxrate', `${Math.round(kbps * 1.2)}k`, '-bufsize', `${kbps * 2}k`],
    ...['-g', String(gop), '-keyint_min', String(gop), '-sc_threshold', '0', '-bf', '0'],
  ];
}

async function exists(path: string): Promise<boolean> {
  return stat(path).then(
    () => true,
    () => false,
  );
}

function ffmpeg(args: string[]): Promise<string> {
  return new Promise((resolve, reject) => {
    const all = ['-hide_banner', '-nostats', '-y', ...args];
    execFile('ffmpeg', all, { maxBuffer: 64 * 1024 * 1024 }, (err, _stdout, stderr) => {
      if (err) reject(new Error(`ffmpeg failed: ${err.message}\n${stderr.slice(-3000)}`));
      else resolve(stderr);
    });
  });
}

interface Scored {
  label: string;
  crf: number | null;
  bytes: number;
  ssim: number;
  ssimY: number;
  psnr: number;
  encodeS: number;
}

/** SSIM and PSNR of a file's first `seconds` against the scene's raw frames. */
async function score(scene: Scene, file: string): Promise<Pick<Scored, 'ssim' | 'ssimY' | 'psnr'>> {
  const graph = `${scene.graph(1)},split[r1][r2];[0:v]format=yuv420p,split[d1][d2];[d1][r1]ssim;[d2][r2]psnr`;
  const err = await ffmpeg([
    '-i',
    file,
    ...scene.inputs,
    '-filter_complex',
    graph,
    '-t',
    String(seconds),
    '-f',
    'null',
    '-',
  ]);
  const ssim = /SSIM Y:([\d.]+).* All:([\d.]+)/.exec(err);
  const psnr = /PSNR .*average:([\d.]+|inf)/.exec(err);
  if (!ssim || !psnr) throw new Error(`no SSIM/PSNR in ffmpeg's output:\n${err.slice(-2000)}`);
  return { ssimY: Number(ssim[1]), ssim: Number(ssim[2]), psnr: Number(psnr[1]) };
}

async function scored(label: string, crf: number | null, scene: Scene, file: string, encodeS: number) {
  const { size } = await stat(file);
  const s: Scored = { label, crf, bytes: size, ...(await score(scene, file)), encodeS };
  log(
    `  ${label}${crf === null ? '' : ` CRF ${crf}`}: ${(size / 1e6).toFixed(2)} MB, SSIM ${s.ssim.toFixed(4)}, PSNR ${s.psnr.toFixed(2)} dB (encode ${encodeS.toFixed(1)} s)`,
  );
  return s;
}

/** H.265 with the agent's arguments (and a CRF when given) from `input`, scored. */
async function x265(
  scene: Scene,
  label: string,
  input: { args: string[]; graph?: string },
  crf: number | null,
  out: string,
): Promise<Scored> {
  const t0 = Date.now();
  await ffmpeg([
    ...input.args,
    ...(input.graph ? ['-filter_complex', input.graph] : []),
    ...['-t', String(seconds), '-an'],
    ...x265Args(gop, x265Preset),
    ...(crf === null ? [] : ['-crf', String(crf)]),
    out,
  ]);
  return scored(label, crf, scene, out, (Date.now() - t0) / 1000);
}

/**
 * The smallest H.265 whose SSIM is within `tolerance` of `target` (SSIM falls as CRF rises):
 * from CRF 28 (already scored) down in steps of 8 (or up to 36) until the target is bracketed,
 * then narrowed by interpolation, kept from collapsing on one side, until a point lands within
 * the tolerance. Null when none does by CRF 4 or before the file is `maxBytes` (no use looking
 * further); `tries` holds every point scored, CRF 28 first.
 */
async function matchSsim(
  target: number,
  at28: Scored,
  maxBytes: number,
  encodeAt: (crf: number) => Promise<Scored>,
): Promise<{ match: Scored | null; tries: Scored[] }> {
  const tries: Scored[] = [at28];
  const near = (s: Scored) => Math.abs(s.ssim - target) <= tolerance;
  const run = async (crf: number) => {
    const s = await encodeAt(crf);
    tries.push(s);
    return s;
  };
  let good: Scored | null = at28.ssim >= target ? at28 : null;
  let bad: Scored | null = good ? null : at28;
  if (!near(at28)) {
    if (good) {
      const s = await run(36);
      if (s.ssim >= target) good = s;
      else bad = s;
    } else
      for (let below = at28; ; ) {
        const s = await run(Math.max(4, (below.crf ?? 28) - 8));
        if (s.ssim >= target) {
          good = s;
          break;
        }
        bad = below = s;
        if (near(s) || s.crf === 4 || s.bytes > maxBytes) break;
      }
  }
  for (let step = 0; step < 6 && good && bad && !tries.some(near); step++) {
    const lo = good.crf ?? 28;
    const hi = bad.crf ?? 28;
    if (hi - lo <= 0.2) break;
    const t = (good.ssim - target) / (good.ssim - bad.ssim);
    const crf = Math.round((lo + (hi - lo) * Math.min(0.8, Math.max(0.2, t))) * 10) / 10;
    const s = await run(crf);
    if (s.ssim >= target) good = s;
    else bad = s;
  }
  const within = tries.filter(near);
  // Even CRF 36 still scores above the target: that is the match, however far above.
  if (within.length === 0) return { match: bad ? null : good, tries };
  return { match: within.reduce((a, b) => (b.bytes < a.bytes ? b : a)), tries };
}

interface SceneResult {
  scene: string;
  h264: Scored;
  agentDefault: Scored;
  transcode: { match: Scored | null; tries: Scored[] };
  fromRaw: { match: Scored | null; tries: Scored[] };
}

async function measureScene(scene: Scene, dir: string): Promise<SceneResult> {
  log(`scene ${scene.name}`);
  const camera = await scene.camera(scene);
  const copy = join(dir, `${scene.name}-copy.mp4`);
  await ffmpeg(['-i', camera, '-t', String(seconds), '-an', '-c:v', 'copy', '-tag:v', 'avc1', copy]);
  const h264 = await scored('H.264 copy', null, scene, copy, 0);
  const fromCamera = { args: ['-i', camera] };
  const out = (what: string, crf: number | null) =>
    join(dir, `${scene.name}-${what}-${crf ?? 'default'}.mp4`);
  const agentDefault = await x265(scene, 'H.265 agent default', fromCamera, null, out('default', null));
  // libx265's own default is CRF 28: the agent's default is the transcode's first point.
  const at28 = { ...agentDefault, label: 'H.265 transcode', crf: 28 };
  const maxBytes = 2 * h264.bytes;
  const transcode = await matchSsim(h264.ssim, at28, maxBytes, (crf) =>
    x265(scene, 'H.265 transcode', fromCamera, crf, out('transcode', crf)),
  );
  const raw = { args: scene.inputs, graph: scene.graph(0) };
  const raw28 = await x265(scene, 'H.265 from raw', raw, 28, out('raw', 28));
  const fromRaw = await matchSsim(h264.ssim, raw28, maxBytes, (crf) =>
    x265(scene, 'H.265 from raw', raw, crf, out('raw', crf)),
  );
  return { scene: scene.name, h264, agentDefault, transcode, fromRaw };
}

const perHour = (s: Scored) => (s.bytes * 3600) / seconds;
const smaller = (s: Scored, h264: Scored) => (1 - s.bytes / h264.bytes) * 100;
const versus = (by: number) => (by >= 0 ? `${by.toFixed(0)} % smaller` : `${(-by).toFixed(0)} % larger`);

function row(scene: string, s: Scored, h264: Scored, note = ''): string[] {
  return [
    scene,
    s.label + note,
    s.crf === null ? (s === h264 ? '—' : '(28)') : String(s.crf),
    ((s.bytes * 8) / seconds / 1e6).toFixed(2),
    (perHour(s) / 1e9).toFixed(2),
    s.ssim.toFixed(4),
    s === h264 ? '—' : `${s.ssim >= h264.ssim ? '+' : '−'}${Math.abs(s.ssim - h264.ssim).toFixed(4)}`,
    s.psnr.toFixed(2),
    s === h264 ? '—' : versus(smaller(s, h264)),
  ];
}

async function main(cleanups: Cleanups): Promise<void> {
  const wanted = new Set(opts.scenes.split(','));
  log(
    `${width}x${height} ${fps} fps, ${seconds} s per scene; agent: libx265 ${x265Preset}, keyframe every ${gop} frames (${segmentSeconds} s segments)`,
  );
  log(
    `load average before: ${loadavg()
      .map((l) => l.toFixed(2))
      .join(' ')}`,
  );
  const dir = await mkdtemp(join(tmpdir(), 'cctv-codec-storage-'));
  cleanups.add('work dir', () => rm(dir, { recursive: true, force: true }));

  const results: SceneResult[] = [];
  for (const scene of scenes) if (wanted.has(scene.name)) results.push(await measureScene(scene, dir));

  const head = [
    'scene',
    'recording',
    'x265 CRF',
    'Mb/s',
    'GB per camera-hour',
    'SSIM',
    'ΔSSIM',
    'PSNR dB',
    'size vs H.264',
  ];
  const rows: string[][] = [];
  const verdicts: string[] = [];
  for (const r of results) {
    rows.push(row(r.scene, r.h264, r.h264), row(r.scene, r.agentDefault, r.h264));
    for (const [what, m] of [
      ['transcode', r.transcode],
      ['from raw', r.fromRaw],
    ] as const) {
      if (m.match) {
        rows.push(row(r.scene, m.match, r.h264, ', equal SSIM'));
        const by = smaller(m.match, r.h264);
        verdicts.push(
          `${r.scene}, ${what} at equal SSIM: H.265 ${versus(by)} than H.264 (goal ≥ ${GOAL} % smaller): ${by >= GOAL ? 'met' : 'NOT met'}`,
        );
      } else {
        const best = m.tries.reduce((a, b) => (b.ssim > a.ssim ? b : a));
        rows.push(row(r.scene, best, r.h264, ', best tried'));
        verdicts.push(
          `${r.scene}, ${what}: equal SSIM not reached (best ${best.ssim.toFixed(4)} at CRF ${best.crf} vs ${r.h264.ssim.toFixed(4)}, at ${((best.bytes / r.h264.bytes) * 100).toFixed(0)} % of the H.264's size): NOT met`,
        );
      }
    }
  }
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: string[]) => cells.map((c, i) => c.padEnd(widths[i] ?? 0)).join('  ');
  console.log();
  console.log(line(head));
  for (const r of rows) console.log(line(r));
  console.log();
  for (const v of verdicts) console.log(v);
  log(
    `load average after: ${loadavg()
      .map((l) => l.toFixed(2))
      .join(' ')}`,
  );

  const out = join(
    tmpdir(),
    'cctv-bench',
    `codec-storage-${new Date().toISOString().replaceAll(':', '')}.json`,
  );
  await mkdir(join(tmpdir(), 'cctv-bench'), { recursive: true });
  const settings = { seconds, width, height, fps, gop, x265Preset, cameraKbps, tolerance };
  await writeFile(
    out,
    `${JSON.stringify({ bench: 'codec-storage', at: new Date().toISOString(), settings, results, verdicts }, null, 2)}\n`,
  );
  log(`JSON: ${out}`);
}

runBench(log, main);
