import { describe, expect, it } from 'vitest';
import { StatsRegistry } from '@ksr/core';
import { MemoryLocationStore, createUsrlocModule, usrlocModule, type LocationChange, type UsrlocApi } from '../../src/usrloc/index.js';
import { FakeClock, moduleContext, recordingLogger } from '../registrar/support.js';

async function setup(params: Record<string, string | number | Array<string | number>> = {}) {
  const clock = new FakeClock();
  const stats = new StatsRegistry();
  const log = recordingLogger();
  const instance = await usrlocModule.create(moduleContext('usrloc', params, { clock, stats, logger: log.logger }));
  return { clock, stats, log, instance, ul: instance.api as UsrlocApi };
}

const contact = (uri: string, expiresInS: number, now: number, extra: Record<string, unknown> = {}) => ({
  uri,
  expires: expiresInS === 0 ? 0 : now + expiresInS * 1000,
  callid: `cid-${uri}`,
  cseq: 1,
  ...extra,
});

describe('usrloc module', () => {
  it('exports no KEMI functions (like Kamailio) and offers its API', async () => {
    const { instance, ul } = await setup();
    expect(usrlocModule.kemiName).toBeNull();
    expect(instance.exports ?? []).toEqual([]);
    expect(ul.useDomain).toBe(false);
    expect(ul.natBflag).toBe(-1);
    expect(ul.cseqDelay).toBe(20);
    expect(ul.hashSlots).toBe(1024);
  });

  it('reads its parameters (use_domain, nat_bflag, hash_size, preload, desc_time_order)', async () => {
    const { ul } = await setup({ use_domain: 1, nat_bflag: 6, hash_size: 4, preload: ['location', 'other'], desc_time_order: 1, cseq_delay: 5 });
    expect(ul.useDomain).toBe(true);
    expect(ul.natBflag).toBe(6);
    expect(ul.hashSlots).toBe(16);
    expect(ul.descTimeOrder).toBe(true);
    expect(ul.cseqDelay).toBe(5);
    expect(ul.tables()).toEqual(['location', 'other']);
  });

  it('keeps memory with db_mode 0 and refuses a db_url it cannot use in the other modes', async () => {
    const { ul } = await setup({ db_mode: 0, db_url: 'mysql://x' });
    expect(ul.store.kind).toBe('memory');
    await expect(setup({ db_mode: 2, db_url: 'mysql://u:secret@x/db' })).rejects.toMatchObject({ code: 'KSR_ERR_DB_URL' });
    expect(usrlocModule.params.db_mode!.check!(4)).toMatch(/0 \(memory\)/);
  });

  it('checks parameter values through the schema', () => {
    expect(usrlocModule.params.nat_bflag!.check!(40)).toMatch(/0\.\.31/);
    expect(usrlocModule.params.nat_bflag!.check!(3)).toBeUndefined();
    expect(usrlocModule.params.matching_mode!.check!(7)).toBeDefined();
    expect(usrlocModule.params.preload!.multi).toBe(true);
  });

  it('inserts, orders by q then recency, updates and removes contacts', async () => {
    const { ul, clock } = await setup();
    const a = ul.insert('location', 'alice', contact('sip:a@192.0.2.1', 60, clock.now(), { q: 500 }));
    clock.advance(1000);
    const b = ul.insert('location', 'alice', contact('sip:b@192.0.2.2', 60, clock.now(), { q: 1000 }));
    clock.advance(1000);
    const c = ul.insert('location', 'alice', contact('sip:c@192.0.2.3', 60, clock.now(), { q: 500 }));
    expect(ul.contacts('location', 'alice').map((x) => x.uri)).toEqual(['sip:b@192.0.2.2', 'sip:c@192.0.2.3', 'sip:a@192.0.2.1']);
    expect(new Set([a.ruid, b.ruid, c.ruid]).size).toBe(3);
    expect(a.ruid).toMatch(/^ulcx-/);
    expect(a.q).toBe(500);
    expect(a.table).toBe('location');
    expect(a.aor).toBe('alice');

    clock.advance(1000);
    const a2 = ul.update(a, { q: 900, cseq: 2, received: 'sip:198.51.100.1:5060' })!;
    expect(a2.ruid).toBe(a.ruid);
    expect(a2.lastModified).toBe(clock.now());
    expect(a2.received).toBe('sip:198.51.100.1:5060');
    expect(ul.contacts('location', 'alice')[1]!.uri).toBe('sip:a@192.0.2.1');
    // an explicit undefined clears a field
    expect(ul.update(a2, { received: undefined })!.received).toBeUndefined();
    expect(ul.findByRuid('location', c.ruid)?.uri).toBe('sip:c@192.0.2.3');

    expect(ul.remove('location', 'alice', b.ruid)).toBe(true);
    expect(ul.remove('location', 'alice', b.ruid)).toBe(false);
    expect(ul.update(b, { q: 1 })).toBeUndefined();
    expect(ul.removeRecord('location', 'alice')).toBe(2);
    expect(ul.record('location', 'alice')).toBeUndefined();
    expect(ul.removeRecord('location', 'alice')).toBe(0);
  });

  it('desc_time_order orders newest first regardless of q', async () => {
    const { ul, clock } = await setup({ desc_time_order: 1 });
    ul.insert('location', 'bob', contact('sip:hi@192.0.2.1', 60, clock.now(), { q: 1000 }));
    clock.advance(10);
    ul.insert('location', 'bob', contact('sip:new@192.0.2.2', 60, clock.now(), { q: 100 }));
    expect(ul.contacts('location', 'bob').map((x) => x.uri)).toEqual(['sip:new@192.0.2.2', 'sip:hi@192.0.2.1']);
  });

  it('hides expired contacts at once and removes them (and empty records) on the timer', async () => {
    const { ul, clock, stats } = await setup({ timer_interval: 10 });
    ul.insert('location', 'alice', contact('sip:short@192.0.2.1', 5, clock.now()));
    ul.insert('location', 'alice', contact('sip:long@192.0.2.2', 60, clock.now()));
    ul.insert('location', 'carol', contact('sip:c@192.0.2.3', 5, clock.now()));
    ul.insert('location', 'perm', contact('sip:p@192.0.2.4', 0, clock.now()));
    const expired: string[] = [];
    const off = ul.onExpired((c) => expired.push(c.uri));
    expect(stats.snapshot('usrloc')).toMatchObject({ 'usrloc:registered_users': 3, 'usrloc:location-contacts': 4, 'usrloc:location-users': 3 });

    clock.advance(6_000); // expired but the timer has not run yet
    expect(ul.contacts('location', 'alice').map((c) => c.uri)).toEqual(['sip:long@192.0.2.2']);
    expect(ul.contacts('location', 'carol')).toEqual([]);
    expect(ul.record('location', 'carol')).toHaveLength(1);
    expect(expired).toEqual([]);

    clock.advance(4_000); // timer at 10 s
    expect(expired.sort()).toEqual(['sip:c@192.0.2.3', 'sip:short@192.0.2.1']);
    expect(ul.record('location', 'carol')).toBeUndefined();
    expect(ul.record('location', 'alice')).toHaveLength(1);
    expect(ul.contacts('location', 'perm')).toHaveLength(1); // permanent (expires 0)
    expect(stats.snapshot('usrloc')).toMatchObject({
      'usrloc:registered_users': 2,
      'usrloc:location-users': 2,
      'usrloc:location-contacts': 2,
      'usrloc:location-expires': 2,
    });
    off();
    clock.advance(60_000);
    expect(expired).toHaveLength(2);
    expect(ul.contacts('location', 'alice')).toEqual([]);
    expect(ul.expire()).toBe(0);
  });

  it('timer_interval 0 starts no timer; destroy cancels the timer', async () => {
    const clock = new FakeClock();
    await usrlocModule.create(moduleContext('usrloc', { timer_interval: 0 }, { clock }));
    expect(clock.activeTimers).toBe(0);
    const inst = await usrlocModule.create(moduleContext('usrloc', {}, { clock }));
    expect(clock.activeTimers).toBe(1);
    await inst.destroy?.();
    expect(clock.activeTimers).toBe(0);
  });

  it('dumps and looks up in ul.dump / ul.lookup shape', async () => {
    const { ul, clock } = await setup({ preload: 'location' });
    ul.insert('location', 'alice', contact('sip:a@192.0.2.1', 60, clock.now(), { q: 500, userAgent: 'ua/1', socket: 'udp:127.0.0.1:5060', methods: ['INVITE', 'BYE'] }));
    ul.insert('location', 'perm', contact('sip:p@192.0.2.4', 0, clock.now()));
    clock.advance(10_000);
    const d = ul.dump();
    expect(d.Domains).toHaveLength(1);
    const dom = d.Domains[0]!.Domain;
    expect(dom.Domain).toBe('location');
    expect(dom.Stats).toEqual({ Records: 2, 'Max-Slots': 1024 });
    const alice = dom.AoRs.find((r) => r.Info.AoR === 'alice')!;
    expect(alice.Info.HashID).toBe(ul.aorHash('alice'));
    expect(alice.Info.Contacts[0]!.Contact).toMatchObject({
      Address: 'sip:a@192.0.2.1',
      Expires: 50,
      Q: 0.5,
      'Call-ID': 'cid-sip:a@192.0.2.1',
      CSeq: 1,
      'User-Agent': 'ua/1',
      Received: '[not set]',
      Socket: 'udp:127.0.0.1:5060',
      Methods: 'INVITE,BYE',
    });
    expect(ul.lookup('location', 'perm')!.Contacts[0]!.Contact.Expires).toBe('permanent');
    expect(ul.lookup('location', 'nobody')).toBeUndefined();
    expect(ul.lookup('nope', 'alice')).toBeUndefined();
    expect(JSON.parse(JSON.stringify(d))).toEqual(d); // plain data
    expect(ul.counts()).toEqual({ tables: { location: { records: 2, contacts: 2 } }, records: 2, contacts: 2 });
  });

  it('takes another store (write-behind hook: changes are reported, flush runs on the timer and at destroy)', async () => {
    const changes: LocationChange[] = [];
    let flushes = 0;
    let loaded = false;
    class PersistentStore extends MemoryLocationStore {
      override readonly kind = 'test';
      async load(): Promise<void> {
        loaded = true;
      }
      async flush(): Promise<void> {
        flushes++;
      }
    }
    const store = new PersistentStore();
    store.subscribe((c) => changes.push(c));
    const clock = new FakeClock();
    const def = createUsrlocModule({ store: () => store });
    const inst = await def.create(moduleContext('usrloc', { timer_interval: 1 }, { clock }));
    const ul = inst.api as UsrlocApi;
    expect(loaded).toBe(true);
    expect(ul.store.kind).toBe('test');
    const c = ul.insert('location', 'x', contact('sip:x@192.0.2.9', 2, clock.now()));
    ul.update(c, { cseq: 2 });
    const tick = new Promise<void>((r) => setImmediate(r));
    for (let i = 0; i < 3; i++) {
      clock.advance(1_000);
      await tick.then(() => new Promise<void>((r) => setImmediate(r)));
    }
    expect(changes.map((ch) => (ch.op === 'put' ? `put${ch.previous ? '+' : ''}` : `remove:${ch.reason}`))).toEqual(['put', 'put+', 'remove:expired']);
    expect(flushes).toBe(3); // one per timer run, never two at once
    await inst.destroy?.();
    expect(flushes).toBe(4);
  });
});
