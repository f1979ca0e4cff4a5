import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { blurRegions } from '@cctv/vision';
import { motionRoi } from '../src/analysis/camera-analyzer.ts';
import { FrameAssembler } from '../src/analysis/frame-assembler.ts';
import { analysisArgs, fitWithin } from '../src/analysis/frame-reader.ts';

describe('frame assembler', () => {
  it('cuts frames out of chunks of any size, in order, without allocating per frame', () => {
    const got: number[][] = [];
    const buffers = new Set<Uint8Array>();
    const asm = new FrameAssembler(
      5,
      (f, i) => {
        buffers.add(f);
        got.push([i, ...f]);
      },
      3,
    );
    const bytes = Uint8Array.from({ length: 23 }, (_, i) => i);
    for (const cut of [
      [0, 3],
      [3, 4],
      [4, 17],
      [17, 23],
    ] as const)
      asm.push(bytes.subarray(...cut));
    assert.deepEqual(got, [
      [0, 0, 1, 2, 3, 4],
      [1, 5, 6, 7, 8, 9],
      [2, 10, 11, 12, 13, 14],
      [3, 15, 16, 17, 18, 19],
    ]);
    assert.equal(buffers.size, 3, 'frames reuse the ring');
    asm.reset();
    asm.push(Uint8Array.from([9, 9, 9, 9, 9]));
    assert.deepEqual(
      got.at(-1),
      [0, 9, 9, 9, 9, 9],
      'a reset drops the partial frame and restarts the count',
    );
    assert.throws(() => new FrameAssembler(0, () => {}), { code: 'FRAME_SIZE' });
  });
});

describe('analysis frames', () => {
  it('fits the detail frame within the limit, keeping the aspect ratio, even, never upscaled', () => {
    assert.deepEqual(fitWithin({ width: 1920, height: 1080 }, { width: 1280, height: 720 }), {
      width: 1280,
      height: 720,
    });
    assert.deepEqual(fitWithin({ width: 2592, height: 1944 }, { width: 1280, height: 720 }), {
      width: 960,
      height: 720,
    });
    assert.deepEqual(fitWithin({ width: 641, height: 361 }, { width: 1280, height: 720 }), {
      width: 640,
      height: 360,
    });
  });

  it('asks ffmpeg for gray frames on stdout and YUV 4:2:0 detail frames on fd 3', () => {
    const args = analysisArgs({
      inputArgs: ['-i', 'rtsp://cam/sub'],
      fps: 5,
      gray: { width: 320, height: 180 },
      detail: { width: 640, height: 360 },
    });
    const graph = args[args.indexOf('-filter_complex') + 1] ?? '';
    assert.match(graph, /fps=5,split=2/);
    assert.match(graph, /scale=320:180:flags=area,format=gray/);
    assert.match(graph, /scale=640:360:flags=bilinear,format=yuv420p/);
    assert.deepEqual(args.slice(-10), [
      '-map',
      '[mo]',
      '-f',
      'rawvideo',
      'pipe:1',
      '-map',
      '[do]',
      '-f',
      'rawvideo',
      'pipe:3',
    ]);
  });

  it('crops faces to the moving region only while it is small', () => {
    const gray = { width: 320, height: 180 };
    const detail = { width: 1280, height: 720 };
    const roi = motionRoi([{ x: 100, y: 50, width: 20, height: 40, area: 400, zones: [] }], gray, detail);
    assert.ok(roi);
    assert.ok(roi.x <= 400 && roi.y <= 200 && roi.x + roi.width >= 480 && roi.y + roi.height >= 360);
    assert.equal(
      motionRoi([{ x: 0, y: 0, width: 300, height: 170, area: 1, zones: [] }], gray, detail),
      null,
    );
    assert.equal(motionRoi([], gray, detail), null);
  });
});

describe('privacy blur', () => {
  it('flattens detail inside the region (luma and chroma) and leaves the rest untouched', () => {
    const width = 64;
    const height = 32;
    const data = new Uint8Array((width * height * 3) / 2);
    for (let i = 0; i < data.length; i++) data[i] = (i * 37) % 251;
    const before = data.slice();
    blurRegions({ width, height, data }, [{ x: 16, y: 8, width: 16, height: 16 }], 0);
    /** Mean absolute step to the right-hand neighbour inside a rectangle of a plane. */
    const detail = (plane: Uint8Array, x0: number, y0: number, x1: number, y1: number, stride: number) => {
      let sum = 0;
      let n = 0;
      for (let y = y0; y < y1; y++)
        for (let x = x0; x < x1 - 1; x++) {
          sum += Math.abs((plane[y * stride + x + 1] as number) - (plane[y * stride + x] as number));
          n++;
        }
      return sum / n;
    };
    const lumaBefore = detail(before, 16, 8, 32, 24, width);
    const lumaAfter = detail(data, 16, 8, 32, 24, width);
    assert.ok(lumaAfter < lumaBefore * 0.1, `luma detail ${lumaAfter} from ${lumaBefore}`);
    const u0 = before.subarray(width * height);
    const u1 = data.subarray(width * height);
    assert.ok(detail(u1, 8, 4, 16, 12, width / 2) < detail(u0, 8, 4, 16, 12, width / 2) * 0.2, 'chroma too');
    // Outside the region nothing changed.
    for (let y = 0; y < height; y++)
      for (let x = 0; x < width; x++)
        if (x < 16 || x >= 32 || y < 8 || y >= 24) assert.equal(data[y * width + x], before[y * width + x]);
  });

  it('keeps a flat colour its colour at every region size and mosaic (no zeroed chroma)', () => {
    const width = 320;
    const height = 240;
    for (const blocks of [3, 5])
      for (let side = 20; side <= 200; side += 6) {
        const data = new Uint8Array((width * height * 3) / 2);
        data.fill(120, 0, width * height);
        data.fill(90, width * height, width * height * 1.25);
        data.fill(170, width * height * 1.25);
        blurRegions({ width, height, data }, [{ x: 40, y: 20, width: side, height: side }], 0.2, blocks);
        const changed = data.findIndex(
          (v, i) => v !== (i < width * height ? 120 : i < width * height * 1.25 ? 90 : 170),
        );
        assert.equal(changed, -1, `side ${side}, ${blocks} blocks: byte ${changed} is ${data[changed]}`);
      }
  });
});
