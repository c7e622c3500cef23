import { resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { HtableApi } from '../../../modules/src/htable/index.js';
import { htableModule } from '../../../modules/src/htable/index.js';
import type { PikeApi } from '../../../modules/src/pike/index.js';
import { pikeModule } from '../../../modules/src/pike/index.js';
import { pvModule } from '../../../modules/src/pv/index.js';
import { slModule } from '../../../modules/src/sl/index.js';
import type { RunningServer } from '../../src/main.js';
import { startInProcess } from '../support/inprocess.js';
import { basePort, repoRoot, run } from '../support/proc.js';

// Kamailio's WITH_ANTIFLOOD logic in Lua (fixtures/antiflood.lua) with htable, pike, pv and sl:
// a sipp flood of OPTIONS from 127.0.0.3 (200/s for 3 s, pike limit 10 per 2 s) gets the source
// into $sht(ipban=>$si) and its requests stop being answered, while a polite sipp on 127.0.0.2
// (2/s) keeps getting 200s during the flood. The server listens on 127.0.0.1 (the whole 127/8 is
// local on Linux, so sipp can bind the other two).

const ksrPort = basePort(160);
const floodPort = basePort(161);
const politePort = basePort(162);
const probePort = basePort(163);
const FLOODER = '127.0.0.3';
const POLITE = '127.0.0.2';
let running: RunningServer;

beforeAll(async () => {
  running = await startInProcess({
    cfg: [
      `listen=udp:127.0.0.1:${ksrPort}`,
      'loadmodule "sl.so"',
      'loadmodule "pv.so"',
      'loadmodule "htable.so"',
      'loadmodule "pike.so"',
      'loadmodule "app_lua.so"',
      'modparam("htable", "htable", "ipban=>size=8;autoexpire=300;")',
      'modparam("htable", "htable", "boot=>size=2;")',
      'modparam("htable", "event_callback", "ksr_htable_event")',
      'modparam("pike", "sampling_time_unit", 2)',
      'modparam("pike", "reqs_density_per_unit", 10)',
      'modparam("pike", "remove_latency", 4)',
      'modparam("pv", "varset", "served=i:0")',
      `modparam("app_lua", "load", "${resolve(repoRoot, 'packages/ksr/test/fixtures/antiflood.lua')}")`,
      'cfgengine "lua"',
    ],
    modules: [slModule, pvModule, htableModule, pikeModule],
  });
});

afterAll(async () => {
  await running?.stop();
});

function vars(): Map<string, unknown> {
  return running.routing!.services.vars;
}

/**
 * sipp sending OPTIONS (fixtures' options-antiflood.xml) from `ip` to the server: `calls` calls at
 * `rate` per second, no retransmissions, bounded by a global timeout. Unanswered calls fail after
 * 1 s; unlike sippArgs() errors are not traced, so sipp keeps going when they happen.
 */
function sipp(ip: string, port: number, calls: number, rate: number): Promise<{ code: number | string; output: string }> {
  const args = ['-sf', resolve(repoRoot, 'packages/ksr/test/sipp/options-antiflood.xml'), `127.0.0.1:${ksrPort}`, '-i', ip, '-p', String(port)];
  args.push('-m', String(calls), '-r', String(rate), '-nr', '-nostdin', '-timeout', '20s');
  return run('sipp', args, 30_000);
}

/** sipp's cumulative count for a row of its last statistics screen ("Successful call", "Failed call"). */
function sippCount(output: string, row: string): number {
  const all = [...output.matchAll(new RegExp(`${row}\\s+\\|\\s+\\d+\\s+\\|\\s+(\\d+)`, 'g'))];
  const m = all.at(-1);
  return m ? Number(m[1]) : Number.NaN;
}

describe('anti-flood with pike + htable (sipp)', () => {
  it('ran htable:mod-init through event_callback once the script was loaded', () => {
    const htable = running.modules.api<HtableApi>('htable')!;
    expect(htable.get('boot', 'event')).toBe('htable:mod-init');
  });

  it('bans a flooding source while another source is still served', async () => {
    const flood = sipp(FLOODER, floodPort, 600, 200);
    await new Promise((r) => setTimeout(r, 500));
    const polite = sipp(POLITE, politePort, 6, 2);
    const [f, p] = await Promise.all([flood, polite]);

    // the polite source got every answer
    expect(sippCount(p.output, 'Successful call')).toBe(6);
    expect(p.code).toBe(0);

    // the flooder got a handful before pike tripped, then nothing
    const answered = sippCount(f.output, 'Successful call');
    expect(answered).toBeGreaterThanOrEqual(1);
    expect(answered).toBeLessThanOrEqual(25);
    expect(sippCount(f.output, 'Failed call')).toBe(600 - answered);
    expect(vars().get(`served_${FLOODER}`)).toBe(answered);
    expect(vars().get(`served_${POLITE}`)).toBe(6);
    expect(vars().get('pike_blocked')).toBeGreaterThanOrEqual(1);
    expect(vars().get('banned')).toBeGreaterThanOrEqual(500);

    // the ban is in the htable (with the table's autoexpire) and pike saw the flooder as hot
    const htable = running.modules.api<HtableApi>('htable')!;
    expect(htable.get('ipban', FLOODER)).toBe(1);
    expect(htable.get('ipban', POLITE)).toBeNull();
    const ban = htable.item('ipban', FLOODER)!;
    expect(ban.expires).toBeGreaterThan(290);
    expect(ban.expires).toBeLessThanOrEqual(300);
    const pike = running.modules.api<PikeApi>('pike')!;
    expect(pike.top('ALL').find((e) => e.ip === POLITE)?.status).not.toBe('HOT');
  });

  it('keeps dropping the banned source after pike has calmed down', async () => {
    // banned requests no longer reach pike_check_req, so pike unblocks the address after a unit
    // within the limit (2 s); the htable ban (autoexpire 300 s) still drops it
    const pike = running.modules.api<PikeApi>('pike')!;
    for (let i = 0; i < 50 && pike.isBlocked(FLOODER); i++) await new Promise((r) => setTimeout(r, 100));
    expect(pike.isBlocked(FLOODER)).toBe(false);
    const probe = await sipp(FLOODER, probePort, 2, 10);
    expect(sippCount(probe.output, 'Successful call')).toBe(0);
    expect(sippCount(probe.output, 'Failed call')).toBe(2);
    // lifting the ban (as the RPC htable.delete would) lets it in again
    const htable = running.modules.api<HtableApi>('htable')!;
    expect(htable.delete('ipban', FLOODER)).toBe(true);
    const again = await sipp(FLOODER, probePort, 2, 10);
    expect(sippCount(again.output, 'Successful call')).toBe(2);
    expect(again.code).toBe(0);
  });
});
