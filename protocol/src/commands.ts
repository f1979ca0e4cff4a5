/**
 * Commands from the master to one agent: a request on `cmd/{name}` and a reply on
 * `reply/{reqId}`, both QoS 1. Every request shares one envelope; `args` is the command's own.
 */
import { type Static, Type } from '@sinclair/typebox';
import { DetectSpec } from './events.ts';
import { CameraId } from './ids.ts';

const IsoTime = Type.String({ format: 'date-time', maxLength: 40 });

/** Request ids travel in a topic level, so they are kept to topic-safe characters. */
export const REQ_ID_PATTERN = '^[A-Za-z0-9_-]{1,64}$';
const reqIdRe = new RegExp(REQ_ID_PATTERN);

export function isValidReqId(id: unknown): id is string {
  return typeof id === 'string' && reqIdRe.test(id);
}

export const ReqId = Type.String({ minLength: 1, maxLength: 64, pattern: REQ_ID_PATTERN });

/** Any JSON object (not an array, not null). */
const JsonObject = Type.Record(Type.String(), Type.Unknown());

/** The envelope of every `cmd/{name}` payload. */
export const CommandRequest = Type.Object(
  {
    reqId: ReqId,
    sentAt: Type.Optional(IsoTime),
    /** How long the sender waits for the reply; a reply after that is still sent. */
    timeoutMs: Type.Optional(Type.Integer({ minimum: 1, maximum: 3_600_000 })),
    args: Type.Optional(JsonObject),
  },
  { additionalProperties: false },
);
export type CommandRequest = Static<typeof CommandRequest>;

/** Error codes every agent uses; a handler may add its own (an error's `code`). */
export const COMMAND_ERRORS = {
  /** The payload is not JSON or does not match the envelope or the command's args. */
  badRequest: 'BAD_REQUEST',
  /** No handler for this command name on this agent. */
  unknownCommand: 'UNKNOWN_COMMAND',
  /** The handler failed without a code of its own. */
  failed: 'FAILED',
  /** Arrived after its sender stopped waiting (sentAt + timeoutMs, plus a clock-skew grace). */
  expired: 'EXPIRED',
} as const;

export const CommandReply = Type.Object(
  {
    reqId: ReqId,
    command: Type.String({ minLength: 1, maxLength: 64 }),
    ok: Type.Boolean(),
    at: IsoTime,
    result: Type.Optional(JsonObject),
    error: Type.Optional(
      Type.Object(
        {
          code: Type.String({ minLength: 1, maxLength: 64 }),
          message: Type.String({ maxLength: 1000 }),
        },
        { additionalProperties: false },
      ),
    ),
  },
  { additionalProperties: false },
);
export type CommandReply = Static<typeof CommandReply>;

/** The `result` of the built-in `ping`. */
export const PingResult = Type.Object({
  pong: Type.Literal(true),
  agentVersion: Type.String({ maxLength: 64 }),
  uptimeS: Type.Number({ minimum: 0 }),
});
export type PingResult = Static<typeof PingResult>;

const Transport = Type.Union([Type.Literal('tcp'), Type.Literal('udp')]);

/** One camera as the agent's config file and the `config` command describe it. */
export const CameraSpec = Type.Object(
  {
    id: CameraId,
    name: Type.String({ minLength: 1, maxLength: 120 }),
    url: Type.String({ minLength: 1, maxLength: 2000 }),
    substreamUrl: Type.Optional(Type.String({ minLength: 1, maxLength: 2000 })),
    transports: Type.Optional(Type.Array(Transport, { minItems: 1, maxItems: 2, uniqueItems: true })),
    record: Type.Optional(
      Type.Object(
        { codec: Type.Optional(Type.Union([Type.Literal('hevc'), Type.Literal('source')])) },
        { additionalProperties: false },
      ),
    ),
    enabled: Type.Optional(Type.Boolean()),
    /** Motion and face detection; on with defaults when absent. */
    detect: Type.Optional(DetectSpec),
  },
  { additionalProperties: false },
);
export type CameraSpec = Static<typeof CameraSpec>;

/** `args` of `cmd/config`: the node's whole camera list, replacing the current one. */
export const ConfigCommandArgs = Type.Object(
  {
    cameras: Type.Array(CameraSpec, { maxItems: 64 }),
    /**
     * The master's desired-config version these cameras are (node-config.ts); a master-managed
     * node reports it back in its heartbeat. Absent: a list without a version (tools, tests).
     */
    version: Type.Optional(Type.Integer({ minimum: 1 })),
  },
  { additionalProperties: false },
);
export type ConfigCommandArgs = Static<typeof ConfigCommandArgs>;

/**
 * `POST /api/nodes/:id/commands/:name` (master API): the command's `args` and how long the
 * caller waits for the node's reply.
 */
export const NodeCommandRequest = Type.Object(
  {
    args: Type.Optional(JsonObject),
    timeoutMs: Type.Optional(Type.Integer({ minimum: 100, maximum: 60_000 })),
  },
  { additionalProperties: false },
);
export type NodeCommandRequest = Static<typeof NodeCommandRequest>;

/** Commands the master relays, and the least role that may send each. */
export const NODE_COMMANDS = { ping: 'operator', config: 'admin', restart: 'admin' } as const;
export type NodeCommandName = keyof typeof NODE_COMMANDS;
