'use client';

import type { EventView } from '@cctv/protocol';
import { useRouter } from 'next/navigation';
import { useCallback, useEffect, useMemo, useRef, useState } from 'react';
import {
  compareEvents,
  type EventFilters,
  effectiveFrom,
  eventsQuery,
  filtersToSearch,
  matchesFilters,
} from '@/features/events/event-filters';
import { useEventPushes } from '@/features/events/event-live';
import { masterFetch } from '@/lib/master-fetch';
import { errorOf, loginPath } from '@/lib/session';
import { LiveIndicator } from '../live/live-indicator';
import { EventCard } from './event-card';
import { type CameraOption, EventFilterForm } from './event-filter-form';

type Status = 'loading' | 'idle' | 'error';

interface Props {
  filters: EventFilters;
  cameras: CameraOption[];
  /** Zone names of the cameras' settings, offered in the zone filter. */
  zoneNames?: string[];
  masterPublicUrl: string;
}

/** Adds `incoming` to `list` without repeating an id (a pushed event may come again in a page). */
function merge(list: EventView[], incoming: EventView[]): EventView[] {
  const known = new Map(list.map((e, i) => [e.id, i]));
  const out = list.slice();
  for (const e of incoming) {
    const i = known.get(e.id);
    if (i === undefined) {
      known.set(e.id, out.length);
      out.push(e);
    } else out[i] = e;
  }
  return out;
}

/**
 * Search results for the filters in the URL, newest first, one page of the master's keyset at
 * a time: the next page loads when the end of the list scrolls into view (or on "Load more").
 * Events the master pushes that match the filters are added at their place at the top.
 */
export function EventSearch({ filters, cameras, zoneNames, masterPublicUrl }: Props) {
  const router = useRouter();
  const [events, setEvents] = useState<EventView[]>([]);
  const [cursor, setCursor] = useState<string | null>(null);
  const [status, setStatus] = useState<Status>('loading');
  const [error, setError] = useState<string | null>(null);
  const [pages, setPages] = useState(0);
  const [pushed, setPushed] = useState<ReadonlySet<string>>(new Set());
  /** The search window's start, fixed when the search starts so every page uses the same one. */
  const from = useRef<string | null>(null);
  const inFlight = useRef<AbortController | null>(null);
  const sentinel = useRef<HTMLDivElement>(null);
  const cursorRef = useRef<string | null>(null);
  cursorRef.current = cursor;

  const names = useMemo(() => new Map(cameras.map((c) => [c.id, c.name])), [cameras]);

  const load = useCallback(
    async (after: string | null) => {
      if (inFlight.current || from.current === null) return;
      const ctl = new AbortController();
      inFlight.current = ctl;
      setStatus('loading');
      try {
        const query = eventsQuery(filters, from.current, after);
        const res = await masterFetch('events', { query, signal: ctl.signal });
        if (res.status === 401) {
          const { pathname, search } = window.location;
          window.location.assign(loginPath(`${pathname}${search}`));
          return;
        }
        if (!res.ok) {
          const err = await errorOf(res);
          setError(
            err?.code === 'MASTER_UNREACHABLE'
              ? 'The master is unreachable.'
              : `The search was refused (HTTP ${res.status}${err ? `: ${err.message}` : ''}).`,
          );
          setStatus('error');
          return;
        }
        const page = await res.json();
        setEvents((prev) => merge(prev, page.events));
        setCursor(page.nextCursor);
        setPages((n) => n + 1);
        setError(null);
        setStatus('idle');
      } catch (err) {
        if (ctl.signal.aborted) return;
        setError(
          `The dashboard server is unreachable (${err instanceof Error ? err.message : String(err)}).`,
        );
        setStatus('error');
      } finally {
        if (inFlight.current === ctl) inFlight.current = null;
      }
    },
    [filters],
  );

  useEffect(() => {
    from.current = effectiveFrom(filters, Date.now());
    void load(null);
    return () => {
      inFlight.current?.abort();
      inFlight.current = null;
    };
  }, [filters, load]);

  // A fresh observer after every page: one that starts with the sentinel in view reports it at
  // once, so a page that does not fill the screen is followed by the next without scrolling.
  useEffect(() => {
    const el = sentinel.current;
    if (!el || !cursor || status !== 'idle' || pages === 0) return;
    const io = new IntersectionObserver(
      (entries) => {
        if (entries.some((e) => e.isIntersecting)) void load(cursorRef.current);
      },
      { rootMargin: '0px 0px 200px 0px' },
    );
    io.observe(el);
    return () => io.disconnect();
  }, [cursor, status, pages, load]);

  const live = useEventPushes(masterPublicUrl, (e) => {
    const start = from.current;
    if (start === null || !matchesFilters(e, filters, start)) return;
    setEvents((prev) => {
      if (prev.some((p) => p.id === e.id)) return prev.map((p) => (p.id === e.id ? e : p));
      // Older than everything loaded while more pages remain: a later page brings it.
      const last = prev.at(-1);
      if (cursorRef.current && last && compareEvents(e, last) > 0) return prev;
      return [...prev, e].sort(compareEvents);
    });
    setPushed((prev) => (prev.has(e.id) ? prev : new Set(prev).add(e.id)));
  });

  const search = (f: EventFilters) => router.push(`/events${filtersToSearch(f)}`);
  const more = cursor !== null;
  const state = status === 'idle' && !more ? 'done' : status;

  return (
    <>
      <header className="panel-head">
        <div>
          <h1>Events</h1>
          <div className="facts">
            <span>Motion and face detections of the cameras you may see, newest first.</span>
          </div>
        </div>
        <div className="summary">
          <LiveIndicator state={live.state} attempt={live.attempt} />
        </div>
      </header>
      <EventFilterForm filters={filters} cameras={cameras} zoneNames={zoneNames} onSearch={search} />
      <p
        className="events-status sub"
        data-testid="events-count"
        data-count={events.length}
        data-state={state}
      >
        <span aria-live="polite">
          {events.length} {events.length === 1 ? 'event' : 'events'}
          {more ? ' so far' : ''}
          {status === 'loading' ? ' · loading…' : ''}
          {pushed.size > 0 ? ` · ${pushed.size} live` : ''}
        </span>
      </p>
      {error ? (
        <p className="notice" role="alert" data-testid="events-error">
          {error}
        </p>
      ) : null}
      <ul className="events-grid" data-testid="event-list">
        {events.map((e) => (
          <EventCard key={e.id} event={e} cameraName={names.get(e.cameraId)} fresh={pushed.has(e.id)} />
        ))}
      </ul>
      {state === 'done' && events.length === 0 ? (
        <p className="events-empty" data-testid="events-empty">
          No events match these filters.
        </p>
      ) : null}
      <div ref={sentinel} className="events-sentinel" data-testid="events-sentinel" aria-hidden="true" />
      <div className="events-more">
        {more ? (
          <button
            type="button"
            className="button-quiet"
            onClick={() => void load(cursor)}
            disabled={status === 'loading'}
            data-testid="events-load-more"
          >
            {status === 'loading' ? 'Loading…' : 'Load more'}
          </button>
        ) : state === 'done' && events.length > 0 ? (
          <span className="sub" data-testid="events-end">
            End of results
          </span>
        ) : null}
      </div>
    </>
  );
}
