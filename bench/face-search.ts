/**
 * Face search recall and cost per frame, per way of searching, on camera-like frames: the six
 * labelled sample photos composited at face widths from 20 px to 240 px on 1920×1080 frames, with
 * noise, motion blur, JPEG or H.264 compression, and empty frames of the photos' face-free parts
 * (`vision/test/support/camera-frames.ts`, the fixture of `vision/test/face-search.test.ts`).
 *
 *   node --import tsx bench/face-search.ts [--plans whole,search,ssd,tiny] [--min-face 24]
 *       [--min-input 9,11,13] [--threads 2] [--widths 20,24,...] [--empty 12]
 *
 * Ways of searching: `whole` — `detect()`, the whole frame letterboxed into the model's input
 * (the search before this benchmark); `search` — `search()`, the tiled pyramid of
 * `vision/src/faces/search-plan.ts` for faces ≥ --min-face px, once per --min-input value (the
 * smallest face, in input pixels, the pyramid relies on); `ssd`, `tiny` — the peer models of
 * `@vladmandic/face-api` (SSD MobileNet v1, tiny face detector at 608) on TensorFlow.js (wasm),
 * whole frame, for comparison. Printed per way: recall per face width
 * (IoU ≥ 0.3 with a labelled face), false boxes on empty frames (mean, max), model runs per
 * frame, wall and process-CPU ms per 1080p frame and per 720p frame (the same frames scaled).
 */

import { createRequire } from 'node:module';
import { cpus, hostname, loadavg } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { type FaceBox, FaceDetector, type I420Image, searchSquares } from '@cctv/vision/faces';
import { ensureFaceModel } from '../node-agent/scripts/fetch-face-model.mjs';
import {
  cameraFrames,
  DEFAULT_FACE_WIDTHS,
  type LabelledFrame,
  matchFaces,
} from '../vision/test/support/camera-frames.ts';
import { repoRoot } from './support.ts';

const { values: o } = parseArgs({
  options: {
    plans: { type: 'string', default: 'whole,search' },
    'min-face': { type: 'string', default: '24' },
    'min-input': { type: 'string', default: '11' },
    threads: { type: 'string', default: '2' },
    widths: { type: 'string', default: DEFAULT_FACE_WIDTHS.join(',') },
    empty: { type: 'string', default: '12' },
  },
});
const minFace = Number(o['min-face']);
const widths = o.widths.split(',').map(Number);

interface Way {
  name: string;
  run: (d: FaceDetector, img: I420Image) => Promise<FaceBox[]>;
  runs: (w: number, h: number) => number;
}
const ways: Way[] = [];
for (const plan of o.plans.split(',')) {
  if (plan === 'whole') ways.push({ name: 'whole frame', run: (d, img) => d.detect(img), runs: () => 1 });
  else if (plan === 'search')
    for (const mi of o['min-input'].split(',').map(Number))
      ways.push({
        name: `search ≥${minFace} px, input ≥${mi} px`,
        run: (d, img) => d.search(img, { minFaceWidth: minFace, minInputFace: mi }),
        runs: (w, h) => searchSquares(w, h, { minFaceWidth: minFace, minInputFace: mi }).length,
      });
  else if (plan === 'ssd' || plan === 'tiny')
    ways.push({
      name:
        plan === 'ssd'
          ? 'face-api SSD MobileNet v1 (whole frame)'
          : 'face-api tiny detector 608 (whole frame)',
      run: (_d, img) => faceApi(plan, img),
      runs: () => 1,
    });
  else throw new Error(`unknown plan ${plan}`);
}

/**
 * The peer model for comparison: `@vladmandic/face-api` (its SSD MobileNet v1, trained for faces
 * of all sizes, and its tiny detector) on TensorFlow.js with the WebAssembly backend, both shipped
 * in npm packages. The frame is converted to RGB for it (BT.601 limited range, as the sampler).
 */
type FaceApi = typeof import('@vladmandic/face-api');
let faceApiLoaded: Promise<FaceApi> | null = null;
function loadFaceApi(): Promise<FaceApi> {
  faceApiLoaded ??= (async () => {
    const require = createRequire(import.meta.url);
    const api = require('@vladmandic/face-api/dist/face-api.node-wasm.js') as FaceApi;
    // The bundle's own tf types leave out the backend calls.
    const tf = api.tf as unknown as { setBackend(name: string): Promise<boolean>; ready(): Promise<void> };
    await tf.setBackend('wasm');
    await tf.ready();
    const models = join(repoRoot, 'node_modules/@vladmandic/face-api/model');
    await api.nets.ssdMobilenetv1.loadFromDisk(models);
    await api.nets.tinyFaceDetector.loadFromDisk(models);
    return api;
  })();
  return faceApiLoaded;
}

async function faceApi(plan: 'ssd' | 'tiny', img: I420Image): Promise<FaceBox[]> {
  const api = await loadFaceApi();
  const { width, height, data } = img;
  const rgb = new Int32Array(width * height * 3);
  const cw = width / 2;
  const u0 = width * height;
  const v0 = u0 + (width * height) / 4;
  for (let y = 0; y < height; y++)
    for (let x = 0; x < width; x++) {
      const c = (y >> 1) * cw + (x >> 1);
      const Y = 1.164 * ((data[y * width + x] as number) - 16);
      const U = (data[u0 + c] as number) - 128;
      const V = (data[v0 + c] as number) - 128;
      const o = (y * width + x) * 3;
      rgb[o] = Math.max(0, Math.min(255, Y + 1.596 * V));
      rgb[o + 1] = Math.max(0, Math.min(255, Y - 0.392 * U - 0.813 * V));
      rgb[o + 2] = Math.max(0, Math.min(255, Y + 2.017 * U));
    }
  const tensor = api.tf.tensor3d(rgb, [height, width, 3], 'int32');
  try {
    const options =
      plan === 'ssd'
        ? new api.SsdMobilenetv1Options({ minConfidence: 0.5 })
        : new api.TinyFaceDetectorOptions({ inputSize: 608, scoreThreshold: 0.5 });
    const found = await api.detectAllFaces(tensor as never, options);
    return found.map((f) => ({
      ...f.box,
      x: f.box.x,
      y: f.box.y,
      width: f.box.width,
      height: f.box.height,
      score: f.score,
      keypoints: [],
    }));
  } finally {
    tensor.dispose();
  }
}

function scaleTo720(img: I420Image): I420Image {
  // Nearest-neighbour is enough for timing: cost depends on the size only.
  const w = 1280;
  const h = 720;
  const out = new Uint8Array(w * h * 1.5);
  const plane = (sBase: number, sw: number, sh: number, dBase: number, dw: number, dh: number) => {
    for (let y = 0; y < dh; y++) {
      const sy = Math.floor((y * sh) / dh);
      for (let x = 0; x < dw; x++)
        out[dBase + y * dw + x] = img.data[sBase + sy * sw + Math.floor((x * sw) / dw)] as number;
    }
  };
  plane(0, img.width, img.height, 0, w, h);
  plane(img.width * img.height, img.width / 2, img.height / 2, w * h, w / 2, h / 2);
  plane(img.width * img.height * 1.25, img.width / 2, img.height / 2, w * h * 1.25, w / 2, h / 2);
  return { width: w, height: h, data: out };
}

async function timed(fn: () => Promise<unknown>): Promise<{ wall: number; cpu: number }> {
  const c0 = process.cpuUsage();
  const t0 = performance.now();
  await fn();
  const c = process.cpuUsage(c0);
  return { wall: performance.now() - t0, cpu: (c.user + c.system) / 1000 };
}

const median = (v: number[]) => {
  const s = [...v].sort((a, b) => a - b);
  return s.length ? (s[Math.floor(s.length / 2)] as number) : Number.NaN;
};

async function main() {
  console.log(
    `host ${hostname()}, ${cpus().length} cores (${cpus()[0]?.model.trim()}), load ${loadavg()[0]?.toFixed(2)}, Node ${process.version}, onnxruntime threads ${o.threads}`,
  );
  const detector = await FaceDetector.create({ modelPath: ensureFaceModel(), threads: Number(o.threads) });
  const stats = ways.map(() => ({
    found: new Map<number, { hit: number; all: number }>(),
    falseFaces: 0,
    falseEmpty: [] as number[],
    ms1080: [] as number[],
    cpu1080: [] as number[],
    ms720: [] as number[],
    cpu720: [] as number[],
  }));
  let frames = 0;
  const t0 = performance.now();
  for await (const frame of cameraFrames({
    faceWidths: widths,
    emptyFrames: Number(o.empty),
  }) as AsyncIterable<LabelledFrame>) {
    frames++;
    const small = scaleTo720(frame.image);
    for (const [i, way] of ways.entries()) {
      const s = stats[i] as (typeof stats)[number];
      let found: FaceBox[] = [];
      const t = await timed(async () => {
        found = await way.run(detector, frame.image);
      });
      s.ms1080.push(t.wall);
      s.cpu1080.push(t.cpu);
      const t7 = await timed(() => way.run(detector, small));
      s.ms720.push(t7.wall);
      s.cpu720.push(t7.cpu);
      const m = matchFaces(frame, found);
      if (frame.kind === 'empty') s.falseEmpty.push(m.falseBoxes);
      else s.falseFaces += m.falseBoxes;
      frame.faces.forEach((f, k) => {
        // Faces are counted by their own labelled width: band w holds faces from w px up to the next band.
        const band = [...widths].reverse().find((w) => f.width >= w) ?? 0;
        const b = s.found.get(band) ?? { hit: 0, all: 0 };
        b.all++;
        if (m.hit[k]) b.hit++;
        s.found.set(band, b);
      });
    }
    process.stderr.write(`\r${frames} frames, ${((performance.now() - t0) / 1000).toFixed(0)} s`);
  }
  process.stderr.write('\n');
  await detector.close();
  const rows = ways.map((way, i) => {
    const s = stats[i] as (typeof stats)[number];
    const row: Record<string, string | number> = { way: way.name };
    for (const w of [0, ...widths]) {
      const b = s.found.get(w);
      row[w === 0 ? `<${widths[0]} px` : `≥${w} px`] = b
        ? `${((100 * b.hit) / b.all).toFixed(1)} % of ${b.all}`
        : '—';
    }
    const atLeast = (min: number) => {
      let hit = 0;
      let all = 0;
      for (const [w, b] of s.found)
        if (w >= min) {
          hit += b.hit;
          all += b.all;
        }
      return all ? `${((100 * hit) / all).toFixed(1)} %` : '—';
    };
    row['recall ≥24'] = atLeast(24);
    row['recall ≥48'] = atLeast(48);
    row['false/empty frame mean (max)'] =
      `${(s.falseEmpty.reduce((a, b) => a + b, 0) / Math.max(1, s.falseEmpty.length)).toFixed(2)} (${Math.max(0, ...s.falseEmpty)})`;
    row['false on face frames'] = s.falseFaces;
    row['runs 1080p/720p'] = `${way.runs(1920, 1080)}/${way.runs(1280, 720)}`;
    row['ms 1080p wall/CPU'] = `${median(s.ms1080).toFixed(0)}/${median(s.cpu1080).toFixed(0)}`;
    row['ms 720p wall/CPU'] = `${median(s.ms720).toFixed(0)}/${median(s.cpu720).toFixed(0)}`;
    return row;
  });
  console.table(rows);
}

await main();
