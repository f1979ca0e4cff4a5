/**
 * SSD anchors of MediaPipe's BlazeFace back-camera model (face_detection_back): every anchor
 * sits at the centre of its grid cell and has a fixed size of the whole input, so a cell's
 * anchors differ only in the weights that produced them.
 */

/** One output head: a square grid of cells with `perCell` anchors each. */
export interface AnchorLayer {
  grid: number;
  perCell: number;
}

/** The 256×256 back model: stride 16 (16×16 cells, 2 anchors) and stride 32 (8×8 cells, 6 anchors). */
export const BLAZEFACE_BACK_LAYERS: readonly AnchorLayer[] = [
  { grid: 16, perCell: 2 },
  { grid: 8, perCell: 6 },
];

/**
 * Anchor centres as (x, y) pairs in 0..1 of the input, in the model's output order: rows top
 * to bottom, cells left to right, then the cell's anchors.
 */
export function anchorCentres(layer: AnchorLayer): Float32Array {
  const { grid, perCell } = layer;
  const out = new Float32Array(grid * grid * perCell * 2);
  let i = 0;
  for (let row = 0; row < grid; row++) {
    for (let col = 0; col < grid; col++) {
      for (let a = 0; a < perCell; a++) {
        out[i++] = (col + 0.5) / grid;
        out[i++] = (row + 0.5) / grid;
      }
    }
  }
  return out;
}
