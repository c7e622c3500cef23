import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RunningServer } from '../../src/main.js';
import { registerAll, sippUac, sippUas, startLuaProxy, udpRequest } from '../support/lua-proxy.js';
import { basePort, type Proc } from '../support/proc.js';

// tm serial forking and tmx suspend/continue end to end, sipp over 127.0.0.1
// (fixtures/tmx-serial.lua):
//   - user "serial" has two contacts, q=1.0 (a UAS that answers 486) and q=0.5 (a UAS that
//     answers): t_load_contacts / t_next_contacts try the q=1.0 one first, the failure route the
//     q=0.5 one, the caller gets the 200;
//   - user "later": the INVITE is suspended (t_suspend); an OPTIONS to "resume" runs t_continue,
//     whose function looks the callee up and relays; the caller gets the 200.

const ksrPort = basePort(300);
const uacPort = basePort(301);
const uasA = basePort(302);
const uasB = basePort(303);
const regPort = basePort(304);
const trigPort = basePort(305);
let running: RunningServer;

beforeAll(async () => {
  running = await startLuaProxy({
    port: ksrPort,
    fixture: 'tmx-serial.lua',
    tmx: true,
    cfg: ['modparam("tm", "contacts_avp", "tm_contacts")', 'modparam("tm", "contact_flows_avp", "tm_contact_flows")'],
  });
  await registerAll(ksrPort, regPort, [
    ['serial', uasA, '1.0'],
    ['serial', uasB, '0.5'],
    ['later', uasB, '1.0'],
  ]);
});

afterAll(async () => {
  await running?.stop();
});

const num = (name: string): number => Number(running.routing!.services.vars.get(name) ?? 0);

async function ended(p: Proc, ms = 10_000): Promise<number | string> {
  const t = setTimeout(() => p.kill('SIGKILL'), ms);
  const code = await p.exited;
  clearTimeout(t);
  return code;
}

const successful = (n: number): RegExp => new RegExp(`Successful call\\s+\\|\\s+\\d+\\s+\\|\\s+${n}\\b`);

describe('tm serial forking and tmx suspend/continue end to end (sipp)', () => {
  it('serial forking by q: the q=1.0 contact answers 486, the q=0.5 one gets the call', async () => {
    const serial = num('serial');
    const busy = sippUas('tm-uas-486.xml', uasA, 2, [], '15s');
    const answer = sippUas('tm-uas-answer.xml', uasB, 2, [], '15s');
    await new Promise((r) => setTimeout(r, 200));
    const caller = await sippUac('registrar-call.xml', ksrPort, uacPort, 'serial', 2, [], '15s');
    expect(caller.output, caller.output).toMatch(successful(2));
    expect(caller.code).toBe(0);
    expect(await ended(busy), busy.output()).toBe(0);
    expect(await ended(answer), answer.output()).toBe(0);
    expect(num('serial') - serial).toBe(2); // one failure route per call
  });

  it('t_suspend holds the INVITE, t_continue (from another request) relays it', async () => {
    const resumed = num('resumed');
    const answer = sippUas('tm-uas-answer.xml', uasB, 1, [], '15s');
    await new Promise((r) => setTimeout(r, 200));
    const caller = sippUac('registrar-call.xml', ksrPort, uacPort, 'later', 1, [], '15s');
    await new Promise((r) => setTimeout(r, 700));
    expect(num('resumed') - resumed).toBe(0);
    const res = await udpRequest(
      [
        `OPTIONS sip:resume@127.0.0.1:${ksrPort} SIP/2.0`,
        `Via: SIP/2.0/UDP 127.0.0.1:${trigPort};branch=z9hG4bK-tmxres-${process.pid};rport`,
        'Max-Forwards: 70',
        'From: <sip:ops@127.0.0.1>;tag=o1',
        `To: <sip:resume@127.0.0.1>`,
        `Call-ID: tmxres-${process.pid}`,
        'CSeq: 1 OPTIONS',
        'Content-Length: 0',
        '',
        '',
      ].join('\r\n'),
      trigPort,
      ksrPort,
    );
    expect(res?.status).toBe(200);
    const c = await caller;
    expect(c.output, c.output).toMatch(successful(1));
    expect(c.code).toBe(0);
    expect(await ended(answer), answer.output()).toBe(0);
    expect(num('resumed') - resumed).toBe(1);
  });
});
