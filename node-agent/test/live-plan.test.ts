import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  cameraLivePlan,
  LiveUnsupportedError,
  relayOutputArgs,
  simulatedLivePlan,
} from '../src/live/live-plan.ts';

const settings = { readTimeoutS: 5, rememberedTransport: () => undefined };

describe('live plans', () => {
  it('reads the substream when there is one, over the first configured transport', () => {
    const plan = cameraLivePlan(
      {
        id: 'cam',
        name: 'Cam',
        url: 'rtsp://u:secret@10.0.0.5/main',
        substreamUrl: 'rtsp://u:secret@10.0.0.5/sub',
        transports: ['udp', 'tcp'],
      },
      settings,
    );
    assert.equal(plan.input.at(-1), 'rtsp://u:secret@10.0.0.5/sub');
    assert.equal(plan.input[plan.input.indexOf('-rtsp_transport') + 1], 'udp');
    assert.ok(!plan.label.includes('secret'), plan.label);
    // The jsmpeg muxer gets the same source through a copying feeder, its options intact.
    assert.equal(plan.jsmpeg.url, 'pipe:0');
    assert.ok(plan.jsmpeg.feeder?.args.includes('udp'));
  });

  it('uses the transport that last worked', () => {
    const plan = cameraLivePlan(
      { id: 'cam', name: 'Cam', url: 'rtsp://10.0.0.5/main' },
      { ...settings, rememberedTransport: () => 'udp' },
    );
    assert.equal(plan.input[plan.input.indexOf('-rtsp_transport') + 1], 'udp');
  });

  it('refuses local devices, which their recorder holds', () => {
    assert.throws(
      () => cameraLivePlan({ id: 'cam', name: 'Cam', url: '/dev/video0' }, settings),
      LiveUnsupportedError,
    );
  });

  it('copies H.264 as Annex B with parameter sets on keyframes, encodes anything else', () => {
    const copy = relayOutputArgs({ videoPort: 5000, audioPort: null, encode: false, maxWidth: 960 });
    assert.deepEqual(copy.slice(copy.indexOf('-c:v'), copy.indexOf('-c:v') + 4), [
      '-c:v',
      'copy',
      '-bsf:v',
      'h264_mp4toannexb,dump_extra',
    ]);
    assert.ok(!copy.includes('-c:a'));
    assert.ok(copy.at(-1)?.startsWith('rtp://127.0.0.1:5000?pkt_size=1200'));
    const encode = relayOutputArgs({ videoPort: 5000, audioPort: 5002, encode: true, maxWidth: 640 });
    assert.ok(encode.includes('libx264') && encode.includes('zerolatency'));
    assert.ok(encode.some((a) => a.includes('min(640,iw)')));
    assert.equal(encode[encode.indexOf('-c:a') + 1], 'libopus');
    assert.ok(encode.at(-1)?.startsWith('rtp://127.0.0.1:5002'));
  });

  it('knows the simulated camera without a probe', () => {
    const plan = simulatedLivePlan({ width: 320, height: 180, fps: 10 }, null);
    assert.deepEqual(plan.streams, { video: 'rawvideo', audio: null });
    assert.equal(plan.probe, null);
  });
});
