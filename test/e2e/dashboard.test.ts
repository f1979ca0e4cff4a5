/**
 * The dashboard's pages in Chromium against one real cluster (test/e2e/dashboard/cluster.ts):
 * each page's tests live in test/e2e/dashboard/<page>.ts and register here, so the cluster
 * starts once. Every page leaves a 1920×1080 screenshot in `.artifacts/screenshots/`.
 */
import { dashboardCluster } from './dashboard/cluster.ts';

const cluster = await dashboardCluster();
// Page modules register their tests when imported, in this order.
await import('./dashboard/wall.ts').then((m) => m.register(cluster));
await import('./dashboard/events.ts').then((m) => m.register(cluster));
await import('./dashboard/timeline.ts').then((m) => m.register(cluster));
await import('./dashboard/exports.ts').then((m) => m.register(cluster));
// Last: it leaves a second node offline behind.
await import('./dashboard/fleet.ts').then((m) => m.register(cluster));
