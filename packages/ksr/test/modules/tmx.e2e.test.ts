import dgram from 'node:dgram';
import { resolve } from 'node:path';
import { parseMessage, type SipResponse } from '@ksr/core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { registrarModule } from '../../../modules/src/registrar/index.js';
import { rrModule } from '../../../modules/src/rr/index.js';
import { siputilsModule } from '../../../modules/src/siputils/index.js';
import { slModule } from '../../../modules/src/sl/index.js';
import { tmModule } from '../../../modules/src/tm/index.js';
import { tmxModule } from '../../../modules/src/tmx/index.js';
import { usrlocModule } from '../../../modules/src/usrloc/index.js';
import type { RunningServer } from '../../src/main.js';
import { startInProcess } from '../support/inprocess.js';
import { basePort, repoRoot, run, startProc, type Proc } from '../support/proc.js';

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
  running = await startInProcess({
    cfg: [
      `listen=udp:127.0.0.1:${ksrPort}`,
      'loadmodule "sl.so"',
      'loadmodule "siputils.so"',
      'loadmodule "usrloc.so"',
      'loadmodule "registrar.so"',
      'loadmodule "rr.so"',
      'loadmodule "tm.so"',
      'loadmodule "tmx.so"',
      'loadmodule "app_lua.so"',
      'modparam("tm", "contacts_avp", "tm_contacts")',
      'modparam("tm", "contact_flows_avp", "tm_contact_flows")',
      `modparam("app_lua", "load", "${resolve(repoRoot, 'packages/ksr/test/fixtures/tmx-serial.lua')}")`,
      'cfgengine "lua"',
    ],
    modules: [slModule, siputilsModule, usrlocModule, registrarModule, rrModule, tmModule, tmxModule],
  });
  for (const [user, port, q] of [
    ['serial', uasA, '1.0'],
    ['serial', uasB, '0.5'],
    ['later', uasB, '1.0'],
  ] as const) {
    const res = await udp(register(user, port, q), regPort);
    if (res?.status !== 200) throw new Error(`REGISTER ${user} → ${res?.status}`);
  }
});

afterAll(async () => {
  await running?.stop();
});

const sippDir = resolve(repoRoot, 'packages/ksr/test/sipp');
const num = (name: string): number => Number(running.routing!.services.vars.get(name) ?? 0);

let seq = 0;
function register(user: string, port: number, q: string): string {
  seq++;
  return [
    `REGISTER sip:127.0.0.1:${ksrPort} SIP/2.0`,
    `Via: SIP/2.0/UDP 127.0.0.1:${regPort};branch=z9hG4bK-tmxreg-${process.pid}-${seq};rport`,
    'Max-Forwards: 70',
    `From: <sip:${user}@127.0.0.1>;tag=r${seq}`,
    `To: <sip:${user}@127.0.0.1>`,
    `Call-ID: tmxreg-${process.pid}-${seq}`,
    'CSeq: 1 REGISTER',
    `Contact: <sip:${user}@127.0.0.1:${port}>;q=${q}`,
    'Expires: 300',
    'Content-Length: 0',
    '',
    '',
  ].join('\r\n');
}

/** Send one request from a UDP socket bound to `port` and wait (3 s at most) for its first final reply. */
async function udp(req: string, port: number): Promise<SipResponse | undefined> {
  const sock = dgram.createSocket('udp4');
  await new Promise<void>((r) => sock.bind(port, '127.0.0.1', () => r()));
  const got = new Promise<SipResponse>((res) =>
    sock.on('message', (m) => {
      const r = parseMessage(m) as SipResponse;
      if (r.status >= 200) res(r);
    }),
  );
  sock.send(req, ksrPort, '127.0.0.1');
  const res = await Promise.race([got, new Promise<undefined>((r) => setTimeout(() => r(undefined), 3000))]);
  sock.close();
  return res;
}

function uas(scenario: string, port: number, calls: number): Proc {
  return startProc('sipp', ['-sf', resolve(sippDir, scenario), '-i', '127.0.0.1', '-p', String(port), '-m', String(calls), '-nostdin', '-timeout', '15s', '-timeout_error']);
}

function uac(scenario: string, user: string, calls: number): Promise<{ code: number | string; output: string }> {
  return run(
    'sipp',
    ['-sf', resolve(sippDir, scenario), `127.0.0.1:${ksrPort}`, '-i', '127.0.0.1', '-p', String(uacPort), '-s', user, '-m', String(calls), '-r', '10', '-nostdin', '-timeout', '15s', '-timeout_error'],
    20_000,
  );
}

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
    const busy = uas('tm-uas-486.xml', uasA, 2);
    const answer = uas('tm-uas-answer.xml', uasB, 2);
    await new Promise((r) => setTimeout(r, 200));
    const caller = await uac('registrar-call.xml', 'serial', 2);
    expect(caller.output, caller.output).toMatch(successful(2));
    expect(caller.code).toBe(0);
    expect(await ended(busy), busy.output()).toBe(0);
    expect(await ended(answer), answer.output()).toBe(0);
    expect(num('serial') - serial).toBe(2); // one failure route per call
  });

  it('t_suspend holds the INVITE, t_continue (from another request) relays it', async () => {
    const resumed = num('resumed');
    const answer = uas('tm-uas-answer.xml', uasB, 1);
    await new Promise((r) => setTimeout(r, 200));
    const caller = uac('registrar-call.xml', 'later', 1);
    await new Promise((r) => setTimeout(r, 700));
    expect(num('resumed') - resumed).toBe(0);
    const res = await udp(
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
    );
    expect(res?.status).toBe(200);
    const c = await caller;
    expect(c.output, c.output).toMatch(successful(1));
    expect(c.code).toBe(0);
    expect(await ended(answer), answer.output()).toBe(0);
    expect(num('resumed') - resumed).toBe(1);
  });
});
