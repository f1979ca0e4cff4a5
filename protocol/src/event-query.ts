import { type Static, Type } from '@sinclair/typebox';
import {
  EVENT_PAGE_MAX,
  ID_PATTERN,
  POLYGONS_MAX,
  TIMELINE_MAX_BUCKETS,
  UUID_PATTERN,
  ZONE_NAME_PATTERN,
} from './patterns.ts';

export { EVENT_PAGE_MAX, TIMELINE_MAX_BUCKETS, TIMELINE_MAX_RANGE_MS } from './patterns.ts';

/** Query strings of the master's event search and timeline routes, validated by the master. */

const IsoTime = Type.String({ format: 'date-time', maxLength: 40 });
const idBody = ID_PATTERN.slice(1, -1);
/** A zone name (events.ts MotionZone). */
const zoneBody = ZONE_NAME_PATTERN.slice(1, -1);

/** `GET /api/events`: newest first, keyset-paginated by an opaque cursor. */
export const EventSearchQuery = Type.Object({
  /** Comma-separated camera ids. */
  cameras: Type.Optional(Type.String({ pattern: `^${idBody}(,${idBody}){0,99}$` })),
  /** Comma-separated event types. */
  types: Type.Optional(Type.String({ pattern: '^(motion|face)(,(motion|face)){0,3}$' })),
  /** Events started at or after this time. */
  from: Type.Optional(IsoTime),
  /** Events started before this time. */
  to: Type.Optional(IsoTime),
  minScore: Type.Optional(Type.Number({ minimum: 0, maximum: 1 })),
  /** Comma-separated zone names (motion zones of the cameras): events that touched any of them. */
  zones: Type.Optional(
    Type.String({ pattern: `^${zoneBody}(,${zoneBody}){0,${POLYGONS_MAX - 1}}$`, maxLength: 2100 }),
  ),
  limit: Type.Integer({ minimum: 1, maximum: EVENT_PAGE_MAX, default: 50 }),
  /** `nextCursor` of the previous page. */
  cursor: Type.Optional(Type.String({ pattern: '^[A-Za-z0-9_-]{1,200}$' })),
});
export type EventSearchQuery = Static<typeof EventSearchQuery>;

export const EventIdParams = Type.Object({
  id: Type.String({ pattern: UUID_PATTERN }),
});
export type EventIdParams = Static<typeof EventIdParams>;

export const CameraIdParams = Type.Object({ id: Type.String({ pattern: ID_PATTERN }) });
export type CameraIdParams = Static<typeof CameraIdParams>;

/** `GET /api/cameras/:id/timeline`: `from` inclusive, `to` exclusive, at most 31 days. */
export const TimelineQuery = Type.Object({
  from: IsoTime,
  to: IsoTime,
  /** Above this many events in the range, counts per bucket are returned instead of events. */
  buckets: Type.Integer({ minimum: 1, maximum: TIMELINE_MAX_BUCKETS, default: 500 }),
});
export type TimelineQuery = Static<typeof TimelineQuery>;
