/**
 * `cmd/probe`: before a camera is saved, one node opens its stream URL and answers what it found
 * (codec, size, rate, the RTSP transports that worked, one small JPEG frame), or why it could not
 * (`PROBE_ERRORS`). Browser-safe: no validator is compiled here.
 */
import { type Static, Type } from '@sinclair/typebox';
import { ID_PATTERN } from './patterns.ts';

/** URL schemes a node can probe: those its camera config reads over the network. */
export const PROBE_URL_PATTERN = '^(?:[Rr][Tt][Ss][Pp][Ss]?|[Hh][Tt][Tt][Pp][Ss]?)://[^\\s]+$';
export const PROBE_URL_MAX_LENGTH = 2000;
export const PROBE_TIMEOUT_MS = { min: 1000, default: 10_000, max: 15_000 } as const;
/** The snapshot's widest side; a taller picture keeps its aspect ratio. */
export const PROBE_SNAPSHOT_MAX_WIDTH = 640;
/** Base64 characters of the snapshot (about 150 KB of JPEG): the reply must fit one MQTT packet. */
export const PROBE_SNAPSHOT_MAX_BASE64 = 200_000;

/** Why a probe failed: the reply's error code; each comes with a message a user can act on. */
export const PROBE_ERRORS = {
  /** Malformed URL, or a scheme the node cannot read. */
  badUrl: 'BAD_URL',
  /** The camera refused the user name or password (401), or access to the stream (403). */
  authFailed: 'AUTH_FAILED',
  /** Connection refused, no route to the host, or a host name that does not resolve. */
  unreachable: 'UNREACHABLE',
  /** The camera answered, but has no stream at that path (404). */
  notFound: 'NOT_FOUND',
  /** No answer, or no picture, within the probe's time. */
  timeout: 'TIMEOUT',
  /** The stream carries no video. */
  noVideo: 'NO_VIDEO',
  /** The node is already probing another URL. */
  busy: 'BUSY',
  /** Anything else; the message says what ffmpeg reported. */
  failed: 'PROBE_FAILED',
} as const;
export type ProbeErrorCode = (typeof PROBE_ERRORS)[keyof typeof PROBE_ERRORS];

const Transport = Type.Union([Type.Literal('tcp'), Type.Literal('udp')]);

export const ProbeUrl = Type.String({
  minLength: 1,
  maxLength: PROBE_URL_MAX_LENGTH,
  pattern: PROBE_URL_PATTERN,
  description: 'rtsp://, rtsps://, http:// or https:// stream URL',
});

export const ProbeTransports = Type.Array(Transport, {
  minItems: 1,
  maxItems: 2,
  uniqueItems: true,
  description: 'RTSP transports to try, in order (default tcp, then udp)',
});

export const ProbeTimeout = Type.Integer({
  minimum: PROBE_TIMEOUT_MS.min,
  maximum: PROBE_TIMEOUT_MS.max,
  description: `the whole probe's time limit (default ${PROBE_TIMEOUT_MS.default} ms)`,
});

/** `args` of `cmd/probe`. */
export const ProbeArgs = Type.Object(
  {
    url: ProbeUrl,
    transports: Type.Optional(ProbeTransports),
    timeoutMs: Type.Optional(ProbeTimeout),
  },
  { additionalProperties: false },
);
export type ProbeArgs = Static<typeof ProbeArgs>;

/** The `result` of `cmd/probe`. */
export const ProbeResult = Type.Object(
  {
    /** ffprobe's codec name: h264, hevc, mjpeg… */
    codec: Type.String({ minLength: 1, maxLength: 64 }),
    width: Type.Integer({ minimum: 0, maximum: 100_000 }),
    height: Type.Integer({ minimum: 0, maximum: 100_000 }),
    fps: Type.Number({ minimum: 0, maximum: 1000 }),
    /** The RTSP transports that played; empty for HTTP streams, which have none to choose. */
    transports: Type.Array(Transport, { maxItems: 2 }),
    hasAudio: Type.Optional(Type.Boolean()),
    snapshot: Type.Object(
      {
        mime: Type.Literal('image/jpeg'),
        base64: Type.String({ minLength: 1, maxLength: PROBE_SNAPSHOT_MAX_BASE64 }),
      },
      { additionalProperties: false },
    ),
  },
  { additionalProperties: false },
);
export type ProbeResult = Static<typeof ProbeResult>;

/** `POST /api/nodes/:id/probe`: the password travels apart from the URL and is never stored. */
export const NodeProbeRequest = Type.Object(
  {
    url: ProbeUrl,
    /** Put into the URL by the master; the URL must name the user. Write-only. */
    password: Type.Optional(Type.String({ minLength: 1, maxLength: 256, writeOnly: true })),
    /**
     * A saved camera (desired configuration) being edited: without `password`, its saved one is
     * used, and only for a URL on the host and port of the camera's own saved URLs.
     */
    cameraId: Type.Optional(Type.String({ pattern: ID_PATTERN, maxLength: 63 })),
    transports: Type.Optional(ProbeTransports),
    timeoutMs: Type.Optional(ProbeTimeout),
  },
  { additionalProperties: false },
);
export type NodeProbeRequest = Static<typeof NodeProbeRequest>;

const CREDENTIALS_IN_URL = /([a-z][a-z0-9+.-]*:\/\/[^\s/?#@:]*):[^\s/?#]*@/gi;

/**
 * `text` with the password of every URL in it replaced (`user:pass@` → `user:***@`), and every
 * literal `secrets` too, as given, percent-decoded and percent-encoded: for what is logged,
 * audited or shown.
 */
export function redactCredentials(text: string, secrets: readonly string[] = []): string {
  let out = text.replace(CREDENTIALS_IN_URL, '$1:***@');
  const forms = new Set(secrets.flatMap((s) => [s, percentDecoded(s), encodeURIComponent(s)]));
  for (const form of forms) if (form.length > 0) out = out.split(form).join('***');
  return out;
}

function percentDecoded(s: string): string {
  try {
    return decodeURIComponent(s);
  } catch {
    return s;
  }
}
