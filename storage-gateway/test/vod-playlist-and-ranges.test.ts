import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parseByteRange } from '../src/http/byte-range.ts';
import { relativeSegmentUri } from '../src/http/vod-routes.ts';
import { buildVodPlaylist, type PlaylistSegment } from '../src/vod/playlist.ts';
import { parseTimeRange } from '../src/vod/time-range.ts';

const t = (s: number) => new Date(Date.UTC(2026, 10, 23, 10, 0, 0) + s * 1000);
const seg = (name: string, startS: number, durationMs: number, initName = 'init-1.mp4'): PlaylistSegment => ({
  name,
  initName,
  startAt: t(startS),
  durationMs,
});

describe('VOD playlist builder', () => {
  it('writes a contiguous recording with one map and no discontinuity', () => {
    const text = buildVodPlaylist([seg('a.m4s', 0, 2000), seg('b.m4s', 2, 2000), seg('c.m4s', 4.5, 2400)], {
      uri: (n) => n,
    });
    assert.equal(
      text,
      [
        '#EXTM3U',
        '#EXT-X-VERSION:7',
        '#EXT-X-PLAYLIST-TYPE:VOD',
        '#EXT-X-INDEPENDENT-SEGMENTS',
        '#EXT-X-TARGETDURATION:3',
        '#EXT-X-MEDIA-SEQUENCE:0',
        '#EXT-X-MAP:URI="init-1.mp4"',
        '#EXT-X-PROGRAM-DATE-TIME:2026-11-23T10:00:00.000Z',
        '#EXTINF:2.000,',
        'a.m4s',
        '#EXT-X-PROGRAM-DATE-TIME:2026-11-23T10:00:02.000Z',
        '#EXTINF:2.000,',
        'b.m4s',
        '#EXT-X-PROGRAM-DATE-TIME:2026-11-23T10:00:04.500Z',
        '#EXTINF:2.400,',
        'c.m4s',
        '#EXT-X-ENDLIST',
        '',
      ].join('\n'),
    );
  });

  it('marks gaps over 1 s and init changes as discontinuities, with a new map', () => {
    const text = buildVodPlaylist(
      [
        seg('a.m4s', 0, 2000),
        seg('b.m4s', 3.5, 2000), // 1.5 s gap
        seg('c.m4s', 5.5, 2000, 'init-2.mp4'), // new init, no gap
        seg('d.m4s', 7.5, 6000, 'init-2.mp4'),
      ],
      { uri: (n) => `../segments/cam/${n}` },
    );
    const lines = text.split('\n');
    assert.equal(lines.filter((l) => l === '#EXT-X-DISCONTINUITY').length, 2);
    assert.deepEqual(
      lines.filter((l) => l.startsWith('#EXT-X-MAP')),
      ['#EXT-X-MAP:URI="../segments/cam/init-1.mp4"', '#EXT-X-MAP:URI="../segments/cam/init-2.mp4"'],
    );
    assert.equal(lines[lines.indexOf('../segments/cam/b.m4s') - 3], '#EXT-X-DISCONTINUITY');
    assert.equal(lines[lines.indexOf('../segments/cam/d.m4s') - 3], '../segments/cam/c.m4s');
    assert.ok(lines.includes('#EXT-X-TARGETDURATION:6'));
  });

  it('builds segment URIs relative to the playlist', () => {
    assert.equal(relativeSegmentUri('cam-1', 'x.m4s'), '../segments/cam-1/x.m4s');
    assert.equal(
      new URL(relativeSegmentUri('cam-1', 'x.m4s'), 'https://h/proxy/v1/vod/cam-1.m3u8?a=1').pathname,
      '/proxy/v1/segments/cam-1/x.m4s',
    );
    // Under a grant, the segment stays under the same grant.
    const grant = 'eyJhbGciOiJFZERTQSJ9.eyJjYW0iOiJjYW0tMSJ9.c2lnbmF0dXJl';
    assert.equal(
      new URL(relativeSegmentUri('cam-1', 'x.m4s'), `https://h/proxy/v1/g/${grant}/vod/cam-1.m3u8?a=1`)
        .pathname,
      `/proxy/v1/g/${grant}/segments/cam-1/x.m4s`,
    );
  });
});

describe('time range', () => {
  it('accepts a range up to 24 h and explains every refusal', () => {
    const ok = parseTimeRange('2026-11-23T10:00:00Z', '2026-11-24T10:00:00Z');
    assert.equal(ok.ok, true);
    const cases: [unknown, unknown, RegExp][] = [
      [undefined, '2026-11-23T10:00:00Z', /required/],
      ['2026-11-23', '2026-11-23T10:00:00Z', /from .* ISO-8601/],
      ['2026-11-23T10:00:00Z', 'soon', /to .* ISO-8601/],
      ['2026-11-23T10:00:00Z', '2026-11-23T10:00:00Z', /before/],
      ['2026-11-23T10:00:00Z', '2026-11-24T10:00:00.001Z', /24 h/],
    ];
    for (const [from, to, why] of cases) {
      const r = parseTimeRange(from, to);
      assert.equal(r.ok, false);
      if (!r.ok) assert.match(r.message, why);
    }
  });
});

describe('byte ranges', () => {
  it('parses single ranges and refuses ones past the end', () => {
    assert.deepEqual(parseByteRange('bytes=0-9', 100), { start: 0, end: 9 });
    assert.deepEqual(parseByteRange('bytes=90-', 100), { start: 90, end: 99 });
    assert.deepEqual(parseByteRange('bytes=90-500', 100), { start: 90, end: 99 });
    assert.deepEqual(parseByteRange('bytes=-10', 100), { start: 90, end: 99 });
    assert.deepEqual(parseByteRange('bytes=-500', 100), { start: 0, end: 99 });
    assert.equal(parseByteRange('bytes=100-', 100), 'unsatisfiable');
    assert.equal(parseByteRange('bytes=-0', 100), 'unsatisfiable');
    assert.equal(parseByteRange(undefined, 100), null);
    assert.equal(parseByteRange('bytes=0-1,5-6', 100), null);
    assert.equal(parseByteRange('items=0-1', 100), null);
    assert.equal(parseByteRange('bytes=9-1', 100), null);
  });
});
