/**
 * Keeps the players of several cameras on one wall-clock moment: the first selected camera
 * leads; every second any other player more than half a second away from it is moved to it,
 * and follows its pausing. The leader's wall clock is the timeline's playhead.
 */
import { type RefObject, useEffect, useState } from 'react';
import type { TimelineHls } from './timeline-hls';

export const SYNC_INTERVAL_MS = 1_000;
export const MAX_DRIFT_MS = 500;
const PLAYHEAD_INTERVAL_MS = 250;

/** The leader: the first selected camera whose player is running. */
function leaderOf(players: Map<string, TimelineHls>, order: string[]): TimelineHls | null {
  for (const id of order) {
    const p = players.get(id);
    if (p) return p;
  }
  return null;
}

/** Moves the followers to the leader's moment; answers how many were corrected. */
export function alignPlayers(players: Map<string, TimelineHls>, order: string[]): number {
  const leader = leaderOf(players, order);
  const at = leader?.wallClock() ?? null;
  if (!leader || at === null) return 0;
  let corrected = 0;
  for (const id of order) {
    const p = players.get(id);
    if (!p || p === leader) continue;
    if (leader.video.paused !== p.video.paused) {
      if (leader.video.paused) p.video.pause();
      else p.video.play().catch(() => {});
    }
    const own = p.wallClock();
    if (own !== null && Math.abs(own - at) <= MAX_DRIFT_MS) continue;
    if (p.seekWall(at)) corrected += 1;
  }
  return corrected;
}

/** The playhead (the leader's wall clock, ms) while `playback` runs, and the sync loop. */
export function useTimelineSync(
  players: RefObject<Map<string, TimelineHls>>,
  order: string[],
  playback: { at: number; key: number } | null,
): number | null {
  const [playhead, setPlayhead] = useState<number | null>(null);
  useEffect(() => {
    if (!playback) {
      setPlayhead(null);
      return;
    }
    setPlayhead(playback.at);
    const head = setInterval(() => {
      const at = leaderOf(players.current, order)?.wallClock() ?? null;
      if (at !== null) setPlayhead((h) => (h !== null && Math.abs(h - at) < 50 ? h : Math.round(at)));
    }, PLAYHEAD_INTERVAL_MS);
    const sync = setInterval(() => alignPlayers(players.current, order), SYNC_INTERVAL_MS);
    return () => {
      clearInterval(head);
      clearInterval(sync);
    };
  }, [players, order, playback]);
  return playhead;
}
