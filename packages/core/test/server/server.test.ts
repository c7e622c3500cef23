import dgram from 'node:dgram';
import net from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { SipServer } from '../../src/server/index.js';
import { parseMessage, type SipRequest, type SipResponse } from '../../src/sip/index.js';
import type { ReceiveInfo } from '../../src/transport/index.js';
import { until } from '../transport/helpers.js';

// The server over real sockets on 127.0.0.1: Via stamping, reply routing, malformed policy.

function request(opts: { via: string; method?: string; extra?: string }): Buffer {
  const method = opts.method ?? 'OPTIONS';
  return Buffer.from(
    `${method} sip:127.0.0.1 SIP/2.0\r\n` +
      `Via: ${opts.via}\r\n` +
      'From: <sip:alice@127.0.0.1>;tag=1\r\n' +
      'To: <sip:127.0.0.1>\r\n' +
      `Call-ID: srv-${Math.random()}\r\n` +
      `CSeq: 1 ${method}\r\n` +
      (opts.extra ?? '') +
      'Content-Length: 0\r\n\r\n',
    'latin1',
  );
}

let servers: SipServer[] = [];
let sockets: Array<dgram.Socket | net.Socket> = [];
afterEach(async () => {
  for (const s of sockets) (s as net.Socket).destroy?.() ?? (s as dgram.Socket).close();
  await Promise.all(servers.map((s) => s.stop()));
  servers = [];
  sockets = [];
});

async function startServer(onRequest?: (req: SipRequest, info: ReceiveInfo, srv: SipServer) => void): Promise<{ srv: SipServer; udp: number; tcp: number; seen: SipRequest[] }> {
  const seen: SipRequest[] = [];
  let srv!: SipServer;
  srv = new SipServer({
    listen: [
      { proto: 'udp', address: '127.0.0.1', port: 0 },
      { proto: 'tcp', address: '127.0.0.1', port: 0 },
    ],
    onRequest: (req, info) => {
      seen.push(req);
      if (onRequest) onRequest(req, info, srv);
      else void srv.reply(req, info, 200, 'OK');
    },
  });
  await srv.start();
  servers.push(srv);
  const udp = srv.transport.sockets.find((s) => s.proto === 'udp')!.local.port;
  const tcp = srv.transport.sockets.find((s) => s.proto === 'tcp')!.local.port;
  return { srv, udp, tcp, seen };
}

async function udpClient(): Promise<{ sock: dgram.Socket; port: number; got: Buffer[] }> {
  const sock = dgram.createSocket('udp4');
  sockets.push(sock);
  const got: Buffer[] = [];
  sock.on('message', (m) => got.push(m));
  await new Promise<void>((r) => sock.bind(0, '127.0.0.1', () => r()));
  return { sock, port: sock.address().port, got };
}

describe('SipServer over 127.0.0.1', () => {
  it('stamps received when sent-by differs from the source and answers to the source address', async () => {
    const { udp, seen } = await startServer();
    const c = await udpClient();
    // sent-by names another host but the client's real port; no rport: the reply goes to
    // received (the source address) and the sent-by port
    c.sock.send(request({ via: `SIP/2.0/UDP client.invalid:${c.port};branch=z9hG4bKa1` }), udp, '127.0.0.1');
    await until(() => c.got.length === 1, 'reply');
    const res = parseMessage(c.got[0]!) as SipResponse;
    expect(res.status).toBe(200);
    expect(res.via[0]!.received).toBe('127.0.0.1');
    expect(res.via[0]!.rport).toBeUndefined();
    // the handler saw the original message; its serialisation carries the stamp
    expect(seen[0]!.via[0]!.received).toBeUndefined();
    expect(parseMessage(seen[0]!.serialize()).via[0]!.received).toBe('127.0.0.1');
  });

  it('fills rport with the source port and replies there (RFC 3581), not to the sent-by port', async () => {
    const { udp } = await startServer();
    const c = await udpClient();
    c.sock.send(request({ via: 'SIP/2.0/UDP 127.0.0.1:9;branch=z9hG4bKa2;rport' }), udp, '127.0.0.1');
    await until(() => c.got.length === 1, 'reply');
    const res = parseMessage(c.got[0]!) as SipResponse;
    expect(res.via[0]!.rport).toBe(c.port);
    expect(res.via[0]!.received).toBe('127.0.0.1');
    expect(res.via[0]!.port).toBe(9);
  });

  it('leaves the Via alone when sent-by is the source and no rport is asked', async () => {
    const { udp, seen } = await startServer();
    const c = await udpClient();
    c.sock.send(request({ via: `SIP/2.0/UDP 127.0.0.1:${c.port};branch=z9hG4bKa3` }), udp, '127.0.0.1');
    await until(() => c.got.length === 1, 'reply');
    expect(seen[0]!.modified).toBe(false);
    expect(parseMessage(c.got[0]!).via[0]!.received).toBeUndefined();
  });

  it('answers a malformed UDP request with 400 to the source, drops one that cannot be answered, keeps serving', async () => {
    const { srv, udp } = await startServer();
    const c = await udpClient();
    const bad = request({ via: `SIP/2.0/UDP 127.0.0.1:${c.port};branch=z9hG4bKa4`, extra: 'Max-Forwards: 300\r\n' });
    c.sock.send(bad, udp, '127.0.0.1');
    await until(() => c.got.length === 1, '400');
    const res = parseMessage(c.got[0]!) as SipResponse;
    expect(res.status).toBe(400);
    expect(res.to.tag).toBeTruthy();
    c.sock.send(Buffer.from('NOT SIP AT ALL\r\n\r\n'), udp, '127.0.0.1');
    await until(() => srv.stats.malformedDropped === 1, 'drop');
    c.sock.send(request({ via: `SIP/2.0/UDP 127.0.0.1:${c.port};branch=z9hG4bKa5` }), udp, '127.0.0.1');
    await until(() => c.got.length === 2, 'reply after garbage');
    expect((parseMessage(c.got[1]!) as SipResponse).status).toBe(200);
    expect(srv.stats.parseErrors).toBe(2);
  });

  it('TCP: replies on the same connection; a malformed message closes only its connection', async () => {
    const { tcp } = await startServer();
    const open = async (): Promise<{ s: net.Socket; data: () => string; closed: () => boolean }> => {
      const s = net.connect(tcp, '127.0.0.1');
      sockets.push(s);
      let buf = '';
      let closed = false;
      s.on('data', (d) => (buf += d.toString('latin1')));
      s.on('close', () => (closed = true));
      s.on('error', () => {});
      await new Promise<void>((r) => s.once('connect', () => r()));
      return { s, data: () => buf, closed: () => closed };
    };
    const a = await open();
    const b = await open();
    a.s.write(request({ via: 'SIP/2.0/TCP 127.0.0.1:5099;branch=z9hG4bKt1;rport', extra: 'Max-Forwards: -1\r\n' }));
    await until(() => a.closed(), 'malformed connection closed');
    expect(a.data().startsWith('SIP/2.0 400 ')).toBe(true);
    b.s.write(request({ via: 'SIP/2.0/TCP 127.0.0.1:5099;branch=z9hG4bKt2;rport' }));
    await until(() => b.data().includes('\r\n\r\n'), 'reply on b');
    const res = parseMessage(Buffer.from(b.data(), 'latin1')) as SipResponse;
    expect(res.status).toBe(200);
    expect(res.via[0]!.rport).toBe(b.s.localPort);
    expect(b.closed()).toBe(false);
  });

  it('a throwing handler is counted and logged, not fatal', async () => {
    const { srv, udp } = await startServer(() => {
      throw new Error('boom');
    });
    const c = await udpClient();
    c.sock.send(request({ via: `SIP/2.0/UDP 127.0.0.1:${c.port};branch=z9hG4bKa6` }), udp, '127.0.0.1');
    await until(() => srv.stats.handlerErrors === 1, 'handler error counted');
  });

  it('never answers an ACK', async () => {
    const { udp, seen } = await startServer();
    const c = await udpClient();
    c.sock.send(request({ method: 'ACK', via: `SIP/2.0/UDP 127.0.0.1:${c.port};branch=z9hG4bKa7` }), udp, '127.0.0.1');
    await until(() => seen.length === 1, 'ACK delivered');
    await new Promise((r) => setTimeout(r, 50));
    expect(c.got.length).toBe(0);
  });
});
