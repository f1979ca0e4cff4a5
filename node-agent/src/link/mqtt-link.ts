/**
 * The agent's MQTT link to the master: persistent session, retained status with an offline
 * last will; on every (re)connect it publishes online status and hello, subscribes to its
 * commands, and heartbeats run on an interval while connected. Every outgoing message is
 * validated first. Command replies (and `publishQueued` messages) go through the on-disk outbox,
 * so what is produced while the broker is away is delivered after the reconnect.
 */
import type {
  CommandReply,
  CommandRequest,
  HeartbeatMessage,
  HelloMessage,
  PingResult,
  StatusMessage,
  Validator,
} from '@cctv/protocol';
import { COMMAND_ERRORS, isValidReqId, parseNodeTopic, topics, validators } from '@cctv/protocol';
import mqtt, { type IClientOptions, type MqttClient } from 'mqtt';
import type { Logger } from 'pino';
import { Outbox, type OutboxOptions } from '../outbox/outbox.ts';

/**
 * What a command handler returns: the reply's `result`, or nothing. It must be a plain JSON
 * object (checked before sending; anything else is answered as `FAILED`).
 */
// biome-ignore lint/suspicious/noConfusingVoidType: an `async () => {}` handler returns Promise<void>
export type CommandResult = object | undefined | void;
/** One command: gets the request's `args` (`{}` when absent) and the whole envelope. */
export type CommandHandler = (
  args: Record<string, unknown>,
  request: CommandRequest,
) => Promise<CommandResult> | CommandResult;
/**
 * Command handlers by name, or one function for all names. A handler's error becomes an
 * `ok:false` reply with the error's `code` (else `FAILED`); a function answers names it does not
 * know by throwing an error with code `UNKNOWN_COMMAND`.
 */
export type CommandHandlers =
  | Readonly<Record<string, CommandHandler>>
  | ((name: string, request: CommandRequest) => Promise<CommandResult>);

/** Why an incoming command was refused before any handler ran. */
export type CommandRejection =
  | typeof COMMAND_ERRORS.badRequest
  | typeof COMMAND_ERRORS.unknownCommand
  | typeof COMMAND_ERRORS.expired;

/** Request ids remembered to ignore a QoS 1 redelivery of a command already handled. */
/** Beyond a command's own timeout, for clocks that disagree between master and node. */
const EXPIRY_GRACE_MS = 60_000;
const RECENT_REQ_IDS = 256;

export interface MqttLinkOptions {
  url: string;
  username?: string | undefined;
  password?: string | undefined;
  nodeId: string;
  agentVersion: string;
  heartbeatIntervalS: number;
  logger: Logger;
  hello: () => Promise<HelloMessage> | HelloMessage;
  heartbeat: () => Promise<HeartbeatMessage>;
  now?: () => Date;
  /** Overrides for tests (e.g. a shorter keepalive). */
  clientOptions?: Partial<IClientOptions>;
  /**
   * Folder of the on-disk outbox for QoS 1 messages (command replies, `publishQueued`). Without
   * it replies are published only while connected and `publishQueued` refuses.
   */
  outboxDir?: string | undefined;
  /** Outbox caps and timings; see `OutboxOptions` for the defaults. */
  outbox?: Pick<OutboxOptions, 'maxMessages' | 'maxBytes' | 'stopTimeoutMs' | 'retryDelayMs'>;
  /** Commands besides the built-in `ping`. */
  commands?: CommandHandlers;
  /** Called for every command refused as malformed or unknown (for a metric). */
  onRejected?: (reason: CommandRejection) => void;
}

export class MqttLink {
  private client: MqttClient | null = null;
  private timer: NodeJS.Timeout | null = null;
  private connects = 0;
  private leaving = false;
  private lastError = '';
  private box: Outbox | null = null;
  private readonly recentReqIds = new Set<string>();
  private helloWanted = false;
  private helloSending = false;

  constructor(private readonly opts: MqttLinkOptions) {}

  /** The outbox, once started (sizes and counters for heartbeats and metrics). */
  get outbox(): Outbox | null {
    return this.box;
  }

  get connected(): boolean {
    return this.client?.connected ?? false;
  }

  /** Times the link has connected (first connect and reconnects). */
  get connectCount(): number {
    return this.connects;
  }

  private status(state: StatusMessage['state']): StatusMessage {
    return {
      state,
      at: (this.opts.now?.() ?? new Date()).toISOString(),
      agentVersion: this.opts.agentVersion,
    };
  }

  /**
   * Starts connecting; reconnects by itself every second while the broker is away. Resolves once
   * the outbox has read what an earlier run left (rejects when its folder cannot be used).
   */
  async start(): Promise<void> {
    const o = this.opts;
    const statusTopic = topics.status(o.nodeId);
    const client = mqtt.connect(o.url, {
      clientId: `agent-${o.nodeId}`,
      clean: false,
      keepalive: 10,
      reconnectPeriod: 1000,
      // A refusal (say, while the master provisions this node) must not end the retries.
      reconnectOnConnackError: true,
      connectTimeout: 10_000,
      ...(o.username !== undefined ? { username: o.username } : {}),
      ...(o.password !== undefined ? { password: o.password } : {}),
      will: {
        topic: statusTopic,
        payload: Buffer.from(JSON.stringify(this.status('offline'))),
        qos: 1,
        retain: true,
      },
      ...o.clientOptions,
    });
    this.client = client;
    client.on('connect', () => {
      this.connects++;
      this.lastError = '';
      o.logger.info({ url: o.url, reconnect: this.connects > 1 }, 'mqtt connected');
      // The broker may have lost the session (restart, expiry): subscribe again every time.
      client
        .subscribeAsync(topics.cmdFilter(o.nodeId), { qos: 1 })
        .catch((err: Error) => o.logger.warn({ err: err.message }, 'command subscription failed'));
      if (!this.leaving) void this.announce();
    });
    client.on('message', (topic, payload) => {
      const parsed = parseNodeTopic(topic);
      if (parsed?.kind === 'cmd' && parsed.nodeId === o.nodeId && parsed.arg)
        this.handleCommand(parsed.arg, payload).catch((err: Error) =>
          o.logger.error({ topic, err: err.message }, 'command handling failed'),
        );
    });
    client.on('close', () => {
      // The will is sent with the next CONNECT; give it a fresher time.
      if (client.options.will)
        client.options.will.payload = Buffer.from(JSON.stringify(this.status('offline')));
    });
    client.on('offline', () => o.logger.warn('mqtt offline, reconnecting every second'));
    client.on('error', (err) => {
      // The same refusal every second while the broker is away is logged once.
      const level = err.message === this.lastError ? 'debug' : 'warn';
      this.lastError = err.message;
      o.logger[level]({ err: err.message }, 'mqtt error');
    });
    this.timer = setInterval(() => {
      if (client.connected && !this.leaving) void this.sendHeartbeat();
    }, o.heartbeatIntervalS * 1000);
    if (o.outboxDir !== undefined) {
      const box = new Outbox({ ...o.outbox, dir: o.outboxDir, client, logger: o.logger, now: o.now });
      this.box = box;
      await box.start();
    }
  }

  /**
   * Publishes hello again (the cameras changed). Calls that come while one is being sent are
   * folded into one more; nothing is sent while disconnected, as every connect sends hello.
   */
  republishHello(): void {
    this.helloWanted = true;
    if (this.helloSending) return;
    this.helloSending = true;
    void (async () => {
      try {
        while (this.helloWanted) {
          this.helloWanted = false;
          if (!this.client?.connected || this.leaving) continue;
          const o = this.opts;
          try {
            await this.publish(validators.hello, topics.hello(o.nodeId), await o.hello(), 1, false);
          } catch (err) {
            o.logger.warn({ err: (err as Error).message }, 'hello not republished');
          }
        }
      } finally {
        this.helloSending = false;
      }
    })();
  }

  /**
   * Queues a QoS 1 publish in the outbox; resolves once it is on disk. The caller validates the
   * payload; the topic must be under this node's prefix (the broker refuses anything else).
   */
  async publishQueued(topic: string, payload: string, opts: { retain?: boolean } = {}): Promise<void> {
    if (parseNodeTopic(topic)?.nodeId !== this.opts.nodeId)
      throw Object.assign(new Error(`${topic} is not a topic of node ${this.opts.nodeId}`), {
        code: 'FOREIGN_TOPIC',
      });
    if (!this.box)
      throw Object.assign(new Error('no outbox: the link has no outboxDir or is not started'), {
        code: 'NO_OUTBOX',
      });
    await this.box.append({ topic, payload, retain: opts.retain ?? false });
  }

  private async handleCommand(name: string, payload: Buffer): Promise<void> {
    const log = this.opts.logger.child({ command: name });
    const command = name.slice(0, 64);
    const request = validators.commandRequest.parse(payload);
    if (!request.ok) {
      const reqId = reqIdOf(payload);
      log.warn({ reqId, error: request.error }, 'command refused: malformed request');
      this.opts.onRejected?.(COMMAND_ERRORS.badRequest);
      if (reqId)
        await this.reply(failure(reqId, command, COMMAND_ERRORS.badRequest, request.error, this.at()));
      return;
    }
    const { reqId } = request.value;
    if (this.recentReqIds.has(reqId)) {
      log.debug({ reqId }, 'command redelivered; already handled');
      return;
    }
    this.recentReqIds.add(reqId);
    if (this.recentReqIds.size > RECENT_REQ_IDS) {
      const oldest = this.recentReqIds.values().next().value;
      if (oldest !== undefined) this.recentReqIds.delete(oldest);
    }
    // A command queued for this node while it was away must not run once its sender gave up
    // (the persistent session delivers it late). The grace absorbs clock skew between hosts.
    const { sentAt, timeoutMs } = request.value;
    if (sentAt && timeoutMs !== undefined && Date.parse(sentAt) + timeoutMs + EXPIRY_GRACE_MS < Date.now()) {
      log.warn({ reqId, sentAt, timeoutMs }, 'command refused: expired');
      this.opts.onRejected?.(COMMAND_ERRORS.expired);
      await this.reply(
        failure(
          reqId,
          command,
          COMMAND_ERRORS.expired,
          `sent at ${sentAt}, waited for ${timeoutMs} ms`,
          this.at(),
        ),
      );
      return;
    }
    const started = Date.now();
    let reply: CommandReply;
    try {
      const result = await this.runHandler(name, request.value);
      // The reply's schema check (in reply()) turns a result that is not a JSON object into FAILED.
      const body = result as Record<string, unknown> | undefined;
      reply = { reqId, command, ok: true, at: this.at(), ...(body ? { result: body } : {}) };
    } catch (err) {
      const code = errorCode(err);
      const message = err instanceof Error ? err.message : String(err);
      if (code === COMMAND_ERRORS.unknownCommand) {
        log.warn({ reqId }, 'command refused: unknown command');
        this.opts.onRejected?.(COMMAND_ERRORS.unknownCommand);
      } else log.warn({ reqId, code, err: message }, 'command failed');
      reply = failure(reqId, command, code, message, this.at());
    }
    log.info({ reqId, ok: reply.ok, ms: Date.now() - started }, 'command done');
    await this.reply(reply);
  }

  private runHandler(name: string, request: CommandRequest): Promise<CommandResult> | CommandResult {
    if (name === 'ping') return this.ping();
    const handlers = this.opts.commands;
    if (typeof handlers === 'function') return handlers(name, request);
    const handler = handlers && Object.hasOwn(handlers, name) ? handlers[name] : undefined;
    if (!handler)
      throw Object.assign(new Error(`no command "${name}" on this agent`), {
        code: COMMAND_ERRORS.unknownCommand,
      });
    return handler(request.args ?? {}, request);
  }

  private ping(): PingResult {
    return {
      pong: true,
      agentVersion: this.opts.agentVersion,
      uptimeS: Math.round(process.uptime() * 10) / 10,
    };
  }

  /** Sends a reply through the outbox (or directly when there is none); never throws. */
  private async reply(reply: CommandReply): Promise<void> {
    const o = this.opts;
    let checked = validators.commandReply.validate(reply);
    let payload = '';
    try {
      if (checked.ok) payload = JSON.stringify(reply);
    } catch (err) {
      checked = { ok: false, error: `not JSON: ${(err as Error).message}` };
    }
    if (!checked.ok) {
      // A handler returned something that is not a JSON object: answer that, not silence.
      o.logger.error(
        { command: reply.command, error: checked.error },
        'command result fails the reply schema',
      );
      const fallback = failure(
        reply.reqId,
        reply.command,
        COMMAND_ERRORS.failed,
        'result is not a JSON object',
        this.at(),
      );
      payload = JSON.stringify(fallback);
    }
    const topic = topics.reply(o.nodeId, reply.reqId);
    try {
      if (this.box) await this.box.append({ topic, payload });
      else if (this.client?.connected) await this.client.publishAsync(topic, payload, { qos: 1 });
      else o.logger.warn({ topic }, 'reply dropped: disconnected and no outbox');
    } catch (err) {
      o.logger.error({ topic, err: (err as Error).message }, 'reply not sent');
    }
  }

  private at(): string {
    return (this.opts.now?.() ?? new Date()).toISOString();
  }

  private async announce(): Promise<void> {
    const o = this.opts;
    try {
      await this.publish(validators.status, topics.status(o.nodeId), this.status('online'), 1, true);
      await this.publish(validators.hello, topics.hello(o.nodeId), await o.hello(), 1, false);
      await this.sendHeartbeat();
    } catch (err) {
      o.logger.warn({ err: (err as Error).message }, 'mqtt announce failed; will repeat on reconnect');
    }
  }

  private async sendHeartbeat(): Promise<void> {
    try {
      const hb = await this.opts.heartbeat();
      await this.publish(validators.heartbeat, topics.heartbeat(this.opts.nodeId), hb, 0, false);
    } catch (err) {
      this.opts.logger.warn({ err: (err as Error).message }, 'heartbeat not sent');
    }
  }

  private async publish<T>(
    v: Validator<T>,
    topic: string,
    msg: T,
    qos: 0 | 1,
    retain: boolean,
  ): Promise<void> {
    const checked = v.validate(msg);
    if (!checked.ok) {
      // Our own message breaks the contract: a bug, never a runtime condition.
      this.opts.logger.error(
        { topic, error: checked.error, msg },
        'BUG: outgoing message fails its schema, not sent',
      );
      return;
    }
    if (!this.client) return;
    await this.client.publishAsync(topic, JSON.stringify(msg), { qos, retain });
  }

  /**
   * Stops the outbox (the publish in flight gets its `stopTimeoutMs`; the rest stays on disk),
   * publishes the retained offline status (when connected), then disconnects.
   */
  async stop(timeoutMs = 3000): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    await this.box?.stop();
    const client = this.client;
    if (!client) return;
    if (client.connected) {
      const offline = this.publish(
        validators.status,
        topics.status(this.opts.nodeId),
        this.status('offline'),
        1,
        true,
      );
      await Promise.race([offline.catch(() => {}), new Promise((r) => setTimeout(r, timeoutMs).unref())]);
    }
    await Promise.race([
      client.endAsync(!client.connected),
      new Promise((r) => setTimeout(r, timeoutMs).unref()),
    ]);
    this.client = null;
  }

  /** Publishes the offline status now, leaving the connection up (shutdown starts with this). */
  async announceOffline(timeoutMs = 3000): Promise<void> {
    this.leaving = true;
    if (!this.client?.connected) return;
    // A broker that goes away at the same moment never acknowledges; do not wait for it.
    const offline = this.publish(
      validators.status,
      topics.status(this.opts.nodeId),
      this.status('offline'),
      1,
      true,
    ).catch(() => {});
    await Promise.race([offline, new Promise((r) => setTimeout(r, timeoutMs).unref())]);
  }
}

function failure(reqId: string, command: string, code: string, message: string, at: string): CommandReply {
  return { reqId, command, ok: false, at, error: { code, message: message.slice(0, 1000) } };
}

/** An error's own `code` when it has a usable one, else `FAILED`. */
function errorCode(err: unknown): string {
  const code = (err as { code?: unknown } | null)?.code;
  if (typeof code === 'string' && code.length > 0 && code.length <= 64) return code;
  if (typeof code === 'number') return String(code);
  return COMMAND_ERRORS.failed;
}

/** The request id of a payload that failed validation, when there is a usable one to answer. */
function reqIdOf(payload: Buffer): string | undefined {
  try {
    const doc = JSON.parse(payload.toString('utf8')) as { reqId?: unknown } | null;
    return isValidReqId(doc?.reqId) ? doc.reqId : undefined;
  } catch {
    return undefined;
  }
}
