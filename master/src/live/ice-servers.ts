/**
 * The STUN/TURN servers browsers use for live WebRTC: fixed ones (`MASTER_ICE_SERVERS`, JSON)
 * and, with `MASTER_TURN_SECRET`, short-lived TURN credentials made per live socket the way
 * coturn's `use-auth-secret` checks them (username `<expiry>:<user>`, password
 * base64(HMAC-SHA1(secret, username))), so no long-lived TURN password reaches a browser.
 */
import { createHmac } from 'node:crypto';
import { compile, IceServer } from '@cctv/protocol';
import { Type } from '@sinclair/typebox';

export interface IceConfig {
  servers: IceServer[];
  turn: { urls: string[]; secret: string; ttlS: number } | null;
}

const serverList = compile(Type.Array(IceServer, { maxItems: 8 }));

export function loadIceConfig(env: NodeJS.ProcessEnv): IceConfig {
  const raw = env.MASTER_ICE_SERVERS?.trim();
  let servers: IceServer[] = [];
  if (raw) {
    const parsed = serverList.parse(raw);
    if (!parsed.ok)
      throw new Error(
        `MASTER_ICE_SERVERS must be a JSON array of {urls, username?, credential?}: ${parsed.error}`,
      );
    servers = parsed.value;
  }
  const secret = env.MASTER_TURN_SECRET?.trim();
  const urls = (env.MASTER_TURN_URLS ?? '')
    .split(',')
    .map((u) => u.trim())
    .filter(Boolean);
  if (!secret) return { servers, turn: null };
  if (secret.length < 16) throw new Error('MASTER_TURN_SECRET must have at least 16 characters');
  const bad = urls.find((u) => !/^turns?:/.test(u));
  if (urls.length === 0 || bad)
    throw new Error('MASTER_TURN_URLS must list turn: or turns: URLs when MASTER_TURN_SECRET is set');
  const ttl = Number(env.MASTER_TURN_TTL_S?.trim() || 3600);
  if (!Number.isInteger(ttl) || ttl < 60 || ttl > 86_400)
    throw new Error('MASTER_TURN_TTL_S must be an integer 60-86400');
  return { servers, turn: { urls, secret, ttlS: ttl } };
}

/** The servers one browser gets, with TURN credentials for `user` valid for the configured time. */
export function iceServersFor(config: IceConfig, user: string, nowMs = Date.now()): IceServer[] {
  if (!config.turn) return config.servers;
  const username = `${Math.floor(nowMs / 1000) + config.turn.ttlS}:${user}`;
  const credential = createHmac('sha1', config.turn.secret).update(username).digest('base64');
  return [...config.servers, { urls: config.turn.urls, username, credential }];
}
