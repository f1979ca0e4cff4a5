import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { TimelineHls } from '../features/timeline/timeline-hls.ts';
import { alignPlayers, MAX_DRIFT_MS } from '../features/timeline/timeline-sync.ts';

/** A player as alignPlayers sees it: its wall clock, seeking, and the video's pausing; it records what was done. */
function player(wall: number | null, opts: { paused?: boolean; seekable?: boolean } = {}) {
  const log: string[] = [];
  const video = {
    paused: opts.paused ?? false,
    pause() {
      log.push('pause');
      video.paused = true;
    },
    play() {
      log.push('play');
      video.paused = false;
      return Promise.resolve();
    },
  };
  const fake = {
    video,
    wallClock: () => wall,
    seekWall(at: number) {
      log.push(`seek ${at}`);
      return opts.seekable ?? true;
    },
  };
  return { hls: fake as unknown as TimelineHls, log };
}

const players = (entries: Record<string, ReturnType<typeof player>>) =>
  new Map(Object.entries(entries).map(([id, p]) => [id, p.hls]));

const at = 1_772_359_200_000;

describe('alignPlayers', () => {
  it('moves followers more than half a second away to the leader', () => {
    const lead = player(at);
    const near = player(at + MAX_DRIFT_MS);
    const behind = player(at - MAX_DRIFT_MS - 1);
    const ahead = player(at + 3_000);
    const n = alignPlayers(players({ lead, near, behind, ahead }), ['lead', 'near', 'behind', 'ahead']);
    assert.equal(n, 2);
    assert.deepEqual(lead.log, []);
    assert.deepEqual(near.log, []);
    assert.deepEqual(behind.log, [`seek ${at}`]);
    assert.deepEqual(ahead.log, [`seek ${at}`]);
  });

  it('leads with the first selected camera that has a player', () => {
    const b = player(at);
    const c = player(at + 10_000);
    assert.equal(alignPlayers(players({ b, c }), ['a', 'b', 'c']), 1);
    assert.deepEqual(b.log, []);
    assert.deepEqual(c.log, [`seek ${at}`]);
  });

  it('moves a follower that does not know its position yet', () => {
    const lead = player(at);
    const fresh = player(null);
    assert.equal(alignPlayers(players({ lead, fresh }), ['lead', 'fresh']), 1);
    assert.deepEqual(fresh.log, [`seek ${at}`]);
  });

  it('does not count a follower that cannot seek there', () => {
    const lead = player(at);
    const gap = player(at - 60_000, { seekable: false });
    assert.equal(alignPlayers(players({ lead, gap }), ['lead', 'gap']), 0);
    assert.deepEqual(gap.log, [`seek ${at}`]);
  });

  it('makes followers pause and play with the leader', () => {
    const lead = player(at, { paused: true });
    const playing = player(at);
    const paused = player(at, { paused: true });
    alignPlayers(players({ lead, playing, paused }), ['lead', 'playing', 'paused']);
    assert.deepEqual(playing.log, ['pause']);
    assert.deepEqual(paused.log, []);

    const lead2 = player(at);
    const stopped = player(at, { paused: true });
    alignPlayers(players({ lead2, stopped }), ['lead2', 'stopped']);
    assert.deepEqual(stopped.log, ['play']);
  });

  it('leaves players that are not selected alone', () => {
    const lead = player(at);
    const other = player(at - 60_000, { paused: true });
    assert.equal(alignPlayers(players({ lead, other }), ['lead']), 0);
    assert.deepEqual(other.log, []);
  });

  it('does nothing without a leader or before the leader knows its position', () => {
    assert.equal(alignPlayers(new Map(), ['a']), 0);
    const lead = player(null);
    const f = player(at, { paused: true });
    assert.equal(alignPlayers(players({ lead, f }), ['lead', 'f']), 0);
    assert.deepEqual(f.log, []);
  });
});
