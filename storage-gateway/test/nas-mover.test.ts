/**
 * The NAS module owns "the index says `nas` before the buffered copy goes": with a fake NAS
 * and index, a moved segment is recorded while its buffered file still exists, and an index
 * that cannot be written keeps the file until a retry records it.
 */
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { tempDir, waitFor } from '../../test/support/index.ts';
import { SegmentFiles } from '../src/files/segment-files.ts';
import { NasMover } from '../src/nas/nas-mover.ts';
import { testMoverOptions } from './mover-options.ts';

async function moverWith(index: { setLocation: (camera: string, name: string) => Promise<unknown> }) {
  const dir = await tempDir('cctv-release-');
  const files = new SegmentFiles(join(dir, 'buffer'), join(dir, 'nas'));
  await mkdir(join(dir, 'buffer', 'cam-r'), { recursive: true });
  await writeFile(files.bufferPath('cam-r', 's1.m4s'), 'bytes');
  const events: string[] = [];
  const mover = new NasMover({
    nas: { copy: async () => ({ status: 'copied', bytes: 5 }) },
    ...testMoverOptions(files),
    drainBytesPerS: 0,
    parallel: 1,
    delay: () => new Promise((r) => setImmediate(r)),
    index: { setLocation: index.setLocation },
    onMoved: () => {
      events.push(
        `moved, buffered copy ${existsSync(files.bufferPath('cam-r', 's1.m4s')) ? 'kept' : 'gone'}`,
      );
    },
    onFailure: (_item, reason) => events.push(`failed: ${reason}`),
  });
  mover.start();
  mover.enqueue({
    camera: 'cam-r',
    name: 's1.m4s',
    sha256: 'a'.repeat(64),
    bytes: 5,
    timeMs: 0,
    arrivedMs: 0,
  });
  await waitFor('drained', () => mover.backlog === 0);
  await mover.stop();
  return { events, buffered: existsSync(files.bufferPath('cam-r', 's1.m4s')) };
}

describe('buffered copy release', () => {
  it('records nas in the index while the buffered copy still exists, then deletes it', async () => {
    const seen: string[] = [];
    const { events, buffered } = await moverWith({
      setLocation: async (camera, name) => {
        seen.push(`${camera}/${name}`);
      },
    });
    assert.deepEqual(seen, ['cam-r/s1.m4s']);
    assert.deepEqual(events, ['moved, buffered copy kept']);
    assert.equal(buffered, false);
  });

  it('keeps the buffered copy while the index cannot say nas, and retries', async () => {
    let calls = 0;
    const { events, buffered } = await moverWith({
      setLocation: async () => {
        calls += 1;
        if (calls === 1) throw new Error('index unreachable');
      },
    });
    assert.equal(calls, 2);
    assert.equal(events.length, 2, events.join('; '));
    assert.match(events[0] ?? '', /^failed: /);
    assert.equal(events[1], 'moved, buffered copy kept');
    assert.equal(buffered, false);
  });
});
