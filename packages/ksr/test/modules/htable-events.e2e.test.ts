import { resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { htableModule, pvModule, slModule, type HtableApi } from '@ksr/modules';
import type { RunningServer } from '../../src/main.js';
import { startInProcess } from '../support/inprocess.js';
import { basePort, repoRoot } from '../support/proc.js';

// Module run-time event routes reach the script: htable's timer expires an item and the
// event_callback function runs with "htable:expired:<table>" and $shtrecord(key/value) set.

let running: RunningServer;

beforeAll(async () => {
  running = await startInProcess({
    cfg: [
      `listen=udp:127.0.0.1:${basePort(310)}`,
      'loadmodule "sl.so"',
      'loadmodule "pv.so"',
      'loadmodule "htable.so"',
      'loadmodule "app_lua.so"',
      'modparam("htable", "htable", "short=>size=4;autoexpire=1;")',
      'modparam("htable", "htable", "seen=>size=4;")',
      'modparam("htable", "timer_interval", 1)',
      'modparam("htable", "event_callback", "ksr_htable_event")',
      `modparam("app_lua", "load", "${resolve(repoRoot, 'packages/ksr/test/fixtures/htable-events.lua')}")`,
      'cfgengine "lua"',
    ],
    modules: [slModule, pvModule, htableModule],
  });
});

afterAll(async () => {
  await running?.stop();
});

describe('htable event routes', () => {
  it('htable:mod-init at start, htable:expired:short when the timer expires an item', async () => {
    const ht = running.modules.api<HtableApi>('htable')!;
    expect(ht.get('seen', 'init')).toBe('yes');
    expect(ht.sets('short', 'alice', 'v1')).toBe(true);
    const deadline = Date.now() + 5000;
    while (ht.get('seen', 'alice') == null && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
    expect(ht.get('seen', 'alice')).toBe('htable:expired:short|v1');
    expect(ht.get('short', 'alice')).toBeNull();
  });
});
