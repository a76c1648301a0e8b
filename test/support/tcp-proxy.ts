// A fault-injecting TCP proxy for tests: listens on a loopback port and forwards every connection
// to a target (PostgreSQL, the MongoDB server). It can cut (reset every connection and refuse new
// ones, like a crashed server or a pulled cable), stall (keep connections open but move no bytes,
// like a hung server or a partition) and restore. Faults apply at an exact moment, so tests need
// no sleeps to provoke them.
import { createServer, type Server, Socket } from 'node:net';

export type ProxyState = 'open' | 'cut' | 'stalled';

interface Link {
  client: Socket;
  upstream: Socket;
  // Bytes that arrived while stalled, per direction, forwarded on restore.
  toUpstream: Buffer[];
  toClient: Buffer[];
}

/** Counters that let a test show the fault really hit live traffic. */
export interface ProxyStats {
  /** Connections accepted and forwarded. */
  connections: number;
  /** Connections refused while cut. */
  refused: number;
  /** Connections reset by `cut()`. */
  reset: number;
  /** Bytes forwarded, both directions. */
  bytes: number;
}

export class TcpProxy {
  readonly host = '127.0.0.1';
  readonly stats: ProxyStats = { connections: 0, refused: 0, reset: 0, bytes: 0 };
  private readonly links = new Set<Link>();
  private mode: ProxyState = 'open';

  private constructor(
    private readonly server: Server,
    readonly port: number,
    readonly target: { host: string; port: number },
  ) {}

  /**
   * Starts a proxy to `target` on a free loopback port (or `listenPort`).
   *
   * @example
   * ```ts
   * const proxy = await TcpProxy.start({ host: '127.0.0.1', port: 5432 });
   * const url = proxy.rewrite('postgresql://postgres@127.0.0.1:5432/db'); // same URL, proxy port
   * proxy.cut(); ... proxy.restore();
   * ```
   */
  static async start(target: { host: string; port: number }, listenPort = 0): Promise<TcpProxy> {
    let proxy: TcpProxy | undefined;
    const server = createServer((client) => proxy?.accept(client));
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(listenPort, '127.0.0.1', () => resolve());
    });
    const address = server.address();
    if (address === null || typeof address === 'string') throw new Error('tcp proxy: no TCP address');
    proxy = new TcpProxy(server, address.port, target);
    return proxy;
  }

  /** A proxy in front of the host and port of `url`. */
  static forUrl(url: string, defaultPort: number): Promise<TcpProxy> {
    const u = new URL(url);
    return TcpProxy.start({ host: u.hostname, port: Number(u.port || defaultPort) });
  }

  /** `url` with its host and port replaced by the proxy's. */
  rewrite(url: string): string {
    const u = new URL(url);
    u.hostname = this.host;
    u.port = String(this.port);
    return u.toString();
  }

  get state(): ProxyState {
    return this.mode;
  }

  /** Bytes held back by a stall, waiting for `restore()`. */
  get held(): number {
    let n = 0;
    for (const link of this.links) {
      for (const chunk of link.toUpstream) n += chunk.length;
      for (const chunk of link.toClient) n += chunk.length;
    }
    return n;
  }

  /** Open connections. */
  get open(): number {
    return this.links.size;
  }

  private accept(client: Socket): void {
    if (this.mode === 'cut') {
      this.stats.refused += 1;
      client.resetAndDestroy();
      return;
    }
    this.stats.connections += 1;
    client.setNoDelay(true);
    const upstream = new Socket();
    upstream.setNoDelay(true);
    const link: Link = { client, upstream, toUpstream: [], toClient: [] };
    this.links.add(link);
    const drop = () => {
      if (!this.links.delete(link)) return;
      client.destroy();
      upstream.destroy();
    };
    client.on('error', drop).on('close', drop);
    upstream.on('error', drop).on('close', drop);
    const pipe = (from: Socket, to: Socket, held: Buffer[]) => {
      from.on('data', (chunk: Buffer) => {
        if (this.mode === 'stalled') {
          held.push(chunk);
          return;
        }
        this.stats.bytes += chunk.length;
        if (!to.write(chunk)) {
          from.pause();
          to.once('drain', () => {
            if (this.mode === 'open') from.resume();
          });
        }
      });
    };
    pipe(client, upstream, link.toUpstream);
    pipe(upstream, client, link.toClient);
    upstream.connect(this.target.port, this.target.host);
  }

  /** Resets every connection (RST) and refuses new ones until `restore()`. */
  cut(): void {
    this.mode = 'cut';
    for (const link of [...this.links]) {
      this.stats.reset += 1;
      this.links.delete(link);
      if (!link.client.destroyed) link.client.resetAndDestroy();
      link.upstream.destroy();
    }
  }

  /** Keeps connections open and accepts new ones, but forwards no byte until `restore()`. */
  stall(): void {
    // Bytes keep being read and are held here, not left in the kernel, so a test can see them arrive.
    this.mode = 'stalled';
  }

  /** Forwards again: after a stall, the held bytes first; after a cut, new connections. */
  restore(): void {
    const wasStalled = this.mode === 'stalled';
    this.mode = 'open';
    if (!wasStalled) return;
    for (const link of this.links) {
      for (const chunk of link.toUpstream.splice(0)) {
        this.stats.bytes += chunk.length;
        link.upstream.write(chunk);
      }
      for (const chunk of link.toClient.splice(0)) {
        this.stats.bytes += chunk.length;
        link.client.write(chunk);
      }
    }
  }

  /** Closes every connection and the listener. */
  async close(): Promise<void> {
    this.mode = 'cut';
    for (const link of [...this.links]) {
      this.links.delete(link);
      link.client.destroy();
      link.upstream.destroy();
    }
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }
}
