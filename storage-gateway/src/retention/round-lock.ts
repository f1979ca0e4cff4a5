import { createPgPool } from '@cctv/db';
import type { Logger } from 'pino';

/** A retention round held by this gateway alone among those sharing the database. */
export interface HeldRound {
  /** Aborted when the lock's connection is lost: the lock is gone and another gateway may sweep. */
  lost: AbortSignal;
  /** Gives the lock back (or drops its connection, which gives it back too). */
  release(): Promise<void>;
}

/** One retention round at a time across gateways. */
export interface RoundLock {
  /** The round, or null when another gateway is sweeping now. */
  tryAcquire(): Promise<HeldRound | null>;
  close(): Promise<void>;
}

/** The advisory lock's key: ('cctv' as a 32-bit integer, 1 for retention). */
const LOCK_KEY = [0x63637476, 1] as const;

/**
 * A PostgreSQL session-level advisory lock (`pg_try_advisory_lock`) on a connection of its own,
 * held for the whole round and unlocked after it. A session lock because the round is minutes of
 * NAS work between many short transactions: a transaction-level lock would need one transaction
 * open for all of it. PostgreSQL drops the lock with the session: a gateway killed (its socket
 * closed by the kernel) at once; a host that dies without a word once TCP keepalive gives up on
 * it, set here to about 25 s instead of the system's hours.
 */
export function advisoryRoundLock(databaseUrl: string, logger: Logger): RoundLock {
  const pool = createPgPool(databaseUrl, 1, (err) =>
    logger.warn({ err }, 'an idle retention lock connection failed'),
  );
  return {
    async tryAcquire() {
      const client = await pool.connect();
      const lost = new AbortController();
      const onError = (err: Error) => {
        logger.warn({ err }, 'retention lock connection lost: this round stops');
        lost.abort(err);
      };
      client.on('error', onError);
      const giveBack = (err?: Error) => {
        client.off('error', onError);
        client.release(err);
      };
      try {
        await client.query(
          'SET tcp_keepalives_idle = 10; SET tcp_keepalives_interval = 5; SET tcp_keepalives_count = 3',
        );
        const res = await client.query<{ held: boolean }>('SELECT pg_try_advisory_lock($1, $2) AS held', [
          ...LOCK_KEY,
        ]);
        if (res.rows[0]?.held !== true) {
          giveBack();
          return null;
        }
      } catch (err) {
        giveBack(err as Error);
        throw err;
      }
      return {
        lost: lost.signal,
        async release() {
          if (lost.signal.aborted) return giveBack(lost.signal.reason as Error);
          try {
            await client.query('SELECT pg_advisory_unlock($1, $2)', [...LOCK_KEY]);
            giveBack();
          } catch (err) {
            // The session goes, and its lock with it.
            giveBack(err as Error);
          }
        },
      };
    },
    close: () => pool.end(),
  };
}
