import { describe, expect, it } from 'vitest';
import { Myself } from '../src/services.js';

const loc = { file: 'ksr.cfg', line: 1 };

describe('is_myself: sockets, advertised addresses and aliases', () => {
  const me = new Myself(
    [
      { id: 0, proto: 'udp', local: { address: '127.0.0.1', port: 5060, family: 4 } },
      { id: 1, proto: 'tcp', local: { address: '::1', port: 5062, family: 6 }, advertise: { address: '203.0.113.7', port: 5080 } },
    ],
    [
      { host: 'sip.example.com', loc },
      { proto: 'udp', host: 'edge.example.com', port: 5070, loc },
    ],
  );

  it('matches listen addresses with and without port', () => {
    expect(me.isMyself('127.0.0.1')).toBe(true);
    expect(me.isMyself('127.0.0.1', 5060)).toBe(true);
    expect(me.isMyself('127.0.0.1', 5061)).toBe(false);
    expect(me.isMyself('[::1]', 5062)).toBe(true);
    expect(me.isMyself('::1', 5062, 'tcp')).toBe(true);
    expect(me.isMyself('::1', 5062, 'udp')).toBe(false);
    expect(me.isMyself('127.0.0.2')).toBe(false);
  });

  it('matches advertised addresses and aliases, case-insensitively', () => {
    expect(me.isMyself('203.0.113.7', 5080)).toBe(true);
    expect(me.isMyself('SIP.Example.COM')).toBe(true);
    expect(me.isMyself('sip.example.com', 5999)).toBe(true); // alias without port: any port
    expect(me.isMyself('edge.example.com', 5070)).toBe(true);
    expect(me.isMyself('edge.example.com', 5071)).toBe(false);
    expect(me.isMyself('other.example.com')).toBe(false);
  });

  it('a wildcard socket matches any IP on its port', () => {
    const any = new Myself([{ id: 0, proto: 'udp', local: { address: '0.0.0.0', port: 5060, family: 4 } }], []);
    expect(any.isMyself('192.0.2.1', 5060)).toBe(true);
    expect(any.isMyself('192.0.2.1', 5061)).toBe(false);
    expect(any.isMyself('host.example.com', 5060)).toBe(false);
  });
});
