// The fast tier of the tests (`npm run test:unit`, seconds): pure logic and in-process parts, no
// database, broker, ffmpeg, browser or service started. A test file joins it when it runs in well
// under a second on its own; everything else runs in `npm test`.
export const UNIT = [
  'protocol/test/gateway-routes.test.ts',
  'protocol/test/heartbeat.test.ts',
  'protocol/test/protocol.test.ts',
  'tls/test/metrics-access.test.ts',
  'vision/test/moving-regions.test.ts',
  'master/test/ice-servers.test.ts',
  'master/test/mqtt-authenticator.test.ts',
  'master/test/mqtt-frame-guard.test.ts',
  'master/test/mqtt-limit-settings.test.ts',
  'master/test/second-factor.test.ts',
  'master/test/tls-config.test.ts',
  'storage-gateway/test/config.test.ts',
  'storage-gateway/test/nas-mover.test.ts',
  'storage-gateway/test/playlist.test.ts',
  'node-agent/test/analysis-frames.test.ts',
  'node-agent/test/capture-plan.test.ts',
  'node-agent/test/config.test.ts',
  'node-agent/test/event-tracker.test.ts',
  'node-agent/test/keyframe-cache.test.ts',
  'node-agent/test/live-plan.test.ts',
  'node-agent/test/spool-quota.test.ts',
];
