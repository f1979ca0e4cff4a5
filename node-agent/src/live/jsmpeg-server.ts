/**
 * The jsmpeg low-bandwidth live fallback: MPEG-1 in MPEG-TS over a WebSocket, decoded in the
 * browser by JSMpeg where WebRTC and HLS do not get through. One ffmpeg per camera, started by
 * its first viewer and shared by all of them; each viewer needs a single-use ticket from `open()`.
 *
 * We run our own `ws` server rather than node-rtsp-stream's VideoStream, which opens an
 * unauthenticated server per stream and prepends the old 8-byte `jsmp` header that current
 * JSMpeg clients (phoboslab 0.2+, @cycjimmy/jsmpeg-player) would take for TS data.
 *
 * A port that cannot be opened (in use, not allowed, unknown host) leaves the server
 * unavailable, not the agent: it keeps retrying with backoff and says so through `status()`
 * and its callbacks, while recording goes on.
 *
 * With a certificate and key (`tls`) it serves `wss://` only, and takes a renewed pair for
 * new connections when the files change; a plain `ws://` client gets no answer.
 *
 * Over 300 lines: the viewers' sockets and each camera's shared muxer are one lifecycle (the
 * muxer starts with the first viewer and stops after the last). Listening with retries is
 * retrying-listener.ts, tickets jsmpeg-access.ts, the muxer process jsmpeg-muxer.ts.
 */
import {
  createServer,
  type IncomingMessage,
  type RequestListener,
  type Server,
  STATUS_CODES,
} from 'node:http';
import { createServer as createTlsServer, type Server as TlsServer } from 'node:https';
import type { Duplex } from 'node:stream';
import { isValidId, LIVE_ERRORS } from '@cctv/protocol';
import { readServerTls, reloadOnChange, type TlsFiles } from '@cctv/tls/server-tls';
import type { Logger } from 'pino';
import { type WebSocket, WebSocketServer } from 'ws';
import type { BackoffPolicy, Sleep } from '../process/backoff.ts';
import {
  answerRefusal,
  cameraOfPath,
  PATH_PREFIX,
  type Refusal,
  type RefusalReason,
  TicketBook,
} from './jsmpeg-access.ts';
import { type LiveInput, type MuxerExit, MuxerRun } from './jsmpeg-muxer.ts';
import { type ListenStatus, RetryingListener } from './retrying-listener.ts';

export type { RefusalReason } from './jsmpeg-access.ts';
export type { LiveInput } from './jsmpeg-muxer.ts';

export interface JsmpegServerOptions {
  host: string;
  /** 0 = any free port (tests). */
  port: number;
  /** The server's certificate and key files: `wss://` only, reloaded when they change. */
  tls?: TlsFiles | undefined;
  /** How often the certificate files are checked for a change (default 60 s). */
  tlsReloadMs?: number;
  logger: Logger;
  /** null = unknown camera. */
  inputFor: (cameraId: string) => Promise<LiveInput | null>;
  /** mpeg1video `-b:v`, e.g. 800. */
  bitrateKbps: number;
  /** Scaled down to at most this width, aspect kept, e.g. 640. */
  maxWidth: number;
  /** Output frame rate, e.g. 15. */
  fps: number;
  maxViewersPerCamera: number;
  ticketTtlMs: number;
  /** Keep the muxer this long after the last viewer leaves (0 = stop at once). */
  lingerMs: number;
  now?: () => number;
  onViewers?: (cameraId: string, viewers: number) => void;
  onRefused?: (reason: RefusalReason) => void;
  ffmpegPath?: string;
  /** A viewer with more than this queued is closed (4008) instead of buffering without bound. */
  maxBufferedBytes?: number;
  /** Delays between listen attempts while the port cannot be opened (default 1 s doubling to 60 s). */
  backoff?: BackoffPolicy;
  sleep?: Sleep;
  /** Failed listen attempts after the first are logged at most this often (default 60 s). */
  failureLogEveryMs?: number;
  /** The outcome of the first listen attempt, then every change between listening and not. */
  onStatus?: (status: JsmpegStatus) => void;
  /** Every failed listen attempt, with its error code (EADDRINUSE, EACCES, ENOTFOUND, …). */
  onListenFailed?: (code: string) => void;
}

/** Listening on `port`, or not (yet, or any more) with the reason, e.g. "port 8091 in use". */
export type JsmpegStatus = ListenStatus;

export type LiveErrorCode = 'LIVE_LIMIT' | 'UNKNOWN_CAMERA' | 'LIVE_UNSUPPORTED' | 'LIVE_UNAVAILABLE';

export class LiveError extends Error {
  constructor(
    readonly code: LiveErrorCode,
    message: string,
  ) {
    super(message);
  }
}

/** WebSocket close codes a viewer can get (4000–4999 are the application's). */
export const CloseCode = {
  serverStopping: 1001,
  cameraEnded: 4000,
  sourceEnded: 4001,
  unknownCamera: 4004,
  tooSlow: 4008,
} as const;

const TS_PACKET = 188;

/** One camera's viewers and its muxer. */
interface CameraLive {
  cameraId: string;
  sockets: Set<WebSocket>;
  /** Viewers that joined a running muxer and must start on a TS packet boundary. */
  unaligned: Set<WebSocket>;
  run: MuxerRun | null;
  starting: boolean;
  /** Bytes the muxer has written so far, to find packet boundaries in later chunks. */
  offset: number;
  linger: NodeJS.Timeout | null;
}

export class JsmpegServer {
  private readonly http: Server | TlsServer;
  private readonly wss = new WebSocketServer({ noServer: true, maxPayload: 1024 });
  private readonly tickets: TicketBook;
  private readonly cameras = new Map<string, CameraLive>();
  /** Muxers being stopped, so stop() can wait for them. */
  private readonly stopping = new Set<Promise<void>>();
  private readonly log: Logger;
  private closing = false;
  private stopped: Promise<void> | null = null;
  private readonly listener: RetryingListener;
  private stopReload: () => void = () => {};

  constructor(private readonly opts: JsmpegServerOptions) {
    this.log = opts.logger.child({ part: 'jsmpeg' });
    this.tickets = new TicketBook(opts.ticketTtlMs, opts.now ?? Date.now);
    const answer: RequestListener = (req, res) => {
      // Plain requests get nothing; only WebSocket upgrades are served.
      const status = req.url?.startsWith(PATH_PREFIX) ? 426 : 404;
      res.writeHead(status, { 'content-type': 'text/plain' }).end(`${STATUS_CODES[status]}\n`);
    };
    if (opts.tls) {
      const files = opts.tls;
      const server = createTlsServer(readServerTls(files, 'jsmpeg TLS'), answer);
      this.stopReload = reloadOnChange(
        server,
        files,
        (err) =>
          err
            ? this.log.error(
                { err: err.message, ...files },
                'jsmpeg certificate not reloaded: the old one stays',
              )
            : this.log.info(files, 'jsmpeg certificate reloaded'),
        opts.tlsReloadMs,
      );
      // A client that does not speak TLS, or distrusts the certificate, is no agent problem.
      server.on('tlsClientError', (err, socket) =>
        this.log.debug({ err: err.message, remote: socket.remoteAddress }, 'jsmpeg TLS handshake failed'),
      );
      this.http = server;
    } else this.http = createServer(answer);
    this.http.on('upgrade', (req, socket, head) => this.upgrade(req, socket, head));
    // Listen failures are the attempt's to handle; without a listener, a later error (an
    // accept failing at the file limit) would take the whole agent down.
    this.http.on('error', (err) => {
      if (this.http.listening) this.log.warn({ err }, 'jsmpeg live server error');
    });
    this.listener = new RetryingListener({
      server: this.http,
      host: opts.host,
      port: opts.port,
      name: 'jsmpeg live server',
      tls: opts.tls !== undefined,
      logger: this.log,
      now: opts.now ?? Date.now,
      backoff: opts.backoff,
      sleep: opts.sleep,
      failureLogEveryMs: opts.failureLogEveryMs,
      onStatus: opts.onStatus,
      onListenFailed: opts.onListenFailed,
    });
  }

  /**
   * Listens; resolves with the first attempt's outcome and never rejects for a listen failure.
   * While the port cannot be opened it retries in the background, with backoff, until it
   * listens or stop() is called.
   */
  start(): Promise<JsmpegStatus> {
    return this.listener.start();
  }

  status(): JsmpegStatus {
    return this.listener.status();
  }

  /** The bound port (the real one when configured as 0); null while not listening. */
  get port(): number | null {
    const current = this.listener.status();
    return current.listening ? current.port : null;
  }

  /** Closes every viewer and the listener, kills every ffmpeg; resolves when they have exited. */
  stop(): Promise<void> {
    this.stopped ??= this.shutDown();
    return this.stopped;
  }

  private async shutDown(): Promise<void> {
    this.closing = true;
    this.stopReload();
    // An attempt in flight may still bind the port: let it settle, then close what it opened.
    await this.listener.close();
    this.tickets.clear();
    for (const live of [...this.cameras.values()])
      this.endLive(live, CloseCode.serverStopping, 'server stopping');
    const closed = new Promise<void>((resolve) => this.http.close(() => resolve()));
    // Viewers get a moment to answer the close frame; the rest are cut.
    await Promise.race([
      Promise.all([...this.wss.clients].map((ws) => new Promise((r) => ws.once('close', r)))),
      new Promise((r) => setTimeout(r, 500)),
    ]);
    for (const ws of this.wss.clients) ws.terminate();
    this.http.closeAllConnections();
    await Promise.all([closed, ...this.stopping]);
    this.listener.stopped();
  }

  async open(cameraId: string): Promise<{ path: string; ticket: string; expiresAt: string }> {
    // No ticket for a server nobody can reach: the viewer would only find a closed port.
    const current = this.listener.status();
    if (!current.listening || this.closing) {
      const why = this.closing || current.listening ? 'stopping' : current.reason;
      throw new LiveError(
        LIVE_ERRORS.unavailable,
        `jsmpeg live view is unavailable on this node (${why}${this.listener.failures > 0 ? '; retrying' : ''})`,
      );
    }
    if (!isValidId(cameraId) || (await this.opts.inputFor(cameraId)) === null)
      throw new LiveError('UNKNOWN_CAMERA', `camera ${cameraId} is unknown`);
    // Counted after the await, so two concurrent opens cannot both take the last place.
    const taken = this.viewers(cameraId) + this.tickets.pending(cameraId);
    if (taken >= this.opts.maxViewersPerCamera)
      throw new LiveError(
        'LIVE_LIMIT',
        `camera ${cameraId} already has ${taken} of ${this.opts.maxViewersPerCamera} live viewers`,
      );
    return { path: `${PATH_PREFIX}${cameraId}`, ...this.tickets.issue(cameraId) };
  }

  endCamera(cameraId: string, reason: string): void {
    this.tickets.revoke(cameraId);
    const live = this.cameras.get(cameraId);
    if (live) this.endLive(live, CloseCode.cameraEnded, reason);
  }

  viewers(cameraId: string): number {
    return this.cameras.get(cameraId)?.sockets.size ?? 0;
  }

  private upgrade(req: IncomingMessage, socket: Duplex, head: Buffer): void {
    // A client that resets mid-handshake must not take the agent down.
    socket.on('error', (err) => this.log.debug({ err }, 'jsmpeg upgrade socket error'));
    let url: URL | null = null;
    try {
      url = new URL(req.url ?? '/', 'http://live.invalid');
    } catch {
      // Refused below as a bad path.
    }
    let verdict: { cameraId: string } | Refusal = { status: 503, reason: 'stopping' };
    if (!url) verdict = { status: 404, reason: 'bad-path' };
    else if (!this.closing) verdict = cameraOfPath(url.pathname);
    if ('cameraId' in verdict) {
      const refusal = this.tickets.take(url?.searchParams.get('ticket') ?? null, verdict.cameraId);
      if (refusal) verdict = { status: 401, reason: refusal };
    }
    if ('cameraId' in verdict) {
      const { cameraId } = verdict;
      this.wss.handleUpgrade(req, socket, head, (ws) => this.attach(cameraId, ws));
      return;
    }
    const { status, reason } = verdict;
    // The query holds the ticket: only the path is logged.
    this.log.warn(
      { status, reason, path: url?.pathname, remote: req.socket.remoteAddress },
      'live viewer refused',
    );
    this.opts.onRefused?.(reason);
    answerRefusal(socket, status);
  }

  private attach(cameraId: string, ws: WebSocket): void {
    let live = this.cameras.get(cameraId);
    if (!live) {
      live = {
        cameraId,
        sockets: new Set(),
        unaligned: new Set(),
        run: null,
        starting: false,
        offset: 0,
        linger: null,
      };
      this.cameras.set(cameraId, live);
    }
    const joined = live;
    joined.sockets.add(ws);
    if (joined.run) joined.unaligned.add(ws);
    if (joined.linger) clearTimeout(joined.linger);
    joined.linger = null;
    ws.on('error', (err) => this.log.debug({ err, cameraId }, 'jsmpeg viewer socket error'));
    ws.on('close', () => this.detach(joined, ws));
    this.log.info({ cameraId, viewers: joined.sockets.size }, 'live viewer joined');
    this.opts.onViewers?.(cameraId, joined.sockets.size);
    if (!joined.run && !joined.starting) void this.startMuxer(joined);
  }

  private detach(live: CameraLive, ws: WebSocket): void {
    if (!live.sockets.delete(ws)) return;
    live.unaligned.delete(ws);
    this.log.info({ cameraId: live.cameraId, viewers: live.sockets.size }, 'live viewer left');
    this.opts.onViewers?.(live.cameraId, live.sockets.size);
    if (live.sockets.size > 0 || this.cameras.get(live.cameraId) !== live) return;
    const idle = () => {
      live.linger = null;
      if (live.sockets.size === 0) this.endLive(live, CloseCode.cameraEnded, 'no viewers');
    };
    if (this.opts.lingerMs <= 0) {
      idle();
      return;
    }
    live.linger = setTimeout(idle, this.opts.lingerMs);
    live.linger.unref();
  }

  private async startMuxer(live: CameraLive): Promise<void> {
    live.starting = true;
    const log = this.log.child({ cameraId: live.cameraId });
    let input: LiveInput | null;
    try {
      input = await this.opts.inputFor(live.cameraId);
    } catch (err) {
      log.error({ err }, 'live input lookup failed');
      input = null;
    } finally {
      live.starting = false;
    }
    // Everyone may have left, or the camera been ended, while we looked the input up.
    if (this.cameras.get(live.cameraId) !== live || live.sockets.size === 0 || this.closing) return;
    if (!input) return this.endLive(live, CloseCode.unknownCamera, 'unknown camera');
    live.offset = 0;
    const run = new MuxerRun({
      input,
      settings: this.opts,
      ffmpegPath: this.opts.ffmpegPath ?? 'ffmpeg',
      logger: log,
      onData: (chunk) => this.broadcast(live, chunk),
      onExit: (exit) => this.muxerExited(live, run, exit),
    });
    live.run = run;
  }

  private muxerExited(live: CameraLive, run: MuxerRun, exit: MuxerExit): void {
    if (live.run !== run) return;
    live.run = null;
    if (!exit.expected) this.endLive(live, CloseCode.sourceEnded, 'source ended');
  }

  private broadcast(live: CameraLive, chunk: Buffer): void {
    const start = live.offset;
    live.offset += chunk.length;
    const limit = this.opts.maxBufferedBytes ?? 2 * 1024 * 1024;
    for (const ws of live.sockets) {
      if (ws.readyState !== ws.OPEN) continue;
      if (ws.bufferedAmount > limit) {
        this.log.warn({ cameraId: live.cameraId, buffered: ws.bufferedAmount }, 'live viewer too slow');
        ws.close(CloseCode.tooSlow, 'too slow');
        continue;
      }
      let data = chunk;
      if (live.unaligned.has(ws)) {
        // ffmpeg's stdout chunks cut TS packets anywhere; a late joiner starts on a whole one.
        const skip = (TS_PACKET - (start % TS_PACKET)) % TS_PACKET;
        if (skip >= chunk.length) continue;
        data = chunk.subarray(skip);
        live.unaligned.delete(ws);
      }
      ws.send(data, { binary: true });
    }
  }

  /** Closes the camera's viewers, forgets it, and stops its muxer (tracked until exited). */
  private endLive(live: CameraLive, code: number, reason: string): void {
    if (live.linger) clearTimeout(live.linger);
    live.linger = null;
    if (this.cameras.get(live.cameraId) === live) this.cameras.delete(live.cameraId);
    const why = closeReason(reason);
    // Ended viewers stop counting now, not when their close handshake finishes.
    const ended = [...live.sockets];
    live.sockets.clear();
    live.unaligned.clear();
    for (const ws of ended) if (ws.readyState === ws.OPEN) ws.close(code, why);
    if (ended.length > 0) {
      this.log.info({ cameraId: live.cameraId, code, reason, viewers: ended.length }, 'live viewers closed');
      this.opts.onViewers?.(live.cameraId, 0);
    }
    const run = live.run;
    live.run = null;
    if (run) {
      const stopped = run.stop();
      this.stopping.add(stopped);
      void stopped.finally(() => this.stopping.delete(stopped));
    }
  }
}

/** A WebSocket close reason may be at most 123 bytes of UTF-8. */
function closeReason(reason: string): string {
  let why = reason;
  while (Buffer.byteLength(why) > 123) why = why.slice(0, -1);
  return why;
}
