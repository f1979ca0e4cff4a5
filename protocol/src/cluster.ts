/**
 * What master processes tell each other through PostgreSQL's LISTEN/NOTIFY (docs/adr/0024):
 * which rows changed, never the rows themselves (a notification carries at most 8 KB, and
 * every master reads what it pushes with its own rights). Any database role may NOTIFY, so a
 * master validates each message like any other input.
 */
import { type Static, Type } from '@sinclair/typebox';
import { NodeId } from './ids.ts';

/** The LISTEN/NOTIFY channel the masters share. */
export const CLUSTER_CHANNEL = 'cctv_master_cluster';

const Uuid = Type.String({ format: 'uuid' });
const From = Type.String({ minLength: 1, maxLength: 128 });
const Ids = <T extends ReturnType<typeof Type.String>>(id: T) =>
  Type.Array(id, { minItems: 1, maxItems: 2000 });

export const ClusterMessage = Type.Union([
  /** Node rows changed (status, hello, heartbeats, stale): every master pushes the fresh views. */
  Type.Object({ k: Type.Literal('nodes'), ids: Ids(NodeId) }, { additionalProperties: false }),
  /** Events stored by `from`, which pushed them itself. */
  Type.Object({ k: Type.Literal('events'), from: From, ids: Ids(Uuid) }, { additionalProperties: false }),
  /** Alerts raised or changed by `from` (ids as decimal strings). */
  Type.Object(
    { k: Type.Literal('alerts'), from: From, ids: Ids(Type.String({ pattern: '^[0-9]{1,19}$' })) },
    { additionalProperties: false },
  ),
  /** A session ended (signed out): its sockets close on every master. */
  Type.Object(
    { k: Type.Literal('session'), id: Type.String({ minLength: 1, maxLength: 128 }) },
    { additionalProperties: false },
  ),
  /** A user's sessions ended or rights changed: their sockets close on every master. */
  Type.Object(
    { k: Type.Literal('user'), id: Type.String({ minLength: 1, maxLength: 128 }) },
    { additionalProperties: false },
  ),
  /** Alert rules or notification channels changed: every master reads them again. */
  Type.Object(
    { k: Type.Literal('reload'), what: Type.Union([Type.Literal('rules'), Type.Literal('channels')]) },
    { additionalProperties: false },
  ),
  /** An export job was queued: a master with a free slot claims it. */
  Type.Object({ k: Type.Literal('exports') }, { additionalProperties: false }),
]);
export type ClusterMessage = Static<typeof ClusterMessage>;
