import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { KeyframeCache, startsKeyframe } from '../src/live/keyframe-cache.ts';

/** An RTP packet (12-byte header, no CSRC, no extension) around `payload`. */
const rtp = (seq: number, ...payload: number[]) => {
  const header = Buffer.alloc(12);
  header[0] = 0x80;
  header[1] = 96;
  header.writeUInt16BE(seq, 2);
  return Buffer.concat([header, Buffer.from(payload)]);
};
const sps = (seq: number) => rtp(seq, 0x67, 0x42, 0x00, 0x1f);
const idrStart = (seq: number) => rtp(seq, 0x7c, 0x85, 0xaa); // FU-A, start bit, IDR
const idrMiddle = (seq: number) => rtp(seq, 0x7c, 0x05, 0xaa); // FU-A, no start bit
const slice = (seq: number) => rtp(seq, 0x41, 0x9a); // non-IDR slice
const stapWithSps = (seq: number) => rtp(seq, 0x78, 0x00, 0x04, 0x67, 0x42, 0x00, 0x1f);

describe('keyframe cache', () => {
  it('recognises the start of a keyframe in single, STAP-A and FU-A packets', () => {
    assert.ok(startsKeyframe(sps(1)));
    assert.ok(startsKeyframe(idrStart(1)));
    assert.ok(startsKeyframe(stapWithSps(1)));
    assert.ok(!startsKeyframe(idrMiddle(1)));
    assert.ok(!startsKeyframe(slice(1)));
    assert.ok(!startsKeyframe(Buffer.alloc(5)));
  });

  it('keeps the packets since the newest keyframe began, and nothing before the first', () => {
    const cache = new KeyframeCache();
    cache.add(slice(1));
    assert.equal(cache.snapshot().length, 0);
    const gop1 = [sps(2), idrStart(3), idrMiddle(4), slice(5)];
    for (const p of gop1) cache.add(p);
    assert.deepEqual(cache.snapshot(), gop1);
    // SPS then the IDR's first fragment: one keyframe, not two.
    const gop2 = [sps(6), idrStart(7), idrMiddle(8), slice(9), slice(10)];
    for (const p of gop2) cache.add(p);
    assert.deepEqual(cache.snapshot(), gop2);
  });

  it('gives up a GOP larger than its bound until the next keyframe', () => {
    const cache = new KeyframeCache(40);
    cache.add(sps(1));
    for (let i = 2; i < 10; i++) cache.add(slice(i));
    assert.equal(cache.snapshot().length, 0);
    cache.add(sps(10));
    assert.equal(cache.snapshot().length, 1);
  });
});
