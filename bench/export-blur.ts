/**
 * Blurred export speed: the export pipeline of `master/src/exports/blurred-export.ts` (ffmpeg
 * decode, face search, blur held across frames, libx264 encode) over a recorded clip of people
 * walking through the frame (`walkingScene`, faces 28–110 px at 720p, scaled with the frame), at
 * 1280×720 and 1920×1080, 15 fps, each way of searching in turn, in the same run:
 *
 *   - `whole frame` (before): one model run per frame, the frame letterboxed into the input (a
 *     search whose smallest face is larger than the frame's reach is just that square);
 *   - `export search` (now): EXPORT_SEARCH, the tiled pyramid from 20 px faces.
 *
 * Prints frames per second, × real time (15 fps = 1), CPU per frame (this process and its ffmpeg
 * children, ms), the model runs per frame and the faces found.
 *
 *   node --import tsx bench/export-blur.ts [--seconds 4] [--threads 2] [--sizes 1280x720,1920x1080]
 */
import { spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { cpus, hostname, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { FaceDetector, searchSquares } from '@cctv/vision/faces';
import { EXPORT_SEARCH, exportBlurred } from '../master/src/exports/blurred-export.ts';
import { ensureFaceModel } from '../node-agent/scripts/fetch-face-model.mjs';
import { walkingScene } from '../vision/test/support/camera-frames.ts';
import { cpuBetween, snapshot } from './proc-tree.ts';

const { values: o } = parseArgs({
  options: {
    seconds: { type: 'string', default: '4' },
    threads: { type: 'string', default: '2' },
    sizes: { type: 'string', default: '1280x720,1920x1080' },
  },
});
const FPS = 15;

async function record(path: string, width: number, height: number, frames: number): Promise<void> {
  const child = spawn(
    'ffmpeg',
    [
      ...['-v', 'error', '-f', 'rawvideo', '-pix_fmt', 'yuv420p', '-s', `${width}x${height}`],
      ...['-r', String(FPS), '-i', '-', '-c:v', 'libx264', '-preset', 'veryfast', '-crf', '23'],
      ...['-g', String(FPS * 2), '-y', path],
    ],
    { stdio: ['pipe', 'ignore', 'inherit'] },
  );
  const done = new Promise<void>((resolve, reject) =>
    child.on('close', (code) => (code === 0 ? resolve() : reject(new Error(`ffmpeg exited ${code}`)))),
  );
  // The scene is made at 720p proportions: faces scale with the frame.
  const scale = width / 1280;
  const faceWidths = [28, 40, 64, 110].map((w) => Math.round(w * scale));
  for await (const f of walkingScene({ width, height, frames, faceWidths }))
    if (!child.stdin.write(f.image.data)) await new Promise((r) => child.stdin.once('drain', r));
  child.stdin.end();
  await done;
}

async function main() {
  console.log(
    `host ${hostname()}, ${cpus().length} cores (${cpus()[0]?.model.trim()}), load ${loadavg()[0]?.toFixed(2)}, Node ${process.version}, onnxruntime threads ${o.threads}`,
  );
  const dir = await mkdtemp(join(tmpdir(), 'cctv-bench-export-'));
  const detector = await FaceDetector.create({ modelPath: ensureFaceModel(), threads: Number(o.threads) });
  const rows: Record<string, string | number>[] = [];
  try {
    for (const size of o.sizes.split(',')) {
      const [width, height] = size.split('x').map(Number) as [number, number];
      const frames = Number(o.seconds) * FPS;
      const clip = join(dir, `walk-${size}.mp4`);
      await record(clip, width, height, frames);
      const ways = [
        { name: 'whole frame (before)', search: { minFaceWidth: Math.max(width, height) } },
        { name: 'export search (now)', search: EXPORT_SEARCH },
      ];
      for (const way of ways) {
        const a = await snapshot(process.pid);
        const t0 = performance.now();
        const result = await exportBlurred({
          url: clip,
          out: join(dir, 'out.mp4'),
          ffmpeg: 'ffmpeg',
          detector: async () => detector,
          search: way.search,
          onProgress: () => {},
          onChild: () => {},
        });
        const wall = (performance.now() - t0) / 1000;
        const cpu = cpuBetween(a, await snapshot(process.pid));
        const fps = result.frames / wall;
        rows.push({
          size,
          way: way.name,
          'runs / frame': `${searchSquares(width, height, way.search).length}+`,
          frames: result.frames,
          'frames/s': fps.toFixed(1),
          '× real time': (fps / FPS).toFixed(2),
          'CPU ms / frame': (((cpu.total / 100) * wall * 1000) / result.frames).toFixed(0),
          'faces found': result.faces,
        });
        console.log(JSON.stringify(rows.at(-1)));
      }
    }
  } finally {
    await detector.close();
    await rm(dir, { recursive: true, force: true });
  }
  console.table(rows);
  console.log('runs / frame: the search squares, plus one per doubtful box confirmed');
}

await main();
