import type { LiveLimits } from '../src/live/live-service.ts';

/** Live limits for a LiveService in tests: four viewers and sessions, no linger. */
export const testLiveLimits = (more: Partial<LiveLimits> = {}): LiveLimits => ({
  maxViewersPerCamera: 4,
  maxSessions: 4,
  lingerMs: 0,
  connectTimeoutMs: 5000,
  transcode: true,
  transcodeMaxWidth: 640,
  stallAfterMs: 5000,
  ...more,
});
