// Same shape the protocol accepts for `date-time`: what Date#toISOString writes, or an offset.
const isoRe = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,9})?(Z|[+-]\d{2}:\d{2})$/;

/** Parses a strict ISO-8601 date-time with zone; null for anything else. */
export function parseIsoTime(value: string | undefined): Date | null {
  if (!value || !isoRe.test(value)) return null;
  const ms = Date.parse(value);
  return Number.isNaN(ms) ? null : new Date(ms);
}
