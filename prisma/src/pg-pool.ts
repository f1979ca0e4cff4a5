import pg from 'pg';

export type PgPool = pg.Pool;

/**
 * A plain node-postgres pool, for the few hot statements where Prisma's query layer costs more
 * CPU than the statement (the gateway's segment index writes: a fifth of the CPU per row).
 * Everything else goes through Prisma. `onIdleError` hears of a connection that failed while
 * idle (a database restart): without a listener, that error would end the process.
 */
export function createPgPool(databaseUrl: string, max: number, onIdleError: (err: Error) => void): PgPool {
  // Idle connections alone do not keep a process alive.
  const pool = new pg.Pool({ connectionString: databaseUrl, max, allowExitOnIdle: true });
  pool.on('error', onIdleError);
  return pool;
}
