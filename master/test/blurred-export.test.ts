/**
 * The blurred export over a recorded clip in which people walk through the frame at several
 * distances (faces 28 to 110 px wide in 720p, `walkingScene`): the export pipeline (ffmpeg
 * decode, face search, blur held across frames, ffmpeg encode) run on the clip; then every frame
 * of the export searched exhaustively (faces from 16 px, 50 squares a frame, more than the export
 * searches): no box it finds may lie on a walker's face (faces hidden behind another walker do
 * not count), while the same search finds the walkers in the recording. Its other boxes are the
 * detector's false boxes (hands, mostly: their scores move around the threshold as the blur next
 * to them changes the context); they are reported, not failed.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { FaceDetector, type I420Image, iou, type Rect } from '@cctv/vision/faces';
import { ensureFaceModel } from '../../node-agent/scripts/fetch-face-model.mjs';
import { tempDir } from '../../test/support/index.ts';
import { walkingScene } from '../../vision/test/support/camera-frames.ts';
import { type BlurredExportOptions, EXPORT_SEARCH, exportBlurred } from '../src/exports/blurred-export.ts';

const WIDTH = 1280;
const HEIGHT = 720;
const FPS = 15;
/** The exhaustive search: smaller faces than the export looks for, more pixels per face. */
const EXHAUSTIVE = { minFaceWidth: 16, minInputFace: 18 };

function ffmpeg(args: string[], input?: AsyncIterable<Uint8Array>): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const child = spawn('ffmpeg', ['-v', 'error', '-nostdin', ...args], { stdio: ['pipe', 'pipe', 'pipe'] });
    const out: Buffer[] = [];
    let err = '';
    child.stdout.on('data', (b: Buffer) => out.push(b));
    child.stderr.on('data', (b: Buffer) => {
      err += b.toString();
    });
    child.on('close', (code) =>
      code === 0 ? resolve(Buffer.concat(out)) : reject(new Error(`ffmpeg: ${err}`)),
    );
    child.stdin.on('error', () => {});
    void (async () => {
      if (input)
        for await (const chunk of input)
          if (!child.stdin.write(chunk)) await new Promise((r) => child.stdin.once('drain', r));
      child.stdin.end();
    })();
  });
}

async function frames(path: string): Promise<I420Image[]> {
  const raw = await ffmpeg(['-i', path, '-pix_fmt', 'yuv420p', '-f', 'rawvideo', '-']);
  const size = WIDTH * HEIGHT * 1.5;
  const out: I420Image[] = [];
  for (let at = 0; at + size <= raw.length; at += size)
    out.push({ width: WIDTH, height: HEIGHT, data: new Uint8Array(raw.subarray(at, at + size)) });
  return out;
}

describe('blurred export of people walking through the frame', () => {
  let detector: FaceDetector;
  let dir: string;
  let recorded: string;
  let labelled = 0;
  const truth: Rect[][] = [];
  before(async () => {
    detector = await FaceDetector.create({ modelPath: ensureFaceModel() });
    dir = await tempDir('cctv-blur-walk-');
    recorded = join(dir, 'recorded.mp4');
    // The recording: the scene encoded as a camera's H.264 would be.
    await ffmpeg(
      [
        ...[
          '-f',
          'rawvideo',
          '-pix_fmt',
          'yuv420p',
          '-s',
          `${WIDTH}x${HEIGHT}`,
          '-r',
          String(FPS),
          '-i',
          '-',
        ],
        ...['-c:v', 'libx264', '-preset', 'veryfast', '-crf', '23', '-g', String(FPS * 2), '-y', recorded],
      ],
      (async function* () {
        for await (const f of walkingScene({ width: WIDTH, height: HEIGHT, frames: 45 })) {
          labelled += f.faces.length;
          truth.push(f.faces);
          yield f.image.data;
        }
      })(),
    );
  });
  after(() => detector.close());

  const onFace = (b: Rect, faces: Rect[]) =>
    faces.some((face) => {
      const cx = b.x + b.width / 2;
      const cy = b.y + b.height / 2;
      const centred = cx >= face.x && cx < face.x + face.width && cy >= face.y && cy < face.y + face.height;
      return centred || iou(b, face) >= 0.2;
    });

  const exportOf = (out: string, how: Pick<BlurredExportOptions, 'detector' | 'motion' | 'keepVisible'>) =>
    exportBlurred({ url: recorded, out, ffmpeg: 'ffmpeg', onProgress: () => {}, onChild: () => {}, ...how });

  /** Mean luma step between neighbours inside `r`: what is left of the picture's detail. */
  const detail = (img: I420Image, r: Rect) => {
    let sum = 0;
    let n = 0;
    for (let y = Math.max(0, Math.round(r.y)); y < Math.min(HEIGHT, r.y + r.height); y++)
      for (let x = Math.max(0, Math.round(r.x)); x < Math.min(WIDTH - 1, r.x + r.width); x++) {
        sum += Math.abs((img.data[y * WIDTH + x + 1] as number) - (img.data[y * WIDTH + x] as number));
        n++;
      }
    return n ? sum / n : 0;
  };

  /** Mean absolute luma difference of two frames inside `r`. */
  const meanDifference = (a: I420Image, b: I420Image, r: Rect) => {
    let sum = 0;
    let n = 0;
    for (let y = r.y; y < r.y + r.height; y++)
      for (let x = r.x; x < r.x + r.width; x++) {
        sum += Math.abs((a.data[y * WIDTH + x] as number) - (b.data[y * WIDTH + x] as number));
        n++;
      }
    return sum / n;
  };

  /** Boxes of the exhaustive search in `exported` on a labelled face, and elsewhere. */
  async function leaksIn(exported: I420Image[]): Promise<{ leaks: string[]; falseBoxes: number }> {
    const leaks: string[] = [];
    let falseBoxes = 0;
    for (const [i, f] of exported.entries())
      for (const b of await detector.search(f, EXHAUSTIVE)) {
        const line = `frame ${i}: ${Math.round(b.width)} px at ${Math.round(b.x)},${Math.round(b.y)} (${b.score.toFixed(2)})`;
        if (onFace(b, truth[i] ?? [])) leaks.push(line);
        else falseBoxes++;
      }
    return { leaks, falseBoxes };
  }

  it('leaves no face the exhaustive search can find in any frame', async (t) => {
    const out = join(dir, 'blurred.mp4');
    const result = await exportOf(out, { detector: async () => detector });
    const before = await frames(recorded);
    const exported = await frames(out);
    assert.equal(exported.length, before.length, 'every frame is exported');
    assert.equal(result.frames, before.length);

    let seenBefore = 0;
    let falseInRecording = 0;
    const widths: number[] = [];
    for (const [i, f] of before.entries()) {
      const found = await detector.search(f, EXHAUSTIVE);
      seenBefore += found.length;
      falseInRecording += found.filter((b) => !onFace(b, truth[i] ?? [])).length;
      for (const b of found) widths.push(Math.round(b.width));
    }
    const { leaks, falseBoxes } = await leaksIn(exported);
    widths.sort((a, b) => a - b);
    t.diagnostic(
      `${before.length} frames, ${labelled} faces placed; the exhaustive search finds ${seenBefore} in the recording (box widths ${widths[0]}–${widths.at(-1)} px); in the export ${leaks.length} on faces and ${falseBoxes} elsewhere (${falseInRecording} in the recording); the export found ${result.faces} (searching ${JSON.stringify(EXPORT_SEARCH)})`,
    );
    assert.ok(seenBefore >= labelled * 0.8, `the recording shows its walkers (${seenBefore} of ${labelled})`);
    assert.ok((widths[0] ?? 0) < 45 && (widths.at(-1) ?? 0) > 90, 'near and far walkers are both found');
    assert.deepEqual(leaks, [], 'a face is left in the blurred export');
  });

  it('blurs the walkers whole when moving people are blurred, faces not searched', async (t) => {
    const out = join(dir, 'moving.mp4');
    const result = await exportOf(out, { detector: null, motion: true });
    assert.equal(result.faces, 0, 'no face search');
    const exported = await frames(out);
    const { leaks, falseBoxes } = await leaksIn(exported);
    t.diagnostic(
      `${exported.length} frames; the exhaustive search finds ${leaks.length} on faces, ${falseBoxes} elsewhere`,
    );
    assert.deepEqual(leaks, [], 'a walker is left recognisable');
    // The walkers' bodies are blurred too: little detail is left where they are.
    const recordedFrames = await frames(recorded);
    let flatter = 0;
    let all = 0;
    truth.forEach((faces, i) => {
      for (const face of faces) {
        // Below the face: the shoulders and chest of the walker.
        const body = {
          x: face.x - face.width / 2,
          y: face.y + face.height * 1.2,
          width: face.width * 2,
          height: face.height,
        };
        all++;
        if (detail(exported[i] as I420Image, body) < detail(recordedFrames[i] as I420Image, body) * 0.5)
          flatter++;
      }
    });
    t.diagnostic(`walkers' bodies with under half their detail left: ${flatter} of ${all}`);
    assert.ok(flatter >= all * 0.9, `${flatter} of ${all} walkers' bodies blurred`);
  });

  it('keeps only the visible area as recorded and blurs the rest of every frame', async (t) => {
    const out = join(dir, 'kept.mp4');
    // The left half, as a triangle and a quadrilateral sharing the diagonal.
    const keepVisible = [
      [
        [0, 0],
        [0.5, 0],
        [0.5, 1],
      ],
      [
        [0, 0],
        [0.5, 1],
        [0, 1],
        [0, 0.5],
      ],
    ] as [number, number][][];
    await exportOf(out, { detector: null, keepVisible });
    const recordedFrames = await frames(recorded);
    const exported = await frames(out);
    const left = { x: 0, y: 0, width: WIDTH / 2 - 8, height: HEIGHT };
    const right = { x: WIDTH / 2 + 8, y: 0, width: WIDTH / 2 - 8, height: HEIGHT };
    let leftKept = 0;
    let rightBlurred = 0;
    exported.forEach((f, i) => {
      const r = recordedFrames[i] as I420Image;
      if (meanDifference(f, r, left) < 4) leftKept++;
      if (detail(f, right) < detail(r, right) * 0.3) rightBlurred++;
    });
    t.diagnostic(
      `${exported.length} frames: left half kept in ${leftKept}, right half blurred in ${rightBlurred}`,
    );
    assert.equal(leftKept, exported.length, 'the visible area is as recorded (but for the encoding)');
    assert.equal(rightBlurred, exported.length, 'outside it, every frame is blurred');
    const { leaks } = await leaksIn(exported);
    const rightLeaks = leaks.filter((l) => Number(/at (\d+),/.exec(l)?.[1]) > WIDTH / 2);
    assert.deepEqual(rightLeaks, [], 'no face is left outside the visible area');
  });
});
