'use client';

import type { EventView } from '@cctv/protocol';
import { useEffect, useRef, useState } from 'react';
import { fleetSocketUrl, type SocketState } from './fleet-socket';
import { loginPath } from './session';

const MIN_BACKOFF_MS = 500;
const MAX_BACKOFF_MS = 10_000;
/** The master's close code for a session that ended. */
const SESSION_ENDED = 4001;

function parseEvent(data: unknown): EventView | null {
  if (typeof data !== 'string') return null;
  try {
    const msg = JSON.parse(data) as { type?: unknown; event?: Partial<EventView> };
    const e = msg.event;
    if (msg.type === 'event' && e && typeof e.id === 'string' && typeof e.startedAt === 'string')
      return e as EventView;
  } catch {
    // A malformed frame is skipped; the search itself is the record.
  }
  return null;
}

/**
 * Stored events as the master pushes them on `/ws` (start, updates and end of each: the same
 * id several times), for the cameras this user may see. Reconnects with backoff; events
 * pushed while disconnected are not replayed, a new search finds them.
 */
export function useEventPushes(masterPublicUrl: string, onEvent: (e: EventView) => void) {
  const [state, setState] = useState<SocketState>('connecting');
  const [attempt, setAttempt] = useState(0);
  const handler = useRef(onEvent);
  handler.current = onEvent;

  useEffect(() => {
    let socket: WebSocket | null = null;
    let timer: ReturnType<typeof setTimeout> | undefined;
    let failures = 0;
    let closed = false;
    const connect = () => {
      socket = new WebSocket(fleetSocketUrl(masterPublicUrl));
      socket.onopen = () => {
        failures = 0;
        setState('live');
      };
      socket.onmessage = (ev) => {
        const e = parseEvent(ev.data);
        if (e) handler.current(e);
      };
      socket.onclose = (ev) => {
        if (closed) return;
        if (ev.code === SESSION_ENDED) {
          const { pathname, search } = window.location;
          window.location.assign(loginPath(`${pathname}${search}`));
          return;
        }
        setState('reconnecting');
        const base = Math.min(MAX_BACKOFF_MS, MIN_BACKOFF_MS * 2 ** failures);
        failures += 1;
        setAttempt(failures);
        timer = setTimeout(connect, base / 2 + Math.random() * (base / 2));
      };
    };
    connect();
    return () => {
      closed = true;
      clearTimeout(timer);
      socket?.close();
    };
  }, [masterPublicUrl]);

  return { state, attempt };
}
