/** A camera's `detect` settings with every default filled in (node-agent/README.md lists them). */
import type { DetectSpec, MotionZone, Polygon } from '@cctv/protocol';

export interface DetectSettings {
  enabled: boolean;
  fps: number;
  width: number;
  height: number;
  motion: {
    sensitivity: number;
    minArea: number | undefined;
    masks: Polygon[];
    zones: MotionZone[];
    endAfterS: number;
  };
  faces: {
    enabled: boolean;
    minScore: number;
    minFaceWidth: number;
    maxBusy: number;
    blurSnapshots: boolean;
    idleEveryS: number;
    endAfterS: number;
  };
}

export function detectSettings(spec: DetectSpec | undefined): DetectSettings {
  const s = spec ?? {};
  return {
    enabled: s.enabled ?? true,
    fps: s.fps ?? 5,
    width: s.width ?? 320,
    height: s.height ?? 180,
    motion: {
      sensitivity: s.motion?.sensitivity ?? 5,
      minArea: s.motion?.minArea,
      masks: s.motion?.masks ?? [],
      zones: s.motion?.zones ?? [],
      endAfterS: s.motion?.endAfterS ?? 5,
    },
    faces: {
      enabled: s.faces?.enabled ?? true,
      // Real faces on the sample photos score 0.64 and up, the best non-face there 0.26; the
      // simulated camera's test pattern draws 0.58 at times. 0.6 keeps events to real faces.
      minScore: s.faces?.minScore ?? 0.6,
      // Faces of 32 px in the 1280×720 detail frame are 48 px of a 1080p camera; snapshots are
      // blurred down to 24 px whatever this says.
      minFaceWidth: s.faces?.minFaceWidth ?? 32,
      // A tenth of the time: about 20 % of a core with the detector's 2 threads, as one
      // whole-frame inference per analysed frame cost before the search had tiles.
      maxBusy: s.faces?.maxBusy ?? 0.1,
      blurSnapshots: s.faces?.blurSnapshots ?? false,
      idleEveryS: s.faces?.idleEveryS ?? 10,
      endAfterS: s.faces?.endAfterS ?? 3,
    },
  };
}
