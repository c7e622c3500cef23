import dgram from 'node:dgram';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { createModuleCatalogue, loadConfig, silentLogger, parseMessage, type SipResponse } from '@ksr/core';
import { createTsEngine } from '@ksr/engine-testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseArgs } from '../src/args.js';
import { startServer, type RunningServer } from '../src/main.js';
import { basePort, repoRoot, run, startProc } from './support/proc.js';

// The whole routing path with a real client: sipp UAC → ksr (route runtime + script engine + core
// KSR exports, stateless forward) → sipp UAS, replies back through ksr_reply_route. The engine is
// the plain TypeScript test engine, registered under the cfgengine name "jsdt".

const ksrPort = basePort(10);
const uasPort = basePort(11);
const uacPort = basePort(12);
const dir = mkdtempSync(join(tmpdir(), 'ksr-proxy-'));
const engine = createTsEngine({ name: 'jsdt' });
let running: RunningServer;

beforeAll(async () => {
  const cfgFile = join(dir, 'proxy.cfg');
  writeFileSync(
    cfgFile,
    [
      '#!KSR',
      `#!define UAS_URI sip:127.0.0.1:${uasPort}`,
      `listen=udp:127.0.0.1:${ksrPort}`,
      'loadmodule "app_jsdt.so"',
      `modparam("app_jsdt", "load", "${resolve(repoRoot, 'packages/ksr/test/fixtures/stateless-proxy.ts')}")`,
      'cfgengine "jsdt"',
      '',
    ].join('\n'),
  );
  const cli = parseArgs(['-f', cfgFile]);
  const cfg = loadConfig(cfgFile, { modules: createModuleCatalogue([engine.module]) });
  running = await startServer(cli, cfg, silentLogger, { engines: [engine] });
});

afterAll(async () => {
  await running?.stop();
});

function vars(): Map<string, unknown> {
  return running.routing!.services!.vars;
}

describe('stateless proxy routed by a script (sipp UAC → ksr → sipp UAS)', () => {
  it('relays INVITE/ACK/BYE and their replies', async () => {
    const uas = startProc('sipp', ['-sn', 'uas', '-i', '127.0.0.1', '-p', String(uasPort), '-m', '5', '-nostdin', '-timeout', '30s']);
    await new Promise((r) => setTimeout(r, 300));
    const uac = await run(
      'sipp',
      ['-sn', 'uac', `127.0.0.1:${ksrPort}`, '-i', '127.0.0.1', '-p', String(uacPort), '-s', 'bob', '-m', '5', '-r', '10', '-d', '100', '-nostdin', '-timeout', '30s', '-timeout_error'],
      60_000,
    );
    uas.kill('SIGKILL');
    expect(uac.output).toMatch(/Successful call\s+\|\s+\d+\s+\|\s+5\b/);
    expect(uac.code).toBe(0);
    const v = vars();
    // INVITE, ACK and BYE for each call went through ksr_request_route, and 100/180/200 (INVITE)
    // and 200 (BYE) through ksr_reply_route
    expect(v.get('requests')).toBeGreaterThanOrEqual(15);
    expect(v.get('replies')).toBeGreaterThanOrEqual(15);
  });

  it('answers 500 when the script fails, and nothing when it drops', async () => {
    const sock = dgram.createSocket('udp4');
    const got: Buffer[] = [];
    sock.on('message', (m) => got.push(m));
    await new Promise<void>((r) => sock.bind(0, '127.0.0.1', () => r()));
    const port = sock.address().port;
    const req = (method: string): Buffer =>
      Buffer.from(
        `${method} sip:127.0.0.1:${ksrPort} SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:${port};branch=z9hG4bK-${method};rport\r\n` +
          `From: <sip:a@127.0.0.1>;tag=1\r\nTo: <sip:b@127.0.0.1>\r\nCall-ID: ${method}-e2e\r\nCSeq: 1 ${method}\r\nMax-Forwards: 70\r\nContent-Length: 0\r\n\r\n`,
      );
    sock.send(req('MESSAGE'), ksrPort, '127.0.0.1');
    sock.send(req('REGISTER'), ksrPort, '127.0.0.1');
    for (let i = 0; i < 100 && got.length === 0; i++) await new Promise((r) => setTimeout(r, 20));
    await new Promise((r) => setTimeout(r, 100));
    sock.close();
    expect(got.length).toBe(1);
    const res = parseMessage(got[0]!) as SipResponse;
    expect(res.status).toBe(500);
    expect(res.cseq.method).toBe('REGISTER');
  });
});
