/**
 * Recording from a real RTSP server (GStreamer's gst-rtsp-server fed by a live test pattern):
 * over TCP and over UDP, H.264 transcoded to H.265 and H.265 copied, checked with ffprobe.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { promisify } from 'node:util';
import pino from 'pino';
import { tempDir, waitFor } from '../../test/support/index.ts';
import { ensureRtspServerAvailable, startRtspServer } from '../../test/support/rtsp-server.ts';
import { probeVideo } from '../src/host/ffmpeg-info.ts';
import { type PlanDeps, SourcePlanner } from '../src/recorder/camera-plan.ts';
import { Recorder } from '../src/recorder/recorder.ts';
import { TransportMemory } from '../src/recorder/transport-memory.ts';
import { type FinishedSegment, playlistName } from '../src/spool/segment.ts';

const run = promisify(execFile);
const logger = pino({ level: process.env.LOG_LEVEL ?? 'silent' });
const SEGMENT_S = 2;
const FPS = 10;

interface Packet {
  dts_time: string;
  pts_time: string;
  duration_time: string;
  flags: string;
}

async function probeJson(args: string[]) {
  const { stdout } = await run('ffprobe', ['-v', 'error', '-of', 'json', ...args], {
    maxBuffer: 32 * 1024 * 1024,
  });
  return JSON.parse(stdout) as {
    streams: { codec_name: string; codec_tag_string: string; width: number; height: number }[];
    packets: Packet[];
  };
}

/** Records `count` segments from the URL with the given camera settings; returns them and the planner. */
async function record(url: string, cam: { transports?: ('tcp' | 'udp')[] }, count: number) {
  const dir = await tempDir('agent-rtsp-');
  const memory = new TransportMemory(join(dir, 'state'));
  await memory.load();
  const deps: PlanDeps = {
    probe: (input, timeoutMs) => probeVideo(input, timeoutMs),
    memory,
    piCameraCommand: async () => null,
  };
  const planner = new SourcePlanner(
    { id: 'cam', name: 'Cam', url, ...cam },
    {
      segmentSeconds: SEGMENT_S,
      probeTimeoutS: 4,
      readTimeoutS: 5,
      hevcEncoder: 'auto',
      x265Preset: 'ultrafast',
      hwEncoders: [],
    },
    deps,
  );
  const segments: FinishedSegment[] = [];
  const recorder = new Recorder({
    planner,
    spoolDir: join(dir, 'spool'),
    segmentSeconds: SEGMENT_S,
    logger,
    pollMs: 200,
    onSegment: (s) => segments.push(s),
  });
  after(() => recorder.stop());
  await recorder.start();
  await waitFor(`${count} segments`, () => segments.length >= count, 40_000);
  const status = recorder.status();
  await recorder.stop();
  return { dir, segments, planner, status, memory };
}

/** Codec of each segment, keyframe at each start, durations, and continuous timestamps. */
/**
 * `overUdp`: the camera's packets come over UDP, where a keyframe lost on a loaded host makes the
 * segment run on to the next one (two segment lengths): whole segment lengths are allowed.
 */
async function checkRecording(segments: FinishedSegment[], codec: string, overUdp = false) {
  const first = segments[0];
  assert.ok(first);
  const runPlaylist = join(first.path, '..', playlistName(first.name.split('-')[0] ?? ''));
  const whole = await probeJson([
    '-show_entries',
    'stream=codec_name,codec_tag_string,width,height:packet=dts_time,pts_time,duration_time,flags',
    runPlaylist,
  ]);
  assert.equal(whole.streams[0]?.codec_name, codec);
  assert.equal(whole.streams[0]?.width, 320);
  // Media timestamps run on without gaps or steps back across segment boundaries.
  const dts = whole.packets.map((p) => Number(p.dts_time));
  const frame = 1 / FPS;
  for (let i = 1; i < dts.length; i++) {
    const step = (dts[i] ?? 0) - (dts[i - 1] ?? 0);
    assert.ok(step > 0 && step < 2.5 * frame, `dts step ${step.toFixed(3)} s at packet ${i}`);
  }
  // Every segment starts on a keyframe and lasts the segment length. The first one of a run
  // runs on to the first keyframe at least segmentSeconds after the run's first frame (with
  // -c copy the camera's keyframes; when encoding, the muxer can miss the first by a frame's
  // reordering delay): between one and two segment lengths.
  segments.slice(0, -1).forEach((s, i) => {
    const ms = s.durationMs;
    const lengths = overUdp ? Math.max(1, Math.round(ms / (SEGMENT_S * 1000))) : 1;
    const ok =
      i === 0
        ? ms >= SEGMENT_S * 1000 - 250 && ms <= 2 * SEGMENT_S * 1000 + 250
        : lengths <= 2 && Math.abs(ms - lengths * SEGMENT_S * 1000) <= 250;
    assert.ok(ok, `${s.name}: ${ms} ms`);
  });
  for (const s of segments.slice(0, 3)) {
    const joined = join(s.path, '..', `probe-${s.name}.mp4`);
    await writeFile(joined, Buffer.concat([await readFile(s.initPath), await readFile(s.path)]));
    const one = await probeJson(['-show_entries', 'packet=flags', '-read_intervals', '%+#1', joined]);
    assert.match(one.packets[0]?.flags ?? '', /K/, `${s.name} starts on a keyframe`);
  }
  // Wall-clock starts follow each other by the durations (the gateway indexes by these).
  for (let i = 1; i < segments.length; i++) {
    const prev = segments[i - 1];
    const cur = segments[i];
    if (!prev || !cur) continue;
    const gap = cur.startAt.getTime() - (prev.startAt.getTime() + prev.durationMs);
    assert.ok(Math.abs(gap) <= 150, `wall-clock gap ${gap} ms before ${cur.name}`);
  }
}

describe('recording from a real RTSP server', () => {
  before(() => ensureRtspServerAvailable());

  it('records an H.264 camera over TCP, transcoded to H.265 (hvc1)', async () => {
    const server = await startRtspServer({
      codec: 'h264',
      width: 320,
      height: 180,
      fps: FPS,
      gop: 20,
      protocols: ['tcp'],
    });
    const { segments, status, planner } = await record(server.url, {}, 4);
    assert.equal(status.transport, 'tcp');
    assert.deepEqual([status.mode, status.encoder], ['transcode', 'libx265']);
    assert.match(
      planner.info().recording.reason,
      /source is h264: encoded to H.265 with libx265.*over RTSP\/TCP/,
    );
    assert.ok(segments.every((s) => s.codec === 'hevc'));
    await checkRecording(segments, 'hevc');
  });

  it('records an H.265 camera that offers only UDP with -c copy, falling back from TCP and remembering it', async () => {
    const server = await startRtspServer({
      codec: 'h265',
      width: 320,
      height: 180,
      fps: FPS,
      gop: 20,
      protocols: ['udp'],
    });
    const { segments, status, memory } = await record(server.url, { transports: ['tcp', 'udp'] }, 4);
    assert.equal(status.transport, 'udp');
    assert.deepEqual([status.mode, status.encoder], ['copy', 'copy']);
    assert.equal(memory.get('cam', server.url), 'udp', 'the working transport is remembered');
    await checkRecording(segments, 'hevc', true);
    const tag = await probeJson(['-show_entries', 'stream=codec_tag_string', segments[0]?.initPath ?? '']);
    assert.equal(tag.streams[0]?.codec_tag_string, 'hvc1');
  });
});
