/** A pino logger that keeps every line it writes, to check what a part logs (or must not). */
import { Writable } from 'node:stream';
import { type Logger, pino } from 'pino';

export function memoryLogger(level = 'trace'): { logger: Logger; lines: string[] } {
  const lines: string[] = [];
  const sink = new Writable({
    write(chunk, _encoding, done) {
      lines.push(chunk.toString());
      done();
    },
  });
  return { logger: pino({ level }, sink), lines };
}
