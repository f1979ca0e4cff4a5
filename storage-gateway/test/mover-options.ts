import pino from 'pino';
import { KeyedLock } from '../src/files/keyed-lock.ts';
import type { SegmentFiles } from '../src/files/segment-files.ts';

/** What every NasMover in a test shares: its files, its own lock, no log, 1 ms retry pauses. */
export const testMoverOptions = (files: SegmentFiles) => ({
  files,
  lock: new KeyedLock(),
  logger: pino({ level: 'silent' }),
  retryInitialMs: 1,
  retryMaxMs: 1,
});
