/**
 * Clock skew between a node and the master, measured the NTP way over MQTT: the agent sends a
 * time request with its send time t0 on `cctv/v1/nodes/{node}/time`; the master answers at once
 * on `cctv/v1/nodes/{node}/cmd/time` (the command channel, which a node already reads) with its
 * receive time t1 and send time t2; the agent notes its receive time t3. Times are milliseconds
 * since the epoch, each on its own side's clock. The heartbeat carries the best recent result.
 */
import { type Static, Type } from '@sinclair/typebox';

export { CLOCK_SKEW_WARN_MS } from './patterns.ts';

/** Milliseconds since the epoch (Date.now(), possibly with a fraction). */
const EpochMs = Type.Number({ minimum: 0, maximum: 8.64e15 });
/** Chosen by the agent to match the answer to its request. */
const RequestId = Type.String({ pattern: '^[A-Za-z0-9-]{1,64}$' });

/** Agent → master on `time`. */
export const TimeRequest = Type.Object({
  id: RequestId,
  /** The agent's clock when it sent the request. */
  t0: EpochMs,
});
export type TimeRequest = Static<typeof TimeRequest>;

/** Master → agent on `cmd/time`; `id` and `t0` are the request's. */
export const TimeAnswer = Type.Object({
  id: RequestId,
  t0: EpochMs,
  /** The master's clock when the request reached its handler. */
  t1: EpochMs,
  /** The master's clock when it sent the answer. */
  t2: EpochMs,
});
export type TimeAnswer = Static<typeof TimeAnswer>;

/** Where the host's own synchronisation state was read; null when neither tool answered. */
export const ClockSyncSource = Type.Union([Type.Literal('chrony'), Type.Literal('timedatectl'), Type.Null()]);
export type ClockSyncSource = Static<typeof ClockSyncSource>;

/** The heartbeat's `clock`: the node's clock against the master's, from its latest measurement. */
export const ClockHeartbeat = Type.Object({
  /** Agent clock minus master clock: positive when the node's clock is ahead. */
  offsetMs: Type.Number({ minimum: -8.64e15, maximum: 8.64e15 }),
  /** Round trip of the request the offset comes from (the offset is within ± half of it). */
  rttMs: Type.Number({ minimum: 0, maximum: 3_600_000 }),
  /** When it was measured, on the agent's clock. */
  measuredAt: Type.String({ format: 'date-time', maxLength: 40 }),
  /** The host's own time synchronisation (chrony or systemd-timesyncd); null when unknown. */
  synced: Type.Union([Type.Boolean(), Type.Null()]),
  source: ClockSyncSource,
});
export type ClockHeartbeat = Static<typeof ClockHeartbeat>;
