import dgram from 'node:dgram';
import { resolve } from 'node:path';
import { createLogger, parseMessage, type SipRequest, type SipResponse } from '@ksr/core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { corexModule } from '../../../modules/src/corex/index.js';
import { siputilsModule } from '../../../modules/src/siputils/index.js';
import { slModule } from '../../../modules/src/sl/index.js';
import { textopsModule } from '../../../modules/src/textops/index.js';
import { textopsxModule } from '../../../modules/src/textopsx/index.js';
import type { RunningServer } from '../../src/main.js';
import { startInProcess } from '../support/inprocess.js';
import { basePort, repoRoot } from '../support/proc.js';

// textops, textopsx, siputils and corex behind a Lua script (fixtures/textops.lua), driven over
// UDP on 127.0.0.1: an OPTIONS for the server gets siputils' 200 with the capability headers, a
// MESSAGE is edited (subst_hf, remove_hf_re, append_hf, msg_apply_changes, replace_body_all,
// include_hf_value) and forwarded statelessly to a socket of the test.

const ksrPort = basePort(120);
const nextHopPort = basePort(121);
let running: RunningServer;
let nextHop: dgram.Socket;
const forwarded: Buffer[] = [];
/** The server's log lines (JSON), shown when a test fails. */
const logLines: string[] = [];

beforeAll(async () => {
  nextHop = dgram.createSocket('udp4');
  nextHop.on('message', (m) => forwarded.push(m));
  await new Promise<void>((r) => nextHop.bind(nextHopPort, '127.0.0.1', () => r()));
  running = await startInProcess({
    cfg: [
      `listen=udp:127.0.0.1:${ksrPort}`,
      'loadmodule "sl.so"',
      'loadmodule "textops.so"',
      'loadmodule "textopsx.so"',
      'loadmodule "siputils.so"',
      'loadmodule "corex.so"',
      'modparam("siputils", "options_support", "path")',
      'loadmodule "app_lua.so"',
      `modparam("app_lua", "load", "${resolve(repoRoot, 'packages/ksr/test/fixtures/textops.lua')}")`,
      'cfgengine "lua"',
    ],
    defines: { FWD_URI: `sip:127.0.0.1:${nextHopPort}` },
    modules: [slModule, textopsModule, textopsxModule, siputilsModule, corexModule],
    logger: createLogger({ level: 'info', destination: { write: (line: string) => void logLines.push(line) } }),
  });
});

afterAll(async () => {
  await running?.stop();
  nextHop?.close();
});

/** Send one datagram; collect what comes back to the client until `count` arrived (or 3 s). */
async function send(text: string, count: number): Promise<Buffer[]> {
  const sock = dgram.createSocket('udp4');
  const got: Buffer[] = [];
  sock.on('message', (m) => got.push(m));
  await new Promise<void>((r) => sock.bind(0, '127.0.0.1', () => r()));
  const port = sock.address().port;
  await new Promise<void>((r, j) => sock.send(Buffer.from(text.replaceAll('@PORT@', String(port)), 'utf8'), ksrPort, '127.0.0.1', (e) => (e ? j(e) : r())));
  for (let i = 0; i < 150 && got.length < count; i++) await new Promise((r) => setTimeout(r, 20));
  await new Promise((r) => setTimeout(r, 50));
  sock.close();
  return got;
}

describe('textops / textopsx / siputils / corex end to end (Lua)', () => {
  it('answers OPTIONS for the server with options_reply', async () => {
    const got = await send(
      [
        `OPTIONS sip:127.0.0.1:${ksrPort} SIP/2.0`,
        'Via: SIP/2.0/UDP 127.0.0.1:@PORT@;branch=z9hG4bK-opt1;rport',
        'Max-Forwards: 70',
        'From: <sip:probe@127.0.0.1>;tag=e2e',
        `To: <sip:127.0.0.1:${ksrPort}>`,
        'Call-ID: textops-e2e-options',
        'CSeq: 1 OPTIONS',
        'Content-Length: 0',
        '',
        '',
      ].join('\r\n'),
      1,
    );
    expect(got).toHaveLength(1);
    const res = parseMessage(got[0]!) as SipResponse;
    expect(res.status).toBe(200);
    expect(res.header('allow')).toContain('INVITE');
    expect(res.header('accept')).toBe('*/*');
    expect(res.header('accept-language')).toBe('en');
    expect(res.header('supported')).toBe('path');
    expect(res.to.tag).toBeTruthy();
  });

  it('edits a MESSAGE and forwards it', async () => {
    forwarded.length = 0;
    const body = 'ping ping\r\n';
    await send(
      [
        `MESSAGE sip:+4912345@127.0.0.1:${ksrPort} SIP/2.0`,
        'Via: SIP/2.0/UDP 127.0.0.1:@PORT@;branch=z9hG4bK-msg1;rport',
        'Max-Forwards: 70',
        'From: <sip:alice@127.0.0.1>;tag=e2e',
        'To: <sip:+4912345@127.0.0.1>',
        'Call-ID: textops-e2e-message',
        'CSeq: 1 MESSAGE',
        'Subject: hello world',
        'X-Secret-1: a',
        'X-Secret-2: b',
        'Supported: 100rel',
        'Content-Type: text/plain',
        `Content-Length: ${Buffer.byteLength(body)}`,
        '',
        body,
      ].join('\r\n'),
      0,
    );
    for (let i = 0; i < 150 && forwarded.length === 0; i++) await new Promise((r) => setTimeout(r, 20));
    expect(forwarded, logLines.join('')).toHaveLength(1);
    const req = parseMessage(forwarded[0]!) as SipRequest;
    expect(req.method).toBe('MESSAGE');
    expect(req.header('subject')).toBe('goodbye world');
    expect(req.hasHeader('x-secret-1')).toBe(false);
    expect(req.hasHeader('x-secret-2')).toBe(false);
    expect(req.header('x-e164')).toBe('1');
    expect(req.header('x-applied')).toBe('yes');
    expect(req.header('supported')).toBe('100rel, path');
    expect(req.body.toString()).toBe('pong pong\r\n');
    expect(req.contentLength).toBe(req.body.length);
    expect(req.via).toHaveLength(2);
  });
});
