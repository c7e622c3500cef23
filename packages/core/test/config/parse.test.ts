import { describe, expect, it } from 'vitest';
import {
  createModuleCatalogue,
  GLOBAL_PARAMS,
  loadConfig,
  lookupGlobal,
  moduleNameFromPath,
  parseNumber,
  type LoadConfigOptions,
  type ModuleCatalogue,
} from '../../src/config/index.js';
import { cfg, configError, memFs } from './helpers.js';

const MAIN = '/cfg/main.cfg';

function load(text: string, opts: Omit<LoadConfigOptions, 'readFile'> = {}, extra: Record<string, string> = {}) {
  return loadConfig(MAIN, { readFile: memFs({ [MAIN]: text, ...extra }), ...opts });
}

const at = (line: number) => ({ file: MAIN, line });

describe('global parameters', () => {
  it('parses numbers, booleans and strings, with or without spaces and ;', () => {
    const c = load(
      cfg(
        'debug=3', // 1
        'children = 4;', // 2
        'fork=no', // 3
        'log_stderror=yes', // 4
        'server_header="Server: ksr"', // 5
        "log_prefix='{$mt} '", // 6
        'tcp_connection_lifetime=3605', // 7
        'kemi.onsend_route_callback="none"', // 8
        'disable_tcp=1 ; maxbuffer=0x10000', // 9
        'user_agent_header="User-Agent: " "ksr"', // 10
      ),
    );
    const g = Object.fromEntries([...c.globals].map(([k, v]) => [k, v.value]));
    expect(g).toEqual({
      debug: 3,
      children: 4,
      fork: false,
      log_stderror: true,
      server_header: 'Server: ksr',
      log_prefix: '{$mt} ',
      tcp_connection_lifetime: 3605,
      'kemi.onsend_route_callback': 'none',
      disable_tcp: true,
      maxbuffer: 65536,
      user_agent_header: 'User-Agent: ksr',
    });
    expect(c.globals.get('maxbuffer')!.loc).toEqual(at(9));
    expect(c.warnings).toEqual([]);
  });

  it('accepts a negative debug level and last assignment wins', () => {
    const c = load(cfg('debug=2', 'debug=-1'));
    expect(c.globals.get('debug')).toEqual({ value: -1, loc: at(2) });
  });

  it('rejects a value of the wrong type at file:line', () => {
    expect(configError(() => load(cfg('debug=1', 'children=abc'))).message).toBe(
      `${MAIN}:2: parameter children expects an integer, got 'abc'`,
    );
    expect(configError(() => load(cfg('children="4"'))).message).toBe(
      `${MAIN}:1: parameter children expects an integer, got the string "4"`,
    );
    expect(configError(() => load(cfg('fork=maybe'))).message).toBe(
      `${MAIN}:1: parameter fork expects yes/no (or a number), got 'maybe'`,
    );
  });

  it('warns about known parameters ksr does not implement', () => {
    const c = load(cfg('tcp_children=1', 'dns=no'));
    expect(c.globals.get('tcp_children')!.value).toBe(1);
    expect(c.globals.get('dns')!.value).toBe(false);
    expect(c.warnings).toEqual([
      { message: 'parameter tcp_children is accepted but has no effect in ksr', loc: at(1) },
      { message: 'parameter dns is accepted but has no effect in ksr', loc: at(2) },
    ]);
  });

  it('warns about unknown parameters and keeps their value', () => {
    const c = load(cfg('my_custom=12', 'pstn.gw_ip = "1.2.3.4" desc "PSTN gateway"'));
    expect(c.globals.get('my_custom')!.value).toBe(12);
    expect(c.globals.get('pstn.gw_ip')!.value).toBe('1.2.3.4');
    expect(c.warnings.map((w) => [w.loc.line, w.message])).toEqual([
      [1, expect.stringMatching(/^unknown parameter my_custom is accepted but has no effect/)],
      [2, expect.stringMatching(/^unknown parameter pstn\.gw_ip/)],
    ]);
  });

  it('stores Kamailio alias spellings under the canonical name', () => {
    const c = load(cfg('uid="kamailio"', 'mpath="/usr/lib/kamailio/modules/"', 'loadpath "/other"'));
    expect(c.globals.get('user')!.value).toBe('kamailio');
    expect(c.globals.get('mpath')).toEqual({ value: '/other', loc: at(3) });
    expect(c.warnings.map((w) => w.loc.line)).toEqual([1]);
  });

  it('keeps bare words for string parameters', () => {
    const c = load(cfg('log_facility=LOG_LOCAL0'));
    expect(c.globals.get('log_facility')!.value).toBe('LOG_LOCAL0');
  });

  it('has a table marking the parameters ksr implements', () => {
    for (const name of ['listen', 'port', 'children', 'debug', 'kemi.reply_route_callback', 'mpath', 'latency_limit_action']) {
      expect(GLOBAL_PARAMS.get(name)?.implemented, name).toBe(true);
    }
    for (const name of ['tcp_children', 'dns', 'shm_mem_size', 'sock_mode', 'udp4_raw', 'async_workers']) {
      expect(GLOBAL_PARAMS.get(name)?.implemented, name).toBe(false);
    }
    expect(lookupGlobal('dns_use_cache')?.name).toBe('use_dns_cache');
    expect(lookupGlobal('nope')).toBeUndefined();
  });

  it('parses Kamailio number forms', () => {
    expect(parseNumber('0x1F')).toBe(31);
    expect(parseNumber('0755')).toBe(493);
    expect(parseNumber('101b')).toBe(5);
    expect(parseNumber('-7')).toBe(-7);
    expect(parseNumber('08')).toBeUndefined();
    expect(parseNumber('1.5')).toBeUndefined();
  });
});

describe('listen and alias', () => {
  it.each([
    ['udp:127.0.0.1:5060', { proto: 'udp', address: '127.0.0.1', port: 5060 }],
    ['tcp:[::1]:5070', { proto: 'tcp', address: '::1', port: 5070 }],
    ['[2001:db8::1]', { proto: 'any', address: '2001:db8::1' }],
    ['::1', { proto: 'any', address: '::1' }],
    ['127.0.0.1', { proto: 'any', address: '127.0.0.1' }],
    ['10.0.0.1:5080', { proto: 'any', address: '10.0.0.1', port: 5080 }],
    ['udp:*:5060', { proto: 'udp', address: '*', port: 5060 }],
    ['TLS:sip.example.com', { proto: 'tls', address: 'sip.example.com' }],
    ['wss:eth0:443', { proto: 'wss', address: 'eth0', port: 443 }],
    ['udp:"10.1.1.1":5060', { proto: 'udp', address: '10.1.1.1', port: 5060 }],
  ])('listen=%s', (value, expected) => {
    const c = load(cfg(`listen=${value}`));
    expect(c.listen).toEqual([{ ...expected, loc: at(1) }]);
  });

  it('parses advertise and name', () => {
    const c = load(
      cfg(
        'listen=udp:1.2.3.4:5060 advertise 5.6.7.8:5080 name "pub"',
        'listen=tcp:1.2.3.4:5060 advertise "sip.example.com":5061;',
        'listen=udp:[::1]:5060 ADVERTISE [2001:db8::2]',
      ),
    );
    expect(c.listen).toEqual([
      { proto: 'udp', address: '1.2.3.4', port: 5060, advertise: { address: '5.6.7.8', port: 5080 }, name: 'pub', loc: at(1) },
      { proto: 'tcp', address: '1.2.3.4', port: 5060, advertise: { address: 'sip.example.com', port: 5061 }, loc: at(2) },
      { proto: 'udp', address: '::1', port: 5060, advertise: { address: '2001:db8::2' }, loc: at(3) },
    ]);
  });

  it('accepts several addresses on one line and repeated listen lines', () => {
    const c = load(cfg('listen=udp:127.0.0.1:5060 tcp:127.0.0.1:5060', 'listen=udp:127.0.0.2'));
    expect(c.listen.map((l) => `${l.proto}:${l.address}:${l.port ?? '-'}@${l.loc.line}`)).toEqual([
      'udp:127.0.0.1:5060@1',
      'tcp:127.0.0.1:5060@1',
      'udp:127.0.0.2:-@2',
    ]);
    expect(c.globals.has('listen')).toBe(false);
  });

  it.each([
    ['udp:1.2.3.4:abc', /invalid port/],
    ['udp:1.2.3.4:70000', /port 70000 out of range/],
    ['udp:bad!host:5060', /invalid address 'bad!host'/],
    ['udp:1.2.3.4:5060 tcp:1:2:3', /invalid port in 'tcp:1:2:3'/],
    ['udp:[1.2.3.4]:5060', /is not an IPv6 address/],
    ['udp:1.2.3.4 advertise', /'advertise' needs a value/],
    ['udp:1.2.3.4 advertise tcp:5.6.7.8', /no protocol allowed/],
  ])('rejects listen=%s', (value, re) => {
    const e = configError(() => load(cfg('debug=1', `listen=${value}`)));
    expect(e.location).toEqual(at(2));
    expect(e.reason).toMatch(re);
  });

  it('reads an unbracketed IPv6 address with a trailing number as an address, with a warning', () => {
    const c = load(cfg('listen=udp:2001:db8::1:5060'));
    expect(c.listen).toEqual([{ proto: 'udp', address: '2001:db8::1:5060', loc: at(1) }]);
    expect(c.warnings).toEqual([{ message: expect.stringMatching(/without port; write \[address\]:port/), loc: at(1) }]);
  });

  it('parses aliases', () => {
    const c = load(cfg('alias="sip.example.com"', 'alias=udp:example.org:5060 other.example.net'));
    expect(c.aliases).toEqual([
      { host: 'sip.example.com', loc: at(1) },
      { proto: 'udp', host: 'example.org', port: 5060, loc: at(2) },
      { host: 'other.example.net', loc: at(2) },
    ]);
  });
});

const fakeCatalogue: ModuleCatalogue = createModuleCatalogue([
  { name: 'tm', params: { fr_timer: { type: 'int' }, auto_inv_100: { type: 'int', check: (v) => (v === 0 || v === 1 ? undefined : 'must be 0 or 1') } } },
  { name: 'usrloc', params: { db_mode: { type: 'int' }, preload: { type: 'str', multi: true } } },
  { name: 'pv', params: { shvset: { type: 'str', multi: true }, varset: { type: 'any', multi: true } } },
  { name: 'acc', params: { log_flag: { type: 'int' } } },
  { name: 'acc_db', params: { log_flag: { type: 'int' } } },
  { name: 'app_lua', params: { load: { type: 'str' } } },
]);

describe('loadmodule and modparam', () => {
  it('normalizes module names', () => {
    expect(moduleNameFromPath('tm.so')).toBe('tm');
    expect(moduleNameFromPath('/usr/lib64/kamailio/modules/app_lua.so')).toBe('app_lua');
    expect(moduleNameFromPath('pv')).toBe('pv');
  });

  it('records modules and modparams in order', () => {
    const c = load(
      cfg(
        'loadmodule "tm.so"',
        'loadmodule "/usr/lib/kamailio/modules/usrloc.so";',
        'loadmodule("pv")',
        'modparam("tm", "fr_timer", 30000)',
        'modparam("usrloc","preload","location")',
        'modparam("pv", "varset", "a=s:1");modparam("pv", "varset", -5)',
        'modparam("tm", "auto_inv_100", yes)',
        'modparam("usrloc", "preload",',
        '         "loc" "ation2")',
      ),
      { modules: fakeCatalogue },
    );
    expect(c.modules).toEqual([
      { name: 'tm', loc: at(1) },
      { name: 'usrloc', loc: at(2) },
      { name: 'pv', loc: at(3) },
    ]);
    expect(c.modparams.map((m) => [m.module, m.param, m.value, m.loc.line])).toEqual([
      ['tm', 'fr_timer', 30000, 4],
      ['usrloc', 'preload', 'location', 5],
      ['pv', 'varset', 'a=s:1', 6],
      ['pv', 'varset', -5, 6],
      ['tm', 'auto_inv_100', 1, 7],
      ['usrloc', 'preload', 'location2', 8],
    ]);
    expect(c.warnings).toEqual([]);
  });

  it('expands "mod1|mod2" module lists', () => {
    const c = load(cfg('loadmodule "acc"', 'loadmodule "acc_db"', 'modparam("acc|acc_db", "log_flag", 1)'), {
      modules: fakeCatalogue,
    });
    expect(c.modparams.map((m) => m.module)).toEqual(['acc', 'acc_db']);
  });

  it('warns for names of a list that are not loaded, fails when none is', () => {
    const c = load(cfg('loadmodule "acc"', 'modparam("acc|acc_db", "log_flag", 1)'));
    expect(c.modparams.map((m) => m.module)).toEqual(['acc']);
    expect(c.warnings).toEqual([{ message: "modparam for 'acc|acc_db': module 'acc_db' is not loaded", loc: at(2) }]);
    expect(configError(() => load(cfg('loadmodule "tm"', 'modparam("acc|acc_db", "log_flag", 1)'))).reason).toBe(
      "modparam for modules 'acc|acc_db': none of them is loaded",
    );
  });

  it('rejects an unknown module when a catalogue is given', () => {
    expect(configError(() => load(cfg('loadmodule "tm"', 'loadmodule "nosuch.so"'), { modules: fakeCatalogue })).message).toBe(
      `${MAIN}:2: unknown module 'nosuch'`,
    );
    // without a catalogue anything can be loaded
    expect(load(cfg('loadmodule "nosuch.so"')).modules.map((m) => m.name)).toEqual(['nosuch']);
  });

  it('matches module names case-sensitively', () => {
    expect(configError(() => load(cfg('loadmodule "TM"'), { modules: fakeCatalogue })).reason).toBe("unknown module 'TM'");
  });

  it('rejects modparam for a module that is not loaded (or not yet)', () => {
    const e = configError(() => load(cfg('modparam("tm", "fr_timer", 1)', 'loadmodule "tm"'), { modules: fakeCatalogue }));
    expect(e.message).toBe(`${MAIN}:1: modparam for module 'tm' which is not loaded (loadmodule must come first)`);
  });

  it('rejects unknown parameters, type mismatches and failed checks', () => {
    const base = ['loadmodule "tm"', 'loadmodule "usrloc"'];
    const err = (line: string) => configError(() => load(cfg(...base, line), { modules: fakeCatalogue }));
    expect(err('modparam("tm", "nope", 1)').message).toBe(`${MAIN}:3: module 'tm' has no parameter 'nope'`);
    expect(err('modparam("tm", "fr_timer", "30")').reason).toBe(
      `parameter 'fr_timer' of module 'tm' expects an integer, got the string "30" (write it without quotes)`,
    );
    expect(err('modparam("usrloc", "preload", 5)').reason).toBe(
      `parameter 'preload' of module 'usrloc' expects a string, got the number 5 (put it in quotes)`,
    );
    expect(err('modparam("tm", "auto_inv_100", 2)').reason).toBe('modparam tm.auto_inv_100: must be 0 or 1');
    expect(err('modparam("tm", "toString", 2)').reason).toBe("module 'tm' has no parameter 'toString'");
  });

  it('warns when a single-valued parameter is set twice, not for multi ones', () => {
    const c = load(
      cfg('loadmodule "tm"', 'loadmodule "usrloc"', 'modparam("tm", "fr_timer", 1)', 'modparam("tm", "fr_timer", 2)',
        'modparam("usrloc", "preload", "a")', 'modparam("usrloc", "preload", "b")'),
      { modules: fakeCatalogue },
    );
    expect(c.warnings).toEqual([{ message: 'modparam tm.fr_timer is set more than once; the last value wins', loc: at(4) }]);
  });

  it('warns when a module is loaded twice', () => {
    const c = load(cfg('loadmodule "tm.so"', 'loadmodule "tm"'));
    expect(c.modules).toHaveLength(1);
    expect(c.warnings).toEqual([{ message: expect.stringMatching(/^module 'tm' is loaded more than once/), loc: at(2) }]);
  });

  it('explains an undefined name used as a modparam value', () => {
    const e = configError(() => load(cfg('loadmodule "app_lua"', 'modparam("app_lua", "load", ROUTE_FILE)')));
    expect(e.message).toBe(
      `${MAIN}:2: modparam value 'ROUTE_FILE' is neither a quoted string nor an integer (a define that is not defined?)`,
    );
  });

  it('reports modparam syntax errors', () => {
    expect(configError(() => load(cfg('loadmodule "tm"', 'modparam(tm, "x", 1)'))).message).toBe(
      `${MAIN}:2: modparam module name must be a quoted string, found 'tm,'`,
    );
    expect(configError(() => load(cfg('loadmodule "tm"', 'modparam("tm"; "x", 1)'))).reason).toMatch(
      /^expected ',' after the module name in modparam/,
    );
    // adjacent strings are concatenated (as in Kamailio), so the comma is missed later
    expect(configError(() => load(cfg('loadmodule "tm"', 'modparam("tm" "x", 1)'))).reason).toBe(
      "modparam parameter name must be a quoted string, found '1)'",
    );
    expect(configError(() => load(cfg('loadmodule "tm"', 'modparam("tm", "x", 1'))).reason).toMatch(
      /^expected '\)' to close modparam\(/,
    );
    expect(configError(() => load(cfg('loadmodule tm.so'))).reason).toMatch(/^loadmodule argument must be a quoted string/);
  });
});

describe('cfgengine', () => {
  it.each([
    ['lua', 'lua'],
    ['python', 'python'],
    ['python3s', 'python3s'],
    ['jsdt', 'jsdt'],
    ['js', 'jsdt'],
    ['native', 'native'],
  ])('cfgengine "%s" -> %s', (given, name) => {
    expect(load(cfg('debug=0', `cfgengine "${given}"`)).cfgengine).toEqual({ name, loc: at(2) });
  });

  it('rejects an unknown engine', () => {
    expect(configError(() => load(cfg('cfgengine "ruby"'))).message).toMatch(/^\/cfg\/main\.cfg:1: unknown cfgengine 'ruby'/);
  });
});

describe('route blocks', () => {
  const text = cfg(
    'debug=0', // 1
    'request_route {', // 2
    '  if (is_method("INVITE")) { # comment with } brace', // 3
    '    xlog("a } in a string {\\n");', // 4
    '    route(RELAY);', // 5
    '  }', // 6
    '}', // 7
    'route[RELAY] { t_relay(); }', // 8
    'onreply_route[BR] {', // 9
    '}', // 10
    'failure_route["FAIL"]', // 11
    '{ exit; }', // 12
    'branch_route[B] { ; } reply_route { ; }', // 13
    'onsend_route { ; }', // 14
    'event_route[xhttp:request] { xhttp_reply("200", "OK", "", ""); }', // 15
    'children=2', // 16
  );

  it('captures kinds, names, bodies and locations', () => {
    const c = load(text);
    expect(c.routeBlocks.map((b) => [b.kind, b.name, b.loc.line])).toEqual([
      ['request_route', undefined, 2],
      ['route', 'RELAY', 8],
      ['onreply_route', 'BR', 9],
      ['failure_route', 'FAIL', 11],
      ['branch_route', 'B', 13],
      ['reply_route', undefined, 13],
      ['onsend_route', undefined, 14],
      ['event_route', 'xhttp:request', 15],
    ]);
    const req = c.routeBlocks[0]!.body;
    expect(req).toContain('xlog("a } in a string {\\n");');
    expect(req).toContain('route(RELAY);');
    expect(req).not.toContain('comment with');
    expect(c.routeBlocks[1]!.body.trim()).toBe('t_relay();');
    expect(c.globals.get('children')!.loc).toEqual(at(16));
  });

  it('expands defines inside route bodies but not inside strings', () => {
    const c = load(cfg('#!define RELAY REAL_RELAY', 'route[RELAY] { route(RELAY); xlog("RELAY"); }'));
    expect(c.routeBlocks[0]).toMatchObject({ name: 'REAL_RELAY', body: ' route(REAL_RELAY); xlog("RELAY"); ' });
  });

  it('reports an unclosed block at its first line', () => {
    expect(configError(() => load(cfg('debug=0', 'request_route {', '  if (x) {', '}'))).message).toBe(
      `${MAIN}:2: '{' is never closed (missing '}')`,
    );
  });

  it('checks route names', () => {
    expect(configError(() => load(cfg('failure_route { }'))).reason).toBe('failure_route needs a name: failure_route[NAME]');
    expect(configError(() => load(cfg('request_route[X] { }'))).reason).toBe('request_route does not take a name');
    expect(configError(() => load(cfg('route[X] exit;'))).reason).toMatch(/^expected '\{' after route\[X\]/);
  });

  it('warns about a block defined twice', () => {
    const c = load(cfg('route[A] { }', 'route[A] { }'));
    expect(c.warnings).toEqual([{ message: `route[A] is defined again (first at ${MAIN}:1)`, loc: at(2) }]);
  });
});

describe('syntax errors name file:line', () => {
  it.each([
    [cfg('debug=1', 'children 4'), 2, "syntax error: expected '=' after 'children', found '4'"],
    [cfg('debug=1', '', 'x==1'), 3, "syntax error: unexpected '=' in the value of 'x'"],
    [cfg('debug=1 2'), 1, "syntax error: unexpected '2' in the value of 'debug'"],
    [cfg('server_header="a" b'), 1, "syntax error: unexpected 'b' in the value of 'server_header'"],
    [cfg('debug='), 1, "missing value for 'debug'"],
    [cfg('debug=1', '= 3'), 2, "syntax error: unexpected '='"],
    [cfg('xlog("x")'), 1, "syntax error: unexpected 'xlog(' in the global section"],
    [cfg('loadmodule "tm" extra'), 1, "unexpected 'extra' after loadmodule"],
    [cfg('socket = {', 'bind = udp:1.2.3.4:5060;', '}'), 1, "block values ('socket = { ... }') are not supported by ksr"],
    [cfg('a=1', 'include_file "x.cfg" # fine', 'b=1 include_file "y.cfg"'), 3, "syntax error: unexpected 'include_file' in the value of 'b'"],
    [cfg('route[A] { }', 'include_file "x.cfg"', 'include_file "x.cfg"; children=x'), 3, undefined],
  ])('%#', (text, line, reason) => {
    const e = configError(() => load(text, {}, { '/cfg/x.cfg': '' }));
    expect(e.location).toEqual(at(line));
    if (reason) expect(e.reason).toBe(reason);
  });
});
