import dgram from 'node:dgram';
import net from 'node:net';
import { setTimeout as delay } from 'node:timers/promises';
import { TransportLayer } from '../../src/transport/index.js';
import type { ReceiveInfo, TransportOptions } from '../../src/transport/index.js';

export { delay };

/** Poll until `pred` holds; fail after `ms`. */
export async function until(pred: () => boolean, what = 'condition', ms = 2000): Promise<void> {
  const start = Date.now();
  while (!pred()) {
    if (Date.now() - start > ms) throw new Error(`timed out after ${ms} ms waiting for ${what}`);
    await delay(5);
  }
}

/** True if this machine can bind ::1. */
export async function canBindV6(): Promise<boolean> {
  return new Promise((resolve) => {
    const s = net.createServer();
    s.once('error', () => resolve(false));
    s.listen({ host: '::1', port: 0 }, () => s.close(() => resolve(true)));
  });
}

export function sipMessage(body = '', firstLine = 'OPTIONS sip:bob@127.0.0.1 SIP/2.0', extra = ''): Buffer {
  const b = Buffer.from(body);
  return Buffer.concat([
    Buffer.from(
      `${firstLine}\r\n` +
        'Via: SIP/2.0/TCP 127.0.0.1:5070;branch=z9hG4bK-test\r\n' +
        'From: <sip:alice@127.0.0.1>;tag=1\r\n' +
        'To: <sip:bob@127.0.0.1>\r\n' +
        'Call-ID: test@127.0.0.1\r\n' +
        'CSeq: 1 OPTIONS\r\n' +
        extra +
        `Content-Length: ${b.length}\r\n\r\n`,
    ),
    b,
  ]);
}

export interface Received {
  data: Buffer;
  info: ReceiveInfo;
}

/** Everything a test opened, closed in afterEach whatever happened. */
export class Resources {
  private readonly closers: Array<() => Promise<void> | void> = [];

  add(fn: () => Promise<void> | void): void {
    this.closers.push(fn);
  }

  transport(opts: Partial<TransportOptions> = {}): { t: TransportLayer; got: Received[] } {
    const got: Received[] = [];
    const t = new TransportLayer({ onMessage: (data, info) => got.push({ data, info }), ...opts });
    this.add(() => t.close());
    return { t, got };
  }

  async udpClient(host = '127.0.0.1'): Promise<{ sock: dgram.Socket; port: number; got: Buffer[] }> {
    const sock = dgram.createSocket(net.isIPv6(host) ? 'udp6' : 'udp4');
    const got: Buffer[] = [];
    sock.on('message', (m) => got.push(m));
    sock.on('error', () => undefined);
    this.add(
      () =>
        new Promise<void>((r) => {
          try {
            sock.close(() => r());
          } catch {
            r();
          }
        }),
    );
    await new Promise<void>((r) => sock.bind({ address: host, port: 0 }, () => r()));
    return { sock, port: sock.address().port, got };
  }

  async tcpClient(port: number, host = '127.0.0.1'): Promise<TcpClient> {
    const sock = net.connect({ host, port });
    const c: TcpClient = { sock, data: () => Buffer.concat(chunks), closed: false };
    const chunks: Buffer[] = [];
    sock.on('data', (d: Buffer) => chunks.push(d));
    sock.on('error', () => undefined);
    sock.on('close', () => {
      c.closed = true;
    });
    this.add(() => {
      sock.destroy();
    });
    await new Promise<void>((resolve, reject) => {
      sock.once('connect', () => resolve());
      sock.once('error', reject);
    });
    return c;
  }

  /** A plain TCP server standing in for a remote SIP peer. */
  async tcpServer(host = '127.0.0.1'): Promise<TestServer> {
    const conns: TcpClient[] = [];
    const server = net.createServer((sock) => {
      const chunks: Buffer[] = [];
      const c: TcpClient = { sock, data: () => Buffer.concat(chunks), closed: false };
      sock.on('data', (d: Buffer) => chunks.push(d));
      sock.on('error', () => undefined);
      sock.on('close', () => {
        c.closed = true;
      });
      conns.push(c);
    });
    this.add(
      () =>
        new Promise<void>((r) => {
          for (const c of conns) c.sock.destroy();
          server.close(() => r());
        }),
    );
    await new Promise<void>((r) => server.listen({ host, port: 0 }, () => r()));
    return { server, port: (server.address() as net.AddressInfo).port, conns };
  }

  async closeAll(): Promise<void> {
    const list = this.closers.splice(0).reverse();
    for (const fn of list) {
      try {
        await fn();
      } catch {
        /* best effort */
      }
    }
  }
}

export interface TcpClient {
  sock: net.Socket;
  data: () => Buffer;
  closed: boolean;
}

export interface TestServer {
  server: net.Server;
  port: number;
  conns: TcpClient[];
}
