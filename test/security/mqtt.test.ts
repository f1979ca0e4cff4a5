/**
 * The master's embedded broker before anyone has logged in, as an attacker on the network meets
 * it: a thousand idle sockets, a CONNECT declaring 250 MB, and a second connection with a
 * node's credentials. Replayed against the master process of a real cluster.
 */
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { connect, type Socket } from 'node:net';
import { before, describe, it } from 'node:test';
import mqtt from 'mqtt';
import { waitFor } from '../support/index.ts';
import { varint } from '../support/mqtt-wire.ts';
import { type SecurityCluster, startSecurityCluster, type TestNode } from './support/cluster.ts';

const DEADLINE_MS = 2000;
const PENDING_PER_ADDRESS = 64;

async function rssOf(pid: number): Promise<number> {
  const status = await readFile(`/proc/${pid}/status`, 'utf8');
  return Number(/VmRSS:\s+(\d+) kB/.exec(status)?.[1] ?? 0) * 1024;
}

describe('MQTT before login: caps, a deadline, a packet-size limit; takeovers raised', () => {
  let c: SecurityCluster;
  let mqttPort: number;

  before(async () => {
    c = await startSecurityCluster({
      MQTT_CONNECT_TIMEOUT_MS: String(DEADLINE_MS),
      MQTT_MAX_PENDING_PER_ADDRESS: String(PENDING_PER_ADDRESS),
    });
    mqttPort = Number(new URL(c.mqttUrl).port);
  });

  const metric = (name: string, labels: string) => c.masterMetric(name, labels);

  it('refuses idle sockets over the per-address cap at once, and closes the rest at the deadline', async () => {
    const refusedBefore = await metric(
      'cctv_mqtt_connections_refused_total',
      'reason="max_pending_per_address"',
    );
    const expiredBefore = await metric('cctv_mqtt_connect_deadline_expired_total', 'stage="connect"');
    const sockets: Socket[] = [];
    const closedAt: number[] = [];
    const t0 = Date.now();
    for (let i = 0; i < 1000; i++) {
      const s = connect(mqttPort, '127.0.0.1');
      s.on('error', () => {});
      s.on('close', () => closedAt.push(Date.now() - t0));
      sockets.push(s);
    }
    await waitFor('every idle socket closed', () => closedAt.length === 1000, DEADLINE_MS + 10_000);
    assert.equal(
      await metric('cctv_mqtt_connections_refused_total', 'reason="max_pending_per_address"'),
      refusedBefore + 1000 - PENDING_PER_ADDRESS,
    );
    assert.equal(
      await metric('cctv_mqtt_connect_deadline_expired_total', 'stage="connect"'),
      expiredBefore + PENDING_PER_ADDRESS,
    );
    const late = closedAt.filter((ms) => ms >= DEADLINE_MS - 200);
    assert.equal(late.length, PENDING_PER_ADDRESS, 'the pending ones lasted until the deadline');
    assert.ok(Math.max(...closedAt) < DEADLINE_MS + 3000, `closed by ${Math.max(...closedAt)} ms`);
    assert.equal(await metric('cctv_mqtt_sockets', 'state="pending"'), 0);
    // A real node logs in right after.
    const node = await c.node('after-flood');
    assert.ok(node.client.connected);
  });

  it('closes a socket declaring a 250 MB CONNECT early; the master does not grow', async () => {
    const pid = c.master.child.pid ?? 0;
    const rssBefore = await rssOf(pid);
    const refusedBefore = await metric('cctv_mqtt_packets_refused_total', 'reason="too_large"');
    const socket = connect(mqttPort, '127.0.0.1');
    socket.on('error', () => {});
    let written = 0;
    const closed = new Promise<void>((resolve) => socket.on('close', () => resolve()));
    await new Promise<void>((resolve) => socket.once('connect', () => resolve()));
    socket.write(Buffer.from([0x10, ...varint(250_000_000)]));
    const chunk = Buffer.alloc(1024 * 1024, 0x61);
    const pump = async () => {
      while (!socket.destroyed && written < 250_000_000) {
        if (!socket.write(chunk)) await new Promise((r) => socket.once('drain', r).once('close', r));
        written += chunk.length;
      }
    };
    await Promise.race([pump(), closed]);
    await closed;
    assert.ok(written < 64 * 1024 * 1024, `closed after ${Math.round(written / 1e6)} MB`);
    assert.equal(await metric('cctv_mqtt_packets_refused_total', 'reason="too_large"'), refusedBefore + 1);
    const grown = (await rssOf(pid)) - rssBefore;
    assert.ok(grown < 40 * 1024 * 1024, `master grew ${Math.round(grown / 1e6)} MB`);
    assert.equal((await fetch(`${c.masterUrl}/healthz`)).status, 200);
  });

  it('lets a second connection with a node’s credentials replace the first, and raises it', async () => {
    const first: TestNode = await c.node('twin-node');
    const before = await metric('cctv_mqtt_session_takeovers_total', 'kind="node"');
    // The same credentials on a second host.
    const second = await mqtt.connectAsync(c.mqttUrl, {
      clientId: 'agent-twin-node',
      username: 'twin-node',
      password: first.secret,
      reconnectPeriod: 0,
    });
    try {
      await waitFor('the first connection replaced', () => !first.client.connected);
      assert.ok(second.connected);
      await waitFor(
        'takeover counted',
        async () => (await metric('cctv_mqtt_session_takeovers_total', 'kind="node"')) === before + 1,
      );
      const alert = await waitFor('security alert', async () =>
        (await c.alerts()).find((a) => a.kind === 'session_takeover' && a.nodeId === 'twin-node'),
      );
      assert.match(alert.message, /second MQTT connection as node twin-node/);
    } finally {
      await second.endAsync(true);
    }
  });
});
