import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openDb, RpcError, type Db } from '@ksr/core';
import { AddressTable, parseIp, permissionsModule } from '../../src/permissions/index.js';
import { parseAddressFile } from '../../src/permissions/index.js';
import { FakeClock, testModuleContext } from '../support/common.js';
import { instantiate, invite, request } from '../auth/support.js';

describe('IP parsing and CIDR matching', () => {
  it('parses IPv4, IPv6 (compressed, bracketed, embedded IPv4) and maps ::ffff:a.b.c.d to IPv4', () => {
    expect(parseIp('10.0.0.1')).toEqual({ family: 4, value: 0x0a000001n });
    expect(parseIp('[2001:db8::1]')).toEqual({ family: 6, value: (0x20010db8n << 96n) | 1n });
    expect(parseIp('::1')).toEqual({ family: 6, value: 1n });
    expect(parseIp('::ffff:192.0.2.1')).toEqual({ family: 4, value: 0xc0000201n });
    expect(parseIp('64:ff9b::192.0.2.1')?.value).toBe((0x64n << 112n) | (0xff9bn << 96n) | 0xc0000201n);
    expect(parseIp('example.com')).toBeUndefined();
    expect(parseIp('300.1.1.1')).toBeUndefined();
  });

  const t = new AddressTable([
    { grp: 1, ipAddr: '192.0.2.10', mask: 32, port: 0, tag: 'exact' },
    { grp: 1, ipAddr: '10.0.0.0', mask: 8, port: 0, tag: 'ten' },
    { grp: 1, ipAddr: '10.1.0.0', mask: 16, port: 5060, tag: 'ten-one-5060' },
    { grp: 2, ipAddr: '2001:db8::', mask: 32, port: 0, tag: 'v6net' },
    { grp: 2, ipAddr: '2001:db8::5', mask: 128, port: 5080, tag: 'v6host' },
    { grp: 3, ipAddr: 'gw.example.com', mask: 32, port: 0, tag: 'dns' },
    { grp: 4, ipAddr: '198.51.100.7', mask: 0, port: 0, tag: null },
    { grp: 0, ipAddr: '1.1.1.1', mask: 32, port: 0, tag: null },
    { grp: 1, ipAddr: 'not an address!', mask: 32, port: 0, tag: null },
    { grp: 1, ipAddr: '1.2.3.4', mask: 33, port: 0, tag: null },
  ]);

  it('loads what is valid and reports the rest', () => {
    expect(t.size).toBe(7);
    expect(t.rejected.map((r) => r.row.ipAddr)).toEqual(['1.1.1.1', 'not an address!', '1.2.3.4']);
  });

  it('IPv4: exact, longest prefix, port 0 = any port, group filter', () => {
    expect(t.match('192.0.2.10', 1234, 1)).toEqual({ grp: 1, tag: 'exact' });
    expect(t.match('192.0.2.11', 1234, 1)).toBeUndefined();
    expect(t.match('10.1.2.3', 5060, 1)).toEqual({ grp: 1, tag: 'ten-one-5060' });
    expect(t.match('10.1.2.3', 5070, 1)).toEqual({ grp: 1, tag: 'ten' });
    expect(t.match('10.255.0.1', 1, 1)).toEqual({ grp: 1, tag: 'ten' });
    expect(t.match('11.0.0.1', 1, 1)).toBeUndefined();
    expect(t.match('10.0.0.1', 1, 2)).toBeUndefined();
    expect(t.match('198.51.100.7', 9, 4)).toEqual({ grp: 4, tag: null }); // mask 0 = one address
    expect(t.match('198.51.100.8', 9, 4)).toBeUndefined();
    expect(t.match('::ffff:10.0.0.1', 1, 1)).toEqual({ grp: 1, tag: 'ten' });
  });

  it('IPv6: subnet and host with port', () => {
    expect(t.match('2001:db8:ffff::1', 1, 2)).toEqual({ grp: 2, tag: 'v6net' });
    expect(t.match('2001:db9::1', 1, 2)).toBeUndefined();
    expect(t.match('2001:db8::5', 5080, 2)).toEqual({ grp: 2, tag: 'v6host' });
    expect(t.match('2001:0db8:0000::0005', 5080)).toEqual({ grp: 2, tag: 'v6host' });
    expect(t.match('2001:db8::5', 5081, 2)).toEqual({ grp: 2, tag: 'v6net' });
    expect(t.match('10.0.0.1', 1, 2)).toBeUndefined();
  });

  it('domain names match strictly, without DNS', () => {
    expect(t.match('GW.example.com', 5060, 3)).toEqual({ grp: 3, tag: 'dns' });
    expect(t.match('other.example.com', 5060, 3)).toBeUndefined();
  });

  it('address file format', () => {
    expect(parseAddressFile('# c\n1 127.0.0.1 32 0 tag1\n1 10.0.0.10\n\n3 [1:5ee::900d:c0de] # x\n')).toEqual([
      { grp: 1, ipAddr: '127.0.0.1', mask: 32, port: 0, tag: 'tag1' },
      { grp: 1, ipAddr: '10.0.0.10', mask: 0, port: 0, tag: null },
      { grp: 3, ipAddr: '[1:5ee::900d:c0de]', mask: 0, port: 0, tag: null },
    ]);
    expect(() => parseAddressFile('x y')).toThrow(/line 1/);
  });
});

describe('permissions module over SQLite', () => {
  let dir: string;
  let url: string;
  let db: Db;
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'ksr-perm-'));
    url = `sqlite://${join(dir, 'perm.db')}`;
    db = openDb(url);
    db.insert('address', { grp: 1, ip_addr: '192.0.2.0', mask: 24, port: 0, tag: 'lan' });
    db.insert('address', { grp: 2, ip_addr: '2001:db8::1', mask: 128, port: 5060, tag: 'v6' });
    db.insert('trusted', { src_ip: '192.0.2.10', proto: 'udp', from_pattern: '^sip:alice@', ruri_pattern: null, tag: 'gw-a', priority: 1 });
    db.insert('trusted', { src_ip: '192.0.2.10', proto: 'any', from_pattern: null, ruri_pattern: null, tag: 'gw-any', priority: 5 });
    db.insert('trusted', { src_ip: '192.0.2.20', proto: 'tcp', from_pattern: null, ruri_pattern: null, tag: 'tcp-only', priority: 0 });
  });
  afterAll(() => {
    db.close();
    rmSync(dir, { recursive: true, force: true });
  });

  async function setup(params: Record<string, string | number> = {}, clock = new FakeClock()) {
    const ctx = testModuleContext('permissions', { db_url: url, peer_tag_avp: '$avp(peer)', ...params }, { clock });
    return { ...(await instantiate(permissionsModule, ctx)), clock };
  }
  const rpc = (inst: { rpc?: readonly { name: string; handler(p: readonly unknown[]): unknown }[] }, name: string) => {
    const c = inst.rpc?.find((r) => r.name === name);
    if (!c) throw new Error(`no rpc ${name}`);
    return () => c.handler([]);
  };

  it('allow_source_address / _group, allow_address / _group, peer tag', async () => {
    const { fn } = await setup();
    const c = request(invite(), { src: '192.0.2.10' });
    expect(fn('allow_source_address')(c, 1)).toBe(1);
    expect(c.state.avps.get('peer')).toEqual(['lan']);
    expect(fn('allow_source_address')(c, 2)).toBe(-1);
    expect(fn('allow_source_address_group')(c)).toBe(1);
    expect(fn('allow_source_address_group')(request(invite(), { src: '198.51.100.1' }))).toBe(-1);
    expect(fn('allow_address')(c, 2, '2001:db8::1', 5060)).toBe(1);
    expect(fn('allow_address')(c, 2, '2001:db8::1', 5061)).toBe(-1);
    expect(fn('allow_address_group')(c, '2001:db8::1', 5060)).toBe(2);
    expect(fn('allow_address_group')(c, 'garbage', 5060)).toBe(-1);
    // bad arguments
    expect(fn('allow_address')(c, -1, '192.0.2.1', 0)).toBe(-1);
    expect(fn('allow_address')(c, 1, '192.0.2.1', 70000)).toBe(-1);
    expect(fn('allow_address_group')(c, '', 0)).toBe(-1);
  });

  it('allow_trusted: db_mode 0 reads the table each call; priority, proto, From pattern, peer_tag_mode', async () => {
    const { fn } = await setup();
    const c = request(invite(), { src: '192.0.2.10' });
    expect(fn('allow_trusted')(c)).toBe(1);
    expect(c.state.avps.get('peer')).toEqual(['gw-any']); // highest priority first
    expect(fn('allow_trusted')(request(invite(), { src: '192.0.2.20' }))).toBe(-1); // tcp only, request came over udp
    expect(fn('allow_trusted')(request(invite(), { src: '192.0.2.99' }))).toBe(-1);
    const all = await setup({ peer_tag_mode: 1 });
    const c2 = request(invite(), { src: '192.0.2.10' });
    expect(all.fn('allow_trusted')(c2)).toBe(2);
    expect(c2.state.avps.get('peer')).toEqual(['gw-a', 'gw-any']);
    const c3 = request(invite([], { from: 'carol' }), { src: '192.0.2.10' });
    expect(all.fn('allow_trusted')(c3)).toBe(1);
  });

  it('allow_trusted with db_mode=1 caches; trustedReload picks up changes', async () => {
    const { fn, instance } = await setup({ db_mode: 1, reload_delta: 0 });
    db.insert('trusted', { src_ip: '192.0.2.30', proto: 'udp', from_pattern: null, ruri_pattern: null, tag: 'late', priority: 0 });
    expect(fn('allow_trusted')(request(invite(), { src: '192.0.2.30' }))).toBe(-1);
    expect(rpc(instance, 'permissions.trustedReload')()).toBe('Reload OK');
    expect(fn('allow_trusted')(request(invite(), { src: '192.0.2.30' }))).toBe(1);
    expect(rpc(instance, 'permissions.trustedDump')()).toEqual(expect.arrayContaining([expect.objectContaining({ srcIp: '192.0.2.30', tag: 'late' })]));
    db.delete('trusted', { src_ip: '192.0.2.30' });
  });

  it('addressReload picks up changes; a failed reload keeps the old table; rate limit', async () => {
    const clock = new FakeClock();
    const { fn, instance } = await setup({}, clock);
    const c = request(invite(), { src: '203.0.113.5' });
    expect(fn('allow_source_address')(c, 7)).toBe(-1);
    db.insert('address', { grp: 7, ip_addr: '203.0.113.0', mask: 24, port: 0, tag: null });
    expect(rpc(instance, 'permissions.addressReload')()).toBe('Reload OK');
    expect(fn('allow_source_address')(c, 7)).toBe(1);
    expect(() => rpc(instance, 'permissions.addressReload')()).toThrow(/rate limited/);
    clock.advance(6000);
    // break the table: the reload fails and the old data stays in use
    db.exec('ALTER TABLE address RENAME TO address_saved');
    try {
      let err: unknown;
      try {
        rpc(instance, 'permissions.addressReload')();
      } catch (e) {
        err = e;
      }
      expect(err).toBeInstanceOf(RpcError);
      expect((err as RpcError).rpcCode).toBe(500);
      expect(fn('allow_source_address')(c, 7)).toBe(1);
      expect(fn('allow_source_address')(request(invite(), { src: '192.0.2.1' }), 1)).toBe(1);
    } finally {
      db.exec('ALTER TABLE address_saved RENAME TO address');
      db.delete('address', { grp: 7 });
    }
    expect(rpc(instance, 'permissions.addressDump')()).toEqual([{ group: 2, ip: '2001:db8::1', port: 5060, tag: 'v6' }]);
    expect(rpc(instance, 'permissions.subnetDump')()).toEqual(expect.arrayContaining([expect.objectContaining({ group: 1, ip: '192.0.2.0', mask: 24 })]));
  });

  it('address_file instead of the database', async () => {
    const file = join(dir, 'address.list');
    writeFileSync(file, '5 10.9.0.0 16 0 filetag\n');
    const ctx = testModuleContext('permissions', { address_file: file, peer_tag_avp: '$avp(peer)' });
    const { fn } = await instantiate(permissionsModule, ctx);
    const c = request(invite(), { src: '10.9.1.1' });
    expect(fn('allow_source_address')(c, 5)).toBe(1);
    expect(c.state.avps.get('peer')).toEqual(['filetag']);
    expect(fn('allow_trusted')(c)).toBe(-1); // no db_url: no trusted table
  });

  it('without db_url or address_file everything is refused, nothing throws', async () => {
    const ctx = testModuleContext('permissions', {});
    const { fn, instance } = await instantiate(permissionsModule, ctx);
    const c = request(invite(), { src: '192.0.2.10' });
    expect(fn('allow_source_address')(c, 1)).toBe(-1);
    expect(fn('allow_trusted')(c)).toBe(-1);
    expect(() => rpc(instance, 'permissions.addressReload')()).toThrow(RpcError);
  });
});
