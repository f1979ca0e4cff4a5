/** Shapes shared by the face detector's parts. */

/** Planar YUV 4:2:0 (ffmpeg pix_fmt yuv420p): Y plane width*height, then U and V planes (width/2)*(height/2); even width and height. */
export interface I420Image {
  width: number;
  height: number;
  data: Uint8Array;
}

/** An axis-aligned rectangle in pixels. */
export interface Rect {
  x: number;
  y: number;
  width: number;
  height: number;
}

/** A detected face in image pixel coordinates; keypoints: right eye, left eye, nose tip, mouth, right ear, left ear (the subject's sides). */
export interface FaceBox extends Rect {
  score: number;
  keypoints: Array<[number, number]>;
}

export type FaceDetectorErrorCode =
  | 'FACE_IMAGE_INVALID'
  | 'FACE_ROI_INVALID'
  | 'FACE_MODEL_MISSING'
  | 'FACE_MODEL_INVALID'
  | 'FACE_DETECTOR_CLOSED'
  | 'FACE_OPTIONS_INVALID';

export class FaceDetectorError extends Error {
  constructor(
    readonly code: FaceDetectorErrorCode,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = 'FaceDetectorError';
  }
}
