/** What the in-process `startAgent` tests look at: the log lines, and whether a port listens. */
import { connect } from 'node:net';
import { Writable } from 'node:stream';
import pino, { type Logger } from 'pino';

/** Whether something accepts connections on the loopback port. */
export const listening = (port: number) =>
  new Promise<boolean>((resolve) => {
    const socket = connect(port, '127.0.0.1');
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });

/** A logger (at `info` unless told) that keeps each line it writes in `lines`. */
export function capturingLogger(level: pino.Level = 'info'): { logger: Logger; lines: string[] } {
  const lines: string[] = [];
  const logger = pino(
    { level },
    new Writable({
      write(chunk, _encoding, done) {
        lines.push(String(chunk));
        done();
      },
    }),
  );
  return { logger, lines };
}
