'use client';

import { useEffect, useState } from 'react';

/** Current time in ms, refreshed every `intervalMs`; `null` until mounted so server and client HTML agree. */
export function useNow(intervalMs = 1_000): number | null {
  const [now, setNow] = useState<number | null>(null);
  useEffect(() => {
    setNow(Date.now());
    const t = setInterval(() => setNow(Date.now()), intervalMs);
    return () => clearInterval(t);
  }, [intervalMs]);
  return now;
}
