'use client';

import { useEffect, useState } from 'react';
import { formatLocalTime, formatUtcTime } from '@/features/events/event-format';

/** A time in the viewer's zone; UTC in the server's HTML until the browser takes over. */
export function EventTime({ iso, testId }: { iso: string; testId?: string }) {
  const [local, setLocal] = useState(false);
  useEffect(() => setLocal(true), []);
  return (
    <time dateTime={iso} title={iso} data-testid={testId}>
      {local ? formatLocalTime(iso) : formatUtcTime(iso)}
    </time>
  );
}
