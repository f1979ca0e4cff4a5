/**
 * Who may read a service's Prometheus `/metrics`: anyone while no token is set (as before);
 * with a token, a request needs `Authorization: Bearer <token>` (compared in constant time)
 * unless its socket comes from a loopback address (127.0.0.0/8, ::1), which is exempt by
 * default ("off for loopback"). The exemption looks at the TCP peer only, never at
 * X-Forwarded-For; behind a reverse proxy on the same host that forwards `/metrics`, every
 * client would be loopback: set the loopback mode to `required` there.
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { isIPv4, isIPv6 } from 'node:net';

export interface MetricsAccess {
  /** The bearer token; null: `/metrics` is public. */
  token: string | null;
  /** `exempt`: loopback peers need no token (default); `required`: every peer needs it. */
  loopback: 'exempt' | 'required';
}

/** `open` (no token set), `loopback`, `token`: served; `missing`, `wrong`: 401. */
export type MetricsVerdict = 'open' | 'loopback' | 'token' | 'missing' | 'wrong';

export const MIN_METRICS_TOKEN_LENGTH = 16;

/** A loopback peer: 127.0.0.0/8 (also IPv4-mapped, `::ffff:127.x.y.z`) or `::1`. */
export function isLoopbackAddress(address: string | undefined): boolean {
  if (!address) return false;
  const v4 = address.toLowerCase().startsWith('::ffff:') ? address.slice(7) : address;
  if (isIPv4(v4)) return v4.startsWith('127.');
  return isIPv6(address) && /^(0{0,4}:){7}0{0,3}1$|^::1$/.test(address.toLowerCase());
}

/** Whether a listener bound to `host` is reached only over loopback. */
export function isLoopbackHost(host: string): boolean {
  return host === 'localhost' || isLoopbackAddress(host);
}

const digest = (s: string) => createHash('sha256').update(s).digest();

/** The decision for one request from `remoteAddress` with this `Authorization` header. */
export function metricsVerdict(
  access: MetricsAccess,
  remoteAddress: string | undefined,
  authorization: string | undefined,
): MetricsVerdict {
  if (access.token === null) return 'open';
  if (access.loopback === 'exempt' && isLoopbackAddress(remoteAddress)) return 'loopback';
  const m = /^Bearer +(\S+) *$/i.exec(authorization ?? '');
  if (!m?.[1]) return 'missing';
  // Digests of equal length: the comparison takes the same time whatever the guess.
  return timingSafeEqual(digest(m[1]), digest(access.token)) ? 'token' : 'wrong';
}

export function metricsAllowed(verdict: MetricsVerdict): boolean {
  return verdict === 'open' || verdict === 'loopback' || verdict === 'token';
}

/**
 * `<PREFIX>_METRICS_TOKEN` or `<PREFIX>_METRICS_TOKEN_FILE` (one of them; at least 16
 * characters) and `<PREFIX>_METRICS_TOKEN_LOOPBACK` (`exempt` or `required`). Throws an Error
 * naming the key.
 */
export function metricsAccessFromEnv(env: NodeJS.ProcessEnv, prefix: string): MetricsAccess {
  const key = `${prefix}_METRICS_TOKEN`;
  const inline = env[key]?.trim() || '';
  const file = env[`${key}_FILE`]?.trim() || '';
  if (inline && file) throw new Error(`${key} and ${key}_FILE are both set; set one`);
  let token = inline;
  if (file) {
    if (!existsSync(file)) throw new Error(`${key}_FILE: file ${file} does not exist`);
    token = readFileSync(file, 'utf8').trim();
  }
  const loopback = env[`${key}_LOOPBACK`]?.trim() || 'exempt';
  if (loopback !== 'exempt' && loopback !== 'required')
    throw new Error(`${key}_LOOPBACK must be exempt or required, got "${loopback}"`);
  return { token: checkedToken(token, file ? `${key}_FILE` : key), loopback };
}

/** A token of at least 16 characters without white space; '' is none. */
export function checkedToken(token: string, name: string): string | null {
  if (token === '') return null;
  if (token.length < MIN_METRICS_TOKEN_LENGTH || /\s/.test(token))
    throw new Error(`${name} must be at least ${MIN_METRICS_TOKEN_LENGTH} characters without spaces`);
  return token;
}

/** The warning to log at start when `/metrics` is public on a listener other hosts reach; else null. */
export function publicMetricsWarning(access: MetricsAccess, host: string, setting: string): string | null {
  if (access.token !== null || isLoopbackHost(host)) return null;
  return `/metrics is public on ${host}: set ${setting} to require a bearer token from other hosts`;
}
