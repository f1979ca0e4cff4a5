/**
 * Motion detection cost per 320×180 grayscale frame (the agent's default analysis size), the
 * node agent's `MotionDetector` against a naive per-pixel JS abs-diff + threshold over the full
 * frame, measured in the same run on the same frames.
 *
 *   node --import tsx bench/motion.ts [--repeats 31] [--seconds 60]
 *
 * Scenes, made with ffmpeg's lavfi sources and decoded to raw gray once (in memory):
 * "moving box" (a 40×40 white box crossing a dark frame every 10 s, temporal noise; the clip
 * loops seamlessly), "static noisy" (SMPTE bars, stronger temporal noise) and "busy" (testsrc2:
motion over much of the frame on every frame, the worst case for region labelling). Per scene the
 * JIT and the background are warmed up on three passes over the clip; then each repeat is one
 * timed pass. Figures: ms per frame, median [min–p90] over repeats, wall clock (and CPU time of
 * this process beside it, which other work on the box does not inflate). Target
 * (docs/TARGETS.md): ≤ 0.15 ms per 320×180 frame.
 */
import { execFile } from 'node:child_process';
import { cpus, loadavg } from 'node:os';
import { parseArgs } from 'node:util';
import { MotionDetector } from '../node-agent/src/analysis/motion/motion-detector.ts';

const { values: opts } = parseArgs({
  options: {
    repeats: { type: 'string', default: '31' },
    seconds: { type: 'string', default: '60' },
  },
});
const repeats = Number(opts.repeats);
const seconds = Number(opts.seconds);
const width = 320;
const height = 180;
const fps = 5;
const targetMs = 0.15;

/** Raw gray frames of a lavfi graph, decoded by ffmpeg to stdout. */
function decode(graph: string, frames: number): Promise<Uint8Array[]> {
  const args = ['-v', 'error', '-f', 'lavfi', '-i', graph, '-frames:v', String(frames)];
  args.push('-pix_fmt', 'gray', '-f', 'rawvideo', 'pipe:1');
  return new Promise((resolve, reject) => {
    execFile('ffmpeg', args, { encoding: 'buffer', maxBuffer: 1 << 30 }, (err, stdout) => {
      if (err) return reject(err);
      const size = width * height;
      const out: Uint8Array[] = [];
      for (let o = 0; o + size <= stdout.length; o += size)
        out.push(new Uint8Array(stdout.subarray(o, o + size)));
      resolve(out);
    });
  });
}

const size = `s=${width}x${height}:r=${fps}`;
const scenes = [
  {
    name: 'moving box',
    graph:
      `color=c=0x404040:${size}[bg];color=c=white:s=40x40:r=${fps}[box];` +
      `[bg][box]overlay=x='mod(t*40,400)-40':y=70,noise=alls=6:allf=t`,
  },
  { name: 'static noisy', graph: `smptebars=${size},noise=alls=12:allf=t` },
  // The worst case: motion all over the frame on every frame (testsrc2's moving pattern).
  { name: 'busy', graph: `testsrc2=${size},noise=alls=6:allf=t` },
];

/** The peer: per-pixel |frame - previous| > threshold over the whole frame, into a mask. */
class NaiveDiff {
  private readonly prev = new Uint8Array(width * height);
  private readonly mask = new Uint8Array(width * height);
  process(gray: Uint8Array): number {
    const { prev, mask } = this;
    let changed = 0;
    for (let i = 0; i < gray.length; i++) {
      const v = gray[i] as number;
      const d = v - (prev[i] as number);
      const on = (d < 0 ? -d : d) > 25 ? 1 : 0;
      mask[i] = on;
      changed += on;
      prev[i] = v;
    }
    return changed;
  }
}

interface Figures {
  wall: number[];
  cpu: number[];
}

/** Warms up on three passes, then times `repeats` passes over the frames (ms per frame). */
function measure(frames: Uint8Array[], run: (f: Uint8Array) => unknown): Figures {
  for (let k = 0; k < 3; k++) for (const f of frames) run(f);
  const wall: number[] = [];
  const cpu: number[] = [];
  for (let r = 0; r < repeats; r++) {
    const c0 = process.cpuUsage();
    const t0 = process.hrtime.bigint();
    for (const f of frames) run(f);
    const t1 = process.hrtime.bigint();
    const c = process.cpuUsage(c0);
    wall.push(Number(t1 - t0) / 1e6 / frames.length);
    cpu.push((c.user + c.system) / 1000 / frames.length);
  }
  return { wall, cpu };
}

const quantile = (xs: number[], q: number) => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor(q * (s.length - 1) + 0.5))] ?? Number.NaN;
};
const median = (xs: number[]) => quantile(xs, 0.5);
const fmt = (xs: number[]) =>
  `${median(xs).toFixed(4)} [${Math.min(...xs).toFixed(4)}–${quantile(xs, 0.9).toFixed(4)}]`;

console.log(
  `motion detection, ${width}x${height} gray, ${seconds} s at ${fps} fps per scene, ${repeats} repeats`,
);
console.log(`${cpus()[0]?.model ?? 'unknown CPU'}, ${cpus().length} cores, Node ${process.version}`);
console.log(
  `load average before: ${loadavg()
    .map((l) => l.toFixed(2))
    .join(' ')}`,
);

const rows: string[][] = [];
for (const scene of scenes) {
  const frames = await decode(scene.graph, seconds * fps);
  const detector = new MotionDetector({ width, height });
  let motionFrames = 0;
  const motion = measure(frames, (f) => {
    if (detector.process(f).motion) motionFrames++;
  });
  const naive = new NaiveDiff();
  const peer = measure(frames, (f) => naive.process(f));
  const ratio = median(motion.wall) / median(peer.wall);
  const met = median(motion.wall) <= targetMs ? 'met' : 'NOT met';
  const shown = (motionFrames / ((3 + repeats) * frames.length)) * 100;
  rows.push([
    scene.name,
    fmt(motion.wall),
    median(motion.cpu).toFixed(4),
    fmt(peer.wall),
    ratio.toFixed(2),
    `${shown.toFixed(0)} %`,
    `≤ ${targetMs} ms: ${met}`,
  ]);
}

const head = [
  'scene',
  'detector ms/frame',
  'cpu ms',
  'naive diff ms/frame',
  'ratio',
  'motion frames',
  'target',
];
const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
const line = (cells: string[]) => cells.map((c, i) => c.padEnd(widths[i] ?? 0)).join('  ');
console.log();
console.log(line(head));
for (const r of rows) console.log(line(r));
console.log(
  '\nms per frame: median [min–p90] over repeats, wall clock; cpu: median CPU time of this process',
);
console.log('ratio: detector / naive per-pixel abs-diff + threshold (medians, same run, same frames)');
console.log(
  `load average after: ${loadavg()
    .map((l) => l.toFixed(2))
    .join(' ')}`,
);
