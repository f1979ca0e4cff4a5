import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { generate } from 'otplib';
import {
  acceptedStep,
  hashRecoveryCode,
  matchRecoveryCode,
  newRecoveryCode,
  newTotpSecret,
  otpauthUrl,
} from '../src/auth/second-factor.ts';
import { ConfigError, totpRequiredRoles } from '../src/config.ts';

const codeAt = (secret: string, ms: number) => generate({ secret, epoch: Math.floor(ms / 1000) });

describe('second factor', () => {
  it('accepts a code of now or one step either side, each step once and in order', async () => {
    const secret = newTotpSecret();
    assert.match(secret, /^[A-Z2-7]{32}$/);
    const now = Date.parse('2026-12-04T10:00:10Z');
    const step = await acceptedStep(secret, await codeAt(secret, now), null, now);
    assert.equal(step, Math.floor(now / 30_000));
    assert.equal(await acceptedStep(secret, await codeAt(secret, now), step, now), null, 'replayed');
    assert.equal(await acceptedStep(secret, await codeAt(secret, now - 30_000), step, now), null, 'older');
    assert.equal(await acceptedStep(secret, await codeAt(secret, now + 30_000), step, now), (step ?? 0) + 1);
    assert.equal(await acceptedStep(secret, await codeAt(secret, now + 60_000), null, now), null, 'too far');
    assert.equal(await acceptedStep(secret, await codeAt(secret, now - 60_000), null, now), null, 'too old');
    assert.equal(await acceptedStep(secret, '12345x', null, now), null);
  });

  it('names the user and the issuer in the otpauth URL', () => {
    const url = new URL(otpauthUrl('JBSWY3DPEHPK3PXP', 'alice'));
    assert.equal(url.protocol, 'otpauth:');
    assert.equal(url.searchParams.get('secret'), 'JBSWY3DPEHPK3PXP');
    assert.equal(url.searchParams.get('issuer'), 'CCTV');
    assert.match(decodeURIComponent(url.pathname), /CCTV:alice$/);
  });

  it('matches recovery codes whatever their case, spaces and dashes', async () => {
    const code = newRecoveryCode();
    assert.match(code, /^[a-z2-9]{4}-[a-z2-9]{4}-[a-z2-9]{4}$/);
    const stored = [
      { id: 'other', codeHash: await hashRecoveryCode(newRecoveryCode()) },
      { id: 'mine', codeHash: await hashRecoveryCode(code) },
    ];
    assert.equal(await matchRecoveryCode(code.toUpperCase().replace(/-/g, ' '), stored), 'mine');
    assert.equal(await matchRecoveryCode('aaaa-bbbb-cccc', stored), null);
  });

  it('reads MASTER_REQUIRE_2FA as none, all or roles, and names the key when it is wrong', () => {
    assert.deepEqual(totpRequiredRoles(undefined), []);
    assert.deepEqual(totpRequiredRoles('none'), []);
    assert.deepEqual(totpRequiredRoles('all'), ['admin', 'operator', 'viewer']);
    assert.deepEqual(totpRequiredRoles(' Admin, operator ,admin'), ['admin', 'operator']);
    for (const bad of ['admins', 'all,admin', 'none,viewer', 'root'])
      assert.throws(
        () => totpRequiredRoles(bad),
        (err: Error) => err instanceof ConfigError && /MASTER_REQUIRE_2FA/.test(err.message),
        bad,
      );
  });
});
