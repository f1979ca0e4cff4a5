import { labelPoint, type Point, svgPoints } from './zone-geometry';

/** The picture's size the polygons are drawn in (the SVG's `viewBox`), its aspect that of the camera. */
export interface PictureSize {
  width: number;
  height: number;
}

/** A 16:9 picture, when the camera's size is not known yet. */
export const DEFAULT_PICTURE: PictureSize = { width: 1600, height: 900 };

export const ZONE_COLOUR = '#4cc2ff';
export const MASK_COLOUR = '#ff5a5f';

interface Props {
  size: PictureSize;
  zones: readonly { name: string; points: Point[] }[];
  masks: readonly Point[][];
  /** The polygon to draw highlighted, of the kind given. */
  highlight?: { kind: 'zones' | 'masks'; index: number } | null;
}

/**
 * Masks (red, where motion is ignored) and zones (blue, named) inside an SVG whose viewBox is
 * the picture's size; drawn by the editor and over the camera's live view.
 */
export function ZoneShapes({ size, zones, masks, highlight = null }: Props) {
  const stroke = Math.max(size.width, size.height) / 400;
  const font = Math.max(size.width, size.height) / 40;
  const lit = (kind: 'zones' | 'masks', i: number) => highlight?.kind === kind && highlight.index === i;
  return (
    <g>
      {masks.map((m, i) => (
        <polygon
          // biome-ignore lint/suspicious/noArrayIndexKey: masks have no identity but their place
          key={`m${i}`}
          points={svgPoints(m, size.width, size.height)}
          fill={MASK_COLOUR}
          fillOpacity={lit('masks', i) ? 0.45 : 0.3}
          stroke={MASK_COLOUR}
          strokeWidth={lit('masks', i) ? stroke * 2 : stroke}
          data-testid="mask-shape"
        />
      ))}
      {zones.map((z, i) => {
        const [lx, ly] = labelPoint(z.points);
        return (
          // biome-ignore lint/suspicious/noArrayIndexKey: names change while typed; the place is the identity
          <g key={`z${i}`} data-testid="zone-shape" data-zone-name={z.name}>
            <polygon
              points={svgPoints(z.points, size.width, size.height)}
              fill={ZONE_COLOUR}
              fillOpacity={lit('zones', i) ? 0.3 : 0.15}
              stroke={ZONE_COLOUR}
              strokeWidth={lit('zones', i) ? stroke * 2 : stroke}
            />
            <text
              x={lx * size.width}
              y={ly * size.height}
              fill="#fff"
              stroke="#000"
              strokeWidth={stroke / 2}
              fontSize={font}
              textAnchor="middle"
              dominantBaseline="middle"
            >
              {z.name}
            </text>
          </g>
        );
      })}
    </g>
  );
}
