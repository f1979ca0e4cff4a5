import pino, { type Logger } from 'pino';

/** `scheme://user:password@` anywhere in a string. */
const CREDENTIALS = /([a-z][a-z0-9+.-]*:\/\/[^/@:\s"']*):[^/@\s"']*@/gi;

/** A camera URL's password out of anything logged: `rtsp://user:***@host/…`. */
export function redactCredentials(text: string): string {
  return text.replace(CREDENTIALS, '$1:***@');
}

/** Strings, arrays and plain objects with every URL password replaced (errors keep their type). */
function redactDeep(value: unknown, depth = 0): unknown {
  if (typeof value === 'string') return value.includes('@') ? redactCredentials(value) : value;
  if (depth > 6 || value === null || typeof value !== 'object') return value;
  if (Array.isArray(value)) return value.map((v) => redactDeep(v, depth + 1));
  if (value instanceof Error) {
    if (value.message.includes('@')) value.message = redactCredentials(value.message);
    return value;
  }
  if (Object.getPrototypeOf(value) !== Object.prototype) return value;
  return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, redactDeep(v, depth + 1)]));
}

/**
 * The agent's root logger: JSON lines on stdout, level from LOG_LEVEL (default info). Camera
 * passwords never reach a log line: ffmpeg command lines, source URLs and error messages pass
 * through `redactCredentials` (docs/adr/0015).
 */
export function createLogger(nodeId: string | undefined, level = process.env.LOG_LEVEL ?? 'info'): Logger {
  return pino({
    name: 'node-agent',
    level,
    base: nodeId ? { nodeId } : {},
    formatters: { log: (obj) => redactDeep(obj) as Record<string, unknown> },
    hooks: {
      logMethod(args, method) {
        method.apply(
          this,
          args.map((a) => (typeof a === 'string' ? redactCredentials(a) : a)) as Parameters<typeof method>,
        );
      },
    },
  });
}
