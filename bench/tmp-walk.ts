import { execFileSync } from 'node:child_process';
import { FaceDetector, iou, searchSquares } from '@cctv/vision/faces';
import { ensureFaceModel } from '../node-agent/scripts/fetch-face-model.mjs';
import { walkingScene } from '../vision/test/support/camera-frames.ts';
const W = 1280, H = 720;
const raw: Uint8Array[] = []; const truth: { x: number; y: number; width: number; height: number }[][] = [];
for await (const f of walkingScene({ width: W, height: H, frames: 45 })) { raw.push(f.image.data); truth.push(f.faces); }
const enc = execFileSync('ffmpeg', ['-v', 'error', '-f', 'rawvideo', '-pix_fmt', 'yuv420p', '-s', `${W}x${H}`, '-r', '15', '-i', '-', '-c:v', 'libx264', '-preset', 'veryfast', '-crf', '23', '-f', 'h264', '-'], { input: Buffer.concat(raw), maxBuffer: 1 << 30 });
const dec = execFileSync('ffmpeg', ['-v', 'error', '-f', 'h264', '-i', '-', '-pix_fmt', 'yuv420p', '-f', 'rawvideo', '-'], { input: enc, maxBuffer: 1 << 30 });
const size = W * H * 1.5;
const d = await FaceDetector.create({ modelPath: ensureFaceModel(), threads: 2 });
for (const cfg of (process.argv[2] ?? '24/14,20/16,20/18,16/18').split(',')) {
  const [mf, mi] = cfg.split('/').map(Number);
  const per = new Map<number, { hit: number; all: number; miss: number[] }>();
  let extra = 0;
  for (let i = 0; i < truth.length; i++) {
    const img = { width: W, height: H, data: new Uint8Array(dec.subarray(i * size, (i + 1) * size)) };
    const found = await d.search(img, { minFaceWidth: mf, minInputFace: mi });
    for (const t of truth[i]!) {
      const k = Math.round(t.width);
      const e = per.get(k) ?? { hit: 0, all: 0, miss: [] };
      e.all++; if (found.some((f) => iou(f, t) >= 0.2)) e.hit++; else e.miss.push(i);
      per.set(k, e);
    }
    extra += found.filter((f) => !truth[i]!.some((t) => iou(f, t) >= 0.2)).length;
  }
  console.log(cfg, 'squares', searchSquares(W, H, { minFaceWidth: mf, minInputFace: mi }).length, [...per].map(([k, e]) => `${k}px ${e.hit}/${e.all} miss@${e.miss.join(',')}`).join(' | '), 'extra', extra);
}
await d.close();
