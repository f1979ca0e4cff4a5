'use client';

import type { EventView } from '@cctv/protocol';
import { useFleetSocket } from '../fleet/fleet-socket';

/**
 * Stored events as the master pushes them on `/ws` (start, updates and end of each: the same
 * id several times), for the cameras this user may see. The socket is lib/fleet-socket.ts's:
 * it reconnects with backoff and goes to sign in when the session ended; events pushed while
 * disconnected are not replayed, a new search finds them.
 */
export function useEventPushes(masterPublicUrl: string, onEvent: (e: EventView) => void) {
  return useFleetSocket(masterPublicUrl, (msg) => {
    if (msg.type === 'event') onEvent(msg.event);
  });
}
