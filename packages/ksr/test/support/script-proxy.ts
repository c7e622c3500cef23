import dgram from 'node:dgram';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { parseMessage, type SipResponse } from '@ksr/core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { basePort, repoRoot, run, startKsr, startProc, type Proc } from './proc.js';

export interface ScriptProxyCase {
  /** cfgengine name. */
  engine: string;
  /** loadmodule name. */
  module: string;
  /** test/fixtures/<script>: a stateless proxy whose request user part can pick an attack. */
  script: string;
  /** Extra modparams for the engine module. */
  modparams?: string[];
  /** User parts that make the script try an escape or a runaway: each must end in a 500. */
  attacks: string[];
  /** Port block offset, distinct per test file. */
  portOffset: number;
}

/**
 * The ksr command with a routing script: sipp UAC → ksr → sipp UAS through the script, then every
 * sandbox escape / runaway attempt answered 500 with a log line naming the script's file:line,
 * and the server still relaying afterwards.
 */
export function describeScriptProxy(c: ScriptProxyCase): void {
  const ksrPort = basePort(c.portOffset);
  const uasPort = basePort(c.portOffset + 1);
  const uacPort = basePort(c.portOffset + 2);
  const scriptPath = resolve(repoRoot, 'packages/ksr/test/fixtures', c.script);
  let ksr: Proc;

  const relay = async (calls: number): Promise<{ code: number | string; output: string }> => {
    const uas = startProc('sipp', ['-sn', 'uas', '-i', '127.0.0.1', '-p', String(uasPort), '-m', String(calls), '-nostdin', '-timeout', '30s']);
    await new Promise((r) => setTimeout(r, 300));
    const uac = await run(
      'sipp',
      ['-sn', 'uac', `127.0.0.1:${ksrPort}`, '-i', '127.0.0.1', '-p', String(uacPort), '-s', 'bob', '-m', String(calls), '-r', '10', '-d', '100', '-nostdin', '-timeout', '30s', '-timeout_error'],
      60_000,
    );
    uas.kill('SIGKILL');
    return uac;
  };

  describe(`ksr -f cfg with cfgengine "${c.engine}" (${c.script})`, () => {
    beforeAll(async () => {
      const dir = mkdtempSync(join(tmpdir(), `ksr-${c.engine}-`));
      const cfg = join(dir, 'proxy.cfg');
      writeFileSync(
        cfg,
        [
          '#!KAMAILIO',
          `#!define UAS_URI sip:127.0.0.1:${uasPort}`,
          `listen=udp:127.0.0.1:${ksrPort}`,
          `loadmodule "${c.module}.so"`,
          `modparam("${c.module}", "load", "${scriptPath}")`,
          ...(c.modparams ?? []),
          `cfgengine "${c.engine}"`,
          '',
        ].join('\n'),
      );
      ksr = startKsr(['-f', cfg, '-E']);
      await ksr.waitFor(/serving/);
    });

    afterAll(() => {
      ksr?.kill('SIGKILL');
    });

    it('loads the script and says so', () => {
      expect(ksr.output()).toContain(`routing with ${c.engine}: ${scriptPath}`);
    });

    it('relays sipp calls through the script (INVITE/ACK/BYE and replies)', async () => {
      const uac = await relay(5);
      expect(uac.output).toMatch(/Successful call\s+\|\s+\d+\s+\|\s+5\b/);
      expect(uac.code).toBe(0);
    });

    it.each(c.attacks)('stops "%s" with a clear error, answers 500 and keeps serving', async (attack) => {
      const sock = dgram.createSocket('udp4');
      const got: string[] = [];
      sock.on('message', (m) => got.push(m.toString('latin1')));
      await new Promise<void>((r) => sock.bind(0, '127.0.0.1', () => r()));
      const port = sock.address().port;
      const before = ksr.output().length;
      const req = Buffer.from(
        `OPTIONS sip:${attack}@127.0.0.1:${ksrPort} SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:${port};branch=z9hG4bK-${attack};rport\r\n` +
          `From: <sip:a@127.0.0.1>;tag=1\r\nTo: <sip:${attack}@127.0.0.1>\r\nCall-ID: ${c.engine}-${attack}\r\nCSeq: 1 OPTIONS\r\nMax-Forwards: 70\r\nContent-Length: 0\r\n\r\n`,
      );
      sock.send(req, ksrPort, '127.0.0.1');
      for (let i = 0; i < 250 && got.length === 0; i++) await new Promise((r) => setTimeout(r, 20));
      sock.close();
      expect(got.length, ksr.output().slice(before)).toBe(1);
      const res = parseMessage(Buffer.from(got[0]!, 'latin1')) as SipResponse;
      expect(res.status).toBe(500);
      const log = ksr.output().slice(before);
      expect(log).toMatch(new RegExp(`script error: .*${c.script.replace('.', '\\.')}:\\d+`));
      expect(log).not.toMatch(/escaped:/);
      expect(ksr.child.exitCode).toBeNull();
    });

    it('still relays after all of that', async () => {
      const uac = await relay(1);
      expect(uac.code).toBe(0);
    });
  });
}
