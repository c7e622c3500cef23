import { resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RunningServer } from '../../src/main.js';
import { startLuaProxy } from '../support/lua-proxy.js';
import { basePort, repoRoot, run, startProc } from '../support/proc.js';

// Stateful relaying through tm with a Lua route (fixtures/tm-proxy.lua): a sipp UAC that follows
// the route set (sipp/registrar-call.xml) → ksr → sipp UAS with 100/180/200, ACK and BYE
// record-routed; a busy UAS (486) makes the failure route relay the call to a second UAS.

const ksrPort = basePort(180);
const uasPort = basePort(181);
const uas2Port = basePort(182);
const uacPort = basePort(183);
let running: RunningServer;

beforeAll(async () => {
  running = await startLuaProxy({
    port: ksrPort,
    fixture: 'tm-proxy.lua',
    cfg: [`#!define UAS_URI sip:127.0.0.1:${uasPort}`, `#!define UAS2_URI sip:127.0.0.1:${uas2Port}`],
  });
});

afterAll(async () => {
  await running?.stop();
});

const vars = (): Map<string, unknown> => running.routing!.services.vars;
// a UAS that checks our Record-Route on the INVITE and echoes it in 180/200 (sipp's built-in uas does not)
const UAS = ['-sf', resolve(repoRoot, 'packages/ksr/test/sipp/registrar-uas.xml')];

async function call(uasArgs: string[], uas2Args: string[] | undefined, calls: number): Promise<{ code: number | string; output: string }> {
  const uas = startProc('sipp', [...uasArgs, '-i', '127.0.0.1', '-p', String(uasPort), '-m', String(calls), '-nostdin', '-timeout', '30s']);
  const uas2 = uas2Args ? startProc('sipp', [...uas2Args, '-i', '127.0.0.1', '-p', String(uas2Port), '-m', String(calls), '-nostdin', '-timeout', '30s']) : undefined;
  await new Promise((r) => setTimeout(r, 300));
  const uac = await run(
    'sipp',
    // a UAC that follows the Record-Route set for ACK and BYE (sipp's built-in uac does not)
    ['-sf', resolve(repoRoot, 'packages/ksr/test/sipp/registrar-call.xml'), `127.0.0.1:${ksrPort}`, '-i', '127.0.0.1', '-p', String(uacPort), '-s', 'bob', '-m', String(calls), '-r', '10', '-nostdin', '-timeout', '30s', '-timeout_error'],
    60_000,
  );
  uas.kill('SIGKILL');
  uas2?.kill('SIGKILL');
  return uac;
}

describe('tm: stateful relay with a Lua route', () => {
  it('relays INVITE (100/180/200), ACK and BYE through the record-routed proxy', async () => {
    const uac = await call(UAS, undefined, 5);
    expect(uac.output).toMatch(/Successful call\s+\|\s+\d+\s+\|\s+5\b/);
    expect(uac.code).toBe(0);
    expect(Number(vars().get('tm_replies'))).toBeGreaterThanOrEqual(10);
  });

  it('serially forks to a second UAS from the failure route when the first answers 486', async () => {
    const before = Number(vars().get('failovers') ?? 0);
    const uac = await call(['-sf', resolve(repoRoot, 'packages/ksr/test/sipp/tm-uas-486.xml')], UAS, 3);
    expect(uac.output).toMatch(/Successful call\s+\|\s+\d+\s+\|\s+3\b/);
    expect(uac.code).toBe(0);
    expect(Number(vars().get('failovers')) - before).toBe(3);
  });
});
