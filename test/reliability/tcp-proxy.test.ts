// The fault-injecting proxy itself, against a local echo server: what the reliability scenarios
// rely on when they cut or stall PostgreSQL and the MongoDB server.
import { createServer, type Server, Socket } from 'node:net';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { TcpProxy } from '../support/tcp-proxy.js';

let echo: Server;
let echoPort: number;
let received = 0;
const served: Socket[] = [];
let proxy: TcpProxy;
const sockets: Socket[] = [];

beforeEach(async () => {
  received = 0;
  echo = createServer((socket) => {
    served.push(socket);
    socket.on('data', (chunk) => {
      received += chunk.length;
      socket.write(chunk);
    });
    socket.on('error', () => undefined);
  });
  await new Promise<void>((resolve) => echo.listen(0, '127.0.0.1', resolve));
  echoPort = (echo.address() as { port: number }).port;
  proxy = await TcpProxy.start({ host: '127.0.0.1', port: echoPort });
});

afterEach(async () => {
  for (const s of sockets.splice(0)) s.destroy();
  await proxy.close();
  for (const s of served.splice(0)) s.destroy();
  await new Promise<void>((resolve) => echo.close(() => resolve()));
});

function connect(): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const socket = new Socket();
    sockets.push(socket);
    socket.once('error', reject);
    socket.connect(proxy.port, '127.0.0.1', () => resolve(socket));
  });
}

function roundTrip(socket: Socket, text: string): Promise<string> {
  return new Promise((resolve) => {
    let got = '';
    const onData = (chunk: Buffer) => {
      got += chunk.toString();
      if (got.length >= text.length) {
        socket.off('data', onData);
        resolve(got);
      }
    };
    socket.on('data', onData);
    socket.write(text);
  });
}

function closed(socket: Socket): Promise<string | undefined> {
  return new Promise((resolve) => {
    let code: string | undefined;
    socket.on('error', (e: NodeJS.ErrnoException) => {
      code = e.code;
    });
    socket.on('close', () => resolve(code));
  });
}

describe('TcpProxy', () => {
  it('forwards both directions', async () => {
    const socket = await connect();
    expect(await roundTrip(socket, 'hello')).toBe('hello');
    expect(proxy.stats.connections).toBe(1);
    expect(proxy.stats.bytes).toBe(10);
    expect(proxy.rewrite(`postgresql://u@127.0.0.1:${echoPort}/db?x=1`)).toBe(
      `postgresql://u@127.0.0.1:${proxy.port}/db?x=1`,
    );
  });

  it('cut resets open connections and refuses new ones until restore', async () => {
    const socket = await connect();
    await roundTrip(socket, 'a');
    const gone = closed(socket);
    proxy.cut();
    expect(await gone).toBe('ECONNRESET');
    expect(proxy.state).toBe('cut');
    const refused = await connect().then(closed, (e: NodeJS.ErrnoException) => e.code);
    expect(refused).toBe('ECONNRESET');
    expect(proxy.stats.refused).toBe(1);
    proxy.restore();
    expect(await roundTrip(await connect(), 'back')).toBe('back');
  });

  it('stall holds bytes on open and new connections; restore delivers them in order', async () => {
    const socket = await connect();
    await roundTrip(socket, 'x');
    proxy.stall();
    const late = roundTrip(socket, 'one');
    const fresh = await connect();
    const lateToo = roundTrip(fresh, 'two');
    await vi.waitFor(() => expect(proxy.held).toBe(6));
    expect(received).toBe(1);
    proxy.restore();
    expect(await late).toBe('one');
    expect(await lateToo).toBe('two');
    expect(received).toBe(7);
  });
});
