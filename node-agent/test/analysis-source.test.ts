import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { tempDir } from '../../test/support/index.ts';
import { cameraAnalysisSource } from '../src/analysis/analysis-source.ts';
import { detectSettings } from '../src/analysis/detect-settings.ts';
import { TransportMemory } from '../src/recorder/transport-memory.ts';

const settings = detectSettings(undefined);

describe('analysis source', () => {
  it('analyses the substream, tries transports in order, then starts with the one that worked', async () => {
    const memory = new TransportMemory(await tempDir(), () => {});
    const probed: string[] = [];
    const source = cameraAnalysisSource(
      { id: 'cam', url: 'rtsp://10.9.0.1/main', substreamUrl: 'rtsp://10.9.0.1/sub' },
      settings,
      {
        memory,
        probeTimeoutS: 1,
        readTimeoutS: 5,
        maxDetail: { width: 1280, height: 720 },
        probe: async (input) => {
          const transport = input[input.indexOf('-rtsp_transport') + 1] ?? '';
          probed.push(`${transport} ${input.at(-1)}`);
          if (transport === 'tcp') throw new Error('461 Unsupported transport');
          return { codec: 'h264', width: 1920, height: 1080, fps: 15 };
        },
      },
    );
    assert.ok(source.ok);
    const plan = await source.plan();
    assert.deepEqual(probed, ['tcp rtsp://10.9.0.1/sub', 'udp rtsp://10.9.0.1/sub']);
    assert.deepEqual(plan.detail, { width: 1280, height: 720 });
    assert.deepEqual(plan.gray, { width: 320, height: 180 });
    assert.ok(plan.inputArgs.join(' ').includes('-rtsp_transport udp'));
    probed.length = 0;
    await source.plan();
    assert.deepEqual(probed, ['udp rtsp://10.9.0.1/sub'], 'the transport that worked goes first');
  });

  it('says why when the stream cannot be opened, and refuses devices only the recorder can hold', async () => {
    const memory = new TransportMemory(await tempDir(), () => {});
    const deps = {
      memory,
      probeTimeoutS: 1,
      readTimeoutS: 5,
      maxDetail: { width: 1280, height: 720 },
      probe: async () => {
        throw new Error('Connection refused');
      },
    };
    const source = cameraAnalysisSource(
      { id: 'cam', url: 'rtsp://10.9.0.1/main', transports: ['tcp'] },
      settings,
      deps,
    );
    assert.ok(source.ok);
    await assert.rejects(source.plan(), { code: 'PREPARE_FAILED', message: /tcp: Connection refused/ });
    const pi = cameraAnalysisSource({ id: 'pi', url: 'rpicam://0' }, settings, deps);
    assert.equal(pi.ok, false);
    const usb = cameraAnalysisSource({ id: 'usb', url: '/dev/video0' }, settings, deps);
    assert.ok(!usb.ok && /substreamUrl/.test(usb.reason));
    assert.ok(
      cameraAnalysisSource(
        { id: 'usb', url: '/dev/video0', substreamUrl: 'rtsp://10.9.0.1/sub' },
        settings,
        deps,
      ).ok,
    );
  });
});
