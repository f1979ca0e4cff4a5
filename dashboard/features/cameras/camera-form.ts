/**
 * The camera settings form as plain data: what the user types (a draft), its problems against
 * the protocol's limits (node-config.ts), the requests built from it, and the words for the
 * master's answers (a probe's failure, a change's push, a node's sync state). The password is
 * write-only: a draft never holds the saved one.
 */
import type {
  CameraChangeAnswer,
  CameraCreateRequest,
  CameraSettingsInput,
  CameraSettingsView,
  DetectSpec,
  NodeConfigStatus,
} from '@cctv/protocol';
import { ID_PATTERN, isValidId } from '@cctv/protocol/patterns';

export type Transport = 'tcp' | 'udp';

export interface CameraDraft {
  id: string;
  nodeId: string;
  name: string;
  url: string;
  substreamUrl: string;
  /** Typed only; empty keeps the saved one (or none). */
  password: string;
  /** Remove the saved password (edit only). */
  clearPassword: boolean;
  transports: Transport[];
  enabled: boolean;
  recordCodec: '' | 'hevc' | 'source';
  /** Motion (and face) detection on this camera. */
  detect: boolean;
  /** Motion sensitivity 1..10 as typed; empty: the node's default. */
  sensitivity: string;
  faces: boolean;
  /** Days the gateway keeps the recordings, as typed; empty: the gateway's own setting. */
  retentionDays: string;
}

export type DraftField =
  | 'id'
  | 'nodeId'
  | 'name'
  | 'url'
  | 'substreamUrl'
  | 'password'
  | 'sensitivity'
  | 'retentionDays';
export type DraftProblems = Partial<Record<DraftField, string>>;

/** The limits of node-config.ts, which the master checks again. */
export const LIMITS = { idMax: 63, nameMax: 120, urlMax: 2000, passwordMax: 256 } as const;

/** A stream URL's scheme; the master and the agent take rtsp(s) and http(s) sources. */
const STREAM_URL = /^(rtsps?|https?):\/\/[^\s/?#]+/i;
/** A URL naming a user (`rtsp://user@host`, `rtsp://user:pass@host`): a password needs one. */
const NAMES_USER = /^[a-z][a-z0-9+.-]*:\/\/[^\s/?#@:]+(:[^\s/?#@]*)?@/i;

export function emptyDraft(nodeId = ''): CameraDraft {
  return {
    id: '',
    nodeId,
    name: '',
    url: '',
    substreamUrl: '',
    password: '',
    clearPassword: false,
    transports: [],
    enabled: true,
    recordCodec: '',
    detect: true,
    sensitivity: '',
    faces: true,
    retentionDays: '',
  };
}

export function draftOfView(view: CameraSettingsView): CameraDraft {
  const codec = view.record?.codec;
  return {
    id: view.id,
    nodeId: view.nodeId,
    name: view.name,
    url: view.url,
    substreamUrl: view.substreamUrl ?? '',
    password: '',
    clearPassword: false,
    transports: (view.transports ?? []).filter((t): t is Transport => t === 'tcp' || t === 'udp'),
    enabled: view.enabled,
    recordCodec: codec === 'hevc' || codec === 'source' ? codec : '',
    detect: view.detect?.enabled ?? true,
    sensitivity: String(view.detect?.motion?.sensitivity ?? ''),
    faces: view.detect?.faces?.enabled ?? true,
    retentionDays: view.retentionDays === null ? '' : String(view.retentionDays),
  };
}

/** A camera id from its name: `Front door` → `front-door`; the user may change it. */
export function idFromName(name: string): string {
  return name
    .toLowerCase()
    .normalize('NFKD')
    .replace(/[^a-z0-9]+/g, '-')
    .replace(/^-+|-+$/g, '')
    .slice(0, LIMITS.idMax)
    .replace(/-+$/, '');
}

function urlProblem(url: string, required: boolean): string | undefined {
  const u = url.trim();
  if (!u) return required ? 'A stream URL is required.' : undefined;
  if (u.length > LIMITS.urlMax) return `At most ${LIMITS.urlMax} characters.`;
  if (!STREAM_URL.test(u))
    return 'A stream URL starts with rtsp://, rtsps://, http:// or https:// and a host.';
  return undefined;
}

/** The draft's problems, by field; empty when it can be sent. */
export function draftProblems(d: CameraDraft, creating: boolean): DraftProblems {
  const p: DraftProblems = {};
  if (creating) {
    if (!d.id) p.id = 'An id is required.';
    else if (d.id.length > LIMITS.idMax || !isValidId(d.id))
      p.id = `Lowercase letters, digits and "-", starting with a letter or digit, at most ${LIMITS.idMax} (${ID_PATTERN}).`;
    if (!d.nodeId) p.nodeId = 'Choose the node that records this camera.';
  }
  const name = d.name.trim();
  if (!name) p.name = 'A name is required.';
  else if (name.length > LIMITS.nameMax) p.name = `At most ${LIMITS.nameMax} characters.`;
  const url = urlProblem(d.url, true);
  if (url) p.url = url;
  const sub = urlProblem(d.substreamUrl, false);
  if (sub) p.substreamUrl = sub;
  const sensitivity = Number(d.sensitivity);
  if (d.sensitivity !== '' && (!Number.isInteger(sensitivity) || sensitivity < 1 || sensitivity > 10))
    p.sensitivity = 'A whole number from 1 (only large, strong changes) to 10 (small, faint ones).';
  const days = Number(d.retentionDays);
  if (d.retentionDays !== '' && (!Number.isInteger(days) || days < 0 || days > 3650))
    p.retentionDays = 'Whole days from 0 (kept until the NAS fills) to 3650; empty: the gateway decides.';
  if (d.password.length > LIMITS.passwordMax) p.password = `At most ${LIMITS.passwordMax} characters.`;
  else if (d.password && !url && !NAMES_USER.test(d.url.trim()))
    p.password = 'Put the user name in the URL (rtsp://user@host/…): the password goes with it.';
  return p;
}

/**
 * The detection settings of a draft over the saved ones: only what the form changed is written,
 * so defaults stay defaults and the keys the form does not show (zones, masks…) stay as saved.
 */
export function detectOf(d: CameraDraft, saved: DetectSpec | null | undefined): DetectSpec | undefined {
  const detect: DetectSpec = { ...(saved ?? {}) };
  if (d.detect !== (saved?.enabled ?? true)) detect.enabled = d.detect;
  if (d.faces !== (saved?.faces?.enabled ?? true)) detect.faces = { ...saved?.faces, enabled: d.faces };
  const sensitivity = d.sensitivity === '' ? undefined : Number(d.sensitivity);
  if (sensitivity !== saved?.motion?.sensitivity) {
    const { sensitivity: _old, ...motion } = saved?.motion ?? {};
    detect.motion = sensitivity === undefined ? motion : { ...motion, sensitivity };
  }
  return Object.keys(detect).length > 0 ? detect : undefined;
}

/** The secret-free settings of a draft, over the camera's saved detection settings. */
function settingsOf(d: CameraDraft, saved: CameraSettingsView['detect']): CameraSettingsInput {
  const input: CameraSettingsInput = { name: d.name.trim(), url: d.url.trim(), enabled: d.enabled };
  if (d.substreamUrl.trim()) input.substreamUrl = d.substreamUrl.trim();
  if (d.transports.length > 0) input.transports = d.transports;
  if (d.recordCodec) input.record = { codec: d.recordCodec };
  if (d.retentionDays !== '') input.retentionDays = Number(d.retentionDays);
  const detect = detectOf(d, saved);
  if (detect) input.detect = detect;
  if (d.password) input.password = d.password;
  else if (d.clearPassword) input.password = '';
  return input;
}

export function createRequest(d: CameraDraft): CameraCreateRequest {
  return { id: d.id, nodeId: d.nodeId, ...settingsOf(d, null) };
}

/** `PUT` of an edited draft: detection settings the form does not show go back unchanged. */
export function updateRequest(d: CameraDraft, view: CameraSettingsView): CameraSettingsInput {
  return settingsOf(d, view.detect);
}

/** `PUT` of a saved camera with some settings changed (enable, zones): its password stays. */
export function changedSettings(
  view: CameraSettingsView,
  patch: Partial<CameraSettingsInput>,
): CameraSettingsInput {
  return { ...settingsOf(draftOfView(view), view.detect), ...patch };
}

/** A URL as shown: any password in it replaced (the master never sends one; a typed URL may hold one). */
export function displayUrl(url: string): string {
  return url.replace(/^([a-z][a-z0-9+.-]*:\/\/[^/@:\s]*):[^/@\s]*@/i, '$1:***@');
}

/** The master's probe refusals (`422 {code, message}`), in words. */
const PROBE_MESSAGES: Record<string, string> = {
  BAD_URL: 'The URL is not a stream URL the node can open.',
  AUTH_FAILED: 'The camera refused the user name or password.',
  UNREACHABLE: 'The node cannot reach the camera (host down, wrong address or port, or a firewall).',
  NOT_FOUND: 'The camera has no stream at that path.',
  TIMEOUT: 'The camera did not answer in time.',
  NO_VIDEO: 'The stream has no video.',
  BUSY: 'The node is busy with other probes; try again in a moment.',
  PROBE_FAILED: 'The probe failed.',
  NODE_OFFLINE: 'The node is offline.',
  MASTER_UNREACHABLE: 'The master is unreachable.',
};

export function probeErrorText(code: string, message: string): string {
  const known = PROBE_MESSAGES[code];
  if (!known) return message || code;
  return message && message !== code && code === 'PROBE_FAILED' ? `${known} ${message}` : known;
}

/** What became of a change on the node. */
export function pushText(answer: CameraChangeAnswer): string {
  const v = `version ${answer.version}`;
  if (answer.push.state === 'applied') return `Saved as ${v}; the node runs it.`;
  if (answer.push.state === 'queued') return `Saved as ${v}; the node gets it when it is back online.`;
  return `Saved as ${v}, but the node refused it${answer.push.reason ? `: ${answer.push.reason}` : '.'}`;
}

/** A node's config sync state in words. */
export function syncText(config: NodeConfigStatus | undefined): string {
  if (!config) return 'unknown';
  switch (config.sync) {
    case 'in_sync':
      return `in sync (v${config.appliedVersion ?? '?'})`;
    case 'pending':
      return `pending (v${config.desiredVersion ?? '?'})`;
    case 'failed':
      return `failed${config.reason ? `: ${config.reason}` : ''}`;
    case 'file_managed':
      return 'file-managed';
    case 'unconfigured':
      return 'no cameras yet';
    default:
      return 'unknown';
  }
}
