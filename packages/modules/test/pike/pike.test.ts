import { describe, expect, it } from 'vitest';
import { makeContext, testServices } from '../../../core/test/support/context.js';
import { canonicalIp, pikeModule, type PikeApi } from '../../src/pike/index.js';
import { FakeClock, instantiate, moduleContext, recordingLogger } from '../htable/support.js';

// unit boundaries: the fake clock starts at 1_700_000_000_000, a multiple of 2000 ms
async function setup(params: Record<string, string | number> = {}) {
  const clock = new FakeClock();
  const log = recordingLogger();
  const { instance, fn } = await instantiate(pikeModule, moduleContext('pike', { reqs_density_per_unit: 5, ...params }, { clock, logger: log.logger }));
  const api = instance.api as PikeApi;
  const from = (address: string) => makeContext(undefined, { services: testServices(), info: { remote: { address, port: 5060, family: address.includes(':') ? 6 : 4 } } });
  return { clock, log, instance, fn, api, from };
}

describe('pike_check_req / pike_check_ip', () => {
  it('allows reqs_density_per_unit requests per unit, blocks the next (-2 once, then -1)', async () => {
    const { fn, from, log } = await setup();
    const ctx = from('198.51.100.7');
    const results = Array.from({ length: 8 }, () => fn('pike_check_req')(ctx));
    expect(results).toEqual([1, 1, 1, 1, 1, -2, -1, -1]);
    expect(log.lines.filter((l) => /BLOCKing ip 198\.51\.100\.7/.test(l.msg))).toHaveLength(1);
    expect(log.lines.find((l) => /BLOCKing/.test(l.msg))?.level).toBe(40); // pike_log_level 0 = L_WARN
    // another address is not affected
    expect(fn('pike_check_req')(from('198.51.100.8'))).toBe(1);
  });

  it('decays: stays blocked through the next unit, unblocks after a unit within the limit', async () => {
    const { fn, clock, api, log } = await setup();
    const check = () => fn('pike_check_ip')(undefined, '203.0.113.1');
    for (let i = 0; i < 10; i++) check();
    expect(api.isBlocked('203.0.113.1')).toBe(true);
    clock.advance(2_000); // next unit: the previous one was over the limit
    expect(check()).toBe(-1);
    clock.advance(2_000); // previous unit had 1 request: unblocked (by the timer)
    expect(api.isBlocked('203.0.113.1')).toBe(false);
    expect(log.lines.some((l) => /UNBLOCKing ip 203\.0\.113\.1/.test(l.msg))).toBe(true);
    expect(check()).toBe(1);
  });

  it('counts requests that arrive while blocked, so a steady flood stays blocked', async () => {
    const { fn, clock } = await setup();
    const check = () => fn('pike_check_ip')(undefined, '203.0.113.2') as number;
    const last: number[] = [];
    for (let unit = 0; unit < 5; unit++) {
      for (let i = 0; i < 8; i++) last.push(check());
      clock.advance(2_000);
    }
    expect(last.slice(8)).toEqual(Array(32).fill(-1));
  });

  it('a slow but steady source is never blocked', async () => {
    const { fn, clock } = await setup();
    for (let i = 0; i < 100; i++) {
      expect(fn('pike_check_ip')(undefined, '203.0.113.3')).toBe(1);
      clock.advance(500); // 4 per 2 s unit, limit 5
    }
  });

  it('forgets addresses after remove_latency without requests', async () => {
    const { fn, clock, api } = await setup({ remove_latency: 10 });
    fn('pike_check_ip')(undefined, '203.0.113.4');
    expect(api.size()).toBe(1);
    clock.advance(8_000);
    expect(api.size()).toBe(1);
    clock.advance(2_000);
    expect(api.size()).toBe(0);
  });

  it('keeps at most max_ips addresses, dropping the least recently seen', async () => {
    const { fn, api } = await setup({ max_ips: 3 });
    for (const ip of ['10.0.0.1', '10.0.0.2', '10.0.0.3']) fn('pike_check_ip')(undefined, ip);
    fn('pike_check_ip')(undefined, '10.0.0.1'); // refresh .1
    fn('pike_check_ip')(undefined, '10.0.0.4');
    expect(api.size()).toBe(3);
    expect(api.top('ALL').map((e) => e.ip).sort()).toEqual(['10.0.0.1', '10.0.0.3', '10.0.0.4']);
  });

  it('keys IPv6 by canonical form and IPv4-mapped addresses as IPv4', async () => {
    expect(canonicalIp('2001:DB8:0:0::1')).toBe('2001:db8::1');
    expect(canonicalIp('[2001:db8::1]')).toBe('2001:db8::1');
    expect(canonicalIp('::ffff:192.0.2.1')).toBe('192.0.2.1');
    expect(canonicalIp('192.0.2.1')).toBe('192.0.2.1');
    expect(canonicalIp('not-an-ip')).toBeUndefined();
    expect(canonicalIp('')).toBeUndefined();
    const { fn, from } = await setup();
    const results = ['2001:db8::1', '2001:DB8:0::1', '2001:db8:0:0:0:0:0:1'].flatMap((a) => [fn('pike_check_req')(from(a)), fn('pike_check_ip')(undefined, a)]);
    expect(results).toEqual([1, 1, 1, 1, 1, -2]);
  });

  it('answers 1 (and logs) for something that is not an IP address', async () => {
    const { fn, log, api } = await setup();
    expect(fn('pike_check_ip')(undefined, 'example.com')).toBe(1);
    expect(fn('pike_check_ip')(undefined, '')).toBe(1);
    expect(log.lines.some((l) => /is not an IP address/.test(l.msg))).toBe(true);
    expect(api.size()).toBe(0);
  });

  it('honours pike_log_level', async () => {
    const { fn, log } = await setup({ pike_log_level: -1 });
    for (let i = 0; i < 6; i++) fn('pike_check_ip')(undefined, '10.1.1.1');
    expect(log.lines.find((l) => /BLOCKing/.test(l.msg))?.level).toBe(50);
  });

  it('checks its parameters and declares Kamailio types; destroy stops the timer', async () => {
    expect(pikeModule.params.sampling_time_unit!.check!(0)).toMatch(/greater than 0/);
    expect(pikeModule.params.reqs_density_per_unit!.check!(-1)).toMatch(/greater than 0/);
    expect(pikeModule.params.remove_latency!.check!(-1)).toMatch(/negative/);
    const { instance, clock } = await setup();
    expect((instance.exports ?? []).map((e) => `${e.name}:${e.returns}(${e.params.join(',')})`)).toEqual(['pike_check_req:int()', 'pike_check_ip:int(str)']);
    expect(clock.activeTimers).toBe(1);
    await instance.destroy?.();
    expect(clock.activeTimers).toBe(0);
  });
});

describe('pike.top (PikeApi)', () => {
  it('lists HOT, WARM and ALL addresses, hottest first', async () => {
    const { api } = await setup({ reqs_density_per_unit: 10 });
    for (let i = 0; i < 15; i++) api.check('10.0.0.1'); // hot
    for (let i = 0; i < 12; i++) api.check('10.0.0.2'); // hot
    for (let i = 0; i < 7; i++) api.check('10.0.0.3'); // warm (> 5)
    api.check('10.0.0.4'); // cold
    expect(api.top().map((e) => e.ip)).toEqual(['10.0.0.1', '10.0.0.2']);
    expect(api.top('WARM').map((e) => e.ip)).toEqual(['10.0.0.1', '10.0.0.2', '10.0.0.3']);
    expect(api.top('ALL').map((e) => [e.ip, e.status])).toEqual([
      ['10.0.0.1', 'HOT'],
      ['10.0.0.2', 'HOT'],
      ['10.0.0.3', 'WARM'],
      ['10.0.0.4', 'COLD'],
    ]);
    expect(api.top('ALL')[0]).toEqual({ ip: '10.0.0.1', hitsPrev: 0, hitsCurr: 15, status: 'HOT', blocked: true, expires: 120 });
    expect(api.isBlocked('10.0.0.3')).toBe(false);
    expect(api.isBlocked('bogus')).toBe(false);
  });
});
