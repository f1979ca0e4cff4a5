/** The broker ACL rules and the authenticator's cache, without a broker. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { topics } from '@cctv/protocol';
import { pino } from 'pino';
import { hashSecret, verifySecret } from '../src/auth/secret-hash.ts';
import { publishRefusal, subscribeRefusal, unauthenticatedPublishRefusal } from '../src/mqtt/acl.ts';
import { MqttAuthenticator } from '../src/mqtt/authenticator.ts';

const node = { kind: 'node', nodeId: 'n1' } as const;
const service = { kind: 'service', name: 'tool' } as const;

describe('broker ACL', () => {
  it('lets a node publish its own status, hello, heartbeat, events, clock requests and replies only', () => {
    for (const t of [
      topics.status('n1'),
      topics.hello('n1'),
      topics.heartbeat('n1'),
      topics.events('n1'),
      topics.time('n1'),
      topics.reply('n1', 'r1'),
    ])
      assert.equal(publishRefusal(node, t), null, t);
    assert.equal(publishRefusal(node, topics.cmd('n1', 'ping')), 'command_topic');
    // Clock answers come from the master only.
    assert.equal(publishRefusal(node, topics.timeAnswer('n1')), 'command_topic');
    assert.equal(publishRefusal(node, topics.status('n2')), 'foreign_node');
    assert.equal(publishRefusal(node, topics.time('n2')), 'foreign_node');
    assert.equal(publishRefusal(node, 'cctv/v1/other'), 'outside_node_tree');
  });

  it('lets a node subscribe to its own commands only', () => {
    assert.equal(subscribeRefusal(node, topics.cmdFilter('n1')), null);
    assert.equal(subscribeRefusal(node, topics.cmd('n1', 'ping')), null);
    assert.equal(subscribeRefusal(node, topics.timeAnswer('n1')), null);
    assert.equal(subscribeRefusal(node, topics.cmdFilter('n2')), 'foreign_node');
    assert.equal(subscribeRefusal(node, 'cctv/v1/nodes/+/cmd/+'), 'foreign_node');
    assert.equal(subscribeRefusal(node, topics.nodeTree('n1')), 'not_own_commands');
    assert.equal(subscribeRefusal(node, '#'), 'outside_node_tree');
  });

  it('lets a service account read the node tree and publish commands only', () => {
    assert.equal(subscribeRefusal(service, topics.all.status), null);
    assert.equal(subscribeRefusal(service, 'cctv/v1/nodes/#'), null);
    assert.equal(subscribeRefusal(service, 'cctv/#'), 'outside_node_tree');
    assert.equal(subscribeRefusal(service, '$share/g/cctv/v1/nodes/+/events'), 'outside_node_tree');
    assert.equal(publishRefusal(service, topics.cmd('n1', 'ping')), null);
    assert.equal(publishRefusal(service, topics.status('n1')), 'read_only');
    assert.equal(publishRefusal(service, topics.time('n1')), 'read_only');
  });

  it('with MQTT_AUTH=off holds only agent-<id> clients to their prefix', () => {
    assert.equal(unauthenticatedPublishRefusal('tool', topics.cmd('n1', 'x')), null);
    assert.equal(unauthenticatedPublishRefusal('agent-n1', topics.status('n1')), null);
    assert.equal(unauthenticatedPublishRefusal('agent-n1', topics.status('n2')), 'outside_prefix');
    assert.equal(unauthenticatedPublishRefusal('agent-n1', topics.cmd('n1', 'x')), 'command_topic');
  });
});

describe('secret hashes', () => {
  it('verifies the right secret only and never a malformed hash', async () => {
    const hash = await hashSecret('s3cret', { N: 1024, r: 8, p: 1 });
    assert.match(hash, /^scrypt\$1024\$8\$1\$[A-Za-z0-9+/=]+\$[A-Za-z0-9+/=]+$/);
    assert.equal(await verifySecret('s3cret', hash), true);
    assert.equal(await verifySecret('s3cret!', hash), false);
    assert.equal(await verifySecret('s3cret', hash.replace('scrypt$1024', 'scrypt$1000')), false);
    assert.equal(await verifySecret('s3cret', 'plain'), false);
  });
});

describe('MqttAuthenticator', () => {
  it('remembers a verified password for the cache window, and lastUsedAt at most once a minute', async () => {
    let t = 1_000_000;
    let hash = await hashSecret('pw-1', { N: 1024, r: 8, p: 1 });
    let lookups = 0;
    const touches: number[] = [];
    const auth = new MqttAuthenticator({
      credentials: {
        passwordHash: async () => {
          lookups++;
          return hash;
        },
        touch: async (_id, at) => {
          touches.push(at.getTime());
        },
      },
      serviceAccounts: new Map(),
      cacheTtlMs: 60_000,
      log: pino({ level: 'silent' }),
      now: () => t,
    });
    const login = (pw: string) => auth.authenticate('agent-n1', 'n1', Buffer.from(pw));
    assert.equal((await login('pw-1')).ok, true);
    t += 30_000;
    assert.equal((await login('pw-1')).ok, true);
    assert.equal(lookups, 1, 'the second login came from the cache');
    assert.deepEqual(touches, [1_000_000]);

    // Rotated elsewhere: the old password works until the window ends, then not.
    hash = await hashSecret('pw-2', { N: 1024, r: 8, p: 1 });
    t += 29_000;
    assert.equal((await login('pw-1')).ok, true);
    t += 2_000;
    assert.deepEqual(await login('pw-1'), { ok: false, reason: 'bad_password', returnCode: 4 });
    assert.equal((await login('pw-2')).ok, true);
    assert.deepEqual(touches, [1_000_000, 1_061_000]);

    // Rotated in this process: forgotten at once.
    auth.forgetNode('n1');
    hash = await hashSecret('pw-3', { N: 1024, r: 8, p: 1 });
    assert.equal((await login('pw-2')).ok, false);
  });
});
