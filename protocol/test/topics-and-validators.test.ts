import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parseNodeTopic, segmentKind, TIME_ANSWER_NAME, topics, validators } from '../src/index.ts';

describe('topics', () => {
  it('builds and parses node topics', () => {
    assert.equal(topics.status('cam-host-1'), 'cctv/v1/nodes/cam-host-1/status');
    assert.deepEqual(parseNodeTopic(topics.heartbeat('n1')), { nodeId: 'n1', kind: 'heartbeat' });
    assert.deepEqual(parseNodeTopic(topics.reply('n1', 'r-9')), { nodeId: 'n1', kind: 'reply', arg: 'r-9' });
  });
  it('carries clock requests on the node tree and answers on its command channel', () => {
    assert.equal(topics.time('n1'), 'cctv/v1/nodes/n1/time');
    assert.deepEqual(parseNodeTopic(topics.time('n1')), { nodeId: 'n1', kind: 'time' });
    assert.deepEqual(parseNodeTopic(topics.timeAnswer('n1')), {
      nodeId: 'n1',
      kind: 'cmd',
      arg: TIME_ANSWER_NAME,
    });
    assert.equal(topics.all.time, 'cctv/v1/nodes/+/time');
  });
  it('rejects foreign and malformed topics', () => {
    assert.equal(parseNodeTopic('cctv/v1/nodes/Bad_Id/status'), null);
    assert.equal(parseNodeTopic('cctv/v2/nodes/n1/status'), null);
    assert.equal(parseNodeTopic('cctv/v1/nodes/n1/unknown'), null);
    assert.equal(parseNodeTopic('cctv/v1/nodes/n1/status/extra'), null);
  });
});

describe('validators', () => {
  it('accepts a valid status and explains an invalid one', () => {
    const ok = validators.status.parse(
      JSON.stringify({ state: 'online', at: new Date().toISOString(), agentVersion: '0.1.0' }),
    );
    assert.equal(ok.ok, true);
    const bad = validators.status.parse(
      JSON.stringify({ state: 'sleeping', at: 'yesterday', agentVersion: 1 }),
    );
    assert.equal(bad.ok, false);
    if (!bad.ok) assert.match(bad.error, /^invalid at \//);
    const notJson = validators.heartbeat.parse('{nope');
    assert.equal(notJson.ok, false);
    if (!notJson.ok) assert.match(notJson.error, /^not JSON/);
  });
});

describe('clock request and answer', () => {
  it('validates both ends of the exchange', () => {
    assert.equal(validators.timeRequest.check({ id: 'a1b2-0', t0: 1_764_920_000_000 }), true);
    assert.equal(validators.timeRequest.check({ id: 'a/b', t0: 1 }), false);
    assert.equal(validators.timeRequest.check({ id: 'a', t0: -1 }), false);
    assert.equal(validators.timeRequest.check({ id: 'a' }), false);
    assert.equal(validators.timeAnswer.check({ id: 'a', t0: 1, t1: 2.5, t2: 3 }), true);
    assert.equal(validators.timeAnswer.check({ id: 'a', t0: 1, t1: 2 }), false);
    assert.equal(validators.timeAnswer.check({ id: 'a', t0: 1, t1: '2', t2: 3 }), false);
  });
});

describe('segment names', () => {
  it('accepts media and init names, refuses traversal', () => {
    assert.equal(segmentKind('20261123T101500Z-000123.m4s'), 'media');
    assert.equal(segmentKind('init-0a1b2c3d.mp4'), 'init');
    assert.equal(segmentKind('..m4s'), null);
    assert.equal(segmentKind('a..b.m4s'), null);
    assert.equal(segmentKind('../x.m4s'), null);
    assert.equal(segmentKind('x.ts'), null);
  });
});
