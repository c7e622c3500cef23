import { describe, expect, it } from 'vitest';
import { ErrorCodes } from '../../src/errors.js';
import { loadConfig, parseDefineArg, preprocess, type PreprocessOptions } from '../../src/config/index.js';
import { cfg, configError, memFs } from './helpers.js';

const MAIN = '/cfg/main.cfg';

function pp(text: string, opts: PreprocessOptions = {}, extra: Record<string, string> = {}) {
  return preprocess(MAIN, { readFile: memFs({ [MAIN]: text, ...extra }), ...opts });
}

/** Logical lines as "line: text" (trimmed), for compact assertions. */
function lines(text: string, opts: PreprocessOptions = {}, extra: Record<string, string> = {}): string[] {
  return pp(text, opts, extra).lines.map((l) => `${l.loc.file === MAIN ? '' : l.loc.file + ':'}${l.loc.line}: ${l.text.trim()}`);
}

describe('first-line markers', () => {
  it.each(['#!KAMAILIO', '#!KSR', '#!SER', '#!OPENSER', '#!MAXCOMPAT', '#!ALL', '!!KAMAILIO'])('accepts %s', (m) => {
    const r = pp(cfg(m, 'a=1'));
    expect(r.lines.map((l) => l.text)).toEqual(['a=1']);
    expect(r.warnings).toEqual([]);
  });

  it('warns about unknown #! directives and reads them as comments', () => {
    const r = pp(cfg('#!KAMAILIO', '#!frobnicate X', 'a=1'));
    expect(r.lines.map((l) => l.text)).toEqual(['a=1']);
    expect(r.warnings).toEqual([{ message: expect.stringContaining("'#!frobnicate'"), loc: { file: MAIN, line: 2 } }]);
  });
});

describe('#!define and friends', () => {
  it('defines with and without value; value is the rest of the line minus a trailing comment', () => {
    const r = pp(cfg('#!define A', '#!define B 127.0.0.1', '#!define C "x y"  # note', '#!def D 5'));
    expect([...r.defines]).toEqual([
      ['A', null],
      ['B', '127.0.0.1'],
      ['C', '"x y"'],
      ['D', '5'],
    ]);
  });

  it('continues a value over lines ending in a backslash', () => {
    const r = pp(cfg('#!define LONG a \\', '   b \\', '   c', 'x=LONG'));
    expect(r.defines.get('LONG')).toBe('a    b    c');
    expect(r.lines).toEqual([{ text: 'x=a    b    c', loc: { file: MAIN, line: 4 } }]);
  });

  it('rejects redefining with #!define (as Kamailio does), including -A names', () => {
    const e = configError(() => pp(cfg('#!define A 1', '#!define A 2')));
    expect(e.message).toBe(`${MAIN}:2: 'A' is already defined (use #!redefine to change it or #!trydef to keep it)`);
    expect(e.code).toBe(ErrorCodes.CONFIG);
    const e2 = configError(() => pp(cfg('#!define A 1'), { defines: { A: null } }));
    expect(e2.location).toEqual({ file: MAIN, line: 1 });
  });

  it('#!trydef keeps an existing value, #!redefine replaces it, #!undef removes it', () => {
    const r = pp(
      cfg('#!define A 1', '#!trydef A 2', '#!trydef B 3', '#!redefine A 4', '#!redef B', '#!define C', '#!undef C'),
    );
    expect([...r.defines]).toEqual([
      ['A', '4'],
      ['B', null],
    ]);
  });

  it('rejects a bad name', () => {
    expect(configError(() => pp(cfg('#!define A-B 1'))).message).toBe(
      `${MAIN}:1: invalid character '-' after define name 'A' (write '#!define A value')`,
    );
    expect(configError(() => pp(cfg('', '#!define'))).message).toBe(`${MAIN}:2: #!define expects a name`);
  });

  it('accepts the !! spelling', () => {
    const r = pp(cfg('!!define A 1', '!!ifdef A', 'x=A', '!!else', 'x=0', '!!endif'));
    expect(r.lines.map((l) => l.text)).toEqual(['x=1']);
  });
});

describe('#!ifdef / #!ifndef / #!else / #!endif', () => {
  const text = cfg(
    '#!ifdef WITH_A', // 1
    'a=1', // 2
    '#!ifndef WITH_B', // 3
    'b=0', // 4
    '#!else', // 5
    'b=1', // 6
    '#!endif', // 7
    '#!else', // 8
    'a=0', // 9
    '#!ifdef WITH_B', // 10
    'ab=1', // 11
    '#!endif', // 12
    '#!endif', // 13
    'end=1', // 14
  );

  it('takes the right branches (nesting and else)', () => {
    expect(lines(text)).toEqual(['9: a=0', '14: end=1']);
    expect(lines(text, { defines: { WITH_A: null } })).toEqual(['2: a=1', '4: b=0', '14: end=1']);
    expect(lines(text, { defines: { WITH_A: null, WITH_B: null } })).toEqual(['2: a=1', '6: b=1', '14: end=1']);
    expect(lines(text, { defines: { WITH_B: '1' } })).toEqual(['9: a=0', '11: ab=1', '14: end=1']);
  });

  it('ignores directives other than if/else/endif inside a skipped region', () => {
    const r = pp(cfg('#!ifdef NOPE', '#!define X 1', 'include_file "missing.cfg"', '#!ifexp 1 == 1', '#!endif', '#!endif'));
    expect(r.defines.has('X')).toBe(false);
    expect(r.lines).toEqual([]);
  });

  it('defines made by earlier lines feed later #!ifdef', () => {
    expect(lines(cfg('#!ifndef X', '#!define X', '#!endif', '#!ifdef X', 'ok=1', '#!endif'))).toEqual(['5: ok=1']);
  });

  it('allows a trailing comment but not other text after #!else/#!endif', () => {
    expect(lines(cfg('#!ifdef A', 'a=1', '#!else  # not A', 'a=0', '#!endif // A'))).toEqual(['4: a=0']);
    expect(configError(() => pp(cfg('#!ifdef A', '#!endif A'))).message).toBe(`${MAIN}:2: unexpected text after #!endif: 'A'`);
    expect(configError(() => pp(cfg('#!ifdef A', '#!endif;'))).message).toBe(`${MAIN}:2: unexpected text after #!endif: ';'`);
    expect(configError(() => pp(cfg('#!ifdef(A)', '#!endif'))).message).toBe(`${MAIN}:1: #!ifdef: invalid name '(A)'`);
  });

  it('reports unbalanced directives at file:line', () => {
    expect(configError(() => pp(cfg('a=1', '#!ifdef A', 'b=1'))).message).toBe(`${MAIN}:2: '#!ifdef A' has no matching #!endif`);
    // the #!endif closes the inner #!ifndef: the outer one (line 1) is left open
    expect(configError(() => pp(cfg('#!ifdef A', '#!ifndef B', '#!endif'))).location).toEqual({ file: MAIN, line: 1 });
    expect(configError(() => pp(cfg('a=1', '#!endif'))).message).toBe(`${MAIN}:2: #!endif without #!ifdef/#!ifndef`);
    expect(configError(() => pp(cfg('#!else'))).message).toBe(`${MAIN}:1: #!else without #!ifdef/#!ifndef`);
    expect(configError(() => pp(cfg('#!ifdef A', '#!else', '#!else', '#!endif'))).location).toEqual({ file: MAIN, line: 3 });
  });

  it('requires a name', () => {
    expect(configError(() => pp(cfg('#!ifdef', '#!endif'))).message).toBe(`${MAIN}:1: #!ifdef expects a name`);
  });

  it('reports #!ifexp / #!defexp as unsupported', () => {
    expect(configError(() => pp(cfg('x=1', '#!ifexp A > 1', '#!endif'))).message).toBe(
      `${MAIN}:2: #!ifexp is not supported by ksr (use #!ifdef/#!ifndef)`,
    );
    expect(configError(() => pp(cfg('#!defexp A 1 + 1'))).location).toEqual({ file: MAIN, line: 1 });
  });
});

describe('-A defines', () => {
  it('parses NAME and NAME=value, keeping quotes', () => {
    expect(parseDefineArg('WITH_AUTH')).toEqual({ name: 'WITH_AUTH', value: null });
    expect(parseDefineArg('ROUTE_FILE="/abs/route.lua"')).toEqual({ name: 'ROUTE_FILE', value: '"/abs/route.lua"' });
    expect(parseDefineArg('N=5')).toEqual({ name: 'N', value: '5' });
    expect(() => parseDefineArg('1BAD')).toThrow(/invalid define/);
  });

  it('behave like #!define before the first line', () => {
    const r = pp(cfg('#!ifndef PORT', '#!define PORT 5060', '#!endif', 'port=PORT'), { defines: { PORT: '5080' } });
    expect(r.lines.map((l) => l.text)).toEqual(['port=5080']);
  });
});

describe('define expansion', () => {
  it('replaces whole identifiers outside strings', () => {
    const r = pp(
      cfg(
        '#!define IP 127.0.0.1',
        '#!define PORT 5060',
        'listen=udp:IP:PORT',
        'a="IP:PORT" IPX XIP IP_ IP.PORT 9IP',
        "b='IP'",
      ),
    );
    expect(r.lines.map((l) => l.text)).toEqual([
      'listen=udp:127.0.0.1:5060',
      'a="IP:PORT" IPX XIP IP_ 127.0.0.1.5060 9IP',
      "b='IP'",
    ]);
  });

  it('expands nested defines and defines without value to nothing', () => {
    const r = pp(cfg('#!define A B', '#!define B 42', '#!define EMPTY', 'x=A EMPTY;'));
    expect(r.lines.map((l) => l.text)).toEqual(['x=42 ;']);
  });

  it('does not touch pseudo-variables or selects', () => {
    const r = pp(cfg('#!define x 1', '#!define ru 2', 'r { $var(x) = $ru + x; $(ru{s.len}); @ruri.x }'));
    expect(r.lines[0]!.text).toBe('r { $var(x) = $ru + 1; $(ru{s.len}); @ruri.x }');
  });

  it('detects a define that expands to itself', () => {
    expect(configError(() => pp(cfg('#!define A B', '#!define B A', 'x=A'))).message).toBe(
      `${MAIN}:3: define 'A' expands to itself (A -> B -> A)`,
    );
  });

  it('quoted -A values become strings (ROUTE_FILE)', () => {
    const c = loadConfig(MAIN, {
      readFile: memFs({ [MAIN]: cfg('loadmodule "app_lua.so"', 'modparam("app_lua", "load", ROUTE_FILE)') }),
      defines: { ROUTE_FILE: '"/abs/route.lua"' },
    });
    expect(c.modparams).toEqual([
      { module: 'app_lua', param: 'load', value: '/abs/route.lua', loc: { file: MAIN, line: 2 } },
    ]);
  });

  it('a define used in a value: listen=udp:BENCH_IP:BENCH_PORT', () => {
    const c = loadConfig(MAIN, {
      readFile: memFs({ [MAIN]: cfg('#!define BENCH_IP 127.0.0.1', '#!define BENCH_PORT 5070', 'listen=udp:BENCH_IP:BENCH_PORT') }),
    });
    expect(c.listen).toEqual([{ proto: 'udp', address: '127.0.0.1', port: 5070, loc: { file: MAIN, line: 3 } }]);
  });

  it('defines MOD_<name> for loaded modules', () => {
    const r = pp(cfg('#!ifdef MOD_tm', 'early=1', '#!endif', 'loadmodule "/usr/lib/x/tm.so"', '#!ifdef MOD_tm', 'late=1', '#!endif'));
    expect(r.lines.map((l) => l.text)).toEqual(['loadmodule "/usr/lib/x/tm.so"', 'late=1']);
  });
});

describe('#!subst, #!substdef, #!substdefs', () => {
  it('#!subst rewrites string contents only', () => {
    const r = pp(cfg('#!subst "/HOST/example.com/g"', 'a="sip:HOST;x=HOST"', 'b=HOST'));
    expect(r.lines.map((l) => l.text)).toEqual(['a="sip:example.com;x=example.com"', 'b=HOST']);
    expect(r.defines.size).toBe(0);
  });

  it('#!substdef also defines the name, so IDs and strings both change', () => {
    const c = loadConfig(MAIN, {
      readFile: memFs({
        [MAIN]: cfg(
          '#!substdef "!MY_IP!10.0.0.1!g"',
          'listen=udp:MY_IP:5060',
          'loadmodule "rr"',
          'modparam("rr", "x", "sip:MY_IP;lr")',
        ),
      }),
    });
    expect(c.defines.get('MY_IP')).toBe('10.0.0.1');
    expect(c.listen[0]).toMatchObject({ proto: 'udp', address: '10.0.0.1', port: 5060 });
    expect(c.modparams[0]!.value).toBe('sip:10.0.0.1;lr');
  });

  it('#!substdefs defines a quoted string', () => {
    const c = loadConfig(MAIN, {
      readFile: memFs({ [MAIN]: cfg('#!substdefs "/SRV/srv.example.com/"', 'server_header=SRV') }),
    });
    expect(c.defines.get('SRV')).toBe('"srv.example.com"');
    expect(c.globals.get('server_header')!.value).toBe('srv.example.com');
  });

  it('supports other separators, flags and back-references', () => {
    const r = pp(cfg('#!subst "|a(b+)|<\\1>|gi"', 'x="ABB ab"'));
    expect(r.lines[0]!.text).toBe('x="<BB> <b>"');
    const r2 = pp(cfg('#!subst "/o/0/"', 'x="foo"'));
    expect(r2.lines[0]!.text).toBe('x="f0o"');
  });

  it('reports a bad expression at file:line', () => {
    expect(configError(() => pp(cfg('a=1', '#!subst "/x/"'))).location).toEqual({ file: MAIN, line: 2 });
    expect(configError(() => pp(cfg('#!subst /x/y/'))).message).toMatch(/expects a quoted expression/);
    expect(configError(() => pp(cfg('#!subst "/(/y/"'))).message).toMatch(/bad regular expression/);
  });
});

describe('#!defenv', () => {
  it('reads environment variables', () => {
    const r = pp(cfg('#!defenv HOME', '#!defenvs ME=USER_NAME', '#!trydefenv NOPE'), {
      env: { HOME: '/root', USER_NAME: 'bob' },
    });
    expect([...r.defines]).toEqual([
      ['HOME', '/root'],
      ['ME', '"bob"'],
    ]);
    expect(configError(() => pp(cfg('#!defenv NOPE'), { env: {} })).message).toMatch(/'NOPE' is not set/);
  });
});

describe('comments', () => {
  it('strips #, // and /* */ comments but keeps them inside strings', () => {
    const r = pp(
      cfg(
        '# a comment', // 1
        'a=1 # trailing', // 2
        'b="sip:1.2.3.4;transport=tcp#x" // trailing', // 3
        'c="http://x/y" /* inline */ ;', // 4
        '/* block', // 5
        '#!define HIDDEN', // 6
        'd=2', // 7
        '*/ e=3', // 8
        "f='#//' # x", // 9
        '##!define DISABLED', // 10
        '// whole line', // 11
      ),
    );
    expect(r.lines.map((l) => `${l.loc.line}: ${l.text.trim()}`)).toEqual([
      '2: a=1',
      '3: b="sip:1.2.3.4;transport=tcp#x"',
      '4: c="http://x/y"   ;',
      '8: e=3',
      "9: f='#//'",
    ]);
    expect(r.defines.size).toBe(0);
  });

  it('nests block comments', () => {
    expect(lines(cfg('/* a /* b */ still */ x=1'))).toEqual(['1: x=1']);
  });

  it('reports an unterminated block comment or string where it starts', () => {
    expect(configError(() => pp(cfg('a=1', 'b=2 /* open', 'c=3'))).message).toBe(`${MAIN}:2: unterminated /* comment`);
    expect(configError(() => pp(cfg('a=1', 'b="open', 'c=3'))).message).toBe(`${MAIN}:2: unterminated string`);
  });

  it('keeps a multi-line string in one logical line', () => {
    const r = pp(cfg('a="x', 'y"', 'b=1'));
    expect(r.lines).toEqual([
      { text: 'a="x\ny"', loc: { file: MAIN, line: 1 } },
      { text: 'b=1', loc: { file: MAIN, line: 3 } },
    ]);
  });

  it('joins lines ending in a backslash', () => {
    expect(lines(cfg('listen=udp:1.2.3.4:5060 \\', '  advertise 5.6.7.8:5080', 'x=1'))).toEqual([
      '1: listen=udp:1.2.3.4:5060   advertise 5.6.7.8:5080',
      '3: x=1',
    ]);
  });
});

describe('include_file / import_file', () => {
  it('includes relative to the including file, keeping file and line of every line', () => {
    const r = pp(
      cfg('a=1', 'include_file "sub/inc.cfg"', 'b=2'),
      {},
      {
        '/cfg/sub/inc.cfg': cfg('# inc', 'i=1', '#!include_file "deeper.cfg"'),
        '/cfg/sub/deeper.cfg': cfg('d=1'),
      },
    );
    expect(r.lines.map((l) => `${l.loc.file}:${l.loc.line}: ${l.text}`)).toEqual([
      `${MAIN}:1: a=1`,
      '/cfg/sub/inc.cfg:2: i=1',
      '/cfg/sub/deeper.cfg:1: d=1',
      `${MAIN}:3: b=2`,
    ]);
    expect(r.files).toEqual([MAIN, '/cfg/sub/inc.cfg', '/cfg/sub/deeper.cfg']);
  });

  it('accepts absolute paths and the !! form', () => {
    const r = pp(cfg('!!include_file "/etc/x.cfg"'), {}, { '/etc/x.cfg': 'x=1\n' });
    expect(r.lines.map((l) => `${l.loc.file}:${l.loc.line}`)).toEqual(['/etc/x.cfg:1']);
  });

  it('defines from an included file are visible afterwards', () => {
    const r = pp(cfg('import_file "defs.cfg"', 'x=A'), {}, { '/cfg/defs.cfg': '#!define A 7\n' });
    expect(r.lines.map((l) => l.text)).toEqual(['x=7']);
  });

  it('fails on a missing include_file, naming the including line', () => {
    const e = configError(() => pp(cfg('a=1', '', 'include_file "nope.cfg"')));
    expect(e.location).toEqual({ file: MAIN, line: 3 });
    expect(e.message).toMatch(/^\/cfg\/main\.cfg:3: cannot open included file "nope\.cfg"/);
  });

  it('skips a missing import_file silently', () => {
    const r = pp(cfg('import_file "nope.cfg"', 'a=1'));
    expect(r.lines.map((l) => l.text)).toEqual(['a=1']);
    expect(r.warnings).toEqual([]);
  });

  it('reports errors inside an included file with its own file:line', () => {
    const e = configError(() => pp(cfg('include_file "inc.cfg"'), {}, { '/cfg/inc.cfg': cfg('ok=1', '#!endif') }));
    expect(e.message).toBe('/cfg/inc.cfg:2: #!endif without #!ifdef/#!ifndef');
    const e2 = configError(() =>
      loadConfig(MAIN, {
        readFile: memFs({ [MAIN]: cfg('debug=1', 'include_file "inc.cfg"'), '/cfg/inc.cfg': cfg('', '', 'children=abc') }),
      }),
    );
    expect(e2.message).toBe("/cfg/inc.cfg:3: parameter children expects an integer, got 'abc'");
  });

  it('detects include recursion', () => {
    const e = configError(() =>
      pp(cfg('include_file "a.cfg"'), {}, { '/cfg/a.cfg': cfg('x=1', 'include_file "main.cfg"') }),
    );
    expect(e.location).toEqual({ file: '/cfg/a.cfg', line: 2 });
    expect(e.message).toMatch(/recursive include \(\/cfg\/main\.cfg -> \/cfg\/a\.cfg -> \/cfg\/main\.cfg\)/);
  });

  it('limits the include depth to 32', () => {
    const files: Record<string, string> = {};
    for (let k = 0; k < 40; k++) files[`/cfg/f${k}.cfg`] = `include_file "f${k + 1}.cfg"\n`;
    files['/cfg/f40.cfg'] = 'x=1\n';
    const e = configError(() => pp(cfg('include_file "f0.cfg"'), {}, files));
    expect(e.message).toMatch(/nested deeper than 32 levels/);
    expect(e.location).toEqual({ file: '/cfg/f31.cfg', line: 1 });
    // 32 levels are fine
    files['/cfg/f31.cfg'] = 'x=1\n';
    expect(pp(cfg('include_file "f0.cfg"'), {}, files).lines).toEqual([{ text: 'x=1', loc: { file: '/cfg/f31.cfg', line: 1 } }]);
  });

  it('requires a quoted file name', () => {
    expect(configError(() => pp(cfg('include_file x.cfg'))).message).toMatch(/expects a quoted file name/);
  });

  it('fails when the main file cannot be read', () => {
    const e = configError(() => preprocess('/nope.cfg', { readFile: memFs({}) }));
    expect(e.location).toBeUndefined();
    expect(e.message).toMatch(/^cannot read config file '\/nope\.cfg'/);
  });
});
