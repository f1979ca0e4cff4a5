/**
 * Live view contracts. WebRTC signalling: the dashboard talks to the master over the
 * `/ws/live` websocket (LiveClientMessage / LiveServerMessage); the master relays to the
 * camera's agent as commands (`cmd/webrtc-offer`, `cmd/webrtc-candidates`, `cmd/webrtc-close`,
 * `cmd/jsmpeg-open`), each answered on `reply/{reqId}`. The browser offers (receive only), the
 * agent answers with every candidate it gathered; the browser's candidates trickle after the
 * answer.
 */
import { type Static, Type } from '@sinclair/typebox';
import { CameraId } from './ids.ts';

/** A live session id, chosen by the master; travels in command args and websocket messages. */
export const LIVE_SESSION_PATTERN = '^[A-Za-z0-9_-]{8,64}$';
export const LiveSessionId = Type.String({ pattern: LIVE_SESSION_PATTERN });

/** A client's reference for a request on the live socket, echoed in the answer. */
const Ref = Type.String({ minLength: 1, maxLength: 64 });

/** An SDP blob; browsers' offers are a few kilobytes. */
const Sdp = Type.String({ minLength: 10, maxLength: 64_000 });

/** One STUN or TURN server, as `RTCIceServer` takes it. */
export const IceServer = Type.Object(
  {
    urls: Type.Union([
      Type.String({ pattern: '^(stun|stuns|turn|turns):', maxLength: 500 }),
      Type.Array(Type.String({ pattern: '^(stun|stuns|turn|turns):', maxLength: 500 }), {
        minItems: 1,
        maxItems: 8,
      }),
    ]),
    username: Type.Optional(Type.String({ maxLength: 500 })),
    credential: Type.Optional(Type.String({ maxLength: 500 })),
  },
  { additionalProperties: false },
);
export type IceServer = Static<typeof IceServer>;

/** An ICE candidate as `RTCIceCandidate.toJSON()` gives it. */
export const IceCandidate = Type.Object(
  {
    candidate: Type.String({ maxLength: 1000 }),
    sdpMid: Type.Optional(Type.Union([Type.String({ maxLength: 64 }), Type.Null()])),
    sdpMLineIndex: Type.Optional(Type.Union([Type.Integer({ minimum: 0, maximum: 64 }), Type.Null()])),
    usernameFragment: Type.Optional(Type.Union([Type.String({ maxLength: 256 }), Type.Null()])),
  },
  { additionalProperties: false },
);
export type IceCandidate = Static<typeof IceCandidate>;

const Candidates = Type.Array(IceCandidate, { minItems: 1, maxItems: 64 });

/** Error codes of live view, besides the command ones. */
export const LIVE_ERRORS = {
  /** The camera already has as many viewers as its agent allows (or the agent its total). */
  limit: 'LIVE_LIMIT',
  unknownCamera: 'UNKNOWN_CAMERA',
  unknownSession: 'UNKNOWN_SESSION',
  /** The camera's source cannot be sent live in this mode (e.g. not H.264 and transcoding off). */
  unsupported: 'LIVE_UNSUPPORTED',
  /** The mode is off on the node for now (its port could not be opened): retried by the agent. */
  unavailable: 'LIVE_UNAVAILABLE',
  /** The user may not see the camera. */
  forbidden: 'FORBIDDEN',
  nodeOffline: 'NODE_OFFLINE',
  badMessage: 'BAD_MESSAGE',
  /** The agent did not answer in time. */
  timeout: 'COMMAND_TIMEOUT',
} as const;

// Agent commands.

export const WebrtcOfferArgs = Type.Object(
  {
    session: LiveSessionId,
    camera: CameraId,
    sdp: Sdp,
    /** Who watches, for the agent's log. */
    user: Type.Optional(Type.String({ maxLength: 64 })),
  },
  { additionalProperties: false },
);
export type WebrtcOfferArgs = Static<typeof WebrtcOfferArgs>;

export const WebrtcOfferResult = Type.Object(
  { session: LiveSessionId, sdp: Sdp },
  { additionalProperties: false },
);
export type WebrtcOfferResult = Static<typeof WebrtcOfferResult>;

export const WebrtcCandidatesArgs = Type.Object(
  { session: LiveSessionId, candidates: Candidates },
  { additionalProperties: false },
);
export type WebrtcCandidatesArgs = Static<typeof WebrtcCandidatesArgs>;

export const WebrtcCloseArgs = Type.Object({ session: LiveSessionId }, { additionalProperties: false });
export type WebrtcCloseArgs = Static<typeof WebrtcCloseArgs>;

export const JsmpegOpenArgs = Type.Object({ camera: CameraId }, { additionalProperties: false });
export type JsmpegOpenArgs = Static<typeof JsmpegOpenArgs>;

export const JsmpegOpenResult = Type.Object(
  {
    /** `ws(s)://agent:port/live/jsmpeg/<camera>?ticket=…`: single use, until `expiresAt`. */
    url: Type.String({ pattern: '^wss?://', maxLength: 2000 }),
    expiresAt: Type.String({ format: 'date-time', maxLength: 40 }),
  },
  { additionalProperties: false },
);
export type JsmpegOpenResult = Static<typeof JsmpegOpenResult>;

export const LiveHlsOpenArgs = Type.Object({ camera: CameraId }, { additionalProperties: false });
export type LiveHlsOpenArgs = Static<typeof LiveHlsOpenArgs>;

export const LiveHlsOpenResult = Type.Object(
  {
    /** started: the feed starts now; running: it was being sent already. */
    feed: Type.Union([Type.Literal('started'), Type.Literal('running')]),
  },
  { additionalProperties: false },
);
export type LiveHlsOpenResult = Static<typeof LiveHlsOpenResult>;

/** Live commands the master relays from `/ws/live`. */
export const LIVE_COMMANDS = {
  offer: 'webrtc-offer',
  candidates: 'webrtc-candidates',
  close: 'webrtc-close',
  jsmpeg: 'jsmpeg-open',
  /** Start (or keep) the camera's low-latency feed to the gateway, for live HLS. */
  hls: 'live-hls-open',
} as const;

// The dashboard's live socket.

export const LiveClientMessage = Type.Union([
  Type.Object(
    { type: Type.Literal('offer'), ref: Ref, camera: CameraId, sdp: Sdp },
    { additionalProperties: false },
  ),
  Type.Object(
    { type: Type.Literal('candidates'), session: LiveSessionId, candidates: Candidates },
    { additionalProperties: false },
  ),
  Type.Object({ type: Type.Literal('close'), session: LiveSessionId }, { additionalProperties: false }),
  Type.Object({ type: Type.Literal('jsmpeg'), ref: Ref, camera: CameraId }, { additionalProperties: false }),
]);
export type LiveClientMessage = Static<typeof LiveClientMessage>;

export type LiveServerMessage =
  /** First message on every live socket: what `RTCPeerConnection` should use. */
  | { type: 'ready'; iceServers: IceServer[] }
  | { type: 'answer'; ref: string; session: string; sdp: string }
  | { type: 'jsmpeg'; ref: string; url: string; expiresAt: string }
  | { type: 'error'; ref?: string; session?: string; code: string; message: string };
