/**
 * What needs no model: the frame and box types, and the privacy blur. Face detection (with
 * onnxruntime, which costs memory) is `@cctv/vision/faces`, loaded only by who detects faces.
 */
export { type FaceBox, FaceDetectorError, type I420Image, type Rect } from './faces/types.ts';
export { type MovingRegionOptions, MovingRegions } from './moving-regions.ts';
export { blurRegions } from './privacy-blur.ts';
