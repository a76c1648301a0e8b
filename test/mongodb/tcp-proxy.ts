// A loopback TCP proxy in front of the test server that can drop its connections, so tests can
// lose the connection at an exact moment (e.g. while an insert is on the wire) without sleeps.
import { createServer, type Socket } from 'node:net';

export interface TcpProxy {
  /** The target URL with the proxy's host and port, as a direct connection. */
  url: string;
  /** How many times the proxy dropped its connections. */
  readonly cuts: number;
  /** Drops every connection and refuses new ones. */
  cut(): void;
  close(): Promise<void>;
}

/** True for a client chunk carrying an `insert` command on `collection` (BSON: 0x02 "insert" 0x00 ...). */
export function insertInto(collection: string): (chunk: Buffer) => boolean {
  const command = Buffer.from('\x02insert\x00', 'latin1');
  const name = Buffer.from(`${collection}\x00`, 'utf8');
  return (chunk) => chunk.includes(command) && chunk.includes(name);
}

export async function startTcpProxy(
  targetUrl: string,
  cutWhen?: (chunk: Buffer) => boolean,
): Promise<TcpProxy> {
  const target = new URL(targetUrl);
  const targetHost = target.hostname;
  const targetPort = Number(target.port || 27017);
  const sockets = new Set<Socket>();
  let cuts = 0;
  let refusing = false;

  const server = createServer((client) => {
    if (refusing) {
      client.destroy();
      return;
    }
    const upstream = new (client.constructor as typeof Socket)();
    sockets.add(client);
    sockets.add(upstream);
    const forget = () => {
      sockets.delete(client);
      sockets.delete(upstream);
      client.destroy();
      upstream.destroy();
    };
    client.on('close', forget).on('error', forget);
    upstream.on('close', forget).on('error', forget);
    upstream.connect(targetPort, targetHost);
    client.on('data', (chunk: Buffer) => {
      if (cutWhen?.(chunk)) {
        proxy.cut();
        return;
      }
      upstream.write(chunk);
    });
    upstream.on('data', (chunk: Buffer) => client.write(chunk));
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  const address = server.address();
  if (address === null || typeof address === 'string') throw new Error('proxy has no TCP address');
  const proxied = new URL(targetUrl);
  proxied.hostname = '127.0.0.1';
  proxied.port = String(address.port);
  proxied.searchParams.set('directConnection', 'true');

  const proxy: TcpProxy = {
    url: proxied.toString(),
    get cuts() {
      return cuts;
    },
    cut() {
      cuts += 1;
      refusing = true;
      server.close();
      for (const socket of sockets) socket.destroy();
      sockets.clear();
    },
    async close() {
      refusing = true;
      for (const socket of sockets) socket.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
  return proxy;
}
