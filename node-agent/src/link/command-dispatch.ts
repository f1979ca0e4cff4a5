/**
 * Incoming commands, from payload to reply: the envelope is validated, a QoS 1 redelivery of a
 * request already handled is ignored, a request whose sender gave up is refused as expired, and
 * the rest goes to its handler (`ping` is built in). Every request with a usable id gets exactly
 * one schema-checked reply, handed to `send`; how it travels (outbox or direct) is the link's.
 */
import type { CommandReply, CommandRequest, PingResult } from '@cctv/protocol';
import { COMMAND_ERRORS, isValidReqId, validators } from '@cctv/protocol';
import type { Logger } from 'pino';

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

/** What the dispatcher reads of the link's options (read on every command, not copied). */
export interface CommandDispatchOptions {
  agentVersion: string;
  logger: Logger;
  now?: () => Date;
  /** Commands besides the built-in `ping`. */
  commands?: CommandHandlers;
  /** Called for every command refused as malformed, unknown or expired (for a metric). */
  onRejected?: (reason: CommandRejection) => void;
}

/** Sends one reply payload (already checked against the reply schema); must not throw. */
export type ReplySender = (reqId: string, payload: string) => Promise<void>;

/** Beyond a command's own timeout, for clocks that disagree between master and node. */
const EXPIRY_GRACE_MS = 60_000;
/** Request ids remembered to ignore a QoS 1 redelivery of a command already handled. */
const RECENT_REQ_IDS = 256;

export class CommandDispatch {
  private readonly recentReqIds = new Set<string>();

  constructor(
    private readonly opts: CommandDispatchOptions,
    private readonly send: ReplySender,
  ) {}

  /** Handles one command message; resolves once its reply (if any) has been handed to `send`. */
  async handle(name: string, payload: Buffer): Promise<void> {
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
    if (this.seenBefore(reqId)) {
      log.debug({ reqId }, 'command redelivered; already handled');
      return;
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

  /** Whether the id was handled already; remembers it (the oldest of a full set is forgotten). */
  private seenBefore(reqId: string): boolean {
    if (this.recentReqIds.has(reqId)) return true;
    this.recentReqIds.add(reqId);
    if (this.recentReqIds.size > RECENT_REQ_IDS) {
      const oldest = this.recentReqIds.values().next().value;
      if (oldest !== undefined) this.recentReqIds.delete(oldest);
    }
    return false;
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

  /** Checks the reply against its schema (a bad result is answered as FAILED), then sends it. */
  private async reply(reply: CommandReply): Promise<void> {
    let checked = validators.commandReply.validate(reply);
    let payload = '';
    try {
      if (checked.ok) payload = JSON.stringify(reply);
    } catch (err) {
      checked = { ok: false, error: `not JSON: ${(err as Error).message}` };
    }
    if (!checked.ok) {
      // A handler returned something that is not a JSON object: answer that, not silence.
      this.opts.logger.error(
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
    await this.send(reply.reqId, payload);
  }

  private at(): string {
    return (this.opts.now?.() ?? new Date()).toISOString();
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
