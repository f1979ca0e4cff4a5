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

/** A rendition that could not be served: `code` for the JSON body, `statusCode` for HTTP. */
export class RenditionError extends Error {
  readonly statusCode: number;
  constructor(
    readonly code: RenditionErrorCode,
    message: string,
    /** Sent as `Retry-After` (seconds) with `busy`. */
    readonly retryAfterS?: number,
  ) {
    super(message);
    this.name = 'RenditionError';
    this.statusCode = RENDITION_ERROR_STATUS[code];
  }
}
