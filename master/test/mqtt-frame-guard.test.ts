/**
 * The MQTT frame guard alone: fixed headers followed across any chunking, the packet and
 * CONNECT caps applied at the header, malformed lengths, bodies skipped without being looked at.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { varint } from '../../test/support/mqtt-wire.ts';
import { MqttFrameGuard } from '../src/mqtt/frame-guard.ts';

/** A packet of the given type byte whose whole size (fixed header included) is `whole`. */
function packet(type: number, whole: number): Buffer {
  const body = [2, 3, 4, 5].map((h) => whole - h).find((b) => b >= 0 && 1 + varint(b).length + b === whole);
  if (body === undefined) throw new Error(`no MQTT packet is ${whole} bytes long`);
  return Buffer.concat([Buffer.from([type, ...varint(body)]), Buffer.alloc(body, 0x61)]);
}

const CONNECT = 0x10;
const PUBLISH = 0x30;
const PINGREQ = Buffer.from([0xc0, 0x00]);

/** Feeds `bytes` in chunks of `size`; the first refusal, or null. */
function feed(guard: MqttFrameGuard, bytes: Buffer, size: number) {
  for (let i = 0; i < bytes.length; i += size) {
    const r = guard.push(bytes.subarray(i, i + size));
    if (r) return r;
  }
  return null;
}

describe('MQTT frame guard', () => {
  it('follows packets whatever the chunking, up to and including the caps', () => {
    const stream = Buffer.concat([
      packet(CONNECT, 512),
      PINGREQ,
      packet(PUBLISH, 4096),
      packet(PUBLISH, 131), // a two-byte length
      packet(PUBLISH, 16_390), // a three-byte length
      PINGREQ,
    ]);
    for (const size of [1, 2, 3, 7, 64, 1000, stream.length])
      assert.equal(feed(new MqttFrameGuard(16_390, 512), stream, size), null, `chunks of ${size}`);
  });

  it('refuses a packet over the cap at its header, before its body', () => {
    const guard = new MqttFrameGuard(4096, 1024);
    assert.equal(guard.push(packet(CONNECT, 100)), null);
    // Only the fixed header of a 4097-byte publish: refused already.
    assert.equal(guard.push(packet(PUBLISH, 4097).subarray(0, 3)), 'too_large');
    assert.equal(guard.declaredBytes, 4097);
    assert.equal(guard.push(PINGREQ), 'too_large', 'refused for good');
  });

  it('refuses a declared 250 MB CONNECT from its first five bytes, split anywhere', () => {
    const header = Buffer.from([CONNECT, ...varint(250 * 1024 * 1024)]);
    for (let cut = 0; cut <= header.length; cut++) {
      const guard = new MqttFrameGuard(256 * 1024, 16 * 1024);
      const first = guard.push(header.subarray(0, cut));
      const second = guard.push(header.subarray(cut));
      assert.equal(first ?? second, 'too_large', `cut at ${cut}`);
    }
  });

  it('holds the first packet to the CONNECT cap, later ones to the packet cap', () => {
    const big = new MqttFrameGuard(256 * 1024, 16 * 1024);
    assert.equal(big.push(packet(CONNECT, 20_000)), 'connect_too_large');
    assert.equal(big.declaredBytes, 20_000);
    // A first packet that is not a CONNECT is held to the same cap (aedes refuses it anyway).
    assert.equal(
      new MqttFrameGuard(256 * 1024, 16 * 1024).push(packet(PUBLISH, 16_385)),
      'connect_too_large',
    );
    const ok = new MqttFrameGuard(256 * 1024, 16 * 1024);
    assert.equal(ok.push(packet(CONNECT, 16 * 1024)), null);
    assert.equal(ok.push(packet(PUBLISH, 256 * 1024)), null);
    assert.equal(ok.push(packet(PUBLISH, 256 * 1024 + 1).subarray(0, 5)), 'too_large');
    // With a packet cap below the CONNECT cap, the packet cap is the one that counts.
    assert.equal(new MqttFrameGuard(2048, 16 * 1024).push(packet(CONNECT, 4096)), 'too_large');
  });

  it('refuses a length of more than four bytes', () => {
    const guard = new MqttFrameGuard(Number.MAX_SAFE_INTEGER);
    assert.equal(guard.push(Buffer.from([CONNECT, 0xff, 0xff, 0xff])), null);
    assert.equal(guard.push(Buffer.from([0xff])), 'bad_length');
    assert.equal(guard.declaredBytes, 0);
  });

  it('accepts a zero-length packet and a body exactly at a chunk boundary', () => {
    const guard = new MqttFrameGuard(1024);
    const stream = Buffer.concat([PINGREQ, packet(PUBLISH, 100), PINGREQ]);
    assert.equal(guard.push(stream.subarray(0, 102)), null);
    assert.equal(guard.push(stream.subarray(102)), null);
    // Next byte is a type byte again: a header declaring too much is seen.
    assert.equal(guard.push(Buffer.from([PUBLISH, ...varint(5000)])), 'too_large');
  });

  it('costs per packet, not per byte: a 64 MB body in 64 KiB chunks is skipped quickly', () => {
    const guard = new MqttFrameGuard(128 * 1024 * 1024);
    const body = 64 * 1024 * 1024;
    assert.equal(guard.push(Buffer.from([CONNECT, 0x00])), null);
    assert.equal(guard.push(Buffer.from([PUBLISH, ...varint(body)])), null);
    const chunk = Buffer.alloc(64 * 1024);
    const t0 = performance.now();
    for (let sent = 0; sent < body; sent += chunk.length) assert.equal(guard.push(chunk), null);
    assert.ok(performance.now() - t0 < 200, 'skipping is O(1) per chunk');
    assert.equal(guard.push(PINGREQ), null, 'back at a packet boundary');
  });
});
