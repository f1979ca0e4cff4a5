/**
 * The gateway's configuration sections that belong to one part each (retention, renditions,
 * live playlists): their variables (TypeBox, checked by config.ts with the rest), their shape,
 * and how config.ts turns the checked variables into them.
 */
import { join, sep } from 'node:path';
import { isValidId } from '@cctv/protocol';
import { type ConfigProblems, EnvInteger, EnvText, envInt } from '@cctv/protocol/config-check';

const MiB = 1024 * 1024;

/** An integer variable, in the gateway's words. */
export const envInteger = (min: number, max: number) =>
  EnvInteger(min, max, `must be an integer from ${min} to ${max}, got {json}`);

/** Variables as checked: the strings set, blank ones left out. */
type Checked<V> = Partial<Record<keyof V, string>>;

// --- Recording retention (src/retention/) ------------------------------------------------

/** What the retention sweeper keeps and for how long; 0 days means forever. */
export interface RetentionConfig {
  /** Seconds between sweeps. */
  intervalS: number;
  /** Days a NAS segment is kept after its end, for cameras without their own value. */
  days: number;
  /** Per-camera days, overriding `days`. */
  cameraDays: ReadonlyMap<string, number>;
  /** Below this share of free space the oldest NAS segments go first; 0 disables. */
  nasMinFreePercent: number;
  /** Seconds of footage kept on each side of an event. */
  eventPadS: number;
  /** Days after an event's end during which its footage is protected. */
  eventRetentionDays: number;
}

export const MAX_RETENTION_DAYS = 3650;

export const RetentionVars = {
  GATEWAY_RETENTION_INTERVAL_S: envInteger(1, 86_400),
  GATEWAY_RETENTION_DAYS: envInteger(0, MAX_RETENTION_DAYS),
  GATEWAY_RETENTION_CAMERA_DAYS: EnvText(),
  GATEWAY_NAS_MIN_FREE_PERCENT: envInteger(0, 99),
  GATEWAY_EVENT_PAD_S: envInteger(0, 3600),
  GATEWAY_EVENT_RETENTION_DAYS: envInteger(0, MAX_RETENTION_DAYS),
};

export function retentionConfig(e: Checked<typeof RetentionVars>, problems: ConfigProblems): RetentionConfig {
  return {
    intervalS: envInt(e.GATEWAY_RETENTION_INTERVAL_S, 300),
    days: envInt(e.GATEWAY_RETENTION_DAYS, 30),
    cameraDays: cameraDays(e.GATEWAY_RETENTION_CAMERA_DAYS, problems),
    nasMinFreePercent: envInt(e.GATEWAY_NAS_MIN_FREE_PERCENT, 10),
    eventPadS: envInt(e.GATEWAY_EVENT_PAD_S, 10),
    eventRetentionDays: envInt(e.GATEWAY_EVENT_RETENTION_DAYS, 90),
  };
}

/** Parses `cam-a=7,cam-b=90`; every bad entry becomes one problem. */
export function cameraDays(raw: string | undefined, problems: ConfigProblems): Map<string, number> {
  const key = 'GATEWAY_RETENTION_CAMERA_DAYS';
  const days = new Map<string, number>();
  for (const entry of (raw ?? '').split(',')) {
    const item = entry.trim();
    if (!item) continue;
    const m = /^([^=\s]+)\s*=\s*(\S+)$/.exec(item);
    const camera = m?.[1];
    const value = m?.[2];
    if (!camera || !value) {
      problems.add(`${key} entries must look like cam-a=7, got ${JSON.stringify(item)}`);
      continue;
    }
    const n = Number(value);
    if (!isValidId(camera)) problems.add(`${key}: ${JSON.stringify(camera)} is not a valid camera id`);
    else if (!/^\d+$/.test(value) || n > MAX_RETENTION_DAYS)
      problems.add(
        `${key}: days for ${camera} must be an integer from 0 to ${MAX_RETENTION_DAYS}, got ${JSON.stringify(value)}`,
      );
    else if (days.has(camera)) problems.add(`${key}: ${camera} is listed twice`);
    else days.set(camera, n);
  }
  return days;
}

// --- H.264 renditions (src/rendition/) ---------------------------------------------------

/** Where H.264 renditions are cached and how many ffmpeg may make them at once. */
export interface RenditionConfig {
  /** Cache directory, `<GATEWAY_DATA_DIR>/renditions` by default. */
  dir: string;
  /** Bound of the cache; least recently used renditions are deleted beyond it. */
  cacheBytes: number;
  /** ffmpeg processes at once. */
  concurrency: number;
  /** An ffmpeg running longer is killed. */
  timeoutMs: number;
  /** Requests that may wait for a slot; beyond it `503` with `Retry-After`. */
  queueMax: number;
}

export const RenditionVars = {
  GATEWAY_RENDITION_DIR: EnvText(),
  GATEWAY_RENDITION_CACHE_BYTES: envInteger(0, Number.MAX_SAFE_INTEGER),
  GATEWAY_TRANSCODE_CONCURRENCY: envInteger(1, 64),
  GATEWAY_TRANSCODE_TIMEOUT_MS: envInteger(1000, 3_600_000),
  GATEWAY_TRANSCODE_QUEUE_MAX: envInteger(0, 10_000),
};

export function renditionConfig(
  e: Checked<typeof RenditionVars>,
  dir: (raw: string | undefined, fallback: string) => string,
  dataDir: string,
  otherDirs: string[],
  problems: ConfigProblems,
): RenditionConfig {
  const config: RenditionConfig = {
    dir: dir(e.GATEWAY_RENDITION_DIR, join(dataDir, 'renditions')),
    cacheBytes: envInt(e.GATEWAY_RENDITION_CACHE_BYTES, 2 * 1024 * MiB),
    concurrency: envInt(e.GATEWAY_TRANSCODE_CONCURRENCY, 2),
    timeoutMs: envInt(e.GATEWAY_TRANSCODE_TIMEOUT_MS, 60_000),
    queueMax: envInt(e.GATEWAY_TRANSCODE_QUEUE_MAX, 32),
  };
  // The cache deletes what it finds under its directory: it must not share one with footage.
  const overlaps = (a: string, b: string) => a === b || a.startsWith(b + sep) || b.startsWith(a + sep);
  if (otherDirs.some((other) => overlaps(config.dir, other)))
    problems.add(
      'GATEWAY_RENDITION_DIR must not be, contain or lie inside the buffer, NAS or snapshot directory',
    );
  return config;
}

// --- Live playlists (src/http/live-routes.ts) --------------------------------------------

/** How far behind the live edge a live playlist lets a player start, and when a camera is off. */
export interface LiveConfig {
  /** Most segments a live playlist lists (a player starting there is at most this many behind). */
  windowSegments: number;
  /** A camera whose newest segment ended longer ago than this is not live (`404 not_live`). */
  maxAgeS: number;
  /** A low-latency feed nobody has read for this long is ended (its node stops sending). */
  feedIdleS: number;
  /** Most bytes one low-latency feed holds in memory. */
  feedMaxBytes: number;
}

export const LiveVars = {
  GATEWAY_LIVE_WINDOW: envInteger(1, 100),
  GATEWAY_LIVE_MAX_AGE_S: envInteger(1, 86_400),
  GATEWAY_LIVE_FEED_IDLE_S: envInteger(2, 3600),
  GATEWAY_LIVE_FEED_MAX_MB: envInteger(1, 1024),
};

export function liveConfig(e: Checked<typeof LiveVars>): LiveConfig {
  return {
    windowSegments: envInt(e.GATEWAY_LIVE_WINDOW, 3),
    maxAgeS: envInt(e.GATEWAY_LIVE_MAX_AGE_S, 30),
    feedIdleS: envInt(e.GATEWAY_LIVE_FEED_IDLE_S, 20),
    feedMaxBytes: envInt(e.GATEWAY_LIVE_FEED_MAX_MB, 32) * 1024 * 1024,
  };
}

// --- Several gateways on one index and one NAS (src/cluster/) ----------------------------

/** Who this gateway is among the gateways sharing the database, and how its peers reach it. */
export interface ClusterConfig {
  /** `GATEWAY_ID`: recorded on every segment row this gateway's buffer takes. */
  gatewayId: string;
  /** `GATEWAY_PEER_URL`: the base URL other gateways read from; null: its own listening URL. */
  peerUrl: string | null;
  /** A peer that has not answered a forwarded read (or gone quiet in its body) for this long is unavailable. */
  peerTimeoutMs: number;
}

export const ClusterVars = {
  GATEWAY_ID: EnvText(),
  GATEWAY_PEER_URL: EnvText(),
  GATEWAY_PEER_TIMEOUT_MS: envInteger(100, 60_000),
};

/**
 * The default `GATEWAY_ID`: the host name in lower case, every run of other characters (dots,
 * underscores) as one `-`, at most 63 characters: stable across restarts of the same host.
 */
export function gatewayIdFromHost(host: string): string {
  return host
    .toLowerCase()
    .replace(/[^a-z0-9-]+/g, '-')
    .replace(/^-+/, '')
    .slice(0, 63)
    .replace(/-+$/, '');
}

export function clusterConfig(
  e: Checked<typeof ClusterVars>,
  tls: boolean,
  host: string,
  problems: ConfigProblems,
): ClusterConfig {
  const own = e.GATEWAY_ID?.trim();
  const gatewayId = own || gatewayIdFromHost(host);
  if (own && !isValidId(own))
    problems.add(`GATEWAY_ID must match [a-z0-9][a-z0-9-]{0,62}, got ${JSON.stringify(own)}`);
  else if (!isValidId(gatewayId))
    problems.add(`GATEWAY_ID is unset and the host name ${JSON.stringify(host)} gives no valid id: set it`);
  return {
    gatewayId,
    peerUrl: peerUrl(e.GATEWAY_PEER_URL, tls, problems),
    peerTimeoutMs: envInt(e.GATEWAY_PEER_TIMEOUT_MS, 3000),
  };
}

/**
 * A base URL peers send grants to: https (http only when this gateway serves plain HTTP behind
 * a TLS-terminating proxy), no credentials, query or fragment; a path prefix is kept.
 */
function peerUrl(raw: string | undefined, tls: boolean, problems: ConfigProblems): string | null {
  const value = raw?.trim();
  if (!value) return null;
  const url = URL.canParse(value) ? new URL(value) : null;
  const schemes = tls ? ['https:'] : ['https:', 'http:'];
  if (!url || !schemes.includes(url.protocol) || url.username || url.password || url.search || url.hash) {
    problems.add(
      `GATEWAY_PEER_URL must be an ${tls ? 'https' : 'http(s)'}:// URL without credentials, query or fragment, got ${JSON.stringify(value)}`,
    );
    return null;
  }
  return url.href.replace(/\/+$/, '');
}
