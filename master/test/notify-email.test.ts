/**
 * E-mail deliveries through a real SMTP server (Debian's OpenSMTPD on a free port), read back
 * from the Maildir it delivered to: the alert e-mail with its JPEG snapshot byte for byte; a
 * refused recipient is final, a server that is not there is tried again, and one that cannot
 * upgrade to TLS when the channel requires it gets nothing.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { before, describe, it } from 'node:test';
import { freePort } from '../../test/support/index.ts';
import { rootOnlySkip } from '../../test/support/root-only.ts';
import { type SmtpServer, smtpServerUnavailable, startSmtpServer } from '../../test/support/smtp-server.ts';
import { alertEmail } from '../src/notify/alert-email.ts';
import { type EmailTarget, sendEmail } from '../src/notify/email.ts';
import { sample } from './notify-sample.ts';

/** A small real JPEG (ffmpeg's test pattern). */
function jpeg(): Buffer {
  const r = spawnSync(
    'ffmpeg',
    ['-v', 'error', '-f', 'lavfi', '-i', 'testsrc=size=160x90', '-frames:v', '1', '-f', 'mjpeg', '-'],
    { maxBuffer: 1 << 22 },
  );
  assert.equal(r.status, 0, r.stderr?.toString());
  return r.stdout;
}

describe('e-mail sender through OpenSMTPD', { skip: rootOnlySkip(smtpServerUnavailable()) }, () => {
  let server: SmtpServer;
  let target: EmailTarget;
  before(async () => {
    server = await startSmtpServer();
    target = {
      host: 'localhost',
      port: server.port,
      security: 'none',
      from: `cctv@${server.domain}`,
      to: [`guard@${server.domain}`, `owner@${server.domain}`],
    };
  });

  it('delivers the alert e-mail with its snapshot, read back from the mailbox', async () => {
    const snapshot = jpeg();
    const { subject, text } = alertEmail(sample, { timeZone: 'Europe/Berlin' });
    const r = await sendEmail(
      target,
      { subject, text, snapshot: { filename: 'yard.jpg', content: snapshot, contentType: 'image/jpeg' } },
      { timeoutMs: 10_000 },
    );
    assert.deepEqual(r, { ok: true });
    const messages = await waitForMessages(server, 2);
    for (const m of messages) {
      assert.equal(m.subject, '[CCTV] WARNING: Motion in the yard (camera yard, node node-1)');
      assert.equal(m.from?.text, `cctv@${server.domain}`);
      assert.match(m.text ?? '', /Raised: {3}2026-12-05T06:30:00\.000Z \(5 Dec 2026, 07:30:00 CET\)/);
      assert.equal(m.attachments.length, 1);
      const [a] = m.attachments;
      assert.equal(a?.filename, 'yard.jpg');
      assert.equal(a?.contentType, 'image/jpeg');
      assert.ok(a?.content.equals(snapshot), 'the attachment bytes are the snapshot');
    }
    const to = messages.map((m) => (Array.isArray(m.to) ? '' : (m.to?.text ?? ''))).sort();
    assert.deepEqual(to, Array(2).fill(`guard@${server.domain}, owner@${server.domain}`));
  });

  it('gives up on a refused recipient, tries again when nobody answers', async () => {
    const refused = await sendEmail(
      { ...target, to: ['someone@elsewhere.example'] },
      { subject: 's', text: 't' },
      {
        timeoutMs: 10_000,
      },
    );
    assert.equal(refused.ok, false);
    assert.equal(!refused.ok && refused.retry, false);
    assert.match(!refused.ok ? refused.error : '', /^localhost:\d+: .*55\d/);

    const some = await sendEmail(
      { ...target, to: [`guard@${server.domain}`, 'someone@elsewhere.example'] },
      { subject: 's', text: 't' },
      { timeoutMs: 10_000 },
    );
    assert.deepEqual(some, { ok: true, warning: 'refused recipients: someone@elsewhere.example' });
    await waitForMessages(server, 3);

    const closed = await freePort();
    const away = await sendEmail(
      { ...target, port: closed },
      { subject: 's', text: 't' },
      { timeoutMs: 2000 },
    );
    assert.equal(!away.ok && away.retry, true);
    assert.match(!away.ok ? away.error : '', new RegExp(`localhost:${closed}: .*ECONNREFUSED`));
  });

  it('sends nothing when the channel requires STARTTLS and the server cannot, nor a login in the clear', async () => {
    const before = (await server.readMessages()).length;
    const r = await sendEmail(
      { ...target, security: 'starttls' },
      { subject: 's', text: 't' },
      { timeoutMs: 10_000 },
    );
    assert.equal(r.ok, false);
    assert.equal(!r.ok && r.retry, false, 'a configuration error, not a passing one');
    const clear = await sendEmail(
      { ...target, username: 'cctv', password: 'pw' },
      { subject: 's', text: 't' },
      {
        timeoutMs: 10_000,
      },
    );
    assert.deepEqual(clear, { ok: false, retry: false, error: 'a login needs security starttls or tls' });
    await new Promise((resolve) => setTimeout(resolve, 300));
    assert.equal((await server.readMessages()).length, before);
  });
});

async function waitForMessages(server: SmtpServer, n: number) {
  const deadline = Date.now() + 15_000;
  for (;;) {
    const got = await server.readMessages();
    if (got.length >= n || Date.now() > deadline) {
      assert.equal(got.length, n, 'messages delivered to the mailbox');
      return got;
    }
    await new Promise((r) => setTimeout(r, 100));
  }
}
