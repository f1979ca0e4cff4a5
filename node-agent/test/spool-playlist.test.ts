import assert from 'node:assert/strict';
import { rename, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { segmentKind } from '@cctv/protocol';
import { tempDir } from '../../test/support/index.ts';
import { parseFfmpegVersion, parseHwEncoders } from '../src/host/ffmpeg-info.ts';
import { parsePlaylist, parseProgramDateTime } from '../src/spool/playlist.ts';
import { PlaylistFollower } from '../src/spool/playlist-follower.ts';
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

describe('playlist follower', () => {
  it('returns only entries appended since the last call, whole entries only', async () => {
    const dir = await tempDir('agent-follow-');
    const run = '20261123T101500123Z';
    await writeFile(join(dir, `init-${run}.mp4`), 'init');
    const entry = (i: number) => {
      const at = new Date(Date.UTC(2026, 10, 23, 10, 15, i * 2)).toISOString().replace('Z', '+0000');
      return `#EXTINF:2.000000,\n#EXT-X-PROGRAM-DATE-TIME:${at}\n${run}-${String(i).padStart(6, '0')}.m4s\n`;
    };
    for (let i = 0; i < 4; i++)
      await writeFile(join(dir, `${run}-${String(i).padStart(6, '0')}.m4s`), `seg${i}`);
    const head = `#EXTM3U\n#EXT-X-VERSION:7\n#EXT-X-TARGETDURATION:2\n#EXT-X-MAP:URI="init-${run}.mp4"\n`;
    const file = join(dir, `${run}.m3u8`);
    // ffmpeg replaces the playlist whole, each time with the same beginning.
    const publish = async (text: string) => {
      await writeFile(`${file}.tmp`, text);
      await rename(`${file}.tmp`, file);
    };
    const follower = new PlaylistFollower('cam', dir, `${run}.m3u8`);
    assert.deepEqual(await follower.next(), [], 'no playlist yet');
    await publish(head + entry(0) + entry(1));
    assert.deepEqual(
      (await follower.next()).map((s) => s.name),
      [`${run}-000000.m4s`, `${run}-000001.m4s`],
    );
    assert.deepEqual(await follower.next(), [], 'nothing new');
    await publish(`${head + entry(0) + entry(1) + entry(2)}#EXTINF:2.000000,\n#EXT-X-PROGRAM`);
    const third = await follower.next();
    assert.deepEqual(
      third.map((s) => [s.name, s.startAt.toISOString(), s.initPath.endsWith(`init-${run}.mp4`)]),
      [[`${run}-000002.m4s`, '2026-11-23T10:15:04.000Z', true]],
      'a half-written entry waits',
    );
    await publish(`${head + entry(0) + entry(1) + entry(2) + entry(3)}#EXT-X-ENDLIST\n`);
    assert.deepEqual(
      (await follower.next()).map((s) => s.name),
      [`${run}-000003.m4s`],
    );
  });
});
