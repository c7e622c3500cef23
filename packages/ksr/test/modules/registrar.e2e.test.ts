import dgram from 'node:dgram';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { parseMessage, type SipResponse } from '@ksr/core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { registrarModule } from '../../../modules/src/registrar/index.js';
import { rrModule } from '../../../modules/src/rr/index.js';
import { slModule } from '../../../modules/src/sl/index.js';
import { usrlocModule, type UsrlocApi } from '../../../modules/src/usrloc/index.js';
import type { RunningServer } from '../../src/main.js';
import { startInProcess } from '../support/inprocess.js';
import { basePort, repoRoot, run, sippArgs, startProc } from '../support/proc.js';

// sl + usrloc + registrar + rr behind a Lua script (fixtures/registrar.lua), driven by sipp and
// raw UDP over 127.0.0.1: 1000 users register from an injection file, RFC 3261 §10.3 refresh /
// removal / "Contact: *", a binding that expires (timer_interval 1), and a call to a registered
// user routed by lookup, record-routed, with ACK and BYE following the route set.

const ksrPort = basePort(140);
const uacPort = basePort(141);
const refreshPort = basePort(142);
const uasPort = basePort(143);
const callerPort = basePort(144);
const carolPort = basePort(145);
const dir = mkdtempSync(join(tmpdir(), 'ksr-registrar-'));
let running: RunningServer;

beforeAll(async () => {
  running = await startInProcess({
    cfg: [
      `listen=udp:127.0.0.1:${ksrPort}`,
      'loadmodule "sl.so"',
      'loadmodule "usrloc.so"',
      'loadmodule "registrar.so"',
      'loadmodule "rr.so"',
      'loadmodule "app_lua.so"',
      'modparam("usrloc", "timer_interval", 1)',
      'modparam("registrar", "min_expires", 1)',
      `modparam("app_lua", "load", "${resolve(repoRoot, 'packages/ksr/test/fixtures/registrar.lua')}")`,
      'cfgengine "lua"',
    ],
    modules: [slModule, usrlocModule, registrarModule, rrModule],
  });
});

afterAll(async () => {
  await running?.stop();
});

function ul(): UsrlocApi {
  const api = running.modules.api<UsrlocApi>('usrloc');
  if (!api) throw new Error('usrloc is not loaded');
  return api;
}

function vars(): Map<string, unknown> {
  return running.routing!.services.vars;
}

/** Send requests from one UDP socket ("@PORT@" = its port) and collect replies until `count` arrived (or 3 s). */
async function exchange(requests: string[], count: number, port = 0): Promise<SipResponse[]> {
  const sock = dgram.createSocket('udp4');
  const got: SipResponse[] = [];
  sock.on('message', (m) => got.push(parseMessage(m) as SipResponse));
  await new Promise<void>((r) => sock.bind(port, '127.0.0.1', () => r()));
  const p = sock.address().port;
  for (const req of requests) {
    sock.send(Buffer.from(req.replaceAll('@PORT@', String(p)), 'latin1'), ksrPort, '127.0.0.1');
    await new Promise((r) => setTimeout(r, 20));
  }
  for (let i = 0; i < 150 && got.length < count; i++) await new Promise((r) => setTimeout(r, 20));
  sock.close();
  return got;
}

let n = 0;
function request(method: string, user: string, opts: { callId?: string; cseq?: number; contact?: string; expires?: number; ruri?: string } = {}): string {
  n++;
  return [
    `${method} ${opts.ruri ?? `sip:${method === 'REGISTER' ? '' : `${user}@`}127.0.0.1:${ksrPort}`} SIP/2.0`,
    `Via: SIP/2.0/UDP 127.0.0.1:@PORT@;branch=z9hG4bK-e2e-${n};rport`,
    'Max-Forwards: 70',
    `From: <sip:${user}@127.0.0.1>;tag=e2e${n}`,
    `To: <sip:${user}@127.0.0.1>`,
    `Call-ID: ${opts.callId ?? `e2e-${n}`}`,
    `CSeq: ${opts.cseq ?? 1} ${method}`,
    ...(opts.contact !== undefined ? [`Contact: ${opts.contact}`] : []),
    ...(opts.expires !== undefined ? [`Expires: ${opts.expires}`] : []),
    'Content-Length: 0',
    '',
    '',
  ].join('\r\n');
}

describe('registrar end to end (sipp → ksr with sl, usrloc, registrar, rr)', () => {
  it('answers OPTIONS to the server with 200 and an unknown user with 404', async () => {
    const [opt] = await exchange([request('OPTIONS', 'probe', { ruri: `sip:127.0.0.1:${ksrPort}` })], 1);
    expect(opt?.status).toBe(200);
    const [inv] = await exchange([request('MESSAGE', 'nobody')], 1);
    expect(inv?.status).toBe(404);
  });

  it('registers 1000 users from an injection file (sipp, 200/s): every one gets 200 with its contact', async () => {
    const csv = join(dir, 'users.csv');
    writeFileSync(csv, `SEQUENTIAL\n${Array.from({ length: 1000 }, (_, i) => `user${String(i).padStart(4, '0')};`).join('\n')}\n`);
    const before = Number(vars().get('saves') ?? 0);
    const res = await run(
      'sipp',
      sippArgs('registrar-many.xml', `127.0.0.1:${ksrPort}`, uacPort, ['-inf', csv, '-m', '1000', '-r', '200', '-rp', '1000', '-l', '200', '-timeout', '40s']),
      60_000,
    );
    expect(res.output).toMatch(/Successful call\s+\|\s+\d+\s+\|\s+1000\b/);
    expect(res.code).toBe(0);
    expect(Number(vars().get('saves')) - before).toBeGreaterThanOrEqual(1000);
    const api = ul();
    expect(api.counts().tables.location?.records).toBeGreaterThanOrEqual(1000);
    for (const i of [0, 1, 499, 999]) {
      const user = `user${String(i).padStart(4, '0')}`;
      const cs = api.contacts('location', user);
      expect(cs).toHaveLength(1);
      expect(cs[0]!.uri).toBe(`sip:${user}@127.0.0.1:${uacPort}`);
      expect(Math.round((cs[0]!.expires - api.now()) / 1000)).toBeGreaterThan(3500);
    }
    expect(api.lookup('location', 'user0042')?.Contacts[0]?.Contact.Address).toBe(`sip:user0042@127.0.0.1:${uacPort}`);
  });

  it('refresh, removal with Expires: 0, out-of-order CSeq, Contact: * (sipp, one AOR)', async () => {
    const res = await run('sipp', sippArgs('registrar-refresh.xml', `127.0.0.1:${ksrPort}`, refreshPort, ['-s', 'refresher', '-m', '1']), 30_000);
    expect(res.output).toMatch(/Successful call\s+\|\s+\d+\s+\|\s+1\b/);
    expect(res.code).toBe(0);
    expect(ul().record('location', 'refresher')).toBeUndefined();
  });

  it('a re-REGISTER updates the expiry of the binding in the location table', async () => {
    const callId = `refresh-api-${Date.now()}`;
    const [r1] = await exchange([request('REGISTER', 'carol', { callId, cseq: 1, contact: '<sip:carol@127.0.0.1:@PORT@>', expires: 600 })], 1, carolPort);
    expect(r1?.status).toBe(200);
    const e1 = ul().contacts('location', 'carol')[0]!.expires;
    expect(Math.round((e1 - ul().now()) / 1000)).toBe(600);
    const [r2] = await exchange([request('REGISTER', 'carol', { callId, cseq: 2, contact: '<sip:carol@127.0.0.1:@PORT@>', expires: 60 })], 1, carolPort);
    expect(r2?.status).toBe(200);
    expect(r2?.header('contact')).toBe(`<sip:carol@127.0.0.1:${carolPort}>;expires=60`);
    const cs = ul().contacts('location', 'carol');
    expect(cs).toHaveLength(1);
    expect(Math.round((cs[0]!.expires - ul().now()) / 1000)).toBe(60);
    expect(cs[0]!.cseq).toBe(2);
  });

  it('an expired binding disappears from the location table and lookup answers 404', async () => {
    const [r] = await exchange([request('REGISTER', 'shorty', { contact: '<sip:shorty@127.0.0.1:@PORT@>', expires: 1 })], 1);
    expect(r?.status).toBe(200);
    expect(r?.header('contact')).toMatch(/;expires=1$/);
    expect(ul().contacts('location', 'shorty')).toHaveLength(1);
    await new Promise((res) => setTimeout(res, 2_600));
    expect(ul().record('location', 'shorty')).toBeUndefined();
    const [inv] = await exchange([request('MESSAGE', 'shorty')], 1);
    expect(inv?.status).toBe(404);
  });

  it('routes a call to a registered user by lookup, record-routes it, and ACK/BYE follow the Route set', async () => {
    // bob's phone is the sipp UAS
    const [reg] = await exchange([request('REGISTER', 'bob', { contact: `<sip:bob@127.0.0.1:${uasPort}>`, expires: 300 })], 1);
    expect(reg?.status).toBe(200);
    const looseBefore = Number(vars().get('loose') ?? 0);
    const uas = startProc('sipp', ['-sf', resolve(repoRoot, 'packages/ksr/test/sipp/registrar-uas.xml'), '-i', '127.0.0.1', '-p', String(uasPort), '-m', '1', '-nostdin', '-timeout', '20s', '-timeout_error']);
    try {
      await new Promise((r) => setTimeout(r, 300));
      const uac = await run('sipp', sippArgs('registrar-call.xml', `127.0.0.1:${ksrPort}`, callerPort, ['-s', 'bob', '-m', '1']), 30_000);
      expect(uac.output).toMatch(/Successful call\s+\|\s+\d+\s+\|\s+1\b/);
      expect(uac.code).toBe(0);
      const code = await Promise.race([uas.exited, new Promise((r) => setTimeout(() => r('timeout'), 10_000))]);
      expect(code, uas.output()).toBe(0);
    } finally {
      uas.kill('SIGKILL');
    }
    // ACK and BYE were routed by loose_route
    expect(Number(vars().get('loose')) - looseBefore).toBe(2);
  });
});
