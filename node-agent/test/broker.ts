/** A real aedes MQTT broker on a free port for tests; closed after the test file. */
import { createServer, type Socket } from 'node:net';
import { Aedes, type Client } from 'aedes';
import { freePort, onCleanup } from '../../test/support/index.ts';

export interface TestBroker {
  url: string;
  broker: Aedes;
  /** The broker-side client with this id, once connected. */
  client(id: string): Client | undefined;
  close(): Promise<void>;
}

export async function startBroker(): Promise<TestBroker> {
  const broker = await Aedes.createBroker();
  const clients = new Map<string, Client>();
  broker.on('client', (c) => clients.set(c.id, c));
  const sockets = new Set<Socket>();
  const server = createServer((socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    broker.handle(socket);
  });
  const port = await freePort();
  await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', resolve));
  let closed = false;
  const close = async () => {
    if (closed) return;
    closed = true;
    for (const s of sockets) s.destroy();
    await new Promise<void>((resolve) => server.close(() => resolve()));
    await new Promise<void>((resolve) => broker.close(() => resolve()));
  };
  onCleanup(close);
  return { url: `mqtt://127.0.0.1:${port}`, broker, client: (id) => clients.get(id), close };
}
