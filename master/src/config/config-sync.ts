/**
 * Brings master-managed nodes to their desired configuration (docs/adr/0015). A change is pushed
 * at once when the node is reachable (`push`); otherwise, and after any failure, the node's
 * heartbeat brings it back here (`observe`): a master-managed node whose reported version is
 * not the newest desired one gets the newest version again — a node that was offline, was
 * reinstalled (it reports none) or rolled back on its own. A node that turned file-managed
 * while the master keeps a configuration for it gets it once, refuses it with its reason, and
 * the fleet page shows both. A refused version is not pushed again until a newer one exists.
 */
import type { CameraSpec, HeartbeatMessage } from '@cctv/protocol';
import type { Logger } from 'pino';
import { CommandTimeoutError, type NodeCommands } from '../fleet/node-commands.ts';
import { withPassword } from './camera-url.ts';
import type { ConfigStore, DesiredConfig } from './config-store.ts';

export type PushOutcome =
  | { state: 'applied'; reason: null }
  | { state: 'queued'; reason: string }
  | { state: 'refused'; reason: string };

export interface ConfigSyncOptions {
  store: Pick<ConfigStore, 'latest' | 'latestVersion'>;
  commands: Pick<NodeCommands, 'send'>;
  log: Logger;
  /** How long a push waits for the node's reply. */
  timeoutMs?: number;
  /** After a push without an answer, how long before a heartbeat may bring another. */
  retryAfterMs?: number;
  /** How long the newest desired version of a node is believed before it is read again. */
  cacheMs?: number;
  onPush?: (result: 'applied' | 'refused' | 'timeout' | 'error') => void;
  now?: () => number;
}

/** The cameras as the node gets them: passwords put back into the URLs. */
export function nodeCameras(config: DesiredConfig): CameraSpec[] {
  return config.cameras.map(({ spec }) => {
    const password = config.passwords.get(spec.id) ?? '';
    return {
      ...spec,
      url: withPassword(spec.url, password),
      ...(spec.substreamUrl ? { substreamUrl: withPassword(spec.substreamUrl, password) } : {}),
    };
  });
}

export class ConfigSync {
  private readonly inFlight = new Set<string>();
  /** node → when the last push without an answer (or with an error) was sent, and its version. */
  private readonly lastTry = new Map<string, { version: number; at: number }>();
  private readonly desired = new Map<string, { version: number | null; at: number }>();
  private readonly timeoutMs: number;
  private readonly retryAfterMs: number;
  private readonly cacheMs: number;
  private readonly now: () => number;

  constructor(private readonly opts: ConfigSyncOptions) {
    this.timeoutMs = opts.timeoutMs ?? 20_000;
    this.retryAfterMs = opts.retryAfterMs ?? 30_000;
    this.cacheMs = opts.cacheMs ?? 5_000;
    this.now = opts.now ?? Date.now;
  }

  /** Pushes `config` to its node now; `queued` when the node does not answer (it gets it on return). */
  async push(config: DesiredConfig, online: boolean): Promise<PushOutcome> {
    this.desired.set(config.nodeId, { version: config.version, at: this.now() });
    if (!online)
      return { state: 'queued', reason: 'the node is offline: it gets this version when it returns' };
    return this.send(config);
  }

  /** Every heartbeat: a master-managed node behind its desired version gets the newest one. */
  observe(nodeId: string, heartbeat: HeartbeatMessage): void {
    const reported = heartbeat.config;
    if (!reported || this.inFlight.has(nodeId)) return;
    void this.desiredVersion(nodeId)
      .then(async (desired) => {
        if (desired === null) return;
        if (reported.mode === 'master' && reported.version === desired) return;
        // Refused (a file-managed node refuses once, with its reason): shown, not retried.
        if (reported.failed?.version === desired) return;
        const last = this.lastTry.get(nodeId);
        if (last?.version === desired && this.now() - last.at < this.retryAfterMs) return;
        const config = await this.opts.store.latest(nodeId);
        if (config && !this.inFlight.has(nodeId)) await this.send(config);
      })
      .catch((err: Error) => this.opts.log.error({ nodeId, err: err.message }, 'config sync failed'));
  }

  private async desiredVersion(nodeId: string): Promise<number | null> {
    const cached = this.desired.get(nodeId);
    if (cached && this.now() - cached.at < this.cacheMs) return cached.version;
    const version = await this.opts.store.latestVersion(nodeId);
    this.desired.set(nodeId, { version, at: this.now() });
    return version;
  }

  private async send(config: DesiredConfig): Promise<PushOutcome> {
    const { nodeId, version } = config;
    this.inFlight.add(nodeId);
    this.lastTry.set(nodeId, { version, at: this.now() });
    try {
      const { reply } = await this.opts.commands.send(
        nodeId,
        'config',
        { version, cameras: nodeCameras(config) },
        this.timeoutMs,
      );
      if (reply.ok) {
        this.lastTry.delete(nodeId);
        this.opts.onPush?.('applied');
        this.opts.log.info({ nodeId, version }, 'desired configuration applied by the node');
        return { state: 'applied', reason: null };
      }
      this.opts.onPush?.('refused');
      const reason = `${reply.error?.code ?? 'FAILED'}: ${reply.error?.message ?? 'refused'}`;
      this.opts.log.warn(
        { nodeId, version, code: reply.error?.code },
        'desired configuration refused by the node',
      );
      return { state: 'refused', reason };
    } catch (err) {
      const timeout = err instanceof CommandTimeoutError;
      this.opts.onPush?.(timeout ? 'timeout' : 'error');
      this.opts.log.warn(
        { nodeId, version, err: (err as Error).message },
        'desired configuration not delivered',
      );
      return {
        state: 'queued',
        reason: timeout
          ? 'the node did not answer: it gets this version with its next heartbeat'
          : 'the push failed: it is retried with the next heartbeat',
      };
    } finally {
      this.inFlight.delete(nodeId);
    }
  }
}
