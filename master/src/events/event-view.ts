import type { Event as EventRow } from '@cctv/db';
import type { EventBox, EventSnapshotView, EventType, EventView, SnapshotRef } from '@cctv/protocol';

export type { EventRow };

/** A gateway-relative path (or an absolute URL, kept as is) made absolute. */
export function gatewayUrl(base: string, path: string): string {
  if (/^https?:\/\//.test(path)) return path;
  return `${base}${path.startsWith('/') ? '' : '/'}${path}`;
}

function snapshotView(ref: SnapshotRef | null, base: string): EventSnapshotView | null {
  if (!ref) return null;
  return {
    imageUrl: gatewayUrl(base, ref.image),
    thumbnailUrl: gatewayUrl(base, ref.thumbnail),
    at: ref.at,
    width: ref.width,
    height: ref.height,
    blurred: ref.blurred,
  };
}

/** The API shape of a stored event; snapshot paths become absolute URLs on the gateway. */
export function toEventView(row: EventRow, gatewayBase: string): EventView {
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
    snapshot: snapshotView(row.snapshot as unknown as SnapshotRef | null, gatewayBase),
    lastSeq: row.lastSeq,
    updatedAt: row.updatedAt.toISOString(),
  };
}
