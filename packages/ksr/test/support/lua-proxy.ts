/**
 * The set-up the tm / tmx end-to-end tests share: a Lua-routed registrar + stateful proxy started
 * in-process from a fixture, callees registered through it with a raw REGISTER, and sipp UAS / UAC
 * processes with bounded run times.
 */
import dgram from 'node:dgram';
import { resolve } from 'node:path';
import { parseMessage, type KsrModuleDef, type SipResponse } from '@ksr/core';
import { registrarModule } from '../../../modules/src/registrar/index.js';
import { rrModule } from '../../../modules/src/rr/index.js';
import { siputilsModule } from '../../../modules/src/siputils/index.js';
import { slModule } from '../../../modules/src/sl/index.js';
import { tmModule } from '../../../modules/src/tm/index.js';
import { tmxModule } from '../../../modules/src/tmx/index.js';
import { usrlocModule } from '../../../modules/src/usrloc/index.js';
import type { RunningServer } from '../../src/main.js';
import { startInProcess } from './inprocess.js';
import { repoRoot, run, startProc, type Proc } from './proc.js';

export const sippDir = resolve(repoRoot, 'packages/ksr/test/sipp');

const PROXY_MODULES: readonly KsrModuleDef[] = [slModule, siputilsModule, usrlocModule, registrarModule, rrModule, tmModule];

/**
 * ksr on udp:127.0.0.1:`port` routed by packages/ksr/test/fixtures/`fixture` with sl, siputils,
 * usrloc, registrar, rr, tm (and tmx when `tmx`), plus extra config lines before the engine's.
 */
export function startLuaProxy(opts: { port: number; fixture: string; tmx?: boolean; cfg?: readonly string[] }): Promise<RunningServer> {
  const modules = opts.tmx ? [...PROXY_MODULES, tmxModule] : PROXY_MODULES;
  return startInProcess({
    cfg: [
      `listen=udp:127.0.0.1:${opts.port}`,
      ...modules.map((m) => `loadmodule "${m.name}.so"`),
      'loadmodule "app_lua.so"',
      ...(opts.cfg ?? []),
      `modparam("app_lua", "load", "${resolve(repoRoot, 'packages/ksr/test/fixtures', opts.fixture)}")`,
      'cfgengine "lua"',
    ],
    modules,
  });
}

let seq = 0;

/** A REGISTER for `user` binding sip:user@127.0.0.1:`contactPort` (its own Call-ID), sent from `fromPort`. */
export function registerRequest(proxyPort: number, fromPort: number, user: string, contactPort: number, q?: string): string {
  seq++;
  const id = `reg-${process.pid}-${seq}`;
  return [
    `REGISTER sip:127.0.0.1:${proxyPort} SIP/2.0`,
    `Via: SIP/2.0/UDP 127.0.0.1:${fromPort};branch=z9hG4bK-${id};rport`,
    'Max-Forwards: 70',
    `From: <sip:${user}@127.0.0.1>;tag=r${seq}`,
    `To: <sip:${user}@127.0.0.1>`,
    `Call-ID: ${id}`,
    'CSeq: 1 REGISTER',
    `Contact: <sip:${user}@127.0.0.1:${contactPort}>${q !== undefined ? `;q=${q}` : ''}`,
    'Expires: 300',
    'Content-Length: 0',
    '',
    '',
  ].join('\r\n');
}

/** Send one request from a UDP socket bound to `fromPort` and wait (3 s at most) for its first final reply. */
export async function udpRequest(req: string, fromPort: number, proxyPort: number): Promise<SipResponse | undefined> {
  const sock = dgram.createSocket('udp4');
  await new Promise<void>((r) => sock.bind(fromPort, '127.0.0.1', () => r()));
  const got = new Promise<SipResponse>((res) =>
    sock.on('message', (m) => {
      const r = parseMessage(m) as SipResponse;
      if (r.status >= 200) res(r);
    }),
  );
  sock.send(req, proxyPort, '127.0.0.1');
  const res = await Promise.race([got, new Promise<undefined>((r) => setTimeout(() => r(undefined), 3000))]);
  sock.close();
  return res;
}

/** Register each [user, contact port, q?]; throws unless every REGISTER gets a 200. */
export async function registerAll(proxyPort: number, fromPort: number, bindings: ReadonlyArray<readonly [string, number, string?]>): Promise<void> {
  for (const [user, port, q] of bindings) {
    const res = await udpRequest(registerRequest(proxyPort, fromPort, user, port, q), fromPort, proxyPort);
    if (res?.status !== 200) throw new Error(`REGISTER ${user} → ${res?.status ?? 'no reply'}`);
  }
}

/** A sipp UAS on `port` for `calls` calls of packages/ksr/test/sipp/`scenario`. */
export function sippUas(scenario: string, port: number, calls: number, extra: readonly string[] = [], timeout = '20s'): Proc {
  return startProc('sipp', ['-sf', resolve(sippDir, scenario), '-i', '127.0.0.1', '-p', String(port), '-m', String(calls), '-nostdin', '-timeout', timeout, '-timeout_error', ...extra]);
}

/** A sipp UAC from `uacPort` calling `user` through the proxy `calls` times at 10 calls/s. */
export function sippUac(
  scenario: string,
  proxyPort: number,
  uacPort: number,
  user: string,
  calls: number,
  extra: readonly string[] = [],
  timeout = '20s',
): Promise<{ code: number | string; output: string }> {
  return run(
    'sipp',
    ['-sf', resolve(sippDir, scenario), `127.0.0.1:${proxyPort}`, '-i', '127.0.0.1', '-p', String(uacPort), '-s', user, '-m', String(calls), '-r', '10', '-nostdin', '-timeout', timeout, '-timeout_error', ...extra],
    30_000,
  );
}
