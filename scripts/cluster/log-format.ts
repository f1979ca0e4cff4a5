/** Turns a service's pino JSON lines into short readable lines prefixed with the service name. */
const LEVELS: Record<number, string> = {
  10: 'trace',
  20: 'debug',
  30: 'info',
  40: 'WARN',
  50: 'ERROR',
  60: 'FATAL',
};
const SKIP = new Set(['level', 'time', 'pid', 'hostname', 'name', 'msg']);

export function formatLine(service: string, line: string): string {
  const tag = `[${service}]`.padEnd(10);
  if (!line.startsWith('{')) return `${tag} ${line}`;
  try {
    const rec = JSON.parse(line) as Record<string, unknown>;
    const level = LEVELS[Number(rec.level)] ?? String(rec.level);
    const extra = Object.entries(rec)
      .filter(([k]) => !SKIP.has(k))
      .map(([k, v]) => `${k}=${typeof v === 'string' ? v : JSON.stringify(v)}`)
      .join(' ');
    return `${tag} ${level} ${String(rec.msg ?? '')}${extra ? `  ${extra}` : ''}`;
  } catch {
    return `${tag} ${line}`;
  }
}
