/**
 * The fixture scripts are one contract in four languages. Until every engine runs them, check
 * statically that they agree: the same route functions, the markers the suite looks up, and
 * valid syntax where a checker is at hand (JavaScript via node:vm, Python via python3).
 */
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import vm from 'node:vm';
import { describe, expect, it } from 'vitest';
import { EXPECTED_EVENTS, fixturePath, markerLine } from '../src/index.js';

const LANGS = ['lua', 'js', 'py', 'ts'] as const;
type Lang = (typeof LANGS)[number];

/** Route-level function names a fixture defines (globals / module level / returned by the TS factory). */
function routeFunctions(lang: Lang, text: string): string[] {
  const re: Record<Lang, RegExp> = {
    lua: /^function (\w+)\(/gm,
    js: /^function (\w+)\(/gm,
    py: /^def (\w+)\(/gm,
    ts: /^ {2}function (\w+)\(/gm,
  };
  return [...text.matchAll(re[lang])].map((m) => m[1]!).filter((n) => n === 'ksr_request_route' || n.startsWith('conf_'));
}

const ROUTES = Object.keys(EXPECTED_EVENTS).filter((k) => k !== 'load');

describe('conformance fixtures', () => {
  for (const lang of LANGS) {
    const text = readFileSync(fixturePath(`conformance.${lang}`), 'utf8');
    it(`conformance.${lang} defines exactly the route functions the suite expects`, () => {
      expect(routeFunctions(lang, text).sort()).toEqual([...ROUTES, 'conf_inner'].sort());
    });
    it(`conformance.${lang} carries each error-line marker once`, () => {
      for (const m of ['where', 'raise', 'nilcall', 'raise-deep']) expect(markerLine(text, m)).toBeGreaterThan(0);
    });
    it(`conformance-broken.${lang} marks its syntax error`, () => {
      expect(markerLine(readFileSync(fixturePath(`conformance-broken.${lang}`), 'utf8'), 'syntax')).toBeGreaterThan(0);
    });
    it(`conformance.${lang} makes the same KSR calls as conformance.js`, () => {
      // the KSR.<...>( call sites, in order, must be the same in every language
      const calls = (t: string): string[] => [...t.matchAll(/KSR\.(\w+(?:\.\w+)?)\(/g)].map((m) => m[1]!);
      expect(calls(text)).toEqual(calls(readFileSync(fixturePath('conformance.js'), 'utf8')));
    });
  }

  it('the JavaScript fixtures compile as classic scripts (the broken one does not)', () => {
    for (const f of ['conformance.js', 'conformance-reload.js', 'conformance-norequest.js']) {
      expect(() => new vm.Script(readFileSync(fixturePath(f), 'utf8'), { filename: f })).not.toThrow();
    }
    expect(() => new vm.Script(readFileSync(fixturePath('conformance-broken.js'), 'utf8'))).toThrow(SyntaxError);
  });

  const python = spawnSync('python3', ['--version']).status === 0;
  it.skipIf(!python)('the Python fixtures compile (the broken one does not, at its marker)', () => {
    const compile = (f: string) =>
      spawnSync('python3', ['-c', 'import sys; compile(sys.stdin.read(), sys.argv[1], "exec")', f], { input: readFileSync(fixturePath(f), 'utf8'), encoding: 'utf8' });
    for (const f of ['conformance.py', 'conformance-reload.py', 'conformance-norequest.py']) expect(compile(f).stderr).toBe('');
    const broken = compile('conformance-broken.py');
    expect(broken.status).not.toBe(0);
    expect(broken.stderr).toContain(`line ${markerLine(readFileSync(fixturePath('conformance-broken.py'), 'utf8'), 'syntax')}`);
  });
});

describe('markerLine', () => {
  it('finds the one line carrying a marker, not a longer marker sharing its prefix', () => {
    expect(markerLine('a\nb -- @conf:raise-deep\nc -- @conf:raise\n', 'raise')).toBe(3);
    expect(markerLine('a\nb -- @conf:raise-deep\nc -- @conf:raise\n', 'raise-deep')).toBe(2);
  });
  it('throws when the marker is missing or repeated', () => {
    expect(() => markerLine('a\nb\n', 'where', 'x.lua')).toThrow('x.lua: expected one "@conf:where" marker, found 0');
    expect(() => markerLine('@conf:where\n@conf:where\n', 'where')).toThrow('found 2');
  });
});
