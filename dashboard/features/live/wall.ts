import type { WallLayout, WallSettings } from '@cctv/protocol';

/** Columns of a layout: 1, 2, 3 or 4. */
export const columnsOf = (layout: WallLayout) => Math.sqrt(layout);

/**
 * The wall as saved, fitted to the cameras the user may see now (a camera taken away leaves its
 * tile empty) and to the layout's size; unsaved: the first cameras in a 2×2 grid.
 */
export function fitWall(saved: WallSettings | null, cameras: string[]): WallSettings {
  const layout: WallLayout = saved?.layout ?? (cameras.length <= 1 ? 1 : 4);
  const visible = new Set(cameras);
  const tiles = Array.from({ length: layout }, (_, i) => {
    if (!saved) return cameras[i] ?? null;
    const id = saved.tiles[i] ?? null;
    return id && visible.has(id) ? id : null;
  });
  return { layout, tiles };
}

/** Another layout: tiles kept in order, cut or padded with empty ones. */
export function withLayout(wall: WallSettings, layout: WallLayout): WallSettings {
  return { layout, tiles: Array.from({ length: layout }, (_, i) => wall.tiles[i] ?? null) };
}

/** Swaps two tiles (a drag from `from` dropped on `to`). */
export function swapTiles(wall: WallSettings, from: number, to: number): WallSettings {
  const tiles = wall.tiles.slice();
  [tiles[from], tiles[to]] = [tiles[to] ?? null, tiles[from] ?? null];
  return { ...wall, tiles };
}
