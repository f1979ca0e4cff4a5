import type { EventView } from '@cctv/protocol';
import { redirect } from 'next/navigation';
import { askMaster } from '../../lib/master-api';
import { loginPath } from '../../lib/session';

/**
 * Server-side read of one event with the visitor's session, through lib/master-api.ts, telling
 * an unknown event from a failed read. An ended session goes to sign in.
 */
export type EventRead =
  | { ok: true; event: EventView }
  | { ok: false; missing: true }
  | { ok: false; missing: false; error: string };

export async function fetchEvent(id: string, returnTo: string): Promise<EventRead> {
  const answer = await askMaster('event', { params: { id } });
  // redirect() throws, so it stays outside askMaster()'s try/catch.
  if ('unauthenticated' in answer) redirect(loginPath(returnTo));
  if (answer.ok) return { ok: true, event: answer.value };
  // 400: not a uuid; 404: unknown, or a camera this user may not see (the master does not say which).
  if (answer.status === 404 || answer.status === 400) return { ok: false, missing: true };
  return { ok: false, missing: false, error: answer.error };
}
