// The fast tier of the tests (`npm run test:unit`, seconds): pure logic and in-process parts, no
// database, broker, ffmpeg, browser or service started. A test file joins it when it runs in well
// under a second on its own; everything else runs in `npm test`.
export const UNIT = [
  'protocol/test/config-check.test.ts',
  'protocol/test/gateway-routes.test.ts',
  'protocol/test/heartbeat.test.ts',
  'protocol/test/probe.test.ts',
  'protocol/test/topics-and-validators.test.ts',
  'tls/test/metrics-access.test.ts',
  'tls/test/service-metrics.test.ts',
  'vision/test/moving-regions.test.ts',
  'master/test/alert-schedule.test.ts',
  'master/test/coalesced.test.ts',
  'master/test/audit-csv.test.ts',
  'master/test/config.test.ts',
  'master/test/ice-servers.test.ts',
  'master/test/mqtt-authenticator.test.ts',
  'master/test/mqtt-frame-guard.test.ts',
  'master/test/mqtt-limit-settings.test.ts',
  'master/test/notify-signature.test.ts',
  'master/test/second-factor.test.ts',
  'master/test/tls-config.test.ts',
  'storage-gateway/test/config.test.ts',
  'storage-gateway/test/ll-playlist.test.ts',
  'storage-gateway/test/nas-mover.test.ts',
  'storage-gateway/test/vod-playlist-and-ranges.test.ts',
  'node-agent/test/analysis-frames.test.ts',
  'node-agent/test/capture-plan.test.ts',
  'node-agent/test/clock.test.ts',
  'node-agent/test/config.test.ts',
  'node-agent/test/event-tracker.test.ts',
  'node-agent/test/gateway-pool.test.ts',
  'node-agent/test/keyframe-cache.test.ts',
  'node-agent/test/link-port.test.ts',
  'node-agent/test/live-plan.test.ts',
  'node-agent/test/motion-regions.test.ts',
  'node-agent/test/probe-failure.test.ts',
  'node-agent/test/restart-command.test.ts',
  'node-agent/test/spool-quota.test.ts',
  'node-agent/test/started-parts.test.ts',
  'dashboard/test/alert-book.test.ts',
  'dashboard/test/audit-filters.test.ts',
  'dashboard/test/camera-form.test.ts',
  'dashboard/test/clock-offset.test.ts',
  'dashboard/test/event-filters.test.ts',
  'dashboard/test/event-format.test.ts',
  'dashboard/test/event-geometry.test.ts',
  'dashboard/test/event-playback.test.ts',
  'dashboard/test/alert-filters.test.ts',
  'dashboard/test/alert-settings-form.test.ts',
  'dashboard/test/user-form.test.ts',
  'dashboard/test/fleet-view.test.ts',
  'dashboard/test/fleet-figures.test.ts',
  'dashboard/test/format.test.ts',
  'dashboard/test/live-modes.test.ts',
  'dashboard/test/nav.test.ts',
  'dashboard/test/node-admin.test.ts',
  'dashboard/test/zone-draft.test.ts',
  'dashboard/test/zone-geometry.test.ts',
  'dashboard/test/playback.test.ts',
  'dashboard/test/timeline-data.test.ts',
  'dashboard/test/timeline-sync.test.ts',
  'dashboard/test/timeline-url.test.ts',
  'dashboard/test/timeline-window.test.ts',
  'dashboard/test/wall.test.ts',
  'test/scripts/backup-archive.test.ts',
];

/**
 * Files that spend most of their time waiting (an outage held for minutes, a receiver down for a
 * minute) with little CPU: a full run (`npm test`) runs them one after the other in a second
 * lane beside the main one, whose output follows the main lane's. Both files that start
 * OpenSMTPD are here: one runs per machine at a time.
 */
export const SIDE_LANE = [
  'test/e2e/agent-faults.test.ts',
  // The arm64 agent under qemu-user-static: a minute, about 45 s of CPU.
  'test/e2e/agent-arm64.test.ts',
  'test/e2e/alerts-cluster.test.ts',
  'master/test/notify-email.test.ts',
  // Ansible over SSH to three test hosts: six minutes, most of it waiting on SSH round trips and
  // on services coming up on the hosts.
  'test/deploy/ansible-rollout.test.ts',
  // Waits out a grant's 20 s lifetime twice.
  'test/security/grant-browser.test.ts',
  // Holds the NAS read-only for two minutes, then unmounted, full and frozen: mostly waiting.
  'storage-gateway/test/nas-faults.test.ts',
  // Three agents one after the other on one recording, each run's grace waited out: 45 s.
  'node-agent/test/agent-restart-handoff.test.ts',
];
