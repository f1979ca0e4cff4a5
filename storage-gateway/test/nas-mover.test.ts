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

async function moverWith(
  index: { setLocation: (camera: string, name: string) => Promise<unknown> },
  remove?: (camera: string, name: string) => Promise<void>,
) {
  const dir = await tempDir('cctv-release-');
  const files = new SegmentFiles(join(dir, 'buffer'), join(dir, 'nas'));
  await mkdir(join(dir, 'buffer', 'cam-r'), { recursive: true });
  await writeFile(files.bufferPath('cam-r', 's1.m4s'), 'bytes');
  const events: string[] = [];
  const mover = new NasMover({
    nas: { copy: async () => ({ status: 'copied', bytes: 5 }), ...(remove ? { remove } : {}) },
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

  it('removes both copies of a segment whose row retention deleted while it waited here', async () => {
    // Another gateway moved its own copy first, and retention took the segment since: the copy
    // just made here would be a NAS file without a row.
    const removed: string[] = [];
    const { events, buffered } = await moverWith({ setLocation: async () => false }, async (camera, name) => {
      removed.push(`${camera}/${name}`);
    });
    assert.deepEqual(removed, ['cam-r/s1.m4s']);
    assert.deepEqual(events, [], 'not counted as a move');
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

describe('mover lag', () => {
  const item = (name: string, bytes: number) => ({
    camera: 'cam-l',
    name,
    sha256: 'b'.repeat(64),
    bytes,
    timeMs: Number(name.replace(/\D/g, '')),
    arrivedMs: 0,
  });

  it('counts what arrives while a healthy NAS is slower than ingest, never an outage or the start backlog', async () => {
    const dir = await tempDir('cctv-lag-');
    const files = new SegmentFiles(join(dir, 'buffer'), join(dir, 'nas'));
    await mkdir(join(dir, 'buffer', 'cam-l'), { recursive: true });
    let failNext = false;
    const gates: (() => void)[] = [];
    const mover = new NasMover({
      nas: {
        copy: () =>
          new Promise((resolve, reject) => {
            if (failNext) {
              failNext = false;
              return reject(Object.assign(new Error('gone'), { code: 'ENOENT' }));
            }
            gates.push(() => resolve({ status: 'copied', bytes: 1 }));
          }),
      },
      ...testMoverOptions(files),
      drainBytesPerS: 0,
      parallel: 2,
      delay: () => new Promise((r) => setImmediate(r)),
      index: { setLocation: async () => true },
    });
    // Buffered before the start: work for the mover, not lag.
    mover.enqueue(item('s1.m4s', 100));
    mover.enqueue(item('s2.m4s', 100));
    mover.resetLag();
    assert.equal(mover.lagBytes, 0);
    mover.start();
    await waitFor('two moves in flight', () => gates.length === 2);
    mover.enqueue(item('s3.m4s', 50));
    mover.enqueue(item('s4.m4s', 50));
    assert.equal(mover.lagBytes, 100, 'acknowledged while the first moves are still running');
    // Moving lowers the lag once the backlog falls below where it was.
    for (const open of gates.splice(0)) open();
    await waitFor('the next two in flight', () => gates.length === 2);
    for (const open of gates.splice(0)) open();
    await waitFor('drained', () => mover.backlog === 0);
    assert.equal(mover.lagBytes, 0);
    // While the NAS fails, the buffer absorbs: no lag however much arrives.
    failNext = true;
    mover.enqueue(item('s5.m4s', 70));
    await waitFor('failing', () => mover.degraded);
    mover.enqueue(item('s6.m4s', 70));
    assert.equal(mover.lagBytes, 0);
    await waitFor('retrying', () => gates.length === 1);
    for (const open of gates.splice(0)) open();
    await waitFor('healthy again', () => !mover.degraded && gates.length === 1);
    // Healthy again: what the outage left is not lag; what arrives now, beyond it, is.
    assert.equal(mover.lagBytes, 0);
    mover.enqueue(item('s7.m4s', 30));
    assert.equal(mover.lagBytes, 30);
    for (const open of gates.splice(0)) open();
    await waitFor('s7 in flight', () => gates.length === 1);
    for (const open of gates.splice(0)) open();
    await waitFor('drained again', () => mover.backlog === 0);
    assert.equal(mover.lagBytes, 0);
    await mover.stop();
  });
});
