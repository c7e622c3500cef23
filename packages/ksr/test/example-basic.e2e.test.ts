import dgram from 'node:dgram';
import { parseMessage, type SipResponse } from '@ksr/core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { resolve } from 'node:path';
import { basePort, repoRoot, run, sippArgs, startKsr, startProc, type Proc } from './support/proc.js';

// The example `pnpm start` serves (examples/basic: Lua, in-memory location), started by the ksr
// command on its own port, driven by sipp and raw UDP over 127.0.0.1.

const port = basePort(40);
let ksr: Proc;

beforeAll(async () => {
  ksr = startKsr(['-f', 'examples/basic/ksr.cfg', '-E', '-l', `udp:127.0.0.1:${port}`, '-l', `tcp:127.0.0.1:${port}`]);
  await ksr.waitFor(/serving/);
});

afterAll(() => {
  ksr?.kill('SIGKILL');
});

async function ask(lines: string[]): Promise<SipResponse> {
  const sock = dgram.createSocket('udp4');
  const got: Buffer[] = [];
  sock.on('message', (m) => got.push(m));
  await new Promise<void>((r) => sock.bind(0, '127.0.0.1', () => r()));
  const text = lines.join('\r\n').replace(/LPORT/g, String(sock.address().port)) + '\r\nContent-Length: 0\r\n\r\n';
  sock.send(Buffer.from(text), port, '127.0.0.1');
  for (let i = 0; i < 150 && got.length === 0; i++) await new Promise((r) => setTimeout(r, 20));
  sock.close();
  expect(got.length).toBe(1);
  return parseMessage(got[0]!) as SipResponse;
}

describe('examples/basic served by the ksr command', () => {
  it('routes with Lua and loads the modules it names', () => {
    expect(ksr.output()).toMatch(/routing with lua: examples\/basic\/basic\.lua/);
  });

  it('answers OPTIONS keepalives over UDP and TCP', async () => {
    for (const t of [[], ['-t', 't1']]) {
      const r = await run('sipp', sippArgs('options.xml', `127.0.0.1:${port}`, basePort(41), ['-m', '5', '-r', '20', ...t]));
      expect(r.output).toMatch(/Successful call\s+\|\s+\d+\s+\|\s+5\b/);
      expect(r.code).toBe(0);
    }
  });

  it('registers a user, then finds it; an unknown user gets 404', async () => {
    const reg = await ask([
      `REGISTER sip:127.0.0.1:${port} SIP/2.0`,
      'Via: SIP/2.0/UDP 127.0.0.1:LPORT;branch=z9hG4bK-ex-reg;rport',
      'From: <sip:alice@127.0.0.1>;tag=r1',
      'To: <sip:alice@127.0.0.1>',
      'Call-ID: example-reg-1',
      'CSeq: 1 REGISTER',
      'Max-Forwards: 70',
      'Contact: <sip:alice@127.0.0.1:5999>',
      'Expires: 120',
    ]);
    expect(reg.status).toBe(200);
    expect(reg.contact.contacts[0]?.params.get('expires')).toBe('120');
    const unknown = await ask([
      `MESSAGE sip:nobody@127.0.0.1:${port} SIP/2.0`,
      'Via: SIP/2.0/UDP 127.0.0.1:LPORT;branch=z9hG4bK-ex-msg;rport',
      'From: <sip:alice@127.0.0.1>;tag=m1',
      'To: <sip:nobody@127.0.0.1>',
      'Call-ID: example-msg-1',
      'CSeq: 1 MESSAGE',
      'Max-Forwards: 70',
    ]);
    expect(unknown.status).toBe(404);
    const hops = await ask([
      `MESSAGE sip:alice@127.0.0.1:${port} SIP/2.0`,
      'Via: SIP/2.0/UDP 127.0.0.1:LPORT;branch=z9hG4bK-ex-mf;rport',
      'From: <sip:bob@127.0.0.1>;tag=m2',
      'To: <sip:alice@127.0.0.1>',
      'Call-ID: example-msg-2',
      'CSeq: 1 MESSAGE',
      'Max-Forwards: 0',
    ]);
    expect(hops.status).toBe(483);
  });

  it('relays a call statefully to a registered user, record-routed, ACK and BYE included', async () => {
    const uasPort = basePort(42);
    const reg = await ask([
      `REGISTER sip:127.0.0.1:${port} SIP/2.0`,
      'Via: SIP/2.0/UDP 127.0.0.1:LPORT;branch=z9hG4bK-ex-reg2;rport',
      'From: <sip:carol@127.0.0.1>;tag=r2',
      'To: <sip:carol@127.0.0.1>',
      'Call-ID: example-reg-2',
      'CSeq: 1 REGISTER',
      'Max-Forwards: 70',
      `Contact: <sip:carol@127.0.0.1:${uasPort}>`,
      'Expires: 300',
    ]);
    expect(reg.status).toBe(200);
    const uas = startProc('sipp', ['-sf', resolve(repoRoot, 'packages/ksr/test/sipp/registrar-uas.xml'), '-i', '127.0.0.1', '-p', String(uasPort), '-m', '2', '-nostdin', '-timeout', '20s']);
    await new Promise((r) => setTimeout(r, 300));
    const uac = await run('sipp', sippArgs('registrar-call.xml', `127.0.0.1:${port}`, basePort(43), ['-s', 'carol', '-m', '2', '-r', '5']), 40_000);
    uas.kill('SIGKILL');
    expect(uac.output).toMatch(/Successful call\s+\|\s+\d+\s+\|\s+2\b/);
    expect(uac.code).toBe(0);
  });
});
