import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { CameraSettingsView } from '@cctv/protocol';
import {
  changedSettings,
  createRequest,
  detectOf,
  displayUrl,
  draftOfView,
  draftProblems,
  emptyDraft,
  idFromName,
  probeErrorText,
  pushText,
  syncText,
  updateRequest,
} from '../features/cameras/camera-form.ts';

const view: CameraSettingsView = {
  id: 'door',
  nodeId: 'node-1',
  name: 'Front door',
  url: 'rtsp://admin@10.0.0.5/main',
  substreamUrl: null,
  transports: ['tcp'],
  record: { codec: 'source' },
  enabled: true,
  detect: { motion: { sensitivity: 6 } },
  retentionDays: 14,
  hasPassword: true,
  version: 4,
};

const filled = { ...emptyDraft('node-1'), id: 'door', name: 'Door', url: 'rtsp://10.0.0.5/main' };

describe('the camera form', () => {
  it('finds nothing wrong with a complete draft', () => {
    assert.deepEqual(draftProblems(filled, true), {});
  });

  it('checks the id, node, name and URLs against the protocol', () => {
    const p = draftProblems(
      { ...emptyDraft(), id: 'Door 1', name: ' ', url: 'ftp://x', substreamUrl: 'rtsp:/' },
      true,
    );
    assert.deepEqual(Object.keys(p).sort(), ['id', 'name', 'nodeId', 'substreamUrl', 'url']);
    assert.match(draftProblems({ ...filled, id: 'x'.repeat(64) }, true).id ?? '', /at most 63/);
    assert.match(draftProblems({ ...filled, name: 'n'.repeat(121) }, true).name ?? '', /120/);
    assert.deepEqual(draftProblems({ ...filled, id: '' }, false), {}, 'an edit keeps its id');
  });

  it('wants the user name in the URL when a password is typed', () => {
    assert.match(draftProblems({ ...filled, password: 'pw' }, true).password ?? '', /user name in the URL/);
    assert.deepEqual(
      draftProblems({ ...filled, url: 'rtsp://admin@10.0.0.5/main', password: 'pw' }, true),
      {},
    );
    assert.match(draftProblems({ ...filled, password: 'p'.repeat(257) }, true).password ?? '', /256/);
  });

  it('takes a motion sensitivity from 1 to 10, or none', () => {
    for (const bad of ['0', '11', '2.5', 'high'])
      assert.ok(draftProblems({ ...filled, sensitivity: bad }, true).sensitivity, bad);
    assert.deepEqual(draftProblems({ ...filled, sensitivity: '10' }, true), {});
  });

  it('writes only the detection settings the form changed, keeping zones and the rest', () => {
    const zones = [
      {
        name: 'door',
        points: [
          [0, 0],
          [1, 0],
          [1, 1],
        ] as [number, number][],
      },
    ];
    const saved = { fps: 4, motion: { sensitivity: 6, zones }, faces: { minScore: 0.8 } };
    const d = draftOfView({ ...view, detect: saved });
    assert.deepEqual(detectOf(d, saved), saved);
    assert.deepEqual(detectOf({ ...d, faces: false, sensitivity: '' }, saved), {
      fps: 4,
      motion: { zones },
      faces: { minScore: 0.8, enabled: false },
    });
    assert.deepEqual(detectOf({ ...d, detect: false }, saved), { ...saved, enabled: false });
    assert.equal(detectOf(emptyDraft(), null), undefined);
  });

  it('makes an id from a name', () => {
    assert.equal(idFromName('Front door (north) '), 'front-door-north');
    assert.equal(idFromName('Café 2'), 'cafe-2');
    assert.equal(idFromName('x'.repeat(70)).length, 63);
  });

  it('builds the create request without empty optional fields', () => {
    assert.deepEqual(createRequest({ ...filled, password: 'pw', transports: ['udp'] }), {
      id: 'door',
      nodeId: 'node-1',
      name: 'Door',
      url: 'rtsp://10.0.0.5/main',
      enabled: true,
      transports: ['udp'],
      password: 'pw',
    });
  });

  it('edits without ever sending the saved password back, or removes it when asked', () => {
    const d = draftOfView(view);
    assert.equal(d.password, '');
    const put = updateRequest(d, view);
    assert.equal('password' in put, false);
    assert.deepEqual(put, {
      name: 'Front door',
      url: 'rtsp://admin@10.0.0.5/main',
      enabled: true,
      transports: ['tcp'],
      record: { codec: 'source' },
      detect: { motion: { sensitivity: 6 } },
      retentionDays: 14,
    });
    assert.equal(updateRequest({ ...d, clearPassword: true }, view).password, '');
    assert.equal('retentionDays' in updateRequest({ ...d, retentionDays: '' }, view), false);
    assert.match(draftProblems({ ...d, retentionDays: '2.5' }, false).retentionDays ?? '', /Whole days/);
    assert.equal(updateRequest({ ...d, password: 'new' }, view).password, 'new');
  });

  it('changes one setting of a saved camera and keeps the rest', () => {
    const put = changedSettings(view, { enabled: false });
    assert.equal(put.enabled, false);
    assert.equal(put.retentionDays, 14, 'a toggle keeps the retention');
    assert.equal(put.url, view.url);
    assert.deepEqual(put.detect, view.detect);
    assert.equal('password' in put, false);
  });

  it('never shows a password in a URL', () => {
    assert.equal(displayUrl('rtsp://admin:secret@10.0.0.5:554/x'), 'rtsp://admin:***@10.0.0.5:554/x');
    assert.equal(displayUrl('rtsp://admin@10.0.0.5/x'), 'rtsp://admin@10.0.0.5/x');
  });
});

describe('the words for the master’s answers', () => {
  it('explains every probe failure, and passes on what it does not know', () => {
    for (const code of ['BAD_URL', 'AUTH_FAILED', 'UNREACHABLE', 'NOT_FOUND', 'TIMEOUT', 'NO_VIDEO', 'BUSY'])
      assert.notEqual(probeErrorText(code, code), code);
    assert.match(probeErrorText('AUTH_FAILED', '401'), /user name or password/);
    assert.match(probeErrorText('PROBE_FAILED', 'exit 1'), /failed\. exit 1$/);
    assert.equal(probeErrorText('SOMETHING', 'as said'), 'as said');
  });

  it('says what became of a change on the node', () => {
    const answer = (state: 'applied' | 'queued' | 'refused', reason: string | null = null) => ({
      camera: null,
      nodeId: 'n',
      version: 7,
      push: { state, reason },
    });
    assert.equal(pushText(answer('applied')), 'Saved as version 7; the node runs it.');
    assert.match(pushText(answer('queued')), /back online/);
    assert.equal(
      pushText(answer('refused', 'FILE_MANAGED')),
      'Saved as version 7, but the node refused it: FILE_MANAGED',
    );
  });

  it('names a node’s sync state', () => {
    const status = { mode: 'master' as const, desiredVersion: 3, appliedVersion: 2, reason: null };
    assert.equal(syncText({ ...status, sync: 'pending' }), 'pending (v3)');
    assert.equal(syncText({ ...status, sync: 'in_sync', appliedVersion: 3 }), 'in sync (v3)');
    assert.equal(syncText({ ...status, sync: 'failed', reason: 'bad url' }), 'failed: bad url');
    assert.equal(syncText(undefined), 'unknown');
  });
});
