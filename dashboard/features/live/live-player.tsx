'use client';

import type { LiveViewGrant } from '@cctv/protocol';
import { type ReactNode, useEffect, useRef, useState } from 'react';
import { playLiveHls } from '@/features/live/live-hls';
import { playJsmpeg } from '@/features/live/live-jsmpeg';
import { LIVE_MODE_NAMES, LIVE_MODES, type LiveHandle, type LiveMode } from '@/features/live/live-modes';
import { LiveSocket } from '@/features/live/live-socket';
import { playWebrtc } from '@/features/live/live-webrtc';
import { masterFetch } from '@/lib/master-fetch';
import { errorOf, loginPath } from '@/lib/session';

/** How long a mode may take to show its first frame before the next one is tried. */
const FIRST_FRAME_MS: Record<LiveMode, number> = { webrtc: 8000, hls: 15_000, jsmpeg: 10_000 };
/** A view whose frames stop for this long is restarted. */
const FROZEN_MS: Record<LiveMode, number> = { webrtc: 4000, hls: 10_000, jsmpeg: 5000 };
/** Pause before the whole chain starts over once every mode failed. */
const RETRY_ALL_MS = 5000;

type Choice = 'auto' | LiveMode;
type State =
  | { kind: 'starting'; mode: LiveMode }
  | { kind: 'playing'; mode: LiveMode }
  | { kind: 'failed'; mode: LiveMode; reasons: string[] };

async function requestGrant(cameraId: string, renewal = false): Promise<LiveViewGrant> {
  // A bare POST opens a view; a renewal says so.
  const res = await masterFetch('live', {
    params: { id: cameraId },
    ...(renewal ? { body: { renewal } } : {}),
  });
  if (res.status === 401) {
    const { pathname, search } = window.location;
    window.location.assign(loginPath(`${pathname}${search}`));
  }
  if (!res.ok) {
    const err = await errorOf(res);
    throw new Error(`HTTP ${res.status}${err ? `: ${err.message}` : ''}`);
  }
  return res.json();
}

function initialChoice(): Choice {
  if (typeof window === 'undefined') return 'auto';
  const asked = new URLSearchParams(window.location.search).get('live');
  return LIVE_MODES.includes(asked as LiveMode) ? (asked as LiveMode) : 'auto';
}

/**
 * The camera live: WebRTC from the agent first (lowest latency), live HLS from the storage
 * gateway when WebRTC cannot connect or show a picture, and jsmpeg over a websocket when
 * neither works (no WebRTC, no Media Source Extensions, UDP blocked and no MSE). A mode
 * whose frames stop is restarted; one that cannot start hands over to the next. The operator
 * may also pin a mode (`?live=hls` does the same from a link).
 */
export function LivePlayer({
  cameraId,
  masterPublicUrl,
  compact = false,
  overlay = null,
}: {
  cameraId: string;
  masterPublicUrl: string;
  /** A wall tile: no mode buttons, the status over the picture. */
  compact?: boolean;
  /** Drawn over the picture (zones, an editor), positioned by the caller inside the picture's box. */
  overlay?: ReactNode;
}) {
  const videoRef = useRef<HTMLVideoElement>(null);
  const boxRef = useRef<HTMLDivElement>(null);
  const [choice, setChoice] = useState<Choice>('auto');
  const [state, setState] = useState<State>({ kind: 'starting', mode: 'webrtc' });
  const [frames, setFrames] = useState(0);
  const [generation, setGeneration] = useState(0);

  useEffect(() => setChoice(initialChoice()), []);

  // biome-ignore lint/correctness/useExhaustiveDependencies: generation is a restart trigger
  useEffect(() => {
    const video = videoRef.current;
    const box = boxRef.current;
    if (!video || !box) return;
    let cancelled = false;
    let socket: LiveSocket | null = null;
    let grant: Promise<LiveViewGrant> | null = null;
    let handle: LiveHandle | null = null;
    let watchdog: ReturnType<typeof setInterval> | undefined;
    let retry: ReturnType<typeof setTimeout> | undefined;
    let frameCount = 0;
    const order: LiveMode[] = choice === 'auto' ? [...LIVE_MODES] : [choice];
    const reasons: string[] = [];

    const ensureSocket = async () => {
      if (!socket) {
        socket = await LiveSocket.open(masterPublicUrl);
        socket.onClose = () => {
          socket = null;
        };
      }
      return socket;
    };

    const stopMode = () => {
      clearInterval(watchdog);
      handle?.stop();
      handle = null;
    };

    const start = (index: number, restarts: number) => {
      const mode = order[index];
      if (cancelled) return;
      if (!mode) {
        setState({ kind: 'failed', mode: order[0] ?? 'webrtc', reasons: [...reasons] });
        retry = setTimeout(() => {
          reasons.length = 0;
          start(0, 0);
        }, RETRY_ALL_MS);
        return;
      }
      setState({ kind: 'starting', mode });
      // Marks for the latency benchmark and the browser's performance panel.
      performance.mark(`cctv-live:${mode}:start`);
      const startedAt = Date.now();
      let lastFrameAt = 0;
      let failed = false;
      const fail = (reason: string) => {
        if (failed || cancelled) return;
        failed = true;
        stopMode();
        // A mode that played and then stopped gets another go before the next is tried.
        if (lastFrameAt > 0 && restarts < 3) {
          retry = setTimeout(() => start(index, restarts + 1), 1000);
          return;
        }
        reasons.push(`${LIVE_MODE_NAMES[mode]}: ${reason}`);
        start(index + 1, 0);
      };
      const callbacks = {
        onFrame: () => {
          if (cancelled || failed) return;
          frameCount++;
          if (lastFrameAt === 0) {
            performance.mark(`cctv-live:${mode}:first-frame`);
            setState({ kind: 'playing', mode });
          }
          lastFrameAt = Date.now();
        },
        onFail: fail,
      };
      watchdog = setInterval(() => {
        setFrames(frameCount);
        const now = Date.now();
        if (lastFrameAt === 0 && now - startedAt > FIRST_FRAME_MS[mode])
          fail(`no picture within ${FIRST_FRAME_MS[mode] / 1000} s`);
        else if (lastFrameAt > 0 && now - lastFrameAt > FROZEN_MS[mode])
          fail(`no picture for ${FROZEN_MS[mode] / 1000} s`);
      }, 500);
      const run = async () => {
        if (mode === 'hls') {
          grant ??= requestGrant(cameraId);
          return playLiveHls(video, await grant, callbacks, () => requestGrant(cameraId, true));
        }
        const s = await ensureSocket();
        return mode === 'webrtc'
          ? playWebrtc(video, s, cameraId, callbacks)
          : playJsmpeg(box, s, cameraId, callbacks);
      };
      run().then(
        (h) => {
          if (cancelled || failed) h.stop();
          else handle = h;
        },
        (err: Error) => {
          grant = null;
          fail(err.message);
        },
      );
    };
    start(0, 0);

    return () => {
      cancelled = true;
      clearTimeout(retry);
      stopMode();
      socket?.close();
    };
  }, [cameraId, masterPublicUrl, choice, generation]);

  const canvasMode = state.mode === 'jsmpeg';
  return (
    <div
      className={compact ? 'player player-compact' : 'player'}
      data-testid="live-player"
      data-mode={state.mode}
      data-state={state.kind}
      data-frames={frames}
    >
      <div className="player-bar">
        {compact ? (
          <span />
        ) : (
          <fieldset className="range-picker" aria-label="Live mode">
            {(['auto', ...LIVE_MODES] as Choice[]).map((c) => (
              <button
                key={c}
                type="button"
                className={c === choice ? 'active' : ''}
                aria-pressed={c === choice}
                onClick={() => setChoice(c)}
              >
                {c === 'auto' ? 'auto' : LIVE_MODE_NAMES[c]}
              </button>
            ))}
            <button type="button" onClick={() => setGeneration((n) => n + 1)} title="Reconnect">
              ↻
            </button>
          </fieldset>
        )}
        <span className={`player-status status-${state.kind}`} data-testid="live-status">
          {state.kind === 'playing'
            ? `live · ${LIVE_MODE_NAMES[state.mode]}`
            : state.kind === 'starting'
              ? `connecting · ${LIVE_MODE_NAMES[state.mode]}…`
              : 'no live picture'}
        </span>
      </div>
      <div style={{ position: 'relative', display: 'grid' }}>
        <video
          ref={videoRef}
          data-testid="live-video"
          muted
          autoPlay
          playsInline
          className="video"
          hidden={canvasMode}
        />
        <div ref={boxRef} hidden={!canvasMode} />
        {overlay}
      </div>
      {state.kind === 'failed' ? (
        <p className="notice" role="alert" data-testid="live-error">
          No live picture; trying again shortly. {state.reasons.join(' · ')}
        </p>
      ) : null}
    </div>
  );
}
