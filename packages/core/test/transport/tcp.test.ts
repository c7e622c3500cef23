import dgram from 'node:dgram';
import net from 'node:net';
import { pino } from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import { ErrorCodes, KsrError } from '../../src/errors.js';
import { Resources, canBindV6, delay, sipMessage, until } from './helpers.js';

const hasV6 = await canBindV6();
const res = new Resources();
afterEach(() => res.closeAll());

async function tcpTransport(opts: Parameters<Resources['transport']>[0] = {}, address = '127.0.0.1') {
  const h = res.transport(opts);
  await h.t.listen([{ proto: 'tcp', address, port: 0 }]);
  return { ...h, port: h.t.sockets[0]!.local.port, socketId: h.t.sockets[0]!.id };
}

async function rejection(p: Promise<unknown>): Promise<KsrError> {
  const e = await p.then(
    () => null,
    (err: unknown) => err,
  );
  expect(e).toBeInstanceOf(KsrError);
  return e as KsrError;
}

describe('TCP transport', () => {
  it('reassembles a message written in three delayed segments', async () => {
    const { t, got, port, socketId } = await tcpTransport();
    const c = await res.tcpClient(port);
    const m = sipMessage('v=0\r\n');
    const cuts = [17, 90];
    c.sock.write(m.subarray(0, cuts[0]));
    await delay(20);
    c.sock.write(m.subarray(cuts[0], cuts[1]));
    await delay(20);
    expect(got).toHaveLength(0);
    c.sock.write(m.subarray(cuts[1]));
    await until(() => got.length === 1, 'message');
    expect(got[0]!.data.equals(m)).toBe(true);
    const info = got[0]!.info;
    expect(info.proto).toBe('tcp');
    expect(info.socketId).toBe(socketId);
    expect(info.remote).toEqual({ address: '127.0.0.1', port: c.sock.localPort, family: 4 });
    expect(info.local).toEqual({ address: '127.0.0.1', port, family: 4 });
    expect(typeof info.connectionId).toBe('number');
    expect(t.hasConnection(info.connectionId!)).toBe(true);
    expect(t.stats.tcpReceived).toBe(1);
    expect(t.stats.tcpConnections).toBe(1);
  });

  it('splits two messages coalesced in one write', async () => {
    const { got, port } = await tcpTransport();
    const c = await res.tcpClient(port);
    const a = sipMessage('first');
    const b = sipMessage('', 'SIP/2.0 200 OK');
    c.sock.write(Buffer.concat([a, b]));
    await until(() => got.length === 2, 'two messages');
    expect(got[0]!.data.equals(a)).toBe(true);
    expect(got[1]!.data.equals(b)).toBe(true);
    expect(got[0]!.info.connectionId).toBe(got[1]!.info.connectionId);
  });

  it('answers a CRLFCRLF ping with one CRLF and ignores a single CRLF', async () => {
    const { t, got, port } = await tcpTransport();
    const c = await res.tcpClient(port);
    c.sock.write('\r\n');
    await delay(30);
    c.sock.write(sipMessage('x'));
    await until(() => got.length === 1, 'message');
    expect(c.data().length).toBe(0);
    c.sock.write('\r\n\r\n');
    await until(() => c.data().length >= 2, 'pong');
    await delay(20);
    expect(c.data().toString()).toBe('\r\n');
    expect(t.stats.keepalivesAnswered).toBe(1);
    expect(c.closed).toBe(false);
  });

  it('closes only the connection that sent a malformed frame', async () => {
    const lines: Array<Record<string, unknown>> = [];
    const logger = pino({ level: 'warn' }, { write: (l: string) => void lines.push(JSON.parse(l) as Record<string, unknown>) });
    const { t, got, port } = await tcpTransport({ logger });
    const bad = await res.tcpClient(port);
    const good = await res.tcpClient(port);
    await until(() => t.stats.tcpConnections === 2, 'two connections');
    const badPort = bad.sock.localPort;
    bad.sock.write('OPTIONS sip:x SIP/2.0\r\nVia: SIP/2.0/TCP 127.0.0.1\r\n\r\n'); // no Content-Length
    await until(() => bad.closed, 'bad connection closed');
    good.sock.write(sipMessage('still fine'));
    await until(() => got.length === 1, 'message on the good connection');
    expect(got[0]!.data.toString()).toContain('still fine');
    expect(good.closed).toBe(false);
    expect(t.stats.framingErrors).toBe(1);
    expect(t.stats.tcpConnections).toBe(1);
    const warn = lines.find((l) => l.msg === 'tcp framing error, closing connection');
    expect(warn).toMatchObject({ mod: 'transport', peer: `tcp:127.0.0.1:${badPort}`, reason: 'missing Content-Length' });
  });

  it('closes a connection whose message exceeds maxMessageSize', async () => {
    const { t, port } = await tcpTransport({ maxMessageSize: 500 });
    const c = await res.tcpClient(port);
    c.sock.write(sipMessage('y'.repeat(600)));
    await until(() => c.closed, 'connection closed');
    expect(t.stats.framingErrors).toBe(1);
  });

  it('reuses the inbound connection to reply, by connectionId or by address:port', async () => {
    const { t, got, port } = await tcpTransport();
    const c = await res.tcpClient(port);
    c.sock.write(sipMessage('req'));
    await until(() => got.length === 1, 'request');
    const info = got[0]!.info;
    const r1 = sipMessage('', 'SIP/2.0 100 Trying');
    const r2 = sipMessage('', 'SIP/2.0 200 OK');
    await t.send({ proto: 'tcp', address: info.remote.address, port: info.remote.port, connectionId: info.connectionId! }, r1);
    await t.send({ proto: 'tcp', address: info.remote.address, port: info.remote.port }, r2);
    await until(() => c.data().length === r1.length + r2.length, 'both replies');
    expect(c.data().equals(Buffer.concat([r1, r2]))).toBe(true);
    expect(t.stats.tcpConnected).toBe(0);
    expect(t.stats.tcpConnections).toBe(1);
    expect(t.stats.tcpSent).toBe(2);
  });

  it('connects to a new peer, delivers, reads responses on that connection and reuses it', async () => {
    const { t, got, socketId } = await tcpTransport();
    const peer = await res.tcpServer();
    const req = sipMessage('', 'OPTIONS sip:peer@127.0.0.1 SIP/2.0');
    await t.send({ proto: 'tcp', address: '127.0.0.1', port: peer.port }, req);
    await until(() => peer.conns.length === 1 && peer.conns[0]!.data().length === req.length, 'request at peer');
    expect(peer.conns[0]!.data().equals(req)).toBe(true);
    expect(t.stats.tcpConnected).toBe(1);

    const resp = sipMessage('', 'SIP/2.0 200 OK');
    peer.conns[0]!.sock.write(resp);
    await until(() => got.length === 1, 'response on the outbound connection');
    expect(got[0]!.data.equals(resp)).toBe(true);
    const info = got[0]!.info;
    expect(info.socketId).toBe(socketId);
    expect(info.remote).toEqual({ address: '127.0.0.1', port: peer.port, family: 4 });
    expect(info.local.port).toBe(peer.conns[0]!.sock.remotePort);
    expect(t.connectionInfo(info.connectionId!)?.outbound).toBe(true);

    // two concurrent sends share the one connection
    await Promise.all([
      t.send({ proto: 'tcp', address: '127.0.0.1', port: peer.port }, Buffer.from(sipMessage('a'))),
      t.send({ proto: 'tcp', address: '127.0.0.1', port: peer.port }, Buffer.from(sipMessage('b'))),
    ]);
    await delay(20);
    expect(peer.conns).toHaveLength(1);
    expect(t.stats.tcpConnected).toBe(1);
  });

  it('opens only one connection for concurrent first sends to the same peer', async () => {
    const { t } = await tcpTransport();
    const peer = await res.tcpServer();
    const m = sipMessage('z');
    await Promise.all([1, 2, 3].map(() => t.send({ proto: 'tcp', address: '127.0.0.1', port: peer.port }, m)));
    await until(() => peer.conns.length === 1 && peer.conns[0]!.data().length === 3 * m.length, 'three messages');
    await delay(20);
    expect(peer.conns).toHaveLength(1);
  });

  it('falls back to a new connection when the given connectionId is gone', async () => {
    const { t } = await tcpTransport();
    const peer = await res.tcpServer();
    await t.send({ proto: 'tcp', address: '127.0.0.1', port: peer.port }, sipMessage('1'));
    await until(() => t.stats.tcpConnections === 1, 'connection');
    const firstId = [...Array(10).keys()].find((i) => t.hasConnection(i))!;
    t.closeConnection(firstId);
    expect(t.hasConnection(firstId)).toBe(false);
    await t.send({ proto: 'tcp', address: '127.0.0.1', port: peer.port, connectionId: firstId }, sipMessage('2'));
    expect(t.stats.tcpConnected).toBe(2);
    await until(() => peer.conns.length === 2, 'second connection at peer');
  });

  it('rejects with KSR_ERR_SEND when the peer refuses the connection', async () => {
    const { t } = await tcpTransport();
    const tmp = net.createServer();
    await new Promise<void>((r) => tmp.listen({ host: '127.0.0.1', port: 0 }, () => r()));
    const port = (tmp.address() as net.AddressInfo).port;
    await new Promise<void>((r) => tmp.close(() => r()));
    const err = await rejection(t.send({ proto: 'tcp', address: '127.0.0.1', port }, sipMessage()));
    expect(err.code).toBe(ErrorCodes.SEND);
    expect(err.message).toContain('ECONNREFUSED');
    expect(t.stats.tcpConnections).toBe(0);
  });

  it('rejects TCP sends with no TCP listen socket of that family', async () => {
    const { t } = res.transport();
    await t.listen([{ proto: 'udp', address: '127.0.0.1', port: 0 }]);
    const err = await rejection(t.send({ proto: 'tcp', address: '127.0.0.1', port: 9 }, sipMessage()));
    expect(err.code).toBe(ErrorCodes.SEND);
    expect(err.message).toMatch(/no TCP listen socket/);
  });

  it('closeConnection() closes the peer socket', async () => {
    const { t, got, port } = await tcpTransport();
    const c = await res.tcpClient(port);
    c.sock.write(sipMessage());
    await until(() => got.length === 1, 'message');
    const id = got[0]!.info.connectionId!;
    t.closeConnection(id);
    expect(t.hasConnection(id)).toBe(false);
    t.closeConnection(id); // idempotent
    t.closeConnection(987654); // unknown
    await until(() => c.closed, 'client sees close');
  });

  it('closes idle connections after tcpConnectionLifetimeMs', async () => {
    const { t, port } = await tcpTransport({ tcpConnectionLifetimeMs: 150 });
    const c = await res.tcpClient(port);
    await until(() => t.stats.tcpConnections === 1, 'accepted');
    const start = Date.now();
    await until(() => c.closed, 'idle close', 2000);
    expect(Date.now() - start).toBeGreaterThanOrEqual(100);
    expect(t.stats.tcpIdleClosed).toBe(1);
    expect(t.stats.tcpConnections).toBe(0);
  });

  it('refuses inbound connections beyond tcpMaxConnections', async () => {
    const { t, got, port } = await tcpTransport({ tcpMaxConnections: 1 });
    const first = await res.tcpClient(port);
    await until(() => t.stats.tcpConnections === 1, 'first accepted');
    const second = await res.tcpClient(port);
    await until(() => second.closed, 'second refused');
    expect(t.stats.tcpRefused).toBe(1);
    first.sock.write(sipMessage('ok'));
    await until(() => got.length === 1, 'first still served');
  });

  it('survives a peer that resets mid-message and sends after the reset reject', async () => {
    const { t, got, port } = await tcpTransport();
    const c = await res.tcpClient(port);
    c.sock.write(sipMessage('x').subarray(0, 30));
    await until(() => t.stats.tcpConnections === 1, 'accepted');
    await delay(20);
    c.sock.resetAndDestroy();
    await until(() => t.stats.tcpConnections === 0, 'connection gone');
    expect(got).toHaveLength(0);
    // the client's ephemeral port no longer listens: reconnect is refused
    const err = await rejection(t.send({ proto: 'tcp', address: '127.0.0.1', port: c.sock.localPort ?? 1 }, sipMessage()));
    expect(err.code).toBe(ErrorCodes.SEND);
  });

  it('enforces tcpSendTimeoutMs on a peer that stops reading', async () => {
    const { t } = await tcpTransport({ tcpSendTimeoutMs: 200 });
    // a peer that accepts and never reads
    const sockets: net.Socket[] = [];
    const peer = net.createServer({ pauseOnConnect: true }, (s) => {
      s.on('error', () => undefined);
      sockets.push(s);
    });
    res.add(
      () =>
        new Promise<void>((r) => {
          for (const s of sockets) s.destroy();
          peer.close(() => r());
        }),
    );
    await new Promise<void>((r) => peer.listen({ host: '127.0.0.1', port: 0 }, () => r()));
    const peerPort = (peer.address() as net.AddressInfo).port;
    const big = Buffer.alloc(48 * 1024 * 1024, 0x61); // more than loopback socket buffers hold
    const p = t.send({ proto: 'tcp', address: '127.0.0.1', port: peerPort }, big);
    await until(() => sockets.length === 1, 'peer accepted');
    const start = Date.now();
    const err = await rejection(p);
    expect(err.code).toBe(ErrorCodes.SEND);
    expect(err.message).toContain('send timeout');
    expect(Date.now() - start).toBeLessThan(2500);
    expect(t.stats.tcpConnections).toBe(0);
  });

  it('rejects a pending send when its connection is closed', async () => {
    const { t, got, port } = await tcpTransport({ tcpSendTimeoutMs: 0 });
    const c = await res.tcpClient(port);
    c.sock.pause();
    c.sock.write(sipMessage());
    await until(() => got.length === 1, 'message');
    const id = got[0]!.info.connectionId!;
    const p = t.send({ proto: 'tcp', address: '127.0.0.1', port: 1, connectionId: id }, Buffer.alloc(48 * 1024 * 1024, 0x62));
    await delay(30);
    t.closeConnection(id);
    const err = await rejection(p);
    expect(err.code).toBe(ErrorCodes.SEND);
  });

  it('close() resolves quickly with connections open in both directions', async () => {
    const { t, port } = await tcpTransport();
    await t.listen([{ proto: 'udp', address: '127.0.0.1', port: 0 }]);
    const clients = await Promise.all([1, 2, 3].map(() => res.tcpClient(port)));
    const peer = await res.tcpServer();
    await t.send({ proto: 'tcp', address: '127.0.0.1', port: peer.port }, sipMessage());
    await until(() => t.stats.tcpConnections === 4, 'four connections');
    const start = Date.now();
    await t.close();
    expect(Date.now() - start).toBeLessThan(500);
    await until(() => clients.every((c) => c.closed) && peer.conns.every((c) => c.closed), 'peers see the close');
    expect(t.stats.tcpConnections).toBe(0);
    await t.close(); // idempotent
    const err = await rejection(t.send({ proto: 'udp', address: '127.0.0.1', port: 9 }, sipMessage()));
    expect(err.code).toBe(ErrorCodes.SEND);
    // the ports are free again
    const again = res.transport();
    await again.t.listen([{ proto: 'tcp', address: '127.0.0.1', port }]);
  });

  it('rejects listen on a port in use with KSR_ERR_LISTEN and closes what it opened', async () => {
    const squatter = net.createServer();
    res.add(() => new Promise<void>((r) => squatter.close(() => r())));
    await new Promise<void>((r) => squatter.listen({ host: '127.0.0.1', port: 0 }, () => r()));
    const port = (squatter.address() as net.AddressInfo).port;
    const { t } = res.transport();
    const err = await rejection(
      t.listen([
        { proto: 'udp', address: '127.0.0.1', port },
        { proto: 'tcp', address: '127.0.0.1', port },
      ]),
    );
    expect(err.code).toBe(ErrorCodes.LISTEN);
    expect(err.message).toContain(`tcp:127.0.0.1:${port}`);
    expect(err.message).toContain('EADDRINUSE');
    expect(t.sockets).toHaveLength(0);
    // the UDP socket opened by the failed call was closed again
    const probe = dgram.createSocket('udp4');
    await new Promise<void>((resolve, reject) => {
      probe.once('error', reject);
      probe.bind({ address: '127.0.0.1', port }, () => resolve());
    });
    await new Promise<void>((r) => probe.close(() => r()));
  });

  it('rejects bad listen specs', async () => {
    const { t } = res.transport();
    for (const spec of [
      { proto: 'tcp' as const, address: 'localhost', port: 0 },
      { proto: 'tcp' as const, address: '127.0.0.1', port: 70000 },
      { proto: 'tls' as 'tcp', address: '127.0.0.1', port: 0 },
    ]) {
      const err = await rejection(t.listen([spec]));
      expect(err.code).toBe(ErrorCodes.LISTEN);
    }
  });

  it('works over IPv6 loopback', async (ctx) => {
    if (!hasV6) return ctx.skip();
    const { t, got, port } = await tcpTransport({}, '::1');
    expect(t.sockets[0]!.local).toEqual({ address: '::1', port, family: 6 });
    const c = await res.tcpClient(port, '::1');
    c.sock.write(sipMessage('six'));
    await until(() => got.length === 1, 'IPv6 message');
    expect(got[0]!.info.remote).toEqual({ address: '::1', port: c.sock.localPort, family: 6 });
    await t.send({ proto: 'tcp', address: '::1', port: c.sock.localPort! }, Buffer.from('SIP/2.0 200 OK\r\nl: 0\r\n\r\n'));
    await until(() => c.data().length > 0, 'reply over the same connection');
    expect(t.stats.tcpConnected).toBe(0);

    const peer = await res.tcpServer('::1');
    await t.send({ proto: 'tcp', address: '::1', port: peer.port }, sipMessage('out6'));
    await until(() => peer.conns.length === 1 && peer.conns[0]!.data().length > 0, 'outbound IPv6');
    expect(peer.conns[0]!.sock.remoteAddress).toBe('::1');
  });
});
