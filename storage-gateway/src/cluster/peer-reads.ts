import { segmentKind } from '@cctv/protocol';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { sendGatewayError } from '../http/http-error.ts';
import type { SegmentRepository } from '../index/segment-repository.ts';
import type { GatewayRegistry } from './gateway-registry.ts';
import { PEER_HEADER, type PeerForwarder, PeerUnavailableError } from './peer-forwarder.ts';

export interface PeerReadsOptions {
  index: Pick<SegmentRepository, 'find' | 'initHolders'>;
  registry: Pick<GatewayRegistry, 'livePeers'>;
  forwarder: Pick<PeerForwarder, 'forward'>;
  /** This gateway's id. */
  gatewayId: string;
}

/**
 * A segment acknowledged by one gateway is served by all: a read whose file is in neither this
 * gateway's buffer nor the NAS goes to the peer whose buffer holds it. Which peer: a media
 * segment's row (`buffer` at another gateway); for an init file (no row), the gateways holding
 * segments of its recording in their buffer, then the other gateways alive (an agent may have
 * sent the init to one and its segments to another). A read that came from a peer is never
 * sent on.
 */
export class PeerReads {
  constructor(private readonly opts: PeerReadsOptions) {}

  /** Other gateways whose buffer may hold `<camera>/<name>`, the likeliest first. */
  async holders(camera: string, name: string): Promise<string[]> {
    const { index, registry, gatewayId } = this.opts;
    if (segmentKind(name) === 'init')
      return [...(await index.initHolders(camera, name, gatewayId)), ...(await registry.livePeers())];
    const row = await index.find(camera, name);
    return row?.location === 'buffer' && row.gatewayId && row.gatewayId !== gatewayId ? [row.gatewayId] : [];
  }

  /**
   * Answers the read at `path` (built by the caller from the checked grant, camera and name) from
   * the peer holding any of `names`: null when no peer holds them or the read came from a peer
   * (the caller's own answer stands); a 503 with `Retry-After` when the holder cannot be reached.
   * `slow`: the peer works before it answers (a rendition it transcodes).
   */
  async serve(
    request: FastifyRequest,
    reply: FastifyReply,
    camera: string,
    names: readonly string[],
    path: string,
    slow = false,
  ): Promise<FastifyReply | null> {
    if (request.headers[PEER_HEADER] !== undefined) return null;
    const holders = [...new Set((await Promise.all(names.map((n) => this.holders(camera, n)))).flat())];
    if (holders.length === 0) return null;
    try {
      return await this.opts.forwarder.forward(request, reply, holders, path, slow);
    } catch (err) {
      if (err instanceof PeerUnavailableError) return sendGatewayError(reply, err);
      throw err;
    }
  }
}
