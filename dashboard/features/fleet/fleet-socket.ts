'use client';

import type { FleetSocketMessage, NodeView } from '@cctv/protocol';
import { masterRoutes } from '@cctv/protocol/master-routes';
import { useEffect, useRef, useState } from 'react';
import { masterFetch } from '../../lib/master-fetch';
import { loginPath } from '../../lib/session';

export type SocketState = 'connecting' | 'live' | 'reconnecting';

const MIN_BACKOFF_MS = 500;
const MAX_BACKOFF_MS = 10_000;
/** The master's close code for a session that ended (sign-out, rights changed). */
const SESSION_ENDED = 4001;
/**
 * A browser only sees a refused upgrade (401) as a socket that never opened; after this many
 * in a row the session is checked, so an expired one ends on the sign-in page, not in retries.
 */
const FAILED_OPENS_BEFORE_CHECK = 3;

/** Goes to the sign-in page when the master no longer knows the session; anything else: keep trying. */
async function leaveIfSignedOut(): Promise<void> {
  try {
    const res = await masterFetch('me');
    if (res.status !== 401) return;
  } catch {
    return;
  }
  const { pathname, search } = window.location;
  window.location.assign(loginPath(`${pathname}${search}`));
}

/** `http://host:8080` → `ws://host:8080/ws`. */
export function fleetSocketUrl(masterPublicUrl: string): string {
  const url = new URL(masterRoutes.fleetSocket.url, masterPublicUrl);
  url.protocol = url.protocol === 'https:' ? 'wss:' : 'ws:';
  return url.toString();
}

export function applyMessage(nodes: NodeView[], msg: FleetSocketMessage): NodeView[] {
  if (msg.type === 'snapshot') return msg.nodes;
  // Event pushes belong to the timeline, not to the fleet list.
  if (msg.type !== 'node') return nodes;
  const i = nodes.findIndex((n) => n.id === msg.node.id);
  if (i < 0) return [...nodes, msg.node].sort((a, b) => a.id.localeCompare(b.id));
  const next = nodes.slice();
  next[i] = msg.node;
  return next;
}

/** A frame of `/ws` as a message (events included), or null for anything malformed. */
export function parseFleetMessage(data: unknown): FleetSocketMessage | null {
  if (typeof data !== 'string') return null;
  try {
    const msg = JSON.parse(data) as Partial<FleetSocketMessage>;
    if (msg.type === 'snapshot' && Array.isArray(msg.nodes)) return msg as FleetSocketMessage;
    if (msg.type === 'node' && msg.node && typeof msg.node.id === 'string') return msg as FleetSocketMessage;
    if (
      msg.type === 'event' &&
      msg.event &&
      typeof msg.event.id === 'string' &&
      typeof msg.event.startedAt === 'string'
    )
      return msg as FleetSocketMessage;
    if (
      msg.type === 'security' &&
      msg.alert &&
      typeof msg.alert.id === 'string' &&
      typeof msg.alert.message === 'string'
    )
      return msg as FleetSocketMessage;
    if (
      msg.type === 'alert' &&
      msg.alert &&
      typeof msg.alert.id === 'string' &&
      typeof msg.alert.updatedAt === 'string'
    )
      return msg as FleetSocketMessage;
  } catch {
    // A malformed frame is ignored; the next snapshot or update repairs the view.
  }
  return null;
}

export interface FleetSocketHandlers {
  onMessage(msg: FleetSocketMessage): void;
  onState(state: SocketState, attempt: number): void;
}

/**
 * Opens `/ws` and keeps it open: reconnects with exponential backoff (plus jitter) whenever
 * it drops, and goes to the sign-in page when the session ended. Returns the way to close it.
 */
export function connectFleetSocket(masterPublicUrl: string, handlers: FleetSocketHandlers): () => void {
  let socket: WebSocket | null = null;
  let timer: ReturnType<typeof setTimeout> | undefined;
  let failures = 0;
  let failedOpens = 0;
  let closed = false;

  const connect = () => {
    let opened = false;
    socket = new WebSocket(fleetSocketUrl(masterPublicUrl));
    socket.onopen = () => {
      opened = true;
      failures = 0;
      failedOpens = 0;
      handlers.onState('live', 0);
    };
    socket.onmessage = (ev) => {
      const msg = parseFleetMessage(ev.data);
      if (msg) handlers.onMessage(msg);
    };
    socket.onclose = (ev) => {
      if (closed) return;
      failedOpens = opened ? 0 : failedOpens + 1;
      const checkSession =
        ev.code === SESSION_ENDED || (failedOpens > 0 && failedOpens % FAILED_OPENS_BEFORE_CHECK === 0);
      if (checkSession) void leaveIfSignedOut();
      const base = Math.min(MAX_BACKOFF_MS, MIN_BACKOFF_MS * 2 ** failures);
      failures += 1;
      handlers.onState('reconnecting', failures);
      timer = setTimeout(connect, base / 2 + Math.random() * (base / 2));
    };
  };
  connect();

  return () => {
    closed = true;
    clearTimeout(timer);
    socket?.close();
  };
}

/**
 * `connectFleetSocket` for a component, open while it is mounted: each message goes to the
 * latest `onMessage`; returns the socket's state and, while reconnecting, the attempt.
 */
export function useFleetSocket(masterPublicUrl: string, onMessage: (msg: FleetSocketMessage) => void) {
  const [state, setState] = useState<SocketState>('connecting');
  const [attempt, setAttempt] = useState(0);
  const handler = useRef(onMessage);
  handler.current = onMessage;

  useEffect(
    () =>
      connectFleetSocket(masterPublicUrl, {
        onMessage: (msg) => handler.current(msg),
        onState: (next, tries) => {
          setState(next);
          if (next === 'reconnecting') setAttempt(tries);
        },
      }),
    [masterPublicUrl],
  );

  return { state, attempt };
}

/**
 * The fleet as pushed by the master's websocket, starting from the server-rendered list.
 * Reconnects with exponential backoff (plus jitter) whenever the socket drops; every
 * reconnect begins with a fresh snapshot, so nothing missed while away stays stale. The
 * browser sends the session cookie with the upgrade itself.
 */
export function useFleet(masterPublicUrl: string, initial: NodeView[]) {
  const [nodes, setNodes] = useState(initial);
  const { state, attempt } = useFleetSocket(masterPublicUrl, (msg) => {
    // Event pushes belong to the timeline, not to the fleet list.
    if (msg.type !== 'event') setNodes((prev) => applyMessage(prev, msg));
  });
  return { nodes, state, attempt };
}
