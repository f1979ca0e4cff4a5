import { GatewayError } from '../gateway-error.ts';

/** Why a rendition could not be served; `code` is also the JSON error code. */
export const RENDITION_ERROR_STATUS = {
  /** Every transcode slot is taken and the queue is full: come back after `retryAfterS`. */
  busy: 503,
  /** The service is stopping. */
  stopped: 503,
  /** Indexed, but the init or media file is in neither the buffer nor the NAS. */
  source_missing: 404,
  /** The source could not be read (NAS unreachable, I/O error). */
  source_unreadable: 503,
  /** ffmpeg exited with an error or wrote nothing. */
  transcode_failed: 500,
  /** ffmpeg ran past the configured timeout and was killed. */
  transcode_timeout: 504,
} as const;
export type RenditionErrorCode = keyof typeof RENDITION_ERROR_STATUS;

/** A rendition that could not be served; `retryAfterS` comes with `busy`. */
export class RenditionError extends GatewayError<RenditionErrorCode> {
  constructor(code: RenditionErrorCode, message: string, retryAfterS?: number) {
    super(code, RENDITION_ERROR_STATUS[code], message, retryAfterS);
  }
}
