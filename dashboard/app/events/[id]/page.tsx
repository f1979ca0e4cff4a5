import type { Metadata } from 'next';
import Link from 'next/link';
import { fetchEvent } from '@/features/events/event-api';
import { EventClip } from '@/features/events/event-clip';
import { eventDurationMs, formatDuration, formatScore } from '@/features/events/event-format';
import { EventTime } from '@/features/events/event-time';
import { fetchCameras } from '@/lib/master-api';
import '../events.css';

export const dynamic = 'force-dynamic';

interface Props {
  params: Promise<{ id: string }>;
}

export async function generateMetadata({ params }: Props): Promise<Metadata> {
  const { id } = await params;
  return { title: `Event ${id.slice(0, 8)} · CCTV control room` };
}

export default async function EventPage({ params }: Props) {
  const { id } = await params;
  const returnTo = `/events/${encodeURIComponent(id)}`;
  const [read, cameras] = await Promise.all([fetchEvent(id, returnTo), fetchCameras(returnTo)]);

  if (!read.ok) {
    return (
      <section className="panel">
        <header className="panel-head">
          <h1>Event</h1>
          <Link href="/events">← events</Link>
        </header>
        <p className="notice" role="alert" data-testid="event-missing">
          {read.missing
            ? `Event ${id} is unknown, or belongs to a camera that is not in your access list.`
            : `Master unreachable: ${read.error}`}
        </p>
      </section>
    );
  }

  const e = read.event;
  const camera = cameras.ok ? cameras.value.find((c) => c.id === e.cameraId) : undefined;
  return (
    <section className="panel" data-testid="event-detail" data-event-id={e.id}>
      <header className="panel-head">
        <div>
          <h1>
            {e.type === 'face' ? 'Face' : 'Motion'} on {camera?.name ?? e.cameraId}
          </h1>
          <div className="facts">
            <EventTime iso={e.startedAt} />
            <span>{e.endedAt ? formatDuration(eventDurationMs(e)) : 'ongoing'}</span>
            <span>score {formatScore(e.score)}</span>
          </div>
        </div>
        <Link href="/events">← events</Link>
      </header>
      <div className="event-layout">
        <EventClip event={e} />
        <aside>
          <dl className="event-facts" data-testid="event-facts">
            <dt>Type</dt>
            <dd data-testid="event-type">{e.type}</dd>
            <dt>Score</dt>
            <dd data-testid="event-score">
              {formatScore(e.score)} <span className="sub mono">({e.score.toFixed(3)})</span>
            </dd>
            <dt>Camera</dt>
            <dd>
              <Link href={`/cameras/${encodeURIComponent(e.cameraId)}`} className="mono">
                {e.cameraId}
              </Link>
            </dd>
            <dt>Node</dt>
            <dd className="mono">{e.nodeId}</dd>
            <dt>Started</dt>
            <dd>
              <EventTime iso={e.startedAt} testId="event-started" />
            </dd>
            <dt>Ended</dt>
            <dd>{e.endedAt ? <EventTime iso={e.endedAt} /> : <span className="sub">ongoing</span>}</dd>
            <dt>Duration</dt>
            <dd data-testid="event-duration">{formatDuration(eventDurationMs(e))}</dd>
            <dt>Best frame</dt>
            <dd>
              <EventTime iso={e.bestAt} />
            </dd>
            <dt>Frames</dt>
            <dd>{e.frames}</dd>
            <dt>Boxes</dt>
            <dd data-testid="event-box-count">{e.boxes.length}</dd>
            {e.zones.length > 0 ? (
              <>
                <dt>Zones</dt>
                <dd>{e.zones.join(', ')}</dd>
              </>
            ) : null}
            <dt>Id</dt>
            <dd className="mono sub">{e.id}</dd>
          </dl>
          {e.snapshot ? (
            <a href={e.snapshot.imageUrl} className="event-snapshot" target="_blank" rel="noreferrer">
              {/* biome-ignore lint/performance/noImgElement: plain image from the storage gateway */}
              <img
                src={e.snapshot.thumbnailUrl}
                alt={`Best frame of the event${e.snapshot.blurred ? ', faces blurred' : ''}`}
                data-testid="event-snapshot"
              />
              <span className="sub">
                Best frame {e.snapshot.width}×{e.snapshot.height}
                {e.snapshot.blurred ? ' · faces blurred' : ''} · open full size
              </span>
            </a>
          ) : null}
        </aside>
      </div>
    </section>
  );
}
