/** A real aedes MQTT broker on a free port for tests; closed after the test file. */
import type { Aedes, Client } from 'aedes';
import { onCleanup } from '../../test/support/index.ts';
import { startAedes } from '../../test/support/plain.ts';

export interface TestBroker {
  url: string;
  broker: Aedes;
  /** The broker-side client with this id, once connected. */
  client(id: string): Client | undefined;
  close(): Promise<void>;
}

export async function startBroker(): Promise<TestBroker> {
  const server = await startAedes();
  const clients = new Map<string, Client>();
  server.broker.on('client', (c) => clients.set(c.id, c));
  onCleanup(server.close);
  return { url: server.url, broker: server.broker, client: (id) => clients.get(id), close: server.close };
}
