import { describe, expect, it } from 'vitest';
import { RpcError, type RpcCommand } from '@ksr/core';
import { UL_FLAGS, usrlocModule, type UsrlocApi } from '../../src/usrloc/index.js';
import { FakeClock, testModuleContext } from '../support/common.js';

async function setup(params: Record<string, string | number | Array<string | number>> = {}) {
  const clock = new FakeClock();
  const instance = await usrlocModule.create(testModuleContext('usrloc', { preload: 'location', ...params }, { clock }));
  const rpc = new Map((instance.rpc ?? []).map((c) => [c.name, c] as [string, RpcCommand]));
  const call = (name: string, ...params: unknown[]) => rpc.get(name)!.handler(params);
  const fault = (name: string, ...params: unknown[]): { code: number; message: string } => {
    try {
      call(name, ...params);
    } catch (e) {
      expect(e).toBeInstanceOf(RpcError);
      return { code: (e as RpcError).rpcCode, message: (e as RpcError).message };
    }
    throw new Error(`${name} did not fail`);
  };
  return { clock, ul: instance.api as UsrlocApi, call, fault, names: [...rpc.keys()] };
}

describe('usrloc RPC commands', () => {
  it('offers Kamailio ul.* commands', async () => {
    const { names } = await setup();
    expect(names).toEqual(['ul.dump', 'ul.lookup', 'ul.rm', 'ul.rm_contact', 'ul.add', 'ul.flush']);
  });

  it('ul.add table AOR contact expires Q path flags cflags methods, then ul.lookup shows it', async () => {
    const { call, ul, clock } = await setup();
    expect(call('ul.add', 'location', 'alice', 'sip:alice@192.0.2.1:5060', 3600, 0.5, '<sip:p.example.com;lr>', 0, 8, 1 + 4 + 8)).toBeNull();
    const [c] = ul.contacts('location', 'alice');
    expect(c).toMatchObject({ uri: 'sip:alice@192.0.2.1:5060', expires: clock.now() + 3600_000, q: 500, path: '<sip:p.example.com;lr>', cflags: 8, methods: ['INVITE', 'ACK', 'BYE'] });
    expect(c!.flags & UL_FLAGS.RPC).toBe(UL_FLAGS.RPC);
    const look = call('ul.lookup', 'location', 'alice') as { AoR: string; Contacts: Array<{ Contact: Record<string, unknown> }> };
    expect(look.AoR).toBe('alice');
    expect(look.Contacts[0]!.Contact).toMatchObject({ Address: 'sip:alice@192.0.2.1:5060', Expires: 3600, Q: 0.5, Path: '<sip:p.example.com;lr>', CFlags: 8, Methods: 'INVITE,ACK,BYE' });
    // the same contact again updates it; path "0" = none, expires 0 = permanent, methods 0xffffffff = all, string numbers accepted
    call('ul.add', 'location', 'alice', 'sip:alice@192.0.2.1:5060', '0', '1.0', '0', '0', '0', String(0xffffffff));
    const again = ul.contacts('location', 'alice');
    expect(again).toHaveLength(1);
    expect(again[0]).toMatchObject({ expires: 0, q: 1000 });
    expect(again[0]!.path).toBeUndefined();
    expect(again[0]!.methods).toBeUndefined();
    const dump = call('ul.dump') as { Domains: Array<{ Domain: { Domain: string; AoRs: Array<{ Info: { AoR: string; Contacts: Array<{ Contact: Record<string, unknown> }> } }> } }> };
    expect(dump.Domains[0]!.Domain.AoRs[0]!.Info.Contacts[0]!.Contact.Expires).toBe('permanent');
    const brief = call('ul.dump', 'brief') as typeof dump;
    expect(brief.Domains[0]!.Domain.AoRs[0]!.Info.Contacts[0]!.Contact).toEqual({ Address: 'sip:alice@192.0.2.1:5060', Expires: 'permanent' });
  });

  it('ul.rm_contact and ul.rm, with 404 faults for what is not there', async () => {
    const { call, fault, ul } = await setup();
    call('ul.add', 'location', 'bob', 'sip:bob@192.0.2.2', 60, 1, '0', 0, 0, 0);
    call('ul.add', 'location', 'bob', 'sip:bob@192.0.2.3', 60, 1, '0', 0, 0, 0);
    expect(fault('ul.rm_contact', 'location', 'bob', 'sip:nobody@192.0.2.9')).toEqual({ code: 404, message: 'Contact not found' });
    expect(call('ul.rm_contact', 'location', 'bob', 'sip:bob@192.0.2.2')).toBeNull();
    expect(ul.contacts('location', 'bob').map((c) => c.uri)).toEqual(['sip:bob@192.0.2.3']);
    expect(call('ul.rm', 'location', 'bob')).toBeNull();
    expect(fault('ul.rm', 'location', 'bob')).toEqual({ code: 404, message: 'AOR not found' });
    expect(fault('ul.lookup', 'location', 'bob')).toEqual({ code: 404, message: 'AOR not found' });
    expect(fault('ul.rm_contact', 'location', 'bob', 'sip:bob@192.0.2.3')).toEqual({ code: 404, message: 'AOR not found' });
    expect(fault('ul.lookup', 'nosuch', 'bob')).toEqual({ code: 404, message: 'Table not found' });
  });

  it('bad parameters are 400 faults', async () => {
    const { fault } = await setup({ use_domain: 1 });
    expect(fault('ul.lookup', 'location').code).toBe(400);
    expect(fault('ul.add', 'location', 'carol@example.com', 'sip:c@h', 'soon', 1, '0', 0, 0, 0).code).toBe(400);
    expect(fault('ul.add', 'location', 'carol@example.com', 'sip:c@h', 60, 2, '0', 0, 0, 0).code).toBe(400);
    expect(fault('ul.add', 'location', 'carol@example.com', 'not-a-uri', 60, 1, '0', 0, 0, 0).code).toBe(400);
    expect(fault('ul.add', 'location', 'carol', 'sip:c@h', 60, 1, '0', 0, 0, 0).message).toMatch(/user@domain/);
    expect(fault('ul.add', 'bad table', 'carol@example.com', 'sip:c@h', 60, 1, '0', 0, 0, 0).code).toBe(400);
  });

  it('ul.flush on the memory store is a no-op', async () => {
    const { call } = await setup();
    expect(call('ul.flush')).toBeNull();
  });
});
