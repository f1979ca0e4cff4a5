import { createServer, type Server } from 'node:net';
import { parseNodeTopic } from '@cctv/protocol';
import { Aedes, type AedesPublishPacket, type Client } from 'aedes';
import type { Logger } from 'pino';
import type { MessageBus, MessageHandler } from './message-bus.ts';

export interface EmbeddedBrokerOptions {
  host: string;
  port: number;
  log: Logger;
  /** Called when a client publishes outside what it may publish. */
  onPublishRefused?: (clientId: string, topic: string) => void;
  onClientCount?: (n: number) => void;
}

/** Agents connect as `agent-<nodeId>`; such a client may publish only under its own node prefix. */
function mayPublish(clientId: string, topic: string): boolean {
  if (!clientId.startsWith('agent-')) return true;
  const parsed = parseNodeTopic(topic);
  if (!parsed || parsed.nodeId !== clientId.slice('agent-'.length)) return false;
  return parsed.kind !== 'cmd';
}

/**
 * The embedded aedes broker on a TCP listener. The master's own handlers attach through
 * in-process subscriptions, so they see exactly what a remote subscriber would.
 */
export class EmbeddedBroker implements MessageBus {
  private broker: Aedes | undefined;
  private server: Server | undefined;
  private readonly opts: EmbeddedBrokerOptions;

  constructor(opts: EmbeddedBrokerOptions) {
    this.opts = opts;
  }

  get port(): number {
    const addr = this.server?.address();
    return addr && typeof addr === 'object' ? addr.port : this.opts.port;
  }

  async start(): Promise<void> {
    const { log } = this.opts;
    const broker = await Aedes.createBroker({
      authorizePublish: (client: Client | null, packet, done) => {
        if (client && !mayPublish(client.id, packet.topic)) {
          this.opts.onPublishRefused?.(client.id, packet.topic);
          log.warn(
            { clientId: client.id, topic: packet.topic },
            'publish refused: outside the client prefix',
          );
          return done(new Error('publish not authorized'));
        }
        done(null);
      },
    });
    const count = () => this.opts.onClientCount?.(broker.connectedClients);
    broker.on('client', (c) => {
      log.debug({ clientId: c.id }, 'mqtt client connected');
      count();
    });
    broker.on('clientDisconnect', (c) => {
      log.debug({ clientId: c.id }, 'mqtt client disconnected');
      count();
    });
    broker.on('clientError', (c, err) =>
      log.debug({ clientId: c.id, err: err.message }, 'mqtt client error'),
    );
    this.broker = broker;
    const server = createServer(broker.handle);
    this.server = server;
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(this.opts.port, this.opts.host, () => resolve());
    });
    log.info({ host: this.opts.host, port: this.port }, 'embedded MQTT broker listening');
  }

  subscribe(filter: string, handler: MessageHandler): Promise<void> {
    const broker = this.broker;
    if (!broker) throw new Error('broker not started');
    const deliver = (packet: AedesPublishPacket, cb: () => void) => {
      const payload = Buffer.isBuffer(packet.payload) ? packet.payload : Buffer.from(packet.payload);
      // The handler queues its own work; acknowledging at once keeps the broker flowing.
      handler(packet.topic, payload);
      cb();
    };
    return new Promise((resolve) => broker.subscribe(filter, deliver, () => resolve()));
  }

  publish(topic: string, payload: Buffer | string, opts: { qos: 0 | 1; retain?: boolean }): Promise<void> {
    const broker = this.broker;
    if (!broker) throw new Error('broker not started');
    return new Promise((resolve, reject) =>
      broker.publish(
        {
          cmd: 'publish',
          topic,
          payload: typeof payload === 'string' ? Buffer.from(payload) : payload,
          qos: opts.qos,
          retain: opts.retain ?? false,
          dup: false,
        },
        (err) => (err ? reject(err) : resolve()),
      ),
    );
  }

  async stop(): Promise<void> {
    const server = this.server;
    const broker = this.broker;
    this.server = undefined;
    this.broker = undefined;
    if (broker) await new Promise<void>((resolve) => broker.close(() => resolve()));
    if (server) await new Promise<void>((resolve) => server.close(() => resolve()));
  }
}
