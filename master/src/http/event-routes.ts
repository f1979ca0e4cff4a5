/**
 * Event search, event detail and camera timelines. Query strings are validated by the shared
 * TypeBox schemas (`protocol/src/event-query.ts`); every 400 names the parameter and is counted
 * in `cctv_http_bad_requests_total{route,reason}`.
 */
import {
  type CameraIdParams,
  type EventIdParams,
  type EventPage,
  type EventSearchQuery,
  type EventType,
  TIMELINE_MAX_RANGE_MS,
  type TimelineQuery,
  type TimelineView,
} from '@cctv/protocol';
import { isUuid } from '@cctv/protocol/patterns';
import type { FastifyPluginAsync, FastifySchemaValidationError } from 'fastify';
import { canSeeCamera, visibleCameraIds } from '../auth/access.ts';
import type { EventCursor, EventRepository } from '../events/event-repository.ts';
import type { EventViewer } from '../events/event-view.ts';
import type { TimelineReader } from '../events/timeline.ts';
import type { MasterMetrics } from '../metrics.ts';
import { routeOf } from './route-schema.ts';
import { forbid, userOf } from './session-auth.ts';

export interface EventRouteDeps {
  events: Pick<EventRepository, 'get' | 'search'>;
  timeline: Pick<TimelineReader, 'read'>;
  metrics: MasterMetrics;
  /** Event views with snapshot links granted to the asking user. */
  viewer: Pick<EventViewer, 'view' | 'views'>;
}

/** A refused request; `reason` is the parameter at fault (the metric label). */
export class BadRequestError extends Error {
  readonly statusCode = 400;
  constructor(
    readonly code: string,
    readonly reason: string,
    message: string,
  ) {
    super(message);
  }
}

const HINTS: Record<string, string> = {
  cameras: 'must be a comma-separated list of camera ids ([a-z0-9][a-z0-9-]{0,62}, at most 100)',
  types: 'must be a comma-separated list of event types: motion, face',
  from: 'must be an ISO-8601 time with a zone, e.g. 2026-01-31T08:00:00Z',
  to: 'must be an ISO-8601 time with a zone, e.g. 2026-01-31T08:00:00Z',
  minScore: 'must be a number from 0 to 1',
  zones: 'must be a comma-separated list of zone names (letters, digits, space, _ . -)',
  limit: 'must be an integer from 1 to 500',
  cursor: 'must be the nextCursor of a previous page',
  buckets: 'must be an integer from 1 to 2000',
  id: 'is not valid: event ids are uuids, camera ids match [a-z0-9][a-z0-9-]{0,62}',
};

/** Turns the first schema error into a message naming the parameter. */
function formatSchemaError(errors: FastifySchemaValidationError[], where: string): Error {
  const e = errors[0];
  const missing = (e?.params as { missingProperty?: string } | undefined)?.missingProperty;
  const field = missing ?? e?.instancePath.replace(/^\//, '') ?? '';
  const hint = missing ? 'is required' : (HINTS[field] ?? e?.message ?? 'is invalid');
  const code = where === 'params' ? 'BAD_PARAM' : 'BAD_QUERY';
  return new BadRequestError(code, field || where, `${field || where} ${hint}`);
}

export function encodeCursor(c: EventCursor): string {
  return Buffer.from(`${c.startedAt.toISOString()}|${c.id}`).toString('base64url');
}

export function decodeCursor(raw: string): EventCursor {
  const [time, id, extra] = Buffer.from(raw, 'base64url').toString('utf8').split('|');
  const startedAt = new Date(time ?? '');
  if (extra !== undefined || !id || !isUuid(id) || Number.isNaN(startedAt.getTime()))
    throw new BadRequestError('BAD_CURSOR', 'cursor', 'cursor must be the nextCursor of a previous page');
  return { startedAt, id };
}

function range(from: string | undefined, to: string | undefined, maxMs = Number.POSITIVE_INFINITY) {
  const f = from === undefined ? undefined : new Date(from);
  const t = to === undefined ? undefined : new Date(to);
  if (f && t && f.getTime() >= t.getTime())
    throw new BadRequestError('BAD_RANGE', 'range', 'from must be earlier than to');
  if (f && t && t.getTime() - f.getTime() > maxMs)
    throw new BadRequestError('BAD_RANGE', 'range', `the range may span at most ${maxMs / 86_400_000} days`);
  return { from: f, to: t };
}

export const eventRoutes: FastifyPluginAsync<EventRouteDeps> = async (app, deps) => {
  app.setSchemaErrorFormatter(formatSchemaError);
  app.setErrorHandler((err: Error, req, reply) => {
    if (!(err instanceof BadRequestError)) throw err;
    deps.metrics.httpBadRequests.inc({ route: req.routeOptions.url ?? 'unknown', reason: err.reason });
    return reply.code(400).send({ error: { code: err.code, message: err.message } });
  });

  app.get<{ Querystring: EventSearchQuery }>(
    '/api/events',
    routeOf('events'),
    async (req, reply): Promise<EventPage | undefined> => {
      const q = req.query;
      const { from, to } = range(q.from, q.to);
      // A user limited to some cameras searches only those; naming another is refused.
      const asked = q.cameras?.split(',');
      const allowed = visibleCameraIds(userOf(req));
      const refused = asked?.find((c) => allowed && !allowed.includes(c));
      if (refused)
        return forbid(reply, deps.metrics, 'camera', `camera ${refused} is not in your access list`);
      const cameras = asked ?? allowed ?? undefined;
      if (cameras?.length === 0) return { events: [], nextCursor: null };
      const { rows, more } = await deps.events.search({
        cameras,
        types: q.types?.split(',') as EventType[] | undefined,
        from,
        to,
        minScore: q.minScore,
        zones: q.zones?.split(','),
        after: q.cursor === undefined ? undefined : decodeCursor(q.cursor),
        limit: q.limit,
      });
      const last = rows.at(-1);
      return {
        events: await deps.viewer.views(rows, userOf(req)),
        nextCursor: more && last ? encodeCursor(last) : null,
      };
    },
  );

  app.get<{ Params: EventIdParams }>('/api/events/:id', routeOf('event'), async (req, reply) => {
    const row = await deps.events.get(req.params.id);
    // An event of a camera the user may not see is not theirs to know about.
    if (!row || !canSeeCamera(userOf(req), row.cameraId))
      return reply
        .code(404)
        .send({ error: { code: 'UNKNOWN_EVENT', message: `event ${req.params.id} is unknown` } });
    return deps.viewer.view(row, userOf(req));
  });

  app.get<{ Params: CameraIdParams; Querystring: TimelineQuery }>(
    '/api/cameras/:id/timeline',
    routeOf('timeline'),
    async (req, reply): Promise<TimelineView | undefined> => {
      if (!canSeeCamera(userOf(req), req.params.id))
        return forbid(reply, deps.metrics, 'camera', `camera ${req.params.id} is not in your access list`);
      const { from, to } = range(req.query.from, req.query.to, TIMELINE_MAX_RANGE_MS);
      if (!from || !to) throw new Error('from and to are required by the schema');
      const t = await deps.timeline.read(req.params.id, from, to, req.query.buckets);
      return {
        cameraId: req.params.id,
        from: from.toISOString(),
        to: to.toISOString(),
        spans: t.spans,
        events: t.events ? await deps.viewer.views(t.events, userOf(req)) : null,
        buckets: t.buckets,
      };
    },
  );
};
