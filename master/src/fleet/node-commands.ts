/**
 * Commands to nodes: a request on `cmd/{name}` with a fresh request id, the reply awaited on
 * `reply/{reqId}` until a timeout. Every master subscribes to all replies (not a shared
 * subscription): with several masters the one that sent the request is the one waiting for it,
 * and the others drop the reply as not theirs. A reply that is malformed, comes from another
 * node than the one asked, or arrives after its sender stopped waiting is counted and dropped.
 */
import { randomBytes } from 'node:crypto';
import { type CommandReply, parseNodeTopic, topics, validators } from '@cctv/protocol';
import type { Logger } from 'pino';
import type { MessageBus } from '../mqtt/message-bus.ts';

export class CommandTimeoutError extends Error {
  readonly code = 'COMMAND_TIMEOUT';
  constructor(
    readonly nodeId: string,
    readonly command: string,
    readonly timeoutMs: number,
  ) {
    super(`node ${nodeId} did not answer ${command} within ${timeoutMs} ms`);
  }
}

interface Pending {
  nodeId: string;
  command: string;
  resolve(reply: CommandReply): void;
  timer: NodeJS.Timeout;
}

export interface NodeCommandsOptions {
  bus: MessageBus;
  log: Logger;
  /** Counts replies dropped, by reason (invalid, wrong_node, unexpected). */
  onReplyDropped?: (reason: 'invalid' | 'wrong_node' | 'unexpected') => void;
}

export class NodeCommands {
  private readonly pending = new Map<string, Pending>();

  constructor(private readonly opts: NodeCommandsOptions) {}

  async start(): Promise<void> {
    await this.opts.bus.subscribe(topics.all.reply, (topic, payload) => this.onReply(topic, payload));
  }

  /** Sends `name` to the node and resolves with its reply; rejects with CommandTimeoutError. */
  async send(nodeId: string, name: string, args: Record<string, unknown> | undefined, timeoutMs: number) {
    const reqId = randomBytes(12).toString('base64url');
    const reply = new Promise<CommandReply>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.pending.delete(reqId);
        reject(new CommandTimeoutError(nodeId, name, timeoutMs));
      }, timeoutMs);
      this.pending.set(reqId, { nodeId, command: name, resolve, timer });
    });
    const request = { reqId, sentAt: new Date().toISOString(), timeoutMs, ...(args ? { args } : {}) };
    try {
      await this.opts.bus.publish(topics.cmd(nodeId, name), JSON.stringify(request), { qos: 1 });
    } catch (err) {
      const p = this.pending.get(reqId);
      if (p) clearTimeout(p.timer);
      this.pending.delete(reqId);
      throw err;
    }
    return { reqId, reply: await reply };
  }

  /** Requests still waiting for their reply. */
  get waiting(): number {
    return this.pending.size;
  }

  stop(): void {
    for (const p of this.pending.values()) clearTimeout(p.timer);
    this.pending.clear();
  }

  private onReply(topic: string, payload: Buffer): void {
    const parsed = parseNodeTopic(topic);
    const reqId = parsed?.kind === 'reply' ? parsed.arg : undefined;
    if (!parsed || !reqId) {
      this.drop('invalid', topic);
      return;
    }
    const pending = this.pending.get(reqId);
    // Another master's request, or one whose sender gave up: not ours to answer.
    if (!pending) {
      this.drop('unexpected', topic);
      return;
    }
    if (pending.nodeId !== parsed.nodeId) {
      this.drop('wrong_node', topic);
      return;
    }
    const result = validators.commandReply.parse(payload);
    if (!result.ok || result.value.reqId !== reqId) {
      this.drop('invalid', topic);
      return;
    }
    clearTimeout(pending.timer);
    this.pending.delete(reqId);
    pending.resolve(result.value);
  }

  private drop(reason: 'invalid' | 'wrong_node' | 'unexpected', topic: string): void {
    this.opts.onReplyDropped?.(reason);
    this.opts.log.debug({ topic, reason }, 'command reply dropped');
  }
}
