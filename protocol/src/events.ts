import { type Static, Type } from '@sinclair/typebox';
import { gatewayPaths } from './http/gateway-paths.ts';
import { CameraId } from './ids.ts';
import { POLYGON_MAX_POINTS, POLYGON_MIN_POINTS, POLYGONS_MAX, ZONE_NAME_PATTERN } from './patterns.ts';

const IsoTime = Type.String({ format: 'date-time', maxLength: 40 });
const Unit = Type.Number({ minimum: 0, maximum: 1 });

/** A point in frame coordinates normalised to 0..1 (x to the right, y down). */
export const NormPoint = Type.Tuple([Unit, Unit]);
export const Polygon = Type.Array(NormPoint, { minItems: POLYGON_MIN_POINTS, maxItems: POLYGON_MAX_POINTS });
export type Polygon = Static<typeof Polygon>;

export const MotionZone = Type.Object(
  { name: Type.String({ pattern: ZONE_NAME_PATTERN }), points: Polygon },
  { additionalProperties: false },
);
export type MotionZone = Static<typeof MotionZone>;

/**
 * Per-camera detection settings (`detect` of a camera). Every key is optional; the agent's
 * README gives the defaults. Polygons are normalised so they survive a resolution change.
 */
export const DetectSpec = Type.Object(
  {
    enabled: Type.Optional(Type.Boolean()),
    /** Analysis frames per second decoded from the substream (or the main stream). */
    fps: Type.Optional(Type.Number({ minimum: 0.5, maximum: 15 })),
    /** Size of the grayscale motion frames. */
    width: Type.Optional(Type.Integer({ minimum: 64, maximum: 1280, multipleOf: 2 })),
    height: Type.Optional(Type.Integer({ minimum: 36, maximum: 720, multipleOf: 2 })),
    motion: Type.Optional(
      Type.Object(
        {
          /** 1 (only large, strong changes) .. 10 (small, faint changes). */
          sensitivity: Type.Optional(Type.Integer({ minimum: 1, maximum: 10 })),
          /** Smallest region reported, as a fraction of the frame area. */
          minArea: Type.Optional(Type.Number({ minimum: 0, maximum: 0.5 })),
          /** Areas ignored entirely (a tree, a road, a timestamp overlay). */
          masks: Type.Optional(Type.Array(Polygon, { maxItems: POLYGONS_MAX })),
          /** When given, only motion touching a zone counts; events name the zones hit. */
          zones: Type.Optional(Type.Array(MotionZone, { maxItems: POLYGONS_MAX })),
          /** Seconds without motion before a motion event ends. */
          endAfterS: Type.Optional(Type.Number({ minimum: 0.5, maximum: 300 })),
        },
        { additionalProperties: false },
      ),
    ),
    faces: Type.Optional(
      Type.Object(
        {
          enabled: Type.Optional(Type.Boolean()),
          minScore: Type.Optional(Type.Number({ minimum: 0.3, maximum: 1 })),
          /**
           * The smallest face (px wide in the analysed detail frame) face events look for: the
           * search's cost grows as it falls (1280×720: 13 model runs at 32 px, 15 at 24, 3 at 40).
           */
          minFaceWidth: Type.Optional(Type.Integer({ minimum: 16, maximum: 512 })),
          /**
           * The share of the time face searches may take on this camera (after a search, the next
           * waits long enough): bounds the CPU of a scene that moves everywhere.
           */
          maxBusy: Type.Optional(Type.Number({ minimum: 0.01, maximum: 1 })),
          /** Blur detected faces in this camera's snapshots and thumbnails. */
          blurSnapshots: Type.Optional(Type.Boolean()),
          /** Without motion, look for faces this often (0: only on motion frames). */
          idleEveryS: Type.Optional(Type.Number({ minimum: 0, maximum: 3600 })),
          endAfterS: Type.Optional(Type.Number({ minimum: 0.5, maximum: 300 })),
        },
        { additionalProperties: false },
      ),
    ),
  },
  { additionalProperties: false },
);
export type DetectSpec = Static<typeof DetectSpec>;

/** A detection box normalised to the frame (0..1); score for faces, changed share for motion. */
export const EventBox = Type.Object(
  { x: Unit, y: Unit, w: Unit, h: Unit, score: Type.Optional(Unit) },
  { additionalProperties: false },
);
export type EventBox = Static<typeof EventBox>;

export const EventType = Type.Union([Type.Literal('motion'), Type.Literal('face')]);
export type EventType = Static<typeof EventType>;

export const EventPhase = Type.Union([Type.Literal('start'), Type.Literal('update'), Type.Literal('end')]);
export type EventPhase = Static<typeof EventPhase>;

/** A snapshot's path on the gateway: `/v1/snapshots/<camera>/<name>.jpg`, never a free URL. */
const SNAPSHOT_PATH_PATTERN = '^/v1/snapshots/[a-z0-9][a-z0-9-]{0,62}/[A-Za-z0-9][A-Za-z0-9_-]{0,123}\\.jpg$';

/** Where the gateway serves an event's best frame; paths are relative to the gateway URL. */
export const SnapshotRef = Type.Object(
  {
    image: Type.String({ maxLength: 300, pattern: SNAPSHOT_PATH_PATTERN }),
    thumbnail: Type.String({ maxLength: 300, pattern: SNAPSHOT_PATH_PATTERN }),
    /** Wall-clock time of the frame, on the same clock as the recorded segments. */
    at: IsoTime,
    width: Type.Integer({ minimum: 1, maximum: 16384 }),
    height: Type.Integer({ minimum: 1, maximum: 16384 }),
    /** Faces were blurred in this snapshot (camera privacy setting). */
    blurred: Type.Boolean(),
  },
  { additionalProperties: false },
);
export type SnapshotRef = Static<typeof SnapshotRef>;

/**
 * Published on `events` (QoS 1, through the agent's outbox). One event has one id (uuid) and
 * a start, any number of updates and an end; `seq` orders an event's messages, so a
 * re-delivered message is recognisable by (id, seq). Times are wall clock, on the same clock as
 * the segments, so an event links to the recording by (camera, time).
 */
export const EventMessage = Type.Object(
  {
    id: Type.String({ format: 'uuid' }),
    seq: Type.Integer({ minimum: 0 }),
    type: EventType,
    phase: EventPhase,
    cameraId: CameraId,
    startedAt: IsoTime,
    /** Time of the newest frame this message describes. */
    at: IsoTime,
    endedAt: Type.Optional(IsoTime),
    /** Boxes of the newest frame (on end: of the best frame). */
    boxes: Type.Array(EventBox, { maxItems: 32 }),
    /** Best score so far: face confidence, or for motion the largest changed share of the frame. */
    score: Unit,
    bestAt: IsoTime,
    zones: Type.Optional(Type.Array(Type.String({ maxLength: 63 }), { maxItems: 32 })),
    /** Frames analysed with this event active (end message: the whole event). */
    frames: Type.Integer({ minimum: 0 }),
    snapshot: Type.Optional(SnapshotRef),
  },
  { additionalProperties: false },
);
export type EventMessage = Static<typeof EventMessage>;

/** Snapshot upload contract between the agent and the storage gateway. */
export const SNAPSHOT_HEADERS = { sha256: 'x-cctv-sha256', node: 'x-cctv-node' } as const;
export const SNAPSHOT_MAX_BYTES = 4 * 1024 * 1024;
const snapshotNameRe = /^[A-Za-z0-9][A-Za-z0-9_-]{0,123}\.jpg$/;

/** Snapshot names: a plain file name ending in `.jpg`, no dots before it, no separators. */
export function isSnapshotName(name: string): boolean {
  return snapshotNameRe.test(name);
}

/** Where the agent puts a snapshot, and the path its `SnapshotRef` names (`gatewayPaths.snapshotUpload`). */
export const snapshotPath = gatewayPaths.snapshotUpload;

/** An event's snapshot names: `<event id>-<n>.jpg` and its thumbnail `<event id>-<n>-thumb.jpg`. */
export const eventSnapshotNames = (eventId: string, n: number) => ({
  image: `${eventId}-${n}.jpg`,
  thumbnail: `${eventId}-${n}-thumb.jpg`,
});

const eventSnapshotRe =
  /^([0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})-(\d{1,9})(-thumb)?\.jpg$/;

/** The event a snapshot name belongs to (lower case), or null for any other name. */
export function snapshotEventId(name: string): string | null {
  return eventSnapshotRe.exec(name.toLowerCase())?.[1] ?? null;
}

/**
 * Why an event message's snapshot reference is not one the master may store, or null: both
 * paths must name this event's own snapshots of this camera (`eventSnapshotNames`), so a node
 * can neither point dashboards elsewhere nor at another camera's or event's pictures.
 */
export function snapshotRefProblem(msg: Pick<EventMessage, 'id' | 'cameraId' | 'snapshot'>): string | null {
  const ref = msg.snapshot;
  if (!ref) return null;
  const prefix = `/v1/snapshots/${msg.cameraId}/`;
  const id = msg.id.toLowerCase();
  const image = ref.image.startsWith(prefix) ? ref.image.slice(prefix.length) : null;
  const thumb = ref.thumbnail.startsWith(prefix) ? ref.thumbnail.slice(prefix.length) : null;
  if (image === null || thumb === null) return `snapshot paths must be under ${prefix}`;
  const n = /-(\d{1,9})\.jpg$/.exec(image)?.[1];
  if (snapshotEventId(image) !== id || image.endsWith('-thumb.jpg') || n === undefined)
    return `snapshot image must be named ${id}-<n>.jpg`;
  if (thumb.toLowerCase() !== eventSnapshotNames(id, Number(n)).thumbnail)
    return `snapshot thumbnail must be named ${id}-${n}-thumb.jpg`;
  return null;
}
