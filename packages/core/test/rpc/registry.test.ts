import { describe, expect, it } from 'vitest';
import { ErrorCodes, KsrError } from '../../src/errors.js';
import { RpcError, RpcRegistry, rpcParams } from '../../src/rpc/index.js';
import { StatsRegistry } from '../../src/stats/index.js';

describe('RpcRegistry', () => {
  it('dispatches by name, sorts names, gives help', async () => {
    const r = new RpcRegistry()
      .add('core', [{ name: 'core.echo', doc: 'echo', handler: (p) => p }])
      .add('sl', [{ name: 'sl.stats', doc: 'sl counters', handler: async () => ({ '200': 1 }) }]);
    expect(r.names()).toEqual(['core.echo', 'sl.stats']);
    expect(r.help('sl.stats')).toBe('sl counters');
    expect(r.help('nope.x')).toBeUndefined();
    expect(r.owner('sl.stats')).toBe('sl');
    await expect(r.call('core.echo', [1, 'a'])).resolves.toEqual([1, 'a']);
    await expect(r.call('sl.stats', [])).resolves.toEqual({ '200': 1 });
  });

  it('a duplicate name is a startup error naming both owners', () => {
    const r = new RpcRegistry().add('usrloc', [{ name: 'ul.dump', doc: '', handler: () => 1 }]);
    let err: unknown;
    try {
      r.add('other', [{ name: 'ul.dump', doc: '', handler: () => 2 }]);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(KsrError);
    expect((err as KsrError).code).toBe(ErrorCodes.RPC_DUPLICATE);
    expect((err as Error).message).toMatch(/ul\.dump.*usrloc.*other/);
    expect(() => r.add('x', [{ name: 'nodot', doc: '', handler: () => 1 }])).toThrow(/group\.command/);
  });

  it('maps unknown commands to 404 and handler failures to 500, keeps RpcErrors', async () => {
    const r = new RpcRegistry().add('t', [
      { name: 't.bad', doc: '', handler: () => { throw new RpcError(400, 'bad table'); } },
      { name: 't.bug', doc: '', handler: () => { throw new TypeError('oops'); } },
    ]);
    await expect(r.call('t.none', [])).rejects.toMatchObject({ rpcCode: 404 });
    await expect(r.call('t.bad', [])).rejects.toMatchObject({ rpcCode: 400, message: 'bad table' });
    await expect(r.call('t.bug', [])).rejects.toMatchObject({ rpcCode: 500, message: 't.bug failed: oops' });
  });

  it('param helpers answer 400 with the position', () => {
    expect(rpcParams.int(['12'], 0, 'n')).toBe(12);
    expect(rpcParams.str([5], 0, 's')).toBe('5');
    expect(() => rpcParams.int(['x'], 0, 'n')).toThrow(/parameter 1 \(n\) must be an integer/);
    expect(() => rpcParams.str([], 1, 'key')).toThrow(/missing parameter 2 \(key\)/);
    expect(() => rpcParams.max([1, 2], 1)).toThrow(RpcError);
    expect(rpcParams.optInt([], 0, 'n')).toBeUndefined();
  });
});

describe('StatsRegistry: select, reset, gauges', () => {
  it('selects all, a group, group:name and a bare name, sorted', () => {
    const s = new StatsRegistry();
    s.counter('core', 'rcv_requests').inc(3);
    s.counter('sl', '200_replies').inc();
    s.counter('core', 'fwd_requests').inc(2);
    s.gauge('shmem', 'used_size', () => 1234);
    expect(s.select('all').map((e) => `${e.group}:${e.name}=${e.value}`)).toEqual([
      'core:fwd_requests=2',
      'core:rcv_requests=3',
      'shmem:used_size=1234',
      'sl:200_replies=1',
    ]);
    expect(s.select('core:').map((e) => e.name)).toEqual(['fwd_requests', 'rcv_requests']);
    expect(s.select('core:rcv_requests').map((e) => e.value)).toEqual([3]);
    expect(s.select('200_replies').map((e) => e.group)).toEqual(['sl']);
    expect(s.select('nope')).toEqual([]);
  });

  it('resets counters but not gauges nor current sizes', () => {
    const s = new StatsRegistry();
    s.counter('core', 'rcv_requests').inc(3);
    s.counter('usrloc', 'registered_users').inc(5);
    s.counter('usrloc', 'location-contacts').inc(7);
    s.counter('app_lua', 'reloads').inc();
    s.markNoReset('app_lua', 'reloads');
    s.gauge('g', 'x', () => 9);
    const reset = s.reset('all');
    expect(reset.map((e) => `${e.group}:${e.name}`)).toEqual(['core:rcv_requests']);
    expect(s.counter('core', 'rcv_requests').value).toBe(0);
    expect(s.counter('usrloc', 'registered_users').value).toBe(5);
    expect(s.counter('app_lua', 'reloads').value).toBe(1);
    expect(s.select('g:x')[0]!.value).toBe(9);
  });

  it('a gauge that throws reads as 0', () => {
    const s = new StatsRegistry();
    s.gauge('g', 'bad', () => {
      throw new Error('x');
    });
    expect(s.select('g:bad')[0]!.value).toBe(0);
  });
});
