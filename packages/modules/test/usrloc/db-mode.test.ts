import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openDb, StatsRegistry, type Db, type ModuleInstance } from '@ksr/core';
import { CachedDbStore, UL_FLAGS, usrlocModule, type UsrlocApi } from '../../src/usrloc/index.js';
import { contactToRow, maskToMethods, methodsToMask, rowToContact } from '../../src/usrloc/db.js';
import { FakeClock, recordingLogger, testModuleContext } from '../support/common.js';
import { dropPgSchema, pgSchemaUrl, requirePg } from '../../../core/test/db/pg-support.js';

const dir = mkdtempSync(join(tmpdir(), 'ksr-ul-db-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const instances: ModuleInstance[] = [];
afterAll(async () => {
  for (const i of instances) await i.destroy?.();
});

async function start(url: string, mode: number, clock: FakeClock, extra: Record<string, string | number> = {}) {
  const log = recordingLogger();
  const instance = await usrlocModule.create(
    testModuleContext('usrloc', { db_mode: mode, db_url: url, timer_interval: 10, use_domain: 1, ...extra }, { clock, stats: new StatsRegistry(), logger: log.logger }),
  );
  instances.push(instance);
  return { instance, ul: instance.api as UsrlocApi, log };
}

async function stop(i: ModuleInstance): Promise<void> {
  await i.destroy?.();
  instances.splice(instances.indexOf(i), 1);
}

const full = (now: number) => ({
  uri: 'sip:alice@192.0.2.10:5062;transport=udp',
  expires: now + 3600_000,
  q: 500,
  callid: 'call-1@host',
  cseq: 7,
  received: 'sip:198.51.100.1:5070',
  path: '<sip:edge.example.com;lr>',
  userAgent: 'phone/1.0',
  socket: 'udp:127.0.0.1:5060',
  flags: 0,
  cflags: 64,
  methods: ['INVITE', 'ACK', 'BYE', 'OPTIONS'],
  instance: '<urn:uuid:00000000-0000-1000-8000-000A95A0E128>',
  regId: 1,
});

function backendSuite(name: string, makeUrl: () => string, cleanup: (url: string) => void): void {
  describe(`usrloc db_mode on ${name}`, () => {
    let url = '';
    let raw: Db;
    beforeAll(() => {
      url = makeUrl();
      raw = openDb(url, { createSchema: true });
    });
    afterAll(() => {
      raw?.close();
      if (url) cleanup(url);
    });
    const rows = (aor: string) => raw.select('location', { where: { username: aor.split('@')[0]!, domain: aor.split('@')[1]! } });

    it('db_mode 1 writes through: every change is in the table at once, and a restart loads them', async () => {
      const clock = new FakeClock();
      const a = await start(url, 1, clock);
      expect(a.ul.store.kind).toBe('db-write-through');
      const c = a.ul.insert('location', 'alice@m1.example', full(clock.now()));
      expect(rows('alice@m1.example')).toHaveLength(1);
      expect(rows('alice@m1.example')[0]).toMatchObject({ ruid: c.ruid, contact: c.uri, callid: 'call-1@host', cseq: 7, cflags: 64, reg_id: 1, user_agent: 'phone/1.0' });
      a.ul.update(c, { cseq: 8 });
      expect(rows('alice@m1.example')[0]!.cseq).toBe(8);
      const tmp = a.ul.insert('location', 'alice@m1.example', { uri: 'sip:tmp@h', expires: clock.now() + 60_000, callid: 'x', cseq: 1 });
      expect(rows('alice@m1.example')).toHaveLength(2);
      a.ul.remove('location', 'alice@m1.example', tmp.ruid);
      expect(rows('alice@m1.example')).toHaveLength(1);
      await stop(a.instance);

      // restart: a new instance on the same database has the contact back, every field intact
      const b = await start(url, 1, clock);
      const back = b.ul.contacts('location', 'alice@m1.example');
      expect(back).toHaveLength(1);
      const want = { ...full(clock.now()), cseq: 8, ruid: c.ruid, aor: 'alice@m1.example', table: 'location' };
      expect(back[0]).toMatchObject({ ...want, expires: Math.floor(want.expires / 1000) * 1000 });
      expect(b.ul.counts().contacts).toBeGreaterThanOrEqual(1);
      // expiry removes it from the table too
      clock.advance(3601_000);
      expect(b.ul.contacts('location', 'alice@m1.example')).toEqual([]);
      expect(rows('alice@m1.example')).toHaveLength(0);
      await stop(b.instance);
    });

    it('db_mode 2 writes back on the timer and at shutdown; a restart loads them', async () => {
      const clock = new FakeClock();
      const a = await start(url, 2, clock);
      expect(a.ul.store.kind).toBe('db-write-back');
      const c1 = a.ul.insert('location', 'bob@m2.example', { uri: 'sip:bob@192.0.2.20', expires: clock.now() + 600_000, callid: 'b1', cseq: 1 });
      expect(rows('bob@m2.example')).toHaveLength(0);
      expect((a.ul.store as CachedDbStore).pending).toBe(1);
      clock.advance(10_000); // timer_interval 10 s
      await Promise.resolve();
      expect(rows('bob@m2.example')).toHaveLength(1);
      a.ul.update(c1, { cseq: 2 });
      a.ul.insert('location', 'bob@m2.example', { uri: 'sip:bob2@192.0.2.21', expires: 0, callid: 'b2', cseq: 5 });
      expect(rows('bob@m2.example')).toHaveLength(1);
      await stop(a.instance); // flushes
      expect(rows('bob@m2.example').map((r) => r.cseq).sort()).toEqual([2, 5]);

      const b = await start(url, 2, clock);
      const back = b.ul.contacts('location', 'bob@m2.example');
      expect(back.map((c) => c.uri).sort()).toEqual(['sip:bob2@192.0.2.21', 'sip:bob@192.0.2.20']);
      expect(back.find((c) => c.callid === 'b2')!.expires).toBe(0); // permanent survives as permanent
      // a removal is written back too
      b.ul.removeRecord('location', 'bob@m2.example');
      expect(rows('bob@m2.example')).toHaveLength(2);
      const rpcFlush = b.instance.rpc!.find((r) => r.name === 'ul.flush')!;
      expect(rpcFlush.handler([])).toEqual({ Flushed: 2 });
      expect(rows('bob@m2.example')).toHaveLength(0);
      await stop(b.instance);
    });

    it('contacts saved memory-only (flag 0x01) stay out of the table in db_mode 1', async () => {
      const clock = new FakeClock();
      const a = await start(url, 1, clock);
      const c = a.ul.insert('location', 'mem@m1.example', { uri: 'sip:mem@h', expires: clock.now() + 60_000, callid: 'm', cseq: 1, flags: UL_FLAGS.MEM });
      expect(rows('mem@m1.example')).toHaveLength(0);
      a.ul.update(c, { flags: 0 });
      expect(rows('mem@m1.example')).toHaveLength(1);
      a.ul.update(a.ul.findByRuid('location', c.ruid)!, { flags: UL_FLAGS.MEM });
      expect(rows('mem@m1.example')).toHaveLength(0);
      await stop(a.instance);
    });

    it('db_load 0 does not load at start-up', async () => {
      const clock = new FakeClock();
      const a = await start(url, 1, clock);
      a.ul.insert('location', 'carol@m1.example', { uri: 'sip:carol@h', expires: clock.now() + 600_000, callid: 'c', cseq: 1 });
      await stop(a.instance);
      const b = await start(url, 1, clock, { db_load: 0 });
      expect(b.ul.contacts('location', 'carol@m1.example')).toEqual([]);
      await stop(b.instance);
      const c = await start(url, 1, clock);
      expect(c.ul.contacts('location', 'carol@m1.example')).toHaveLength(1);
      c.ul.removeRecord('location', 'carol@m1.example');
      await stop(c.instance);
    });

    it('db_mode 3: two servers on one table see each other at once; expiry, removal, dump', async () => {
      const clock = new FakeClock();
      const a = await start(url, 3, clock);
      const b = await start(url, 3, clock);
      expect(a.ul.store.kind).toBe('db-only');
      const c = a.ul.insert('location', 'dave@m3.example', { ...full(clock.now()), methods: undefined });
      const seen = b.ul.contacts('location', 'dave@m3.example');
      expect(seen).toHaveLength(1);
      expect(seen[0]).toMatchObject({ ruid: c.ruid, uri: c.uri, received: 'sip:198.51.100.1:5070', q: 500 });
      expect(seen[0]!.methods).toBeUndefined();
      expect(b.ul.findByRuid('location', c.ruid)?.uri).toBe(c.uri);
      b.ul.insert('location', 'dave@m3.example', { uri: 'sip:dave2@192.0.2.31', expires: clock.now() + 30_000, callid: 'd2', cseq: 1 });
      expect(a.ul.contacts('location', 'dave@m3.example')).toHaveLength(2);
      expect(a.ul.counts().tables.location).toMatchObject({ contacts: expect.any(Number) });
      const dumpA = a.ul.dump().Domains.find((d) => d.Domain.Domain === 'location')!;
      expect(dumpA.Domain.AoRs.find((r) => r.Info.AoR === 'dave@m3.example')!.Info.Contacts).toHaveLength(2);
      // the 30 s contact expires: whichever server's timer runs removes it for both
      clock.advance(30_000);
      expect(a.ul.contacts('location', 'dave@m3.example')).toHaveLength(1);
      expect(b.ul.record('location', 'dave@m3.example')).toHaveLength(1);
      // a restart changes nothing: the table is the only copy
      await stop(a.instance);
      const a2 = await start(url, 3, clock);
      expect(a2.ul.contacts('location', 'dave@m3.example')[0]!.ruid).toBe(c.ruid);
      expect(b.ul.removeRecord('location', 'dave@m3.example')).toBe(1);
      expect(a2.ul.contacts('location', 'dave@m3.example')).toEqual([]);
      expect(a2.ul.lookup('location', 'dave@m3.example')).toBeUndefined();
      await stop(a2.instance);
      await stop(b.instance);
    });

    it('db_mode 3 on other tables creates them (location-shaped) on first use', async () => {
      const clock = new FakeClock();
      const a = await start(url, 3, clock);
      a.ul.insert('location_alt', 'erin@m3.example', { uri: 'sip:erin@h', expires: 0, callid: 'e', cseq: 1 });
      expect(raw.select('location_alt')).toHaveLength(1);
      expect(a.ul.tables()).toContain('location_alt');
      expect(() => a.ul.contacts('bad table', 'x')).toThrow(/invalid usrloc table name/);
      await stop(a.instance);
    });
  });
}

backendSuite(
  'SQLite',
  () => `sqlite://${join(dir, 'ul.db')}`,
  () => {},
);
backendSuite(
  'PostgreSQL',
  () => {
    requirePg();
    return pgSchemaUrl('usrloc');
  },
  (url) => dropPgSchema(url),
);

describe('usrloc location rows (Kamailio layout)', () => {
  it('maps methods to Kamailio METHOD_* bits and back', () => {
    expect(methodsToMask(['INVITE', 'ACK', 'BYE', 'REGISTER'])).toBe(1 + 4 + 8 + 32);
    expect(methodsToMask(undefined)).toBeNull();
    expect(maskToMethods(1 + 512)).toEqual(['INVITE', 'OPTIONS']);
    expect(maskToMethods(null)).toBeUndefined();
    expect(maskToMethods(0xffffffff)).toBeUndefined();
  });
  it('rows: username/domain split with use_domain, q as a float, permanent as the epoch, no q as -0.001', () => {
    const c = {
      ruid: 'r',
      table: 'location',
      aor: 'alice@example.com',
      uri: 'sip:a@h',
      expires: 0,
      q: -1,
      callid: 'c',
      cseq: 1,
      flags: UL_FLAGS.RPC,
      cflags: 0,
      regId: 0,
      lastModified: Date.UTC(2025, 0, 1),
      serverId: 0,
    };
    const row = contactToRow(c, true);
    expect(row).toMatchObject({ username: 'alice', domain: 'example.com', q: -0.001, expires: '1970-01-01 00:00:00', last_modified: '2025-01-01 00:00:00', flags: 2, methods: null });
    expect(contactToRow(c, false)).toMatchObject({ username: 'alice@example.com', domain: null });
    expect(rowToContact(row, 'location', true)).toEqual(c);
  });
});
