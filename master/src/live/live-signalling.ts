/**
 * WebRTC signalling for the dashboard (`/ws/live`): a browser's offer goes to the camera's
 * agent as `cmd/webrtc-offer` and its answer comes back on the socket; the browser's ICE
 * candidates follow as `cmd/webrtc-candidates`; a `close`, or the socket closing, ends the
 * session on the agent. Every request is checked against the user's cameras, and every
 * session and jsmpeg view is written to the audit log before it is signalled.
 */
import { randomBytes } from 'node:crypto';
import {
  COMMAND_ERRORS,
  type CommandReply,
  LIVE_COMMANDS,
  LIVE_ERRORS,
  type LiveClientMessage,
  type LiveServerMessage,
  type SessionUser,
  validators,
} from '@cctv/protocol';
import type { Logger } from 'pino';
import type { WebSocket } from 'ws';
import { canSeeCamera } from '../auth/access.ts';
import type { AuditLog } from '../auth/audit-log.ts';
import { CommandTimeoutError, type NodeCommands } from '../fleet/node-commands.ts';
import type { FleetReads } from '../fleet/node-repository.ts';
import type { MasterMetrics } from '../metrics.ts';
import { type IceConfig, iceServersFor } from './ice-servers.ts';

export interface LiveSignallingDeps {
  commands: Pick<NodeCommands, 'send'>;
  registry: Pick<FleetReads, 'camera'>;
  audit: AuditLog;
  metrics: MasterMetrics;
  ice: IceConfig;
  maxSessionsPerSocket: number;
  offerTimeoutMs: number;
  log: Logger;
}

class LiveRefusal extends Error {
  constructor(
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

/** Messages larger than this are refused unread (an offer is a few kB). */
export const MAX_LIVE_MESSAGE_BYTES = 128 * 1024;

export class LiveSignalling {
  /** Open sockets with the user and session they were opened with. */
  private readonly sockets = new Map<WebSocket, { userId: string; sessionId: string }>();

  constructor(private readonly deps: LiveSignallingDeps) {}

  /** Serves one dashboard socket until it closes. */
  attach(socket: WebSocket, user: SessionUser, ip: string, sessionId = ''): void {
    const sessions = new Map<string, { nodeId: string; cameraId: string }>();
    const log = this.deps.log.child({ user: user.username });
    this.sockets.set(socket, { userId: user.id, sessionId });
    const send = (msg: LiveServerMessage) => {
      if (socket.readyState === socket.OPEN) socket.send(JSON.stringify(msg));
    };
    send({ type: 'ready', iceServers: iceServersFor(this.deps.ice, user.username) });

    socket.on('message', (data, isBinary) => {
      const size = Array.isArray(data) ? data.reduce((n, b) => n + b.length, 0) : (data as Buffer).byteLength;
      const parsed =
        isBinary || size > MAX_LIVE_MESSAGE_BYTES
          ? ({
              ok: false,
              error: isBinary ? 'binary message' : `over ${MAX_LIVE_MESSAGE_BYTES} bytes`,
            } as const)
          : validators.liveClientMessage.parse(data.toString());
      if (!parsed.ok) {
        this.deps.metrics.liveRequests.inc({ type: 'invalid', result: LIVE_ERRORS.badMessage });
        log.warn({ error: parsed.error }, 'live message refused');
        send({ type: 'error', code: LIVE_ERRORS.badMessage, message: parsed.error });
        return;
      }
      const msg = parsed.value;
      this.handle(msg, { user, ip, sessions, send, log }).then(
        () => this.deps.metrics.liveRequests.inc({ type: msg.type, result: 'ok' }),
        (err: Error & { code?: string }) => {
          const code =
            err instanceof LiveRefusal || err instanceof CommandTimeoutError
              ? err.code
              : (err.code ?? COMMAND_ERRORS.failed);
          this.deps.metrics.liveRequests.inc({ type: msg.type, result: code.slice(0, 32) });
          if (!(err instanceof LiveRefusal))
            log.warn({ err: err.message, type: msg.type }, 'live request failed');
          send({
            type: 'error',
            ...('ref' in msg ? { ref: msg.ref } : {}),
            ...('session' in msg ? { session: msg.session } : {}),
            code,
            message: err.message,
          });
        },
      );
    });
    socket.on('close', () => {
      this.sockets.delete(socket);
      for (const [session, s] of sessions) void this.closeSession(session, s.nodeId, log);
      this.deps.metrics.liveSessions.dec(sessions.size);
      sessions.clear();
    });
    socket.on('error', (err) => log.debug({ err: err.message }, 'live socket error'));
  }

  closeAll(): void {
    for (const s of this.sockets.keys()) s.close(1001, 'master shutting down');
  }

  /**
   * Closes the sockets of a user whose rights or sessions changed: a socket keeps the user as
   * it was when it opened, so it must not outlive a narrower access list or a sign-out.
   */
  closeUser(userId: string, reason: string): void {
    for (const [s, who] of this.sockets) if (who.userId === userId) s.close(4001, reason);
  }

  /** Closes the sockets opened with one session (signed out). */
  closeSignedOut(sessionId: string, reason: string): void {
    for (const [s, who] of this.sockets) if (who.sessionId === sessionId) s.close(4001, reason);
  }

  private async handle(
    msg: LiveClientMessage,
    ctx: {
      user: SessionUser;
      ip: string;
      sessions: Map<string, { nodeId: string; cameraId: string }>;
      send: (msg: LiveServerMessage) => void;
      log: Logger;
    },
  ): Promise<void> {
    const { user, sessions, send } = ctx;
    switch (msg.type) {
      case 'offer': {
        if (sessions.size >= this.deps.maxSessionsPerSocket)
          throw new LiveRefusal(
            LIVE_ERRORS.limit,
            `at most ${this.deps.maxSessionsPerSocket} live sessions per dashboard`,
          );
        const nodeId = await this.nodeOf(user, msg.camera);
        const session = randomBytes(12).toString('base64url');
        await this.audit(ctx, msg.camera, nodeId, { mode: 'webrtc', session });
        // Counted before the answer, so a close racing the answer still reaches the agent.
        sessions.set(session, { nodeId, cameraId: msg.camera });
        this.deps.metrics.liveSessions.inc();
        let result: Record<string, unknown>;
        try {
          result = await this.command(nodeId, LIVE_COMMANDS.offer, {
            session,
            camera: msg.camera,
            sdp: msg.sdp,
            user: user.username,
          });
        } catch (err) {
          if (sessions.delete(session)) this.deps.metrics.liveSessions.dec();
          throw err;
        }
        const answer = validators.webrtcOfferResult.validate(result);
        if (!answer.ok)
          throw new LiveRefusal(COMMAND_ERRORS.failed, `the agent's answer is malformed: ${answer.error}`);
        send({ type: 'answer', ref: msg.ref, session, sdp: answer.value.sdp });
        return;
      }
      case 'candidates': {
        const s = sessions.get(msg.session);
        if (!s)
          throw new LiveRefusal(LIVE_ERRORS.unknownSession, `no live session ${msg.session} on this socket`);
        await this.command(s.nodeId, LIVE_COMMANDS.candidates, {
          session: msg.session,
          candidates: msg.candidates,
        });
        return;
      }
      case 'close': {
        const s = sessions.get(msg.session);
        if (!s) return;
        sessions.delete(msg.session);
        this.deps.metrics.liveSessions.dec();
        await this.closeSession(msg.session, s.nodeId, ctx.log);
        return;
      }
      case 'jsmpeg': {
        const nodeId = await this.nodeOf(user, msg.camera);
        await this.audit(ctx, msg.camera, nodeId, { mode: 'jsmpeg' });
        const result = validators.jsmpegOpenResult.validate(
          await this.command(nodeId, LIVE_COMMANDS.jsmpeg, { camera: msg.camera }),
        );
        if (!result.ok)
          throw new LiveRefusal(COMMAND_ERRORS.failed, `the agent's answer is malformed: ${result.error}`);
        send({ type: 'jsmpeg', ref: msg.ref, url: result.value.url, expiresAt: result.value.expiresAt });
        return;
      }
    }
  }

  /** The camera's node, once the user may see the camera and the node is online. */
  private async nodeOf(user: SessionUser, cameraId: string): Promise<string> {
    if (!canSeeCamera(user, cameraId)) {
      this.deps.metrics.httpRefused.inc({ reason: 'camera' });
      throw new LiveRefusal(LIVE_ERRORS.forbidden, `camera ${cameraId} is not in your access list`);
    }
    const camera = await this.deps.registry.camera(cameraId);
    if (!camera) throw new LiveRefusal(LIVE_ERRORS.unknownCamera, `camera ${cameraId} is unknown`);
    if (!camera.online) throw new LiveRefusal(LIVE_ERRORS.nodeOffline, `node ${camera.nodeId} is offline`);
    return camera.nodeId;
  }

  private async audit(
    ctx: { user: SessionUser; ip: string },
    cameraId: string,
    nodeId: string,
    detail: Record<string, unknown>,
  ): Promise<void> {
    await this.deps.audit.record({
      action: 'live_view',
      userId: ctx.user.id,
      username: ctx.user.username,
      cameraId,
      nodeId,
      ip: ctx.ip,
      detail,
    });
  }

  /** Sends a live command; an `ok: false` reply becomes a refusal with the agent's code. */
  private async command(
    nodeId: string,
    name: string,
    args: Record<string, unknown>,
  ): Promise<Record<string, unknown>> {
    const { reply } = await this.deps.commands.send(nodeId, name, args, this.deps.offerTimeoutMs);
    this.deps.metrics.nodeCommands.inc({ command: name, result: reply.ok ? 'ok' : 'error' });
    if (!reply.ok) throw refusalOf(reply);
    return reply.result ?? {};
  }

  private async closeSession(session: string, nodeId: string, log: Logger): Promise<void> {
    try {
      await this.command(nodeId, LIVE_COMMANDS.close, { session });
    } catch (err) {
      // The agent ends sessions whose browser went away by itself; this only speeds it up.
      log.debug({ session, err: (err as Error).message }, 'live close not confirmed');
    }
  }
}

function refusalOf(reply: CommandReply): LiveRefusal {
  return new LiveRefusal(
    reply.error?.code ?? COMMAND_ERRORS.failed,
    reply.error?.message ?? 'the node refused',
  );
}
