/**
 * Constants and patterns of the contracts, with no dependency at all: the one place the
 * services and the dashboard's browser code take them from (`@cctv/protocol/patterns`), so
 * that nobody copies a regular expression. The TypeBox schemas are built from these.
 */

/** Node and camera ids: lowercase, digits and dashes, 1–63 characters, starting alphanumeric. */
export const ID_PATTERN = '^[a-z0-9][a-z0-9-]{0,62}$';
const idRe = new RegExp(ID_PATTERN);

export function isValidId(id: string): boolean {
  return idRe.test(id);
}

/** A UUID in its canonical text form (any case). */
export const UUID_PATTERN = '^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$';
const uuidRe = new RegExp(UUID_PATTERN);

export function isUuid(value: string): boolean {
  return uuidRe.test(value);
}

/** ISO-8601 date-time with a zone: what `Date#toISOString` writes, or an offset. */
export const ISO_TIME_PATTERN =
  '^\\d{4}-\\d{2}-\\d{2}T\\d{2}:\\d{2}:\\d{2}(\\.\\d{1,9})?(Z|[+-]\\d{2}:\\d{2})$';
const isoRe = new RegExp(ISO_TIME_PATTERN);

/** True for a strict ISO-8601 date-time with zone that `Date.parse` takes. */
export function isIsoTime(value: string): boolean {
  return isoRe.test(value) && !Number.isNaN(Date.parse(value));
}

/** Parses a strict ISO-8601 date-time with zone; null for anything else. */
export function parseIsoTime(value: string | undefined): Date | null {
  if (!value || !isIsoTime(value)) return null;
  return new Date(Date.parse(value));
}

/** The longest grant (a JWS compact string) the gateway takes as a path level. */
export const GRANT_MAX_LENGTH = 1500;

/** The largest page of `GET /api/events`. */
export const EVENT_PAGE_MAX = 500;
/** The longest range of `GET /api/cameras/:id/timeline`. */
export const TIMELINE_MAX_RANGE_MS = 31 * 24 * 3600 * 1000;
export const TIMELINE_MAX_BUCKETS = 2000;
/** The longest range of `POST /api/exports`. */
export const EXPORT_MAX_RANGE_MS = 3600_000;
/** Tiles of the live wall: 1×1, 2×2, 3×3 or 4×4. */
export const WALL_LAYOUTS = [1, 4, 9, 16] as const;

/** A motion zone's name (events.ts MotionZone), as events name the zones they touched. */
export const ZONE_NAME_PATTERN = '^[A-Za-z0-9][A-Za-z0-9 _.-]{0,62}$';
const zoneNameRe = new RegExp(ZONE_NAME_PATTERN);

export function isZoneName(name: string): boolean {
  return zoneNameRe.test(name);
}

/** Points of one mask or zone polygon (normalised 0..1). */
export const POLYGON_MIN_POINTS = 3;
export const POLYGON_MAX_POINTS = 64;
/** Masks, and zones, per camera; also the most zone names one event search takes. */
export const POLYGONS_MAX = 32;

/**
 * An e-mail address the master sends to or from: a plain `local@domain.tld`, no display name,
 * quoting, comments or separators (which could smuggle further recipients or headers).
 */
export const EMAIL_ADDRESS_PATTERN =
  "^[A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]{1,64}@[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?(\\.[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?)+$";

/**
 * A node clock further than this from the master's (either way) is worth a warning: event and
 * segment times of that node no longer line up with the others' (the fleet page, the alerts).
 */
export const CLOCK_SKEW_WARN_MS = 2000;
