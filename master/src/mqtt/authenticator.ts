/**
 * Checks the username and password of an MQTT CONNECT. Agents log in as their node id with
 * client id `agent-<nodeId>` against the node's `NodeCredential`; any other client id is a
 * service account from `MQTT_SERVICE_ACCOUNTS`. scrypt is slow by design and agents reconnect
 * often, so a successful check is remembered for a while (keyed by a digest of the password,
 * never the password itself).
 */
import { createHash } from 'node:crypto';
import { isValidId } from '@cctv/protocol';
import type { Logger } from 'pino';
import { hashSecret, MACHINE_SECRET_PARAMS, newSecret, verifySecret } from '../auth/secret-hash.ts';
import type { MqttIdentity } from './acl.ts';

/** Where node password hashes come from (the `NodeCredential` repository). */
export interface NodeCredentialLookup {
  passwordHash(nodeId: string): Promise<string | null>;
  touch(nodeId: string, at: Date): Promise<void>;
}

export type AuthFailureReason =
  | 'missing_credentials'
  | 'bad_client_id'
  | 'unknown_node'
  | 'unknown_account'
  | 'bad_password'
  | 'store_unavailable';

export type AuthResult =
  | { ok: true; identity: MqttIdentity }
  /** `returnCode`: the MQTT 3.1.1 CONNACK code (3 server unavailable, 4 bad username or password). */
  | { ok: false; reason: AuthFailureReason; returnCode: 3 | 4 };

export interface MqttAuthenticatorOptions {
  credentials: NodeCredentialLookup;
  /** Service account name → scrypt hash. */
  serviceAccounts: ReadonlyMap<string, string>;
  /** How long a verified password is remembered; 0 checks every CONNECT. */
  cacheTtlMs: number;
  log: Logger;
  now?: () => number;
}

const AGENT_PREFIX = 'agent-';
const TOUCH_EVERY_MS = 60_000;
const CACHE_SWEEP_SIZE = 1000;

const fail = (reason: AuthFailureReason): AuthResult => ({ ok: false, reason, returnCode: 4 });

export class MqttAuthenticator {
  private readonly cache = new Map<string, { identity: MqttIdentity; expires: number }>();
  private readonly touched = new Map<string, number>();
  private readonly now: () => number;
  // Verified against when the username is unknown, so that a miss costs what a hit costs and
  // the answer time does not tell which node ids exist. Its secret is thrown away.
  private decoy: Promise<string> | undefined;

  constructor(private readonly opts: MqttAuthenticatorOptions) {
    this.now = opts.now ?? Date.now;
  }

  async authenticate(
    clientId: string,
    username: string | undefined,
    password: Buffer | undefined,
  ): Promise<AuthResult> {
    if (!username || !password || password.length === 0) return fail('missing_credentials');
    const isAgent = clientId.startsWith(AGENT_PREFIX);
    if (isAgent && clientId !== `${AGENT_PREFIX}${username}`) return fail('bad_client_id');

    const key = `${isAgent ? 'node' : 'service'}:${username}:${createHash('sha256').update(password).digest('base64')}`;
    const hit = this.cache.get(key);
    if (hit && hit.expires > this.now()) {
      this.touch(hit.identity);
      return { ok: true, identity: hit.identity };
    }
    this.cache.delete(key);

    let hash: string | null;
    let identity: MqttIdentity;
    if (isAgent) {
      if (!isValidId(username)) return fail('bad_client_id');
      try {
        hash = await this.opts.credentials.passwordHash(username);
      } catch (err) {
        this.opts.log.error({ err, clientId }, 'node credential lookup failed');
        return { ok: false, reason: 'store_unavailable', returnCode: 3 };
      }
      identity = { kind: 'node', nodeId: username };
    } else {
      hash = this.opts.serviceAccounts.get(username) ?? null;
      identity = { kind: 'service', name: username };
    }
    this.decoy ??= hashSecret(newSecret(), MACHINE_SECRET_PARAMS);
    const matches = await verifySecret(password, hash ?? (await this.decoy));
    if (!hash) return fail(isAgent ? 'unknown_node' : 'unknown_account');
    if (!matches) return fail('bad_password');

    if (this.opts.cacheTtlMs > 0) this.remember(key, identity);
    this.touch(identity);
    return { ok: true, identity };
  }

  private remember(key: string, identity: MqttIdentity): void {
    const t = this.now();
    if (this.cache.size >= CACHE_SWEEP_SIZE)
      for (const [k, entry] of this.cache) if (entry.expires <= t) this.cache.delete(k);
    this.cache.set(key, { identity, expires: t + this.opts.cacheTtlMs });
  }

  /** Drops what is remembered for a node (its credential was replaced in this process). */
  forgetNode(nodeId: string): void {
    for (const [key, entry] of this.cache)
      if (entry.identity.kind === 'node' && entry.identity.nodeId === nodeId) this.cache.delete(key);
  }

  /** Records the node's last login, at most once a minute per node. */
  private touch(identity: MqttIdentity): void {
    if (identity.kind !== 'node') return;
    const t = this.now();
    const last = this.touched.get(identity.nodeId);
    if (last !== undefined && t - last < TOUCH_EVERY_MS) return;
    this.touched.set(identity.nodeId, t);
    this.opts.credentials
      .touch(identity.nodeId, new Date(t))
      .catch((err: Error) =>
        this.opts.log.warn({ err: err.message, nodeId: identity.nodeId }, 'lastUsedAt not updated'),
      );
  }
}
