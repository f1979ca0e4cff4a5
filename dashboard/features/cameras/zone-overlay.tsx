import type { DetectSpec } from '@cctv/protocol';
import { toPoints } from './zone-geometry';
import { DEFAULT_PICTURE, type PictureSize, ZoneShapes } from './zone-shapes';

/**
 * A camera's motion zones and masks over its picture, letterboxed as the video is (the SVG
 * keeps the picture's aspect inside the player's box); it takes no pointer events.
 */
export function ZoneOverlay({ detect, size }: { detect: DetectSpec | null; size: PictureSize | null }) {
  const zones = (detect?.motion?.zones ?? []).map((z) => ({ name: z.name, points: toPoints(z.points) }));
  const masks = (detect?.motion?.masks ?? []).map(toPoints);
  if (zones.length === 0 && masks.length === 0) return null;
  const s = size ?? DEFAULT_PICTURE;
  return (
    <svg
      viewBox={`0 0 ${s.width} ${s.height}`}
      preserveAspectRatio="xMidYMid meet"
      style={{ position: 'absolute', inset: 0, width: '100%', height: '100%', pointerEvents: 'none' }}
      aria-label="Motion zones and masks"
      role="img"
      data-testid="zone-overlay"
    >
      <ZoneShapes size={s} zones={zones} masks={masks} />
    </svg>
  );
}
