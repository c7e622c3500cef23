/**
 * Two ksr servers with usrloc db_mode 3 on one PostgreSQL location table: a phone (sipp UAS)
 * registers through server A (sipp REGISTER), a call sent to server B is routed by B's lookup to
 * the contact registered on A, record-routed by B, and ACK/BYE follow. Then B removes the
 * registration (RPC ul.rm) and A no longer finds it; a restarted A still sees what B saved.
 * PostgreSQL: KSR_TEST_PG_URL (scripts/test-postgres.sh); the test fails when it cannot be reached.
 */
import { resolve } from 'node:path';
import { openDb } from '@ksr/core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { registrarModule } from '../../../modules/src/registrar/index.js';
import { rrModule } from '../../../modules/src/rr/index.js';
import { slModule } from '../../../modules/src/sl/index.js';
import { usrlocModule, type UsrlocApi } from '../../../modules/src/usrloc/index.js';
import type { RunningServer } from '../../src/main.js';
import { startInProcess } from '../support/inprocess.js';
import { basePort, repoRoot, run, sippArgs, startProc } from '../support/proc.js';
import { dropPgSchema, pgSchemaUrl, requirePg } from '../../../core/test/db/pg-support.js';

const portA = basePort(220);
const portB = basePort(221);
const regPort = basePort(222);
const uasPort = basePort(223);
const callerPort = basePort(224);

let url = '';
let a: RunningServer | undefined;
let b: RunningServer | undefined;

function server(port: number): Promise<RunningServer> {
  return startInProcess({
    cfg: [
      `listen=udp:127.0.0.1:${port}`,
      'loadmodule "sl.so"',
      'loadmodule "usrloc.so"',
      'loadmodule "registrar.so"',
      'loadmodule "rr.so"',
      'loadmodule "app_lua.so"',
      'modparam("usrloc", "db_mode", 3)',
      `modparam("usrloc", "db_url", "${url}")`,
      'modparam("usrloc", "timer_interval", 5)',
      `modparam("app_lua", "load", "${resolve(repoRoot, 'packages/ksr/test/fixtures/db-registrar.lua')}")`,
      'cfgengine "lua"',
    ],
    modules: [slModule, usrlocModule, registrarModule, rrModule],
  });
}

const ul = (s: RunningServer | undefined): UsrlocApi => {
  const api = s?.modules.api<UsrlocApi>('usrloc');
  if (!api) throw new Error('usrloc is not loaded');
  return api;
};

beforeAll(async () => {
  requirePg();
  url = pgSchemaUrl('e2e_ul');
  const db = openDb(url, { createSchema: true }); // ksr db init
  db.close();
  a = await server(portA);
  b = await server(portB);
});

afterAll(async () => {
  await a?.stop();
  await b?.stop();
  if (url) dropPgSchema(url);
});

describe('usrloc db_mode 3: two servers, one PostgreSQL location table', () => {
  it('a REGISTER on A is seen by B, which routes a call to the registered phone', async () => {
    expect(ul(a).store.kind).toBe('db-only');
    const reg = await run('sipp', sippArgs('db-register.xml', `127.0.0.1:${portA}`, regPort, ['-s', 'dbbob', '-m', '1', '-key', 'contact_port', String(uasPort)]), 30_000);
    expect(reg.output).toMatch(/Successful call\s+\|\s+\d+\s+\|\s+1\b/);
    expect(reg.code).toBe(0);

    // B never saw the REGISTER, yet its usrloc (the shared table) has the binding
    const seen = ul(b).contacts('location', 'dbbob');
    expect(seen.map((c) => c.uri)).toEqual([`sip:dbbob@127.0.0.1:${uasPort}`]);
    expect(seen[0]!.userAgent).toBe('ksr-db-test');

    const uas = startProc('sipp', ['-sf', resolve(repoRoot, 'packages/ksr/test/sipp/registrar-uas.xml'), '-i', '127.0.0.1', '-p', String(uasPort), '-m', '1', '-nostdin', '-timeout', '20s', '-timeout_error']);
    try {
      await new Promise((r) => setTimeout(r, 300));
      const call = await run('sipp', sippArgs('registrar-call.xml', `127.0.0.1:${portB}`, callerPort, ['-s', 'dbbob', '-m', '1']), 30_000);
      expect(call.output).toMatch(/Successful call\s+\|\s+\d+\s+\|\s+1\b/);
      expect(call.code).toBe(0);
      const code = await Promise.race([uas.exited, new Promise((r) => setTimeout(() => r('timeout'), 10_000))]);
      expect(code, uas.output()).toBe(0);
    } finally {
      uas.kill('SIGKILL');
    }
    expect(Number(b!.routing!.services.vars.get('lookups'))).toBeGreaterThanOrEqual(1);
    expect(Number(a!.routing!.services.vars.get('lookups') ?? 0)).toBe(0);
  });

  it('ul.lookup on B shows the binding; ul.rm on B removes it for A too; a restarted A reads the table', async () => {
    const look = (await b!.rpc.call('ul.lookup', ['location', 'dbbob'])) as { AoR: string; Contacts: Array<{ Contact: { Address: string } }> };
    expect(look.Contacts[0]!.Contact.Address).toBe(`sip:dbbob@127.0.0.1:${uasPort}`);

    await b!.rpc.call('ul.add', ['location', 'dbcarol', `sip:dbcarol@127.0.0.1:${uasPort}`, 600, 1, '0', 0, 0, 0]);
    await a!.stop();
    a = await server(portA);
    expect(ul(a).contacts('location', 'dbcarol')).toHaveLength(1);

    await b!.rpc.call('ul.rm', ['location', 'dbbob']);
    expect(ul(a).contacts('location', 'dbbob')).toEqual([]);
    await expect(a!.rpc.call('ul.lookup', ['location', 'dbbob'])).rejects.toMatchObject({ rpcCode: 404 });
  });
});
