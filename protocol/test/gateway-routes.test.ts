import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import {
  type GatewayRoute,
  GRANT_PREFIX,
  gatewayPaths,
  gatewayRoutes,
  grantRelativePaths,
  SEGMENT_NAME_PATTERN,
  SNAPSHOT_NAME_PATTERN,
} from '../src/http/gateway-routes.ts';
import {
  grantedPath,
  grantedPaths,
  isSnapshotName,
  liveH264Path,
  livePath,
  segmentKind,
  segmentPath,
  snapshotPath,
  vodH264Path,
  vodPath,
} from '../src/index.ts';

const src = resolve(dirname(fileURLToPath(import.meta.url)), '../src');

/** Every module `file` imports, transitively, within protocol/src. */
function importsOf(file: string, seen = new Set<string>()): Set<string> {
  for (const [, spec] of readFileSync(file, 'utf8').matchAll(/from '(\.[^']+)'/g)) {
    const next = resolve(dirname(file), spec ?? '');
    if (seen.has(next)) continue;
    seen.add(next);
    importsOf(next, seen);
  }
  return seen;
}

describe('gateway routes', () => {
  it('compile no validator: safe for browser code under a CSP without eval', () => {
    const reached = [...importsOf(resolve(src, 'http/gateway-routes.ts'))];
    assert.ok(!reached.some((f) => f.endsWith('validate.ts')), reached.join('\n'));
    assert.ok(!reached.some((f) => f.endsWith('index.ts')), reached.join('\n'));
  });

  it('build paths with every parameter encoded', () => {
    const grant = 'aaaaaaaaaa.bbbbbbbbbb.cccc';
    assert.equal(gatewayPaths.segmentUpload('cam-a', 'x.m4s'), '/v1/segments/cam-a/x.m4s');
    assert.equal(
      gatewayPaths.segment(grant, 'cam a', 'a/b.m4s'),
      `/v1/g/${grant}/segments/cam%20a/a%2Fb.m4s`,
    );
    assert.equal(
      gatewayPaths.vodPlaylist(grant, 'cam-a', {
        from: '2026-01-01T00:00:00+01:00',
        to: '2026-01-01T01:00:00Z',
      }),
      `/v1/g/${grant}/vod/cam-a.m3u8?from=2026-01-01T00%3A00%3A00%2B01%3A00&to=2026-01-01T01%3A00%3A00Z`,
    );
    assert.equal(gatewayPaths.liveH264Playlist(grant, 'cam-a'), `/v1/g/${grant}/live/cam-a/h264.m3u8`);
    assert.equal(
      gatewayPaths.rendition(grant, 'cam-a', 'seg-1.m4s'),
      `/v1/g/${grant}/renditions/h264/cam-a/seg-1.ts`,
    );
    assert.equal(grantRelativePaths.segment('cam-a', 'i.mp4'), 'segments/cam-a/i.mp4');
    assert.equal(gatewayPaths.grantOf(gatewayPaths.livePlaylist(grant, 'c')), grant);
    assert.equal(
      gatewayPaths.withGrant(`https://gw${gatewayPaths.segment(grant, 'c', 'x.m4s')}`, 'new'),
      'https://gw/v1/g/new/segments/c/x.m4s',
    );
  });

  it('give the master the same granted paths as the ungranted ones moved under a grant', () => {
    const g = 'aaaaaaaaaa.bbbbbbbbbb.cccc';
    assert.equal(grantedPaths.vod(g, 'cam-a'), grantedPath(g, vodPath('cam-a')));
    assert.equal(grantedPaths.vodH264(g, 'cam-a'), grantedPath(g, vodH264Path('cam-a')));
    assert.equal(grantedPaths.live(g, 'cam-a'), grantedPath(g, livePath('cam-a')));
    assert.equal(grantedPaths.liveH264(g, 'cam-a'), grantedPath(g, liveH264Path('cam-a')));
    assert.equal(
      grantedPaths.segment(g, 'cam-a', 'x y.m4s'),
      grantedPath(g, segmentPath('cam-a', 'x y.m4s')),
    );
    assert.equal(
      grantedPaths.snapshot(g, 'cam-a', 'e-1.jpg'),
      grantedPath(g, snapshotPath('cam-a', 'e-1.jpg')),
    );
  });

  it('name patterns agree with the name rules', () => {
    const segment = new RegExp(SEGMENT_NAME_PATTERN, 'u');
    for (const name of [
      'a.m4s',
      'init-1.mp4',
      'x..m4s',
      '.m4s',
      'a.jpg',
      `${'a'.repeat(124)}.m4s`,
      `${'a'.repeat(125)}.m4s`,
    ])
      assert.equal(segment.test(name), segmentKind(name) !== null, name);
    const snapshot = new RegExp(SNAPSHOT_NAME_PATTERN, 'u');
    for (const name of ['e-1.jpg', 'e.1.jpg', 'x.jpeg', `${'a'.repeat(124)}.jpg`, `${'a'.repeat(125)}.jpg`])
      assert.equal(snapshot.test(name), isSnapshotName(name), name);
  });

  it('describe an answer for every route, and granted routes under the grant', () => {
    for (const [name, route] of Object.entries(gatewayRoutes) as [string, GatewayRoute][]) {
      assert.ok(Object.keys(route.schema.response).length > 0, name);
      if (route.url.startsWith(GRANT_PREFIX)) assert.ok(route.schema.params, name);
    }
  });
});
