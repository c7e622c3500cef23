import dgram from 'node:dgram';
import { afterEach, describe, expect, it } from 'vitest';
import { ErrorCodes, KsrError } from '../../src/errors.js';
import { Resources, canBindV6, delay, sipMessage, until } from './helpers.js';

const hasV6 = await canBindV6();
const res = new Resources();
afterEach(() => res.closeAll());

describe('UDP transport', () => {
  it('delivers a datagram with the right endpoints and replies to the sender', async () => {
    const { t, got } = res.transport();
    await t.listen([{ proto: 'udp', address: '127.0.0.1', port: 0 }]);
    expect(t.sockets).toHaveLength(1);
    const s = t.sockets[0]!;
    expect(s.proto).toBe('udp');
    expect(s.local.address).toBe('127.0.0.1');
    expect(s.local.port).toBeGreaterThan(0);
    expect(s.local.family).toBe(4);

    const client = await res.udpClient();
    const m = sipMessage('hi', 'OPTIONS sip:bob@127.0.0.1 SIP/2.0');
    client.sock.send(m, s.local.port, '127.0.0.1');
    await until(() => got.length === 1, 'datagram');
    expect(got[0]!.data.equals(m)).toBe(true);
    expect(got[0]!.info).toEqual({
      proto: 'udp',
      local: { address: '127.0.0.1', port: s.local.port, family: 4 },
      remote: { address: '127.0.0.1', port: client.port, family: 4 },
      socketId: s.id,
    });
    expect(t.stats.udpReceived).toBe(1);

    const reply = sipMessage('', 'SIP/2.0 200 OK');
    await t.send({ proto: 'udp', address: '127.0.0.1', port: client.port }, reply);
    await until(() => client.got.length === 1, 'reply');
    expect(client.got[0]!.equals(reply)).toBe(true);
    expect(t.stats.udpSent).toBe(1);
  });

  it('ignores CRLF keep-alive datagrams', async () => {
    const { t, got } = res.transport();
    await t.listen([{ proto: 'udp', address: '127.0.0.1', port: 0 }]);
    const port = t.sockets[0]!.local.port;
    const client = await res.udpClient();
    client.sock.send(Buffer.from('\r\n\r\n'), port, '127.0.0.1');
    client.sock.send(Buffer.from('\r\n'), port, '127.0.0.1');
    client.sock.send(sipMessage('after'), port, '127.0.0.1');
    await until(() => got.length === 1, 'message after keep-alives');
    await delay(20);
    expect(got).toHaveLength(1);
    expect(got[0]!.data.toString()).toContain('after');
    expect(t.stats.udpKeepalives).toBe(2);
  });

  it('drops datagrams larger than maxMessageSize', async () => {
    const { t, got } = res.transport({ maxMessageSize: 300 });
    await t.listen([{ proto: 'udp', address: '127.0.0.1', port: 0 }]);
    const port = t.sockets[0]!.local.port;
    const client = await res.udpClient();
    client.sock.send(sipMessage('x'.repeat(400)), port, '127.0.0.1');
    client.sock.send(sipMessage('small'), port, '127.0.0.1');
    await until(() => got.length === 1, 'small message');
    await delay(20);
    expect(got).toHaveLength(1);
    expect(got[0]!.data.toString()).toContain('small');
    expect(t.stats.droppedOversize).toBe(1);
  });

  it('binds IPv4 and IPv6 on the same port and picks the socket by family', async (ctx) => {
    if (!hasV6) return ctx.skip();
    const { t, got } = res.transport();
    await t.listen([{ proto: 'udp', address: '127.0.0.1', port: 0 }]);
    const port = t.sockets[0]!.local.port;
    try {
      await t.listen([{ proto: 'udp', address: '::1', port }]);
    } catch {
      return ctx.skip(); // port taken on ::1 by someone else: nothing to learn here
    }
    const v6 = t.sockets[1]!;
    expect(v6.local).toEqual({ address: '::1', port, family: 6 });

    const c6 = await res.udpClient('::1');
    c6.sock.send(sipMessage('six'), port, '::1');
    await until(() => got.length === 1, 'IPv6 datagram');
    expect(got[0]!.info.socketId).toBe(v6.id);
    expect(got[0]!.info.remote).toEqual({ address: '::1', port: c6.port, family: 6 });

    // non-canonical spelling of ::1 still goes out over the IPv6 socket
    await t.send({ proto: 'udp', address: '0:0:0:0:0:0:0:1', port: c6.port }, Buffer.from('pong6'));
    const c4 = await res.udpClient();
    await t.send({ proto: 'udp', address: '127.0.0.1', port: c4.port }, Buffer.from('pong4'));
    await until(() => c6.got.length === 1 && c4.got.length === 1, 'replies on both families');
    expect(c6.got[0]!.toString()).toBe('pong6');
    expect(c4.got[0]!.toString()).toBe('pong4');
  });

  it('sends from the listen socket named by socketId', async () => {
    const { t } = res.transport();
    await t.listen([
      { proto: 'udp', address: '127.0.0.1', port: 0 },
      { proto: 'udp', address: '127.0.0.1', port: 0, advertise: { address: '192.0.2.1', port: 5060 } },
    ]);
    const [a, b] = t.sockets;
    expect(b!.advertise).toEqual({ address: '192.0.2.1', port: 5060 });
    const from: number[] = [];
    const client = await res.udpClient();
    client.sock.on('message', (_m, rinfo) => from.push(rinfo.port));
    await t.send({ proto: 'udp', address: '127.0.0.1', port: client.port, socketId: b!.id }, Buffer.from('x'));
    await t.send({ proto: 'udp', address: '127.0.0.1', port: client.port, socketId: a!.id }, Buffer.from('y'));
    await until(() => from.length === 2, 'two datagrams');
    expect(from).toEqual([b!.local.port, a!.local.port]);
  });

  it('rejects (never throws) sends it cannot make', async () => {
    const { t } = res.transport();
    await t.listen([{ proto: 'udp', address: '127.0.0.1', port: 0 }]);
    const bad = [
      t.send({ proto: 'udp', address: 'example.invalid', port: 5060 }, Buffer.from('x')),
      t.send({ proto: 'udp', address: '::1', port: 5060 }, Buffer.from('x')), // no IPv6 socket
      t.send({ proto: 'udp', address: '127.0.0.1', port: 0 }, Buffer.from('x')),
      t.send({ proto: 'sctp' as 'udp', address: '127.0.0.1', port: 5060 }, Buffer.from('x')),
    ];
    for (const p of bad) {
      const err = await p.then(
        () => null,
        (e: unknown) => e,
      );
      expect(err).toBeInstanceOf(KsrError);
      expect((err as KsrError).code).toBe(ErrorCodes.SEND);
    }
    expect(t.stats.sendErrors).toBe(4);
  });

  it('fails listen with KSR_ERR_LISTEN when the UDP port is taken', async () => {
    const squatter = dgram.createSocket('udp4');
    res.add(() => new Promise<void>((r) => squatter.close(() => r())));
    await new Promise<void>((r) => squatter.bind({ address: '127.0.0.1', port: 0 }, () => r()));
    const port = squatter.address().port;
    const { t } = res.transport();
    const err = await t.listen([{ proto: 'udp', address: '127.0.0.1', port }]).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(KsrError);
    expect((err as KsrError).code).toBe(ErrorCodes.LISTEN);
    expect((err as KsrError).message).toContain(`udp:127.0.0.1:${port}`);
    expect((err as KsrError).message).toContain('EADDRINUSE');
    expect(t.sockets).toHaveLength(0);
  });

  it('survives an onMessage handler that throws', async () => {
    let n = 0;
    const { t } = res.transport({
      onMessage: () => {
        n++;
        throw new Error('boom');
      },
    });
    await t.listen([{ proto: 'udp', address: '127.0.0.1', port: 0 }]);
    const port = t.sockets[0]!.local.port;
    const client = await res.udpClient();
    client.sock.send(sipMessage('1'), port, '127.0.0.1');
    client.sock.send(sipMessage('2'), port, '127.0.0.1');
    await until(() => n === 2, 'two deliveries');
  });
});
