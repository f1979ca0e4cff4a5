import type { Metadata } from 'next';
import { parseTimelineParams, timelineQuery } from '@/features/timeline/timeline-url';
import { TimelineView } from '@/features/timeline/timeline-view';
import { fetchCameras } from '@/lib/master-api';
import './timeline.css';

export const dynamic = 'force-dynamic';

export const metadata: Metadata = { title: 'Timeline · CCTV control room' };

interface Props {
  searchParams: Promise<Record<string, string | string[] | undefined>>;
}

/** Recording coverage and events of one or more cameras on zoomable time bars, played in sync. */
export default async function TimelinePage({ searchParams }: Props) {
  const initial = parseTimelineParams(await searchParams);
  const cameras = await fetchCameras(`/timeline${timelineQuery(initial)}`);
  return (
    <section className="panel" data-testid="timeline-page">
      <div className="panel-head">
        <div>
          <h1>Timeline</h1>
          <p className="sub" style={{ margin: 0 }}>
            Green: recorded. Markers: events (counts when zoomed out). Click a bar to play from that moment;
            several cameras play in step.
          </p>
        </div>
      </div>
      {cameras.ok ? null : <p className="notice">Master unreachable: {cameras.error}</p>}
      <TimelineView cameras={cameras.ok ? cameras.value : []} initial={initial} camerasError={!cameras.ok} />
    </section>
  );
}
