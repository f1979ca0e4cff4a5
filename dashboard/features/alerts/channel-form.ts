/**
 * An alert channel as its form edits it, and the master's input made from it. Secrets (a
 * webhook's key, an SMTP or MQTT password) are write-only: an empty field leaves the saved one
 * as it is, so editing a channel never needs its secret again.
 */
import type { AlertChannelInput, AlertChannelView } from '@cctv/protocol';

type Kind = AlertChannelInput['kind'];
type SmtpSecurity = 'tls' | 'starttls' | 'none';

export const CHANNEL_KINDS: readonly Kind[] = ['webhook', 'email', 'mqtt'];
export const SMTP_SECURITIES: readonly SmtpSecurity[] = ['starttls', 'tls', 'none'];

export interface ChannelDraft {
  name: string;
  enabled: boolean;
  kind: Kind;
  /** Webhook or broker URL. */
  url: string;
  /** Webhook key or SMTP / MQTT password; empty: keep the saved one. */
  secret: string;
  /** Webhook headers, `Name: value` per line; empty: keep the saved ones. */
  headers: string;
  host: string;
  port: string;
  security: SmtpSecurity;
  username: string;
  from: string;
  /** Addresses, one per line or comma-separated. */
  to: string;
  topicPrefix: string;
  discoveryPrefix: string;
  homeAssistant: boolean;
}

export function channelDraft(view: AlertChannelView | null, kind: Kind = 'webhook'): ChannelDraft {
  const d: ChannelDraft = {
    name: view?.name ?? '',
    enabled: view?.enabled ?? true,
    kind: view?.kind ?? kind,
    url: '',
    secret: '',
    headers: '',
    host: '',
    port: '587',
    security: 'starttls',
    username: '',
    from: '',
    to: '',
    topicPrefix: '',
    discoveryPrefix: '',
    homeAssistant: false,
  };
  if (!view) return d;
  const s = view.settings as Record<string, unknown>;
  const text = (v: unknown) => (typeof v === 'string' ? v : '');
  d.url = text(s.url);
  d.host = text(s.host);
  if (typeof s.port === 'number') d.port = String(s.port);
  if (s.security === 'tls' || s.security === 'starttls' || s.security === 'none') d.security = s.security;
  d.username = text(s.username);
  d.from = text(s.from);
  d.to = Array.isArray(s.to) ? s.to.join(', ') : '';
  d.topicPrefix = text(s.topicPrefix);
  d.discoveryPrefix = text(s.discoveryPrefix);
  d.homeAssistant = s.homeAssistant === true;
  return d;
}

/** Whether the saved channel holds a secret (the form shows "saved" beside an empty field). */
export const hasSecret = (view: AlertChannelView | null): boolean =>
  (view?.settings as { hasSecret?: boolean } | undefined)?.hasSecret === true;

/** The saved webhook's header names (their values are never shown). */
export const headerNames = (view: AlertChannelView | null): string[] =>
  (view?.settings as { headerNames?: string[] } | undefined)?.headerNames ?? [];

const list = (text: string) => [
  ...new Set(
    text
      .split(/[,\n]/)
      .map((s) => s.trim())
      .filter(Boolean),
  ),
];

/** `Name: value` lines as a header record, or the line that is not one. */
export function parseHeaders(text: string): { headers: Record<string, string> } | { problem: string } {
  const headers: Record<string, string> = {};
  for (const line of text.split('\n').map((l) => l.trim())) {
    if (!line) continue;
    const colon = line.indexOf(':');
    const name = colon > 0 ? line.slice(0, colon).trim() : '';
    if (!/^[A-Za-z0-9-]+$/.test(name)) return { problem: `"${line}" is not a "Name: value" header` };
    headers[name] = line.slice(colon + 1).trim();
  }
  return { headers };
}

/** The master's input for the form, or why it cannot be sent. `saved`: the channel edited. */
export function channelInput(
  d: ChannelDraft,
  saved: AlertChannelView | null,
): { input: AlertChannelInput } | { problem: string } {
  const name = d.name.trim();
  if (!name) return { problem: 'a channel needs a name' };
  const base = { name, enabled: d.enabled };
  const keepsSecret = saved !== null && saved.kind === d.kind && hasSecret(saved);
  if (d.kind === 'webhook') {
    const url = d.url.trim();
    if (!/^https?:\/\/\S+$/i.test(url)) return { problem: 'the webhook URL starts with http:// or https://' };
    if (d.secret === '' && !keepsSecret)
      return { problem: 'a webhook needs a secret to sign with (16 characters or more)' };
    if (d.secret !== '' && d.secret.length < 16) return { problem: 'the secret needs 16 characters or more' };
    const headers = d.headers.trim() ? parseHeaders(d.headers) : null;
    if (headers && 'problem' in headers) return headers;
    return {
      input: {
        ...base,
        kind: 'webhook',
        settings: {
          url,
          ...(d.secret ? { secret: d.secret } : {}),
          ...(headers ? { headers: headers.headers } : {}),
        },
      },
    };
  }
  const username = d.username.trim();
  const password = d.secret ? { password: d.secret } : {};
  if (d.kind === 'email') {
    const port = Number(d.port);
    if (!Number.isInteger(port) || port < 1 || port > 65535) return { problem: 'the port is 1 to 65535' };
    if (!d.host.trim()) return { problem: 'the SMTP server needs a host' };
    const to = list(d.to);
    if (to.length === 0) return { problem: 'at least one recipient' };
    if (!d.from.trim()) return { problem: 'a sender address' };
    return {
      input: {
        ...base,
        kind: 'email',
        settings: {
          host: d.host.trim(),
          port,
          security: d.security,
          ...(username ? { username, ...password } : {}),
          from: d.from.trim(),
          to,
        },
      },
    };
  }
  const url = d.url.trim();
  if (!/^mqtts?:\/\/[^\s/?#@]+\/?$/i.test(url))
    return { problem: 'the broker URL is mqtt://host:port or mqtts://host:port' };
  return {
    input: {
      ...base,
      kind: 'mqtt',
      settings: {
        url,
        ...(username ? { username, ...password } : {}),
        ...(d.topicPrefix.trim() ? { topicPrefix: d.topicPrefix.trim() } : {}),
        ...(d.discoveryPrefix.trim() ? { discoveryPrefix: d.discoveryPrefix.trim() } : {}),
        homeAssistant: d.homeAssistant,
      },
    },
  };
}

/** A channel's settings in a few words, for the channels list. */
export function channelSummary(view: AlertChannelView): string {
  const s = view.settings as Record<string, unknown>;
  if (view.kind === 'webhook') {
    const names = headerNames(view);
    return `${String(s.url)}${names.length ? ` · headers ${names.join(', ')}` : ''}`;
  }
  if (view.kind === 'email')
    return `${String(s.host)}:${String(s.port)} (${String(s.security)}) → ${(s.to as string[]).join(', ')}`;
  return `${String(s.url)} · ${String(s.topicPrefix)}${s.homeAssistant ? ' · Home Assistant' : ''}`;
}
