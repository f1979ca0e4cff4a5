import type { EventView } from '@cctv/protocol';
import Link from 'next/link';
import { eventDurationMs, formatDuration, formatScore } from '@/features/events/event-format';
import { EventTime } from './event-time';

/** One search result: snapshot thumbnail, type, score, camera, start and duration; opens the event. */
interface Props {
  event: EventView;
  cameraName: string | undefined;
  /** Pushed live after the search loaded. */
  fresh?: boolean;
}

export function EventCard({ event, cameraName, fresh = false }: Props) {
  const ongoing = event.endedAt === null;
  return (
    <li
      className={fresh ? 'events-card events-card-fresh' : 'events-card'}
      data-testid="event-card"
      data-event-id={event.id}
      data-type={event.type}
      data-score={event.score}
      data-camera-id={event.cameraId}
      data-fresh={fresh || undefined}
    >
      <Link href={`/events/${event.id}`} className="events-card-link">
        <span className="events-thumb">
          {event.snapshot ? (
            // Gateway URLs on another origin; next/image would proxy them through this server.
            // biome-ignore lint/performance/noImgElement: plain image from the storage gateway
            <img
              src={event.snapshot.thumbnailUrl}
              alt={`${event.type} on ${cameraName ?? event.cameraId}`}
              loading="lazy"
              data-testid="event-thumb"
            />
          ) : (
            <span className="events-thumb-none">no snapshot</span>
          )}
          <span className={`events-type events-type-${event.type}`} data-testid="event-type">
            {event.type}
          </span>
        </span>
        <span className="events-card-body">
          <span className="events-card-line">
            <b className="events-camera">{cameraName ?? event.cameraId}</b>
            <span className="events-score" data-testid="event-score" title={`score ${event.score}`}>
              {formatScore(event.score)}
            </span>
          </span>
          <span className="events-card-line sub">
            <EventTime iso={event.startedAt} testId="event-start" />
            <span data-testid="event-duration">
              {ongoing ? 'ongoing' : formatDuration(eventDurationMs(event))}
            </span>
          </span>
          {event.zones.length > 0 ? (
            <span className="events-card-line events-zones" data-testid="event-zones">
              {event.zones.map((z) => (
                <span key={z} className="events-zone">
                  {z}
                </span>
              ))}
            </span>
          ) : null}
        </span>
      </Link>
    </li>
  );
}
