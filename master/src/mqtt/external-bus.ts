/**
 * The master as a client of an external broker (Mosquitto, EMQX, VerneMQ, HiveMQ) instead of
 * embedding aedes: MQTT v5, a persistent session per master process, automatic reconnect and
 * resubscribe. Work that only one master must do (storing events) uses a shared subscription
 * (`$share/<group>/<filter>`), so several master processes split it between them.
 */
import mqtt, { type MqttClient } from 'mqtt';
import type { Logger } from 'pino';
import type { MessageBus, MessageHandler } from './message-bus.ts';

export interface ExternalBusOptions {
  url: string;
  /** Unique per master process (the broker keeps one session per client id). */
  clientId: string;
  username?: string;
  password?: string;
  /** Shared-subscription group of the master processes. */
  shareGroup: string;
  log: Logger;
  /** CA certificate (PEM) for mqtts:// with a private CA. */
  ca?: Buffer;
}

interface Subscription {
  filter: string;
  handler: MessageHandler;
}

/** Whether a concrete topic matches an MQTT filter (`+` one level, `#` the rest). */
export function topicMatches(filter: string, topic: string): boolean {
  const f = filter.split('/');
  const t = topic.split('/');
  for (let i = 0; i < f.length; i++) {
    if (f[i] === '#') return true;
    if (i >= t.length) return false;
    if (f[i] !== '+' && f[i] !== t[i]) return false;
  }
  return f.length === t.length;
}

export class ExternalBus implements MessageBus {
  private client: MqttClient | null = null;
  private readonly subs: Subscription[] = [];

  constructor(private readonly opts: ExternalBusOptions) {}

  async start(): Promise<void> {
    const o = this.opts;
    const client = await mqtt.connectAsync(o.url, {
      protocolVersion: 5,
      clientId: o.clientId,
      clean: false,
      properties: { sessionExpiryInterval: 3600 },
      reconnectPeriod: 1000,
      keepalive: 10,
      ...(o.username ? { username: o.username } : {}),
      ...(o.password ? { password: o.password } : {}),
      ...(o.ca ? { ca: o.ca } : {}),
    });
    client.on('message', (topic, payload) => {
      // A message reaches every handler whose filter matches (a shared filter is matched
      // without its `$share/<group>/` prefix).
      for (const s of this.subs) if (topicMatches(s.filter, topic)) s.handler(topic, payload);
    });
    client.on('reconnect', () => o.log.warn('MQTT broker connection lost; reconnecting'));
    client.on('connect', () => o.log.info({ url: redact(o.url) }, 'connected to the MQTT broker'));
    client.on('error', (err) => o.log.error({ err: err.message }, 'MQTT client error'));
    this.client = client;
    o.log.info({ url: redact(o.url), clientId: o.clientId }, 'using the external MQTT broker');
  }

  async subscribe(filter: string, handler: MessageHandler): Promise<void> {
    await this.add(filter, filter, handler);
  }

  /** One master of the group receives each message. */
  async subscribeShared(filter: string, handler: MessageHandler): Promise<void> {
    await this.add(`$share/${this.opts.shareGroup}/${filter}`, filter, handler);
  }

  private async add(brokerFilter: string, filter: string, handler: MessageHandler): Promise<void> {
    const client = this.client;
    if (!client) throw new Error('bus not started');
    this.subs.push({ filter, handler });
    const granted = await client.subscribeAsync(brokerFilter, { qos: 1 });
    const refused = granted.filter((g) => g.qos >= 128);
    if (refused.length > 0) throw new Error(`broker refused the subscription to ${brokerFilter}`);
  }

  async publish(
    topic: string,
    payload: Buffer | string,
    opts: { qos: 0 | 1; retain?: boolean },
  ): Promise<void> {
    const client = this.client;
    if (!client) throw new Error('bus not started');
    await client.publishAsync(topic, payload, { qos: opts.qos, retain: opts.retain ?? false });
  }

  async stop(): Promise<void> {
    const client = this.client;
    this.client = null;
    await client?.endAsync();
  }
}

function redact(url: string): string {
  return url.replace(/\/\/([^:@/]*):[^@/]*@/, '//$1:***@');
}
