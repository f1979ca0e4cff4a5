/**
 * E-mail deliveries through the site's SMTP server, with nodemailer (ADR 0019): one connection
 * per message (alerts are rare; a pool would hold a login open for nothing).
 */
import type { EmailChannelSettings } from '@cctv/protocol';
import nodemailer from 'nodemailer';
import { delivered, failed, type SendResult } from './result.ts';

/** An e-mail channel as the outbox hands it over: the saved password in place. */
export type EmailTarget = Omit<EmailChannelSettings, 'password'> & { password?: string };

export interface EmailMessage {
  subject: string;
  text: string;
  html?: string;
  /** The event's snapshot, attached. */
  snapshot?: { filename: string; content: Buffer; contentType: string };
}

export interface EmailSendOptions {
  /** Each step (connect, greeting, every command); the whole message gets three times that. */
  timeoutMs: number;
  /** CA certificate (PEM) of a server with a private CA. */
  ca?: Buffer;
}

/** Error codes of nodemailer that mean the server could not be reached or the link broke. */
const TRANSIENT_CODES = new Set(['ECONNECTION', 'ETIMEDOUT', 'ESOCKET', 'EDNS', 'ECONNRESET', 'EPROTOCOL']);

interface SmtpError {
  code?: string;
  responseCode?: number;
  message?: string;
}

/**
 * Sends one message. The server's answer decides: 4xx may succeed later (greylisting, a full
 * queue), 5xx will not (an unknown recipient, a refused login); no answer at all (refused,
 * reset, timeout) may succeed later. Some recipients refused while others took it counts as
 * delivered, with a warning: sending again would repeat it to those who got it.
 */
export async function sendEmail(
  target: EmailTarget,
  message: EmailMessage,
  opts: EmailSendOptions,
): Promise<SendResult & { warning?: string }> {
  // A password is never sent in the clear, whatever the server offers.
  if (target.security === 'none' && target.username)
    return failed(false, 'a login needs security starttls or tls');
  const transport = nodemailer.createTransport({
    host: target.host,
    port: target.port,
    secure: target.security === 'tls',
    requireTLS: target.security === 'starttls',
    // `none` means none: nodemailer would otherwise upgrade whenever the server offers it, and
    // fail where the server's certificate is not one this host trusts.
    ignoreTLS: target.security === 'none',
    ...(target.username ? { auth: { user: target.username, pass: target.password ?? '' } } : {}),
    connectionTimeout: opts.timeoutMs,
    greetingTimeout: opts.timeoutMs,
    socketTimeout: opts.timeoutMs,
    ...(opts.ca ? { tls: { ca: opts.ca } } : {}),
    // nodemailer's own logger stays off: with debug on it writes the AUTH exchange.
    logger: false,
    debug: false,
  });
  let timer: NodeJS.Timeout | undefined;
  try {
    const deadline = new Promise<never>((_, reject) => {
      timer = setTimeout(
        () =>
          reject(Object.assign(new Error(`no answer within ${opts.timeoutMs} ms`), { code: 'ETIMEDOUT' })),
        opts.timeoutMs * 3,
      );
    });
    const info = await Promise.race([
      transport.sendMail({
        from: target.from,
        to: target.to,
        subject: oneLine(message.subject),
        text: message.text,
        ...(message.html ? { html: message.html } : {}),
        ...(message.snapshot
          ? {
              attachments: [
                {
                  filename: message.snapshot.filename,
                  content: message.snapshot.content,
                  contentType: message.snapshot.contentType,
                },
              ],
            }
          : {}),
      }),
      deadline,
    ]);
    if (info.rejected.length > 0)
      return { ...delivered, warning: `refused recipients: ${info.rejected.map(String).join(', ')}` };
    return delivered;
  } catch (err) {
    return classify(err as SmtpError, target);
  } finally {
    clearTimeout(timer);
    transport.close();
  }
}

function classify(err: SmtpError, target: EmailTarget): SendResult {
  const where = `${target.host}:${target.port}`;
  const text = `${where}: ${err.message ?? String(err)}`;
  if (typeof err.responseCode === 'number') return failed(err.responseCode < 500, text);
  return failed(TRANSIENT_CODES.has(err.code ?? ''), text);
}

/** A header line: line breaks and other control characters become spaces. */
function oneLine(s: string): string {
  return s.replace(/\p{Cc}+/gu, ' ').trim();
}
