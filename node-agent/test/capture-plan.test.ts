import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { diffCameras } from '../src/cameras/camera-set.ts';
import { decideCodec } from '../src/recorder/codec-policy.ts';
import { ProgressReader } from '../src/recorder/progress.ts';
import {
  inputArgs,
  parseSource,
  probeArgs,
  redactUrl,
  shellQuote,
  sourceProblem,
  transportsFor,
} from '../src/recorder/source.ts';
import { transportOrder } from '../src/recorder/transport-memory.ts';

describe('camera sources', () => {
  it('reads RTSP over the chosen transport with a read timeout, and RTSPS only over TCP', () => {
    const rtsp = parseSource('rtsp://admin:secret@10.0.0.20:554/Streaming/101');
    assert.deepEqual(transportsFor(rtsp, undefined), ['tcp', 'udp']);
    assert.deepEqual(transportsFor(rtsp, ['udp']), ['udp']);
    const udp = inputArgs(rtsp, { transport: 'udp', timeoutS: 5, gop: 30 }).args;
    assert.deepEqual(udp.slice(0, 6), [
      '-analyzeduration',
      '1000000',
      '-rtsp_transport',
      'udp',
      '-timeout',
      '5000000',
    ]);
    assert.ok(udp.includes('-buffer_size'));
    assert.equal(udp.at(-1), 'rtsp://admin:secret@10.0.0.20:554/Streaming/101');
    const tls = parseSource('rtsps://cam.lan:322/main');
    assert.deepEqual(transportsFor(tls, ['udp', 'tcp']), ['tcp']);
    assert.deepEqual(probeArgs(tls, { transport: 'tcp', timeoutS: 3, gop: 1 }), [
      '-analyzeduration',
      '1000000',
      '-rtsp_transport',
      'tcp',
      '-timeout',
      '3000000',
      'rtsps://cam.lan:322/main',
    ]);
  });

  it('reads HTTP streams, V4L2 devices, files and the Pi camera through a pipe', () => {
    assert.deepEqual(inputArgs(parseSource('https://cam/video.mjpg'), { timeoutS: 2, gop: 1 }).args, [
      '-rw_timeout',
      '2000000',
      '-i',
      'https://cam/video.mjpg',
    ]);
    assert.deepEqual(inputArgs(parseSource('/dev/video0'), { timeoutS: 2, gop: 1 }).args, [
      '-f',
      'v4l2',
      '-i',
      '/dev/video0',
    ]);
    const v4l2 = parseSource('v4l2:///dev/video2?input_format=h264&video_size=1280x720&framerate=15');
    assert.deepEqual(inputArgs(v4l2, { timeoutS: 2, gop: 1 }).args, [
      ...['-f', 'v4l2', '-input_format', 'h264', '-video_size', '1280x720', '-framerate', '15'],
      ...['-i', '/dev/video2'],
    ]);
    assert.deepEqual(inputArgs(parseSource('/srv/demo.mp4'), { timeoutS: 2, gop: 1 }).args, [
      ...['-re', '-stream_loop', '-1', '-i', '/srv/demo.mp4'],
    ]);
    const pi = inputArgs(parseSource('rpicam://1?width=1280&height=720&fps=20'), { timeoutS: 2, gop: 40 });
    assert.deepEqual(pi.args, ['-f', 'h264', '-framerate', '20', '-fflags', '+genpts', '-i', 'pipe:0']);
    assert.equal(pi.feeder?.command, 'rpicam-vid');
    const feederArgs = pi.feeder?.args.join(' ') ?? '';
    assert.match(feederArgs, /--camera 1 .*--intra 40 --width 1280 --height 720 --framerate 20/);
    assert.equal(probeArgs(parseSource('rpicam://'), { timeoutS: 2, gop: 1 }), null);
  });

  it('refuses what the agent cannot read, with the reason, and never logs a password', () => {
    assert.match(sourceProblem('ftp://cam/x') ?? '', /unsupported source "ftp:"/);
    assert.match(sourceProblem('v4l2:///tmp/x') ?? '', /must name a device/);
    assert.match(sourceProblem('v4l2:///dev/video0?video_size=big') ?? '', /video_size/);
    assert.match(sourceProblem('rpicam://0?fps=0') ?? '', /fps/);
    assert.match(sourceProblem('rpicam://99') ?? '', /camera index/);
    assert.equal(sourceProblem('rtsp://10.0.0.1/x'), null);
    assert.equal(redactUrl('rtsp://admin:s3cr:et@10.0.0.1/x'), 'rtsp://admin:***@10.0.0.1/x');
    assert.equal(redactUrl('rtsp://10.0.0.1/x'), 'rtsp://10.0.0.1/x');
    assert.equal(shellQuote("it's"), `'it'\\''s'`);
    assert.equal(shellQuote('/dev/video0'), '/dev/video0');
  });

  it('tries the transport that worked last first', () => {
    assert.deepEqual(transportOrder(['tcp', 'udp'], null), ['tcp', 'udp']);
    assert.deepEqual(transportOrder(['tcp', 'udp'], 'udp'), ['udp', 'tcp']);
    assert.deepEqual(transportOrder(['tcp'], 'udp'), ['tcp']);
  });
});

describe('codec policy', () => {
  const base = {
    width: 1920,
    height: 1080,
    fps: 15,
    target: 'hevc' as const,
    hwEncoders: [] as string[],
    encoder: 'auto' as const,
    hwFailed: false,
    gop: 30,
    x265Preset: 'ultrafast',
  };

  it('copies H.265, and H.264 only when the camera asks to keep its codec', () => {
    const hevc = decideCodec({ ...base, sourceCodec: 'hevc' });
    assert.deepEqual([hevc.mode, hevc.outputCodec], ['copy', 'hevc']);
    assert.ok(hevc.args.includes('hvc1'));
    const keep = decideCodec({ ...base, sourceCodec: 'h264', target: 'source' });
    assert.deepEqual([keep.mode, keep.outputCodec], ['copy', 'h264']);
    const mjpeg = decideCodec({ ...base, sourceCodec: 'mjpeg', target: 'source' });
    assert.equal(mjpeg.mode, 'transcode');
    assert.match(mjpeg.reason, /mjpeg, which cannot be stored as sent/);
  });

  it('encodes H.264 with hevc_v4l2m2m where present, else libx265, and says why', () => {
    const sw = decideCodec({ ...base, sourceCodec: 'h264' });
    assert.deepEqual([sw.mode, sw.encoder], ['transcode', 'libx265']);
    assert.ok(sw.args.includes('keyint=30:min-keyint=30:scenecut=0:open-gop=0:log-level=error'));
    const hw = decideCodec({ ...base, sourceCodec: 'h264', hwEncoders: ['h264_v4l2m2m', 'hevc_v4l2m2m'] });
    assert.equal(hw.encoder, 'hevc_v4l2m2m');
    assert.match(hw.reason, /hardware encoder/);
    const failed = decideCodec({
      ...base,
      sourceCodec: 'h264',
      hwEncoders: ['hevc_v4l2m2m'],
      hwFailed: true,
    });
    assert.equal(failed.encoder, 'libx265');
    assert.match(failed.reason, /hevc_v4l2m2m failed on this camera/);
    const asked = decideCodec({ ...base, sourceCodec: 'h264', encoder: 'hevc_v4l2m2m' });
    assert.equal(asked.encoder, 'libx265');
    assert.match(asked.reason, /not available in this ffmpeg/);
    const forcedSw = decideCodec({
      ...base,
      sourceCodec: 'h264',
      encoder: 'libx265',
      hwEncoders: ['hevc_v4l2m2m'],
    });
    assert.equal(forcedSw.encoder, 'libx265');
  });
});

describe('ffmpeg progress', () => {
  it('counts a block as progress only when frames or output time advanced', () => {
    const p = new ProgressReader();
    const block = (frame: number, us: number) =>
      [`frame=${frame}`, 'fps=10.0', `out_time_us=${us}`, 'progress=continue'].map((l) => p.line(l)).at(-1);
    assert.equal(block(10, 1_000_000), true);
    assert.equal(block(10, 1_000_000), false, 'a silent input repeats the same figures');
    assert.equal(block(11, 1_100_000), true);
    assert.equal(p.line('out_time_us=N/A'), false);
    assert.equal(p.line('progress=continue'), false);
  });
});

describe('camera set changes', () => {
  it('adds, removes, restarts changed cameras and leaves the rest alone', () => {
    const key = (spec: unknown) => JSON.stringify(spec);
    const current = new Map([
      ['a', key({ id: 'a', name: 'A', url: 'rtsp://x/a' })],
      ['b', key({ id: 'b', name: 'B', url: 'rtsp://x/b' })],
      ['c', key({ id: 'c', name: 'C', url: 'rtsp://x/c' })],
    ]);
    const change = diffCameras(current, [
      { id: 'a', spec: { url: 'rtsp://x/a', name: 'A', id: 'a' } }, // same keys, other order
      { id: 'b', spec: { id: 'b', name: 'B', url: 'rtsp://x/b2' } },
      { id: 'd', spec: { id: 'd', name: 'D', url: 'rtsp://x/d' } },
    ]);
    assert.deepEqual(change, { added: ['d'], removed: ['c'], changed: ['b'], unchanged: ['a'] });
  });
});
