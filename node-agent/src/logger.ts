import pino, { type Logger } from 'pino';

/** The agent's root logger: JSON lines on stdout, level from LOG_LEVEL (default info). */
export function createLogger(nodeId: string | undefined, level = process.env.LOG_LEVEL ?? 'info'): Logger {
  return pino({ name: 'node-agent', level, base: nodeId ? { nodeId } : {} });
}
