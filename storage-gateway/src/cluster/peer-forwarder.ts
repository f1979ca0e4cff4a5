import { Agent as HttpAgent, request as httpRequest, type IncomingMessage } from 'node:http';
import { Agent as HttpsAgent, request as httpsRequest } from 'node:https';
import { pipeline, type Readable, Transform } from 'node:stream';
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { Logger } from 'pino';
import { GatewayError } from '../gateway-error.ts';
import { type GatewayRegistry, QUIET_LIMIT_S } from './gateway-registry.ts';

/**
 * Marks a read one gateway forwards to another (its value: the sender's id). A gateway answers
 * such a read from its own buffer and the NAS only, never forwards it again: no loop.
 */
export const PEER_HEADER = 'x-cctv-peer';
/** On an answer a peer gave: the id of the gateway whose files served it. */
export const SERVED_BY_HEADER = 'x-cctv-served-by';

/** The label values of `cctv_gateway_peer_reads_total`: one per peer asked. */
export const PEER_READ_RESULTS = ['served', 'not_found', 'refused', 'unavailable'] as const;
export type PeerReadResult = (typeof PEER_READ_RESULTS)[number];

/** A peer that cannot be reached is usually a restart or a failover: come back soon. */
const RETRY_AFTER_S = 5;

/** The file waits in a peer's buffer and that peer cannot be asked now. */
export class PeerUnavailableError extends GatewayError<'peer_unavailable'> {
  constructor(message: string) {
    super('peer_unavailable', 503, message, RETRY_AFTER_S);
  }
}

/**
 * What a peer's answer brings back: the file's own headers. Never its cookies, CORS or security
 * headers, which this gateway sets itself.
 */
const RELAYED_HEADERS = [
  'content-type',
  'content-length',
  'content-range',
  'accept-ranges',
  'last-modified',
  'etag',
  'cache-control',
  'www-authenticate',
  'x-cctv-location',
  'x-cctv-rendition',
] as const;

/**
 * The URL a forwarded read goes to: a peer's registered base URL (http or https, nothing but a
 * host, port and path prefix) and a granted read path this gateway built itself. Anything else
 * throws: the forward is never a way to reach another host or route.
 */
export function peerTarget(base: string, path: string): URL {
  const root = URL.canParse(base) ? new URL(base) : null;
  if (
    !root ||
    (root.protocol !== 'https:' && root.protocol !== 'http:') ||
    root.username ||
    root.password ||
    root.search ||
    root.hash
  )
    throw new Error('its registered URL is not an http(s) base URL');
  if (!path.startsWith('/v1/g/')) throw new Error('only granted reads are forwarded');
  const target = new URL(`${root.origin}${root.pathname.replace(/\/+$/, '')}${path}`);
  if (target.origin !== root.origin) throw new Error('the read path leaves the peer');
  return target;
}

export interface PeerForwarderOptions {
  registry: Pick<GatewayRegistry, 'peer'>;
  /** This gateway's id, sent in `x-cctv-peer`. */
  gatewayId: string;
  /** No connection, no answer or a body gone quiet for this long: the peer is unavailable. */
  timeoutMs: number;
  /**
   * How long a peer may take to answer a read that makes it work first (a rendition it
   * transcodes); the connection and the body are still held to `timeoutMs`.
   */
  slowAnswerMs: number;
  logger: Logger;
  onResult?: (result: PeerReadResult) => void;
}

/**
 * Sends a granted read on to the peer gateway whose buffer holds the file and streams its
 * answer back: the same method, path (grant included, which the peer checks again) and
 * `Range`, nothing else of the request. Connections to peers are kept alive between reads.
 */
export class PeerForwarder {
  private readonly agents = {
    'http:': new HttpAgent({ keepAlive: true, maxSockets: 64 }),
    'https:': new HttpsAgent({ keepAlive: true, maxSockets: 64 }),
  };

  constructor(private readonly opts: PeerForwarderOptions) {}

  /**
   * Asks each of `holders` in turn and relays the first answer that is not a 404. Null when
   * every one answered 404 (the caller's own 404 stands); PeerUnavailableError when one could not
   * be asked and none had the file. `slow`: the peer may work before it answers (a transcode).
   */
  async forward(
    request: FastifyRequest,
    reply: FastifyReply,
    holders: readonly string[],
    path: string,
    slow = false,
  ): Promise<FastifyReply | null> {
    const { logger, onResult } = this.opts;
    let unavailable: string | null = null;
    for (const id of holders) {
      if (id === this.opts.gatewayId) continue;
      let res: IncomingMessage;
      try {
        res = await this.ask(id, request, path, slow ? this.opts.slowAnswerMs : this.opts.timeoutMs);
      } catch (err) {
        unavailable = `gateway ${id}: ${(err as Error).message}`;
        onResult?.('unavailable');
        logger.warn({ peer: id, reason: (err as Error).message }, 'peer gateway not reachable for a read');
        continue;
      }
      const status = res.statusCode ?? 502;
      if (status >= 500 || status === 404) {
        res.resume();
        if (status === 404) onResult?.('not_found');
        else {
          unavailable = `gateway ${id} answered ${status}`;
          onResult?.('unavailable');
        }
        continue;
      }
      onResult?.(status < 400 ? 'served' : 'refused');
      return this.relay(request, reply, res, id);
    }
    if (unavailable)
      throw new PeerUnavailableError(
        `the file waits in another gateway's buffer, which cannot be reached now (${unavailable}); retry shortly`,
      );
    return null;
  }

  /** Closes the kept-alive connections to peers. */
  close(): void {
    this.agents['http:'].destroy();
    this.agents['https:'].destroy();
  }

  private async ask(
    id: string,
    request: FastifyRequest,
    path: string,
    answerMs: number,
  ): Promise<IncomingMessage> {
    const peer = await this.opts.registry.peer(id);
    if (!peer) throw new Error('no such gateway is registered');
    if (peer.quietS > QUIET_LIMIT_S) throw new Error(`not seen for ${Math.round(peer.quietS)} s`);
    const target = peerTarget(peer.url, path);
    const headers: Record<string, string> = { [PEER_HEADER]: this.opts.gatewayId };
    const range = request.headers.range;
    if (typeof range === 'string') headers.range = range;
    const ms = this.opts.timeoutMs;
    const protocol = target.protocol === 'https:' ? 'https:' : 'http:';
    const send = protocol === 'https:' ? httpsRequest : httpRequest;
    return new Promise<IncomingMessage>((resolve, reject) => {
      const req = send(
        target,
        { method: request.method === 'HEAD' ? 'HEAD' : 'GET', headers, agent: this.agents[protocol] },
        (res) => {
          clearTimeout(connecting);
          clearTimeout(deadline);
          resolve(res);
        },
      );
      // A host gone without a word never connects; a hung one never answers.
      const connecting = setTimeout(() => req.destroy(new Error(`no connection within ${ms} ms`)), ms);
      const deadline = setTimeout(() => req.destroy(new Error(`no answer within ${answerMs} ms`)), answerMs);
      req.once('socket', (socket) => {
        if (!socket.connecting) clearTimeout(connecting);
        else socket.once('connect', () => clearTimeout(connecting));
      });
      // A request may fail more than once (a timer and the socket): every error is heard.
      req.on('error', (err) => {
        clearTimeout(connecting);
        clearTimeout(deadline);
        reject(err);
      });
      req.end();
    });
  }

  private relay(
    request: FastifyRequest,
    reply: FastifyReply,
    res: IncomingMessage,
    id: string,
  ): FastifyReply {
    reply.code(res.statusCode ?? 502);
    for (const name of RELAYED_HEADERS) {
      const value = res.headers[name];
      if (value !== undefined) reply.header(name, value);
    }
    reply.header(SERVED_BY_HEADER, id);
    // A player that goes away ends the read from the peer too.
    reply.raw.once('close', () => {
      if (!res.complete) res.destroy();
    });
    if (request.method === 'HEAD' || res.statusCode === 304) {
      res.resume();
      return reply.send();
    }
    return reply.send(idleGuard(res, this.opts.timeoutMs));
  }
}

/** The body as it comes, ended with an error once it has been quiet for `ms`. */
function idleGuard(res: IncomingMessage, ms: number): Readable {
  const timer = setTimeout(() => res.destroy(new Error(`peer body quiet for ${ms} ms`)), ms);
  const guard = new Transform({
    transform(chunk, _encoding, done) {
      timer.refresh();
      done(null, chunk);
    },
  });
  pipeline(res, guard, () => clearTimeout(timer));
  return guard;
}
