import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { redactCredentials, validators } from '../src/index.ts';

describe('probe contracts', () => {
  it('takes the URLs a node can read, and bounded transports and time', () => {
    const ok = (args: unknown) => validators.probeArgs.check(args);
    assert.ok(ok({ url: 'rtsp://cam.local/stream' }));
    assert.ok(ok({ url: 'RTSPS://cam:8322/x', transports: ['tcp'], timeoutMs: 15_000 }));
    assert.ok(ok({ url: 'https://cam/mjpeg', transports: ['udp', 'tcp'] }));
    assert.ok(!ok({ url: 'ftp://x' }));
    assert.ok(!ok({ url: '/dev/video0' }));
    assert.ok(!ok({ url: `rtsp://h/${'a'.repeat(2000)}` }));
    assert.ok(!ok({ url: 'rtsp://h/x', transports: ['tcp', 'tcp'] }));
    assert.ok(!ok({ url: 'rtsp://h/x', transports: ['quic'] }));
    assert.ok(!ok({ url: 'rtsp://h/x', timeoutMs: 999 }));
    assert.ok(!ok({ url: 'rtsp://h/x', timeoutMs: 60_000 }));
    assert.ok(!ok({ url: 'rtsp://h/x', password: 'p' }), 'the password travels inside the URL');
  });

  it('redacts the password of every URL, and a secret in any of its forms', () => {
    assert.equal(redactCredentials('rtsp://admin:pw@10.0.0.5:554/x'), 'rtsp://admin:***@10.0.0.5:554/x');
    assert.equal(redactCredentials('rtsp://admin:p@ss@cam/x'), 'rtsp://admin:***@cam/x', 'a raw @ in it');
    assert.equal(
      redactCredentials('opened http://u:a@h/1 then rtsps://v:b@g/2'),
      'opened http://u:***@h/1 then rtsps://v:***@g/2',
    );
    assert.equal(redactCredentials('rtsp://cam:554/x?user=a@b'), 'rtsp://cam:554/x?user=a@b', 'no password');
    assert.equal(redactCredentials('rtsp://admin@cam/x'), 'rtsp://admin@cam/x');
    assert.equal(redactCredentials('said p@ss/w and p%40ss%2Fw', ['p@ss/w']), 'said *** and ***');
    assert.equal(redactCredentials('said p@ss/w', ['p%40ss%2Fw']), 'said ***');
    assert.equal(redactCredentials('bad %zz stays', ['%zz']), 'bad *** stays');
  });
});
