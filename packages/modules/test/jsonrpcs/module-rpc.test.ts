import { RpcRegistry, StatsRegistry } from '@ksr/core';
import { describe, expect, it } from 'vitest';
import { htableModule } from '../../src/htable/index.js';
import type { HtableApi } from '../../src/htable/api.js';
import { pikeModule } from '../../src/pike/index.js';
import { slModule } from '../../src/sl/index.js';
import { FakeClock, testModuleContext } from '../support/common.js';

// The RPC commands modules contribute (ModuleInstance.rpc), called directly.

describe('module RPC commands', () => {
  it('htable.* work on the tables the script uses', async () => {
    const inst = await htableModule.create(testModuleContext('htable', { htable: 'a=>size=8;autoexpire=60' }));
    const rpc = new RpcRegistry().add('htable', inst.rpc!);
    const api = inst.api as HtableApi;
    await rpc.call('htable.sets', ['a', 'k', 'v']);
    await rpc.call('htable.seti', ['a', 'n', '7']);
    expect(api.get('a', 'k')).toBe('v');
    expect(await rpc.call('htable.get', ['a', 'n'])).toEqual({ item: { name: 'n', value: 7 } });
    expect(await rpc.call('htable.listTables', [])).toEqual([{ name: 'a', dbtable: '', dbmode: 0, expire: 60, updateexpire: 1, size: 8, dmqreplicate: 0 }]);
    await rpc.call('htable.delete', ['a', 'k']);
    expect(api.get('a', 'k')).toBeNull();
    await expect(rpc.call('htable.setex', ['a', 'absent', 5])).rejects.toMatchObject({ rpcCode: 500 });
    expect(await rpc.call('htable.flush', ['a'])).toBeNull();
    expect(await rpc.call('htable.dump', ['a'])).toEqual([]);
    await inst.destroy?.();
  });

  it('pike.top lists addresses by filter', async () => {
    const clock = new FakeClock();
    const inst = await pikeModule.create(testModuleContext('pike', { reqs_density_per_unit: 2 }, { clock }));
    const api = inst.api as { check(ip: string): number };
    for (let i = 0; i < 4; i++) api.check('192.0.2.1');
    api.check('192.0.2.2');
    const rpc = new RpcRegistry().add('pike', inst.rpc!);
    expect(await rpc.call('pike.top', [])).toEqual([expect.objectContaining({ ip_addr: '192.0.2.1', status: 'HOT', blocked: 1 })]);
    expect(((await rpc.call('pike.top', ['all'])) as unknown[]).length).toBe(2);
    await inst.destroy?.();
  });

  it('sl.stats reads the sl counters', async () => {
    const stats = new StatsRegistry();
    const inst = await slModule.create(testModuleContext('sl', {}, { stats }));
    stats.counter('sl', '200_replies').inc(3);
    stats.counter('sl', '4xx_replies').inc();
    const rpc = new RpcRegistry().add('sl', inst.rpc!);
    expect(await rpc.call('sl.stats', [])).toMatchObject({ '200': 3, '4xx': 1, '5xx': 0, xxx: 0 });
  });
});
