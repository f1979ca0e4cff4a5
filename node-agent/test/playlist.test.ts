import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { segmentKind } from '@cctv/protocol';
import { parseFfmpegVersion, parseHwEncoders } from '../src/host/ffmpeg-info.ts';
import { parsePlaylist, parseProgramDateTime } from '../src/spool/playlist.ts';
import { compareSegmentNames, newRunId, parseSegmentName } from '../src/spool/segment.ts';

const sample = `#EXTM3U
#EXT-X-VERSION:7
#EXT-X-TARGETDURATION:2
#EXT-X-MEDIA-SEQUENCE:0
#EXT-X-INDEPENDENT-SEGMENTS
#EXT-X-MAP:URI="init-20261123T101500123Z.mp4"
#EXTINF:2.000000,
#EXT-X-PROGRAM-DATE-TIME:2026-11-23T10:15:00.467+0000
20261123T101500123Z-000000.m4s
#EXTINF:1.966667,
#EXT-X-PROGRAM-DATE-TIME:2026-11-23T10:15:02.467+0000
20261123T101500123Z-000001.m4s
`;

describe('playlist parsing', () => {
  it('reads durations, wall-clock starts and the init map', () => {
    const p = parsePlaylist(sample);
    assert.equal(p.ended, false);
    assert.equal(p.targetDurationS, 2);
    assert.equal(p.entries.length, 2);
    assert.deepEqual(p.entries[1], {
      uri: '20261123T101500123Z-000001.m4s',
      durationMs: 1967,
      startAt: new Date('2026-11-23T10:15:02.467Z'),
      initUri: 'init-20261123T101500123Z.mp4',
    });
  });

  it('sees the end of a run and ignores a half-written last line', () => {
    assert.equal(parsePlaylist(`${sample}#EXT-X-ENDLIST\n`).ended, true);
    const cut = `${sample}#EXTINF:2.000000,\n#EXT-X-PROGRAM-DATE-TIME:2026-11-23T10:15:04.467+0000\n20261123T1015`;
    assert.equal(parsePlaylist(cut).entries.length, 2);
  });

  it('parses program date times with and without a colon in the offset', () => {
    assert.equal(
      parseProgramDateTime('2026-11-23T10:15:00.467+0100')?.toISOString(),
      '2026-11-23T09:15:00.467Z',
    );
    assert.equal(parseProgramDateTime('2026-11-23T10:15:00Z')?.toISOString(), '2026-11-23T10:15:00.000Z');
    assert.equal(parseProgramDateTime('yesterday'), null);
  });
});

describe('segment names', () => {
  it('are valid gateway names and sort in recording order across runs', () => {
    const run = newRunId(new Date('2026-11-23T10:15:00.123Z'));
    assert.equal(run, '20261123T101500123Z');
    const a = `${run}-000009.m4s`;
    const b = `${run}-000010.m4s`;
    const c = `${run}-1000000.m4s`; // counter past its padding
    const d = '20261123T101600000Z-000000.m4s';
    assert.equal(segmentKind(a), 'media');
    assert.deepEqual(parseSegmentName(c), { runId: run, counter: 1_000_000 });
    assert.deepEqual([d, c, b, a].sort(compareSegmentNames), [a, b, c, d]);
  });
});

describe('ffmpeg output parsing', () => {
  it('finds the version and hardware encoders', () => {
    assert.equal(parseFfmpegVersion('ffmpeg version 5.1.9-0+deb12u1 Copyright (c) 2000'), '5.1.9-0+deb12u1');
    const encoders = [
      ' V....D libx265              libx265 H.265 / HEVC (codec hevc)',
      ' V....D hevc_v4l2m2m         V4L2 mem2mem HEVC encoder wrapper (codec hevc)',
      ' V....D h264_vaapi           H.264/AVC (VAAPI) (codec h264)',
      ' A....D aac                  AAC (Advanced Audio Coding)',
    ].join('\n');
    assert.deepEqual(parseHwEncoders(encoders), ['hevc_v4l2m2m', 'h264_vaapi']);
  });
});
