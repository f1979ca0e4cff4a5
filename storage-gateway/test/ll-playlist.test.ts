/**
 * The LL-HLS feed model without a socket: fragmented MP4 boxes built here (a video track at
 * 90 kHz, parts of 240 ms, a keyframe every second) go into a feed; segments are cut at
 * keyframes, old ones dropped, blocking-reload conditions and the playlist checked line by line.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Fmp4Error } from '../src/live/fmp4.ts';
import { LiveFeed, type LiveFeedLimits } from '../src/live/live-feed.ts';
import { LiveFeeds, parseLlFile } from '../src/live/live-feeds.ts';

const u32 = (n: number) => {
  const b = Buffer.alloc(4);
  b.writeUInt32BE(n >>> 0);
  return b;
};
const box = (type: string, ...payload: Buffer[]) => {
  const body = Buffer.concat(payload);
  return Buffer.concat([u32(body.length + 8), Buffer.from(type, 'latin1'), body]);
};
const full = (type: string, version: number, flags: number, ...payload: Buffer[]) =>
  box(type, u32((version << 24) | flags), ...payload);

const TRACK = 1;
const init = () =>
  Buffer.concat([
    box('ftyp', Buffer.from('isom'), u32(512)),
    box(
      'moov',
      box(
        'trak',
        full('tkhd', 0, 3, u32(0), u32(0), u32(TRACK), Buffer.alloc(60)),
        box(
          'mdia',
          full('mdhd', 0, 0, u32(0), u32(0), u32(90_000), u32(0), Buffer.alloc(4)),
          full('hdlr', 0, 0, u32(0), Buffer.from('vide'), Buffer.alloc(13)),
        ),
      ),
      box('mvex', full('trex', 0, 0, u32(TRACK), u32(1), u32(3600), u32(0), u32(0x10000))),
    ),
  ]);

/** One part: `frames` samples of 40 ms, the first a keyframe or not. */
const part = (frames: number, keyframe: boolean) =>
  Buffer.concat([
    box(
      'moof',
      full('mfhd', 0, 0, u32(1)),
      box(
        'traf',
        full('tfhd', 0, 0x020000, u32(TRACK)),
        full('tfdt', 0, 0, u32(0)),
        // data offset, first sample flags; per sample: size
        full(
          'trun',
          0,
          0x01 | 0x04 | 0x200,
          u32(frames),
          u32(0),
          u32(keyframe ? 0x2000000 : 0x1010000),
          ...Array.from({ length: frames }, () => u32(100)),
        ),
      ),
    ),
    box('mdat', Buffer.alloc(frames * 100, 7)),
  ]);

const limits: LiveFeedLimits = {
  maxBoxBytes: 1 << 20,
  maxBytes: 1 << 24,
  windowS: 4,
  minSegmentS: 1,
  maxSegmentS: 10,
};

/** A second of video: a keyframe part and three more, 6+6+6+7 frames. */
const second = () => Buffer.concat([part(6, true), part(6, false), part(6, false), part(7, false)]);

describe('LL-HLS feed model', () => {
  it('cuts parts and segments at keyframes, drops what is before the first keyframe and past the window', () => {
    let now = 1_800_000_000_000;
    const feed = new LiveFeed('cam', 'node-1', 0.3, limits, () => now);
    feed.push(init());
    feed.push(part(6, false)); // no keyframe yet: a player could not start here
    assert.equal(feed.last, undefined);
    const bytes = Buffer.concat([second(), second(), part(6, true)]);
    // Any chunking: one byte at a time here.
    for (let i = 0; i < bytes.length; i++) {
      if (i % 500 === 0) now += 10;
      feed.push(bytes.subarray(i, i + 1));
    }
    assert.deepEqual(
      feed.segments.map((s) => [
        s.msn - feed.firstMsn,
        s.parts.length,
        s.complete,
        Number(s.duration.toFixed(3)),
      ]),
      [
        [0, 4, true, 1],
        [1, 4, true, 1],
        [2, 1, false, 0.24],
      ],
    );
    assert.equal(feed.targetDuration, 1);
    assert.ok(LiveFeeds.has(feed, feed.firstMsn + 1, undefined));
    assert.ok(LiveFeeds.has(feed, feed.firstMsn + 2, 0));
    assert.ok(!LiveFeeds.has(feed, feed.firstMsn + 2, 1));
    assert.ok(!LiveFeeds.has(feed, feed.firstMsn + 2, undefined));
    for (let i = 0; i < 8; i++) feed.push(second());
    // Three complete segments at least, and the window's 4 s behind the first.
    const done = feed.segments.filter((s) => s.complete);
    assert.ok(done.length >= 4 && done.length <= 6, String(done.length));
    assert.equal(
      feed.heldBytes,
      feed.segments.reduce((n, s) => n + s.bytes, 0),
    );
    assert.equal(feed.partCount, 4 + 4 + 1 + 32);
  });

  it('writes the playlist with parts for the newest segments, a preload hint and blocking reload', () => {
    const now = 1_800_000_000_000;
    const feeds = new LiveFeeds({ limits, idleMs: 60_000, now: () => now });
    const feed = feeds.open('cam', 'node-1', 0.3);
    feed.push(Buffer.concat([init(), second(), second(), second(), second(), part(6, true), part(6, false)]));
    const text = feeds.playlist(feed, 0);
    const lines = text.trim().split('\n');
    const id = feed.id;
    const m = feed.firstMsn;
    assert.deepEqual(lines.slice(0, 8), [
      '#EXTM3U',
      '#EXT-X-VERSION:9',
      '#EXT-X-INDEPENDENT-SEGMENTS',
      '#EXT-X-TARGETDURATION:1',
      '#EXT-X-SERVER-CONTROL:CAN-BLOCK-RELOAD=YES,PART-HOLD-BACK=0.900',
      '#EXT-X-PART-INF:PART-TARGET=0.300',
      `#EXT-X-MEDIA-SEQUENCE:${m}`,
      `#EXT-X-MAP:URI="ll/${id}/init.mp4"`,
    ]);
    // Four complete segments, parts listed for the last two and the growing one.
    assert.deepEqual(
      lines.filter((l) => !l.startsWith('#')),
      [0, 1, 2, 3].map((i) => `ll/${id}/${m + i}.m4s`),
    );
    const parts = lines.filter((l) => l.startsWith('#EXT-X-PART:'));
    assert.equal(parts.length, 4 + 4 + 2);
    assert.equal(parts[0], `#EXT-X-PART:DURATION=0.240,URI="ll/${id}/${m + 2}.0.m4s",INDEPENDENT=YES`);
    assert.equal(parts[1], `#EXT-X-PART:DURATION=0.240,URI="ll/${id}/${m + 2}.1.m4s"`);
    assert.equal(parts[3], `#EXT-X-PART:DURATION=0.280,URI="ll/${id}/${m + 2}.3.m4s"`);
    assert.equal(lines.at(-1), `#EXT-X-PRELOAD-HINT:TYPE=PART,URI="ll/${id}/${m + 4}.2.m4s"`);
    assert.equal(lines.filter((l) => l.startsWith('#EXT-X-PROGRAM-DATE-TIME:')).length, 5);
    // A grant from after the feed started lists only what starts in it (and the growing one).
    assert.equal(
      feeds
        .playlist(feed, now + 1)
        .split('\n')
        .filter((l) => l.startsWith('#EXTINF')).length,
      0,
    );
    feeds.stop();
    assert.equal(feed.ended, 'stopped');
  });

  it('replaces a camera feed, ends one nobody reads, and refuses what is not fragmented MP4', async () => {
    let now = 1_800_000_000_000;
    const ended: string[] = [];
    const feeds = new LiveFeeds({
      limits,
      idleMs: 50,
      now: () => now,
      onEnded: (_f, reason) => ended.push(reason),
    });
    const a = feeds.open('cam', null, 0.3);
    const b = feeds.open('cam', null, 0.3);
    assert.equal(a.ended, 'replaced');
    assert.equal(feeds.read('cam'), b);
    now += 1000;
    await new Promise((r) => setTimeout(r, 120));
    assert.equal(b.ended, 'idle');
    assert.deepEqual(ended, ['replaced', 'idle']);
    assert.equal(feeds.size, 0);
    feeds.stop();
    const bad = new LiveFeed('cam', null, 0.3, limits);
    assert.throws(() => bad.push(part(6, true)), Fmp4Error); // a fragment before the init
    const huge = new LiveFeed('cam', null, 0.3, { ...limits, maxBoxBytes: 100 });
    assert.throws(() => huge.push(init()), /over 100/);
    const zero = new LiveFeed('cam', null, 0.3, limits);
    assert.throws(() => zero.push(Buffer.from([0, 0, 0, 0, 0x6d, 0x64, 0x61, 0x74])), /to the end/);
  });

  it('names parts, segments and the init, and nothing else', () => {
    assert.deepEqual(parseLlFile('init.mp4'), { kind: 'init' });
    assert.deepEqual(parseLlFile('180000000000000012.3.m4s'), null); // over 16 digits
    assert.deepEqual(parseLlFile('1800000000000000.3.m4s'), { kind: 'part', msn: 1800000000000000, part: 3 });
    assert.deepEqual(parseLlFile('12.m4s'), { kind: 'segment', msn: 12 });
    for (const bad of ['../init.mp4', 'init.mp4x', '1.2.3.m4s', '.m4s', '1.m4s/..', 'x.m4s'])
      assert.equal(parseLlFile(bad), null, bad);
  });
});
