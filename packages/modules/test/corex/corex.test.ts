import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { MAX_BRANCHES, type SocketInfo } from '@ksr/core';
import { describe, expect, it } from 'vitest';
import { corexModule, extendedFlags, findSocket, parseSocketSpec } from '../../src/corex/index.js';
import { INVITE_LINES, REPLY_LINES, load, mk } from '../textops/support.js';

const c = await load(corexModule);
const call = c.call;

const SOCKETS: SocketInfo[] = [
  { id: 0, proto: 'udp', local: { address: '127.0.0.1', port: 5060, family: 4 } },
  { id: 1, proto: 'tcp', local: { address: '127.0.0.1', port: 5060, family: 4 } },
  { id: 2, proto: 'udp', local: { address: '::1', port: 5070, family: 6 } },
  { id: 3, proto: 'udp', local: { address: '10.0.0.5', port: 5080, family: 4 }, advertise: { address: '203.0.113.5', port: 5090 } },
];
const withSockets = (lines = INVITE_LINES) => mk(lines, { sockets: () => SOCKETS });

describe('corex branches', () => {
  it('append_branch copies the R-URI branch; append_branch_uri(_q) add a URI', () => {
    const { ctx } = mk();
    ctx.state.dstUri = 'sip:192.0.2.99:5060';
    ctx.state.branchFlags[0] = 0b100;
    ctx.state.sendSocketId = 1;
    ctx.state.ruriPath = '<sip:edge.test;lr>';
    (ctx.msg as { setRequestUri(u: string): void }).setRequestUri('sip:bob@192.0.2.20');
    expect(call('append_branch', ctx)).toBe(1);
    expect(call('append_branch_uri', ctx, 'sip:carol@192.0.2.21')).toBe(1);
    expect(call('append_branch_uri_q', ctx, 'sip:dave@192.0.2.22', '0.5')).toBe(1);
    expect(ctx.state.branches).toEqual([
      { uri: 'sip:bob@192.0.2.20', q: -1, flags: 4, dstUri: 'sip:192.0.2.99:5060', path: '<sip:edge.test;lr>', socketId: 1 },
      { uri: 'sip:carol@192.0.2.21', q: -1, flags: 4, dstUri: 'sip:192.0.2.99:5060', path: '<sip:edge.test;lr>', socketId: 1 },
      { uri: 'sip:dave@192.0.2.22', q: 500, flags: 4, dstUri: 'sip:192.0.2.99:5060', path: '<sip:edge.test;lr>', socketId: 1 },
    ]);
  });

  it('bad URIs, q values, replies and the branch limit', () => {
    const { ctx, logger } = mk();
    expect(call('append_branch_uri', ctx, 'not a uri')).toBe(-1);
    expect(call('append_branch_uri', ctx, 'http://x.test/')).toBe(-1);
    expect(call('append_branch_uri_q', ctx, 'sip:a@b.test', '1.5')).toBe(-1);
    expect(call('append_branch_uri_q', ctx, 'sip:a@b.test', 'x')).toBe(-1);
    expect(call('append_branch_uri_q', ctx, 'sip:a@b.test', '1')).toBe(1);
    expect(ctx.state.branches[0]!.q).toBe(1000);
    expect(call('append_branch', mk(REPLY_LINES).ctx)).toBe(-1);
    for (let i = ctx.state.branches.length; i < MAX_BRANCHES - 1; i++) expect(call('append_branch', ctx)).toBe(1);
    expect(call('append_branch', ctx)).toBe(-1);
    expect(logger.errors()).toHaveLength(5);
  });
});

describe('corex extended flags', () => {
  it('setxflag / resetxflag / isxflagset over 0..63, kept with the message state', () => {
    const { ctx } = mk();
    expect(call('isxflagset', ctx, 40)).toBe(-1);
    expect(call('setxflag', ctx, 40)).toBe(1);
    expect(call('setxflag', ctx, 0)).toBe(1);
    expect(call('setxflag', ctx, 63)).toBe(1);
    expect(call('isxflagset', ctx, 40)).toBe(1);
    expect(extendedFlags(ctx.state)).toBe((1n << 40n) | 1n | (1n << 63n));
    expect(call('resetxflag', ctx, 40)).toBe(1);
    expect(call('isxflagset', ctx, 40)).toBe(-1);
    // another route run over the same state sees them
    const again = mk(INVITE_LINES, { state: ctx.state });
    expect(call('isxflagset', again.ctx, 63)).toBe(1);
    expect(call('setxflag', ctx, 64)).toBe(-1);
    expect(call('isxflagset', ctx, -1)).toBe(-1);
    expect(call('resetxflag', ctx, 1.5)).toBe(-1);
  });
});

describe('corex sockets and addresses', () => {
  it('parses socket specifications', () => {
    expect(parseSocketSpec('udp:127.0.0.1:5060')).toEqual({ proto: 'udp', address: '127.0.0.1', family: 4, port: 5060 });
    expect(parseSocketSpec('127.0.0.1')).toEqual({ proto: undefined, address: '127.0.0.1', family: 4, port: undefined });
    expect(parseSocketSpec('udp:[::1]:5070')).toEqual({ proto: 'udp', address: '::1', family: 6, port: 5070 });
    expect(parseSocketSpec('::1')).toEqual({ proto: undefined, address: '::1', family: 6, port: undefined });
    expect(typeof parseSocketSpec('udp:host.test:5060')).toBe('string');
    expect(typeof parseSocketSpec('udp:127.0.0.1:0')).toBe('string');
    expect(typeof parseSocketSpec('[::1')).toBe('string');
    expect(typeof parseSocketSpec('[::1]x')).toBe('string');
    expect(findSocket(SOCKETS, parseSocketSpec('udp:203.0.113.5:5090') as never)?.id).toBe(3);
    expect(findSocket(SOCKETS, parseSocketSpec('10.0.0.5:5080') as never)?.id).toBe(3);
  });

  it('set_send_socket', () => {
    const { ctx, logger } = withSockets();
    expect(call('set_send_socket', ctx, 'tcp:127.0.0.1:5060')).toBe(1);
    expect(ctx.state.sendSocketId).toBe(1);
    expect(call('set_send_socket', ctx, 'udp:[::1]:5070')).toBe(1);
    expect(ctx.state.sendSocketId).toBe(2);
    expect(call('set_send_socket', ctx, '127.0.0.1')).toBe(1);
    expect(ctx.state.sendSocketId).toBe(0);
    expect(call('set_send_socket', ctx, 'udp:127.0.0.2:5060')).toBe(-1);
    expect(call('set_send_socket', ctx, 'garbage')).toBe(-1);
    expect(ctx.state.sendSocketId).toBe(0);
    expect(call('set_send_socket_name', ctx, 'sock1')).toBe(-1);
    expect(call('set_recv_socket_name', ctx, 'sock1')).toBe(-1);
    expect(call('is_socket_name', ctx, 'sock1')).toBe(-1);
    expect(logger.errors()).toHaveLength(4);
  });

  it('set_recv_socket / set_source_address replace the receive information', () => {
    const { ctx } = withSockets();
    const before = ctx.info;
    expect(call('set_recv_socket', ctx, 'tcp:127.0.0.1:5060')).toBe(1);
    expect(ctx.info).not.toBe(before);
    expect(before.proto).toBe('udp'); // the original is not mutated
    expect(ctx.info).toMatchObject({ proto: 'tcp', socketId: 1, local: { address: '127.0.0.1', port: 5060 } });
    expect(call('set_source_address', ctx, 'udp:198.51.100.7:5999')).toBe(1);
    expect(ctx.info.remote).toEqual({ address: '198.51.100.7', port: 5999, family: 4 });
    expect(ctx.info.proto).toBe('udp');
    expect(call('set_source_address', ctx, '[2001:db8::7]:6000')).toBe(1);
    expect(ctx.info.remote).toEqual({ address: '2001:db8::7', port: 6000, family: 6 });
    expect(call('set_source_address', ctx, '198.51.100.7')).toBe(-1);
    expect(call('set_source_address', ctx, 'tls:198.51.100.7:5061')).toBe(-1);
    expect(call('set_source_address', ctx, 'nonsense')).toBe(-1);
    expect(call('set_recv_socket', ctx, 'udp:1.2.3.4:5')).toBe(-1);
  });
});

describe('corex send_data / sendx', () => {
  it('sends raw data to an IP URI', async () => {
    const { ctx, services } = withSockets();
    expect(call('send_data', ctx, 'sip:192.0.2.50:5070;transport=tcp', 'hello')).toBe(1);
    expect(call('send_data', ctx, 'sip:[2001:db8::1]', 'v6')).toBe(1);
    expect(call('sendx', ctx, 'sip:192.0.2.51', 'udp:10.0.0.5:5080', 'from 3')).toBe(1);
    await Promise.resolve();
    expect(services.sent.map((s) => [s.target, s.data.toString()])).toEqual([
      [{ proto: 'tcp', address: '192.0.2.50', port: 5070 }, 'hello'],
      [{ proto: 'udp', address: '2001:db8::1', port: 5060 }, 'v6'],
      [{ proto: 'udp', address: '192.0.2.51', port: 5060, socketId: 3 }, 'from 3'],
    ]);
  });

  it('refuses host names, other transports, bad URIs and mismatched sockets', () => {
    const { ctx, services, logger } = withSockets();
    expect(call('send_data', ctx, 'sip:example.test', 'x')).toBe(-1);
    expect(call('send_data', ctx, 'sip:192.0.2.1;transport=sctp', 'x')).toBe(-1);
    expect(call('send_data', ctx, 'sips:192.0.2.1', 'x')).toBe(-1);
    expect(call('send_data', ctx, 'tel:+123', 'x')).toBe(-1);
    expect(call('send_data', ctx, 'junk', 'x')).toBe(-1);
    expect(call('sendx', ctx, 'sip:192.0.2.1;transport=tcp', 'udp:127.0.0.1:5060', 'x')).toBe(-1);
    expect(call('sendx', ctx, 'sip:192.0.2.1', 'udp:[::1]:5070', 'x')).toBe(-1);
    expect(call('sendx', ctx, 'sip:192.0.2.1', 'udp:9.9.9.9:1', 'x')).toBe(-1);
    expect(services.sent).toHaveLength(0);
    expect(logger.errors()).toHaveLength(8);
  });

  it('a failing send is logged, not thrown', async () => {
    const { ctx, services, logger } = withSockets();
    (services as { send: unknown }).send = async () => {
      throw new Error('EHOSTUNREACH');
    };
    expect(call('send_data', ctx, 'sip:192.0.2.50', 'x')).toBe(1);
    await new Promise((r) => setImmediate(r));
    expect(logger.errors()[0]).toMatch(/sending to udp:192\.0\.2\.50:5060 failed: EHOSTUNREACH/);
  });
});

describe('corex checks and files', () => {
  it('has_ruri_user / has_user_agent / is_faked_msg', () => {
    expect(call('has_ruri_user', mk().ctx)).toBe(1);
    const noUser = mk(INVITE_LINES.map((l) => (l.startsWith('INVITE') ? 'INVITE sip:ksr.test SIP/2.0' : l)));
    expect(call('has_ruri_user', noUser.ctx)).toBe(-1);
    noUser.req().setRequestUri('sip:carol@ksr.test');
    expect(call('has_ruri_user', noUser.ctx)).toBe(1);
    expect(call('has_ruri_user', mk(REPLY_LINES).ctx)).toBe(-1);
    expect(call('has_user_agent', mk().ctx)).toBe(1);
    expect(call('has_user_agent', mk(INVITE_LINES.filter((l) => !l.startsWith('User-Agent'))).ctx)).toBe(-1);
    expect(call('is_faked_msg', mk().ctx)).toBe(-1);
    expect(call('is_faked_msg', mk(INVITE_LINES, { info: { socketId: -1 } }).ctx)).toBe(1);
  });

  it('file_write / file_read', () => {
    const dir = mkdtempSync(join(tmpdir(), 'ksr-corex-'));
    const f = join(dir, 'data.txt');
    const { ctx, logger } = mk();
    expect(call('file_write', ctx, f, 'Data is: ü')).toBe(1);
    expect(readFileSync(f, 'utf8')).toBe('Data is: ü');
    expect(call('file_read', ctx, f)).toBe('Data is: ü');
    expect(call('file_read', ctx, join(dir, 'missing'))).toBeNull();
    expect(call('file_read', ctx, '')).toBeNull();
    expect(call('file_write', ctx, join(dir, 'no/such/dir/x'), 'x')).toBe(-1);
    expect(call('file_write', ctx, '', 'x')).toBe(-1);
    expect(logger.errors()).toHaveLength(4);
  });
});
