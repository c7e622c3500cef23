import { existsSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config/index.js';

/**
 * The Kamailio benchmark config (bench/kamailio/kamailio.cfg), copied as a
 * fixture. When the shared original is around, it is loaded too so that a
 * drift between the two is noticed.
 */
const FIXTURE = fileURLToPath(new URL('./fixtures/bench-kamailio.cfg', import.meta.url));
const SHARED = '/work/shared/bench/kamailio/kamailio.cfg';
const files = [FIXTURE, ...(existsSync(SHARED) ? [SHARED] : [])];

const MODULES = 'kex corex tm tmx sl rr pv maxfwd usrloc registrar textops siputils xlog sanity app_lua'.split(' ');

describe.each(files)('Kamailio bench config %s', (file) => {
  it('loads with -A WITH_LUA -A ROUTE_FILE="/x/route.lua"', () => {
    const c = loadConfig(file, { defines: { WITH_LUA: null, ROUTE_FILE: '"/x/route.lua"' } });
    expect(c.listen.map(({ proto, address, port }) => ({ proto, address, port }))).toEqual([
      { proto: 'udp', address: '127.0.0.1', port: 5060 },
      { proto: 'tcp', address: '127.0.0.1', port: 5060 },
    ]);
    expect(c.modules.map((m) => m.name)).toEqual(MODULES);
    const mp = c.modparams.map((m) => `${m.module} ${m.param} ${m.value}`);
    expect(mp).toContain('pv shvset bench_auth=i:0');
    expect(mp).toContain('app_lua load /x/route.lua');
    expect(mp).toContain('tm auto_inv_100 1');
    expect(mp).toContain('usrloc preload location');
    expect(mp).not.toContain('pv shvset bench_auth=i:1');
    expect(c.modparams.find((m) => m.param === 'max_contacts')?.value).toBe(4);
    expect(c.cfgengine?.name).toBe('lua');
    expect(c.routeBlocks).toEqual([]);

    const g = (k: string) => c.globals.get(k)?.value;
    expect(g('debug')).toBe(0);
    expect(g('children')).toBe(2);
    expect(g('fork')).toBe(true);
    expect(g('log_stderror')).toBe(true);
    expect(g('auto_aliases')).toBe(false);
    expect(g('kemi.onsend_route_callback')).toBe('none');
    expect(g('user_agent_header')).toBe('User-Agent: kamailio-bench');
    expect(g('latency_cfg_log')).toBeUndefined();
    expect(c.defines.get('BENCH_IP')).toBe('127.0.0.1');
    // tcp_children, dns, rev_dns, use_dns_cache, dns_try_ipv6 are accepted with a warning
    expect(c.warnings.map((w) => w.message.split(' ')[1])).toEqual([
      'tcp_children',
      'dns',
      'rev_dns',
      'use_dns_cache',
      'dns_try_ipv6',
    ]);
  });

  it('picks Lua when no engine is chosen, and honours BENCH_* and WITH_AUTH/WITH_LATENCY', () => {
    const c = loadConfig(file, {
      defines: { ROUTE_FILE: '"/r.lua"', BENCH_IP: '10.1.2.3', BENCH_PORT: '5070', WITH_AUTH: null, WITH_LATENCY: null },
    });
    expect(c.cfgengine?.name).toBe('lua');
    expect(c.listen.map((l) => `${l.proto}:${l.address}:${l.port}`)).toEqual(['udp:10.1.2.3:5070', 'tcp:10.1.2.3:5070']);
    expect(c.modules.map((m) => m.name)).toContain('auth');
    expect(c.modparams.filter((m) => m.param === 'shvset').map((m) => m.value)).toEqual([
      'bench_auth=i:1',
      'bench_realm=s:bench.local',
      'bench_password=s:benchpw',
    ]);
    expect(c.globals.get('latency_cfg_log')?.value).toBe(0);
  });

  it('captures the native route blocks with -A WITH_NATIVE', () => {
    const c = loadConfig(file, { defines: { WITH_NATIVE: null } });
    expect(c.cfgengine).toBeUndefined();
    expect(c.modules.map((m) => m.name)).toEqual(MODULES.filter((m) => m !== 'app_lua'));
    expect(c.routeBlocks.map((b) => `${b.kind}${b.name ? `[${b.name}]` : ''}`)).toEqual([
      'request_route',
      'route[RELAY]',
      'onreply_route[BRANCH_REPLY]',
      'failure_route[FAIL]',
      'reply_route',
    ]);
    const text = readFileSync(file, 'utf8').split('\n');
    for (const b of c.routeBlocks) {
      expect(b.loc.file).toBe(file);
      expect(text[b.loc.line - 1]).toMatch(new RegExp(`^${b.kind}\\b`));
    }
    const req = c.routeBlocks[0]!.body;
    expect(req).toContain('if (!sanity_check("1511", "7"))');
    expect(req).toContain('sl_send_reply("484", "Address Incomplete");');
    expect(req).not.toContain('pv_auth_check'); // inside #!ifdef WITH_AUTH
    expect(req.trimEnd().endsWith('route(RELAY);')).toBe(true);
    expect(c.routeBlocks[3]!.body).toContain('xdbg("failure route\\n");');

    const withAuth = loadConfig(file, { defines: { WITH_NATIVE: null, WITH_AUTH: null } });
    expect(withAuth.routeBlocks[0]!.body).toContain('auth_challenge("bench.local", "0");');
    expect(withAuth.routeBlocks[0]!.body).not.toContain('realm as a literal'); // comment stripped
  });
});

it.skipIf(!existsSync(SHARED))('the fixture is a copy of the shared bench config', () => {
  expect(readFileSync(FIXTURE, 'utf8')).toBe(readFileSync(SHARED, 'utf8'));
});
