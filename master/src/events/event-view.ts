import type { Event as EventRow } from '@cctv/db';
import {
  type EventBox,
  type EventSnapshotView,
  type EventType,
  type EventView,
  grantedPath,
  type SessionUser,
  type SnapshotRef,
  snapshotRefProblem,
} from '@cctv/protocol';
import type { SnapshotGrants } from '../grants/grant-issuer.ts';

export type { EventRow };

/**
 * The snapshot as URLs under a grant; null without one, and for a reference that is not this
 * event's own gateway path (rows stored before references were checked).
 */
function snapshotView(row: EventRow, grant: string | null, base: string): EventSnapshotView | null {
  const ref = row.snapshot as unknown as SnapshotRef | null;
  if (!ref || !grant || snapshotRefProblem({ id: row.id, cameraId: row.cameraId, snapshot: ref }))
    return null;
  return {
    imageUrl: `${base}${grantedPath(grant, ref.image)}`,
    thumbnailUrl: `${base}${grantedPath(grant, ref.thumbnail)}`,
    at: ref.at,
    width: ref.width,
    height: ref.height,
    blurred: ref.blurred,
  };
}

/**
 * The API shape of a stored event; snapshot paths become absolute URLs on the gateway under
 * `snapshotGrant` (a grant for this event's camera and time), or no snapshot without one.
 */
export function toEventView(row: EventRow, gatewayBase: string, snapshotGrant: string | null): EventView {
  return {
    id: row.id,
    nodeId: row.nodeId,
    cameraId: row.cameraId,
    type: row.type as EventType,
    startedAt: row.startedAt.toISOString(),
    endedAt: row.endedAt?.toISOString() ?? null,
    lastAt: row.lastAt.toISOString(),
    score: row.score,
    bestAt: row.bestAt.toISOString(),
    // Written only from validated messages, so the JSON columns have the message's shapes.
    boxes: row.boxes as unknown as EventBox[],
    // Raw queries return SQL NULL for an event that never named zones.
    zones: row.zones ?? [],
    frames: row.frames,
    snapshot: snapshotView(row, snapshotGrant, gatewayBase),
    lastSeq: row.lastSeq,
    updatedAt: row.updatedAt.toISOString(),
  };
}

/** Event views for one user: each snapshot under a grant made for that user. */
export class EventViewer {
  constructor(
    private readonly gatewayBase: string,
    private readonly grants: SnapshotGrants,
  ) {}

  async view(row: EventRow, user: Pick<SessionUser, 'id'>): Promise<EventView> {
    const grant = row.snapshot ? await this.grants.token(user.id, row.cameraId, row.startedAt) : null;
    return toEventView(row, this.gatewayBase, grant);
  }

  views(rows: EventRow[], user: Pick<SessionUser, 'id'>): Promise<EventView[]> {
    return Promise.all(rows.map((r) => this.view(r, user)));
  }
}
