import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { EngineLoadOptions, EngineRunResult, ScriptEngine } from '@ksr/core';
import { fengariSetup, LUA_MAX_STACK, mergeFengariConf } from '../src/fengari-loader.js';
import { DEFAULT_MAX_STRING_SIZE } from '../src/index.js';
import { TempDir, harness, type Harness } from './support.js';

// Scripts that run away in one call or one instruction, where the count hook alone cannot stop
// them: deep recursion, and strings that grow past max_string_size.

let tmp: TempDir;
let h: Harness;
const engines: ScriptEngine[] = [];

beforeEach(() => {
  tmp = new TempDir();
  h = harness();
});
afterEach(() => {
  for (const e of engines.splice(0)) e.dispose();
  tmp.remove();
});

type Params = Record<string, number>;

async function load(body: string, params: Params = {}, extra: Partial<EngineLoadOptions> = {}): Promise<{ engine: ScriptEngine; file: string }> {
  const file = tmp.write('route.lua', `${body}\nfunction fine() KSR.test.record("fine") return 1 end\nfunction ksr_request_route() end\n`);
  const engine = await h.load(file, { params: new Map(Object.entries(params).map(([k, v]) => [k, [v]])), ...extra });
  engines.push(engine);
  return { engine, file };
}

function timed(engine: ScriptEngine, func: string): { r: EngineRunResult; ms: number } {
  const t0 = performance.now();
  const r = engine.run(func, []);
  return { r, ms: performance.now() - t0 };
}

const recorded = () => h.rec.calls.filter((c) => c.fn === 'record').map((c) => c.args[0]);

/** The interpreter still serves, promptly. */
function stillServes(engine: ScriptEngine): void {
  const before = recorded().length;
  const { r, ms } = timed(engine, 'fine');
  expect(r.kind).toBe('ok');
  expect(ms).toBeLessThan(250);
  expect(recorded().slice(before)).toEqual(['fine']);
}

function expectError(r: EngineRunResult, message: RegExp, file: string, line: number): void {
  expect(r.kind, JSON.stringify(r)).toBe('error');
  if (r.kind !== 'error') return;
  expect(r.error.message).toMatch(message);
  expect(r.error.file).toBe(file);
  expect(r.error.line).toBe(line);
}

describe('fengari configuration', () => {
  it('loads fengari with a smaller Lua stack and the string guard in place', () => {
    expect(LUA_MAX_STACK).toBe(200_000);
    if (!process.env.FENGARICONF) expect(fengariSetup.maxStack).toBe(LUA_MAX_STACK);
    expect(fengariSetup.stringGuard).toBe(true);
  });

  it('merges a FENGARICONF the user set (their keys win) and leaves broken ones alone', () => {
    expect(JSON.parse(mergeFengariConf(undefined)!)).toEqual({ LUAI_MAXSTACK: LUA_MAX_STACK });
    expect(JSON.parse(mergeFengariConf('{"LUA_IDSIZE": 80}')!)).toEqual({ LUAI_MAXSTACK: LUA_MAX_STACK, LUA_IDSIZE: 80 });
    expect(JSON.parse(mergeFengariConf('{"LUAI_MAXSTACK": 50000}')!)).toEqual({ LUAI_MAXSTACK: 50000 });
    expect(mergeFengariConf('{not json')).toBeUndefined();
    expect(mergeFengariConf('[1]')).toBeUndefined();
  });
});

describe('runaway recursion', () => {
  const recurse = `function recurse()\n  local function f(n) return 1 + f(n + 1) end\n  return 1 + f(1)\nend`;

  it('stops with "stack overflow" well under a second, with a short stack, and the state is reusable', async () => {
    const { engine, file } = await load(recurse, { route_time_limit: 0 });
    for (let i = 0; i < 2; i++) {
      const { r, ms } = timed(engine, 'recurse');
      expectError(r, /^stack overflow$/, file, 2);
      expect(ms).toBeLessThan(1500);
      if (r.kind !== 'error') return;
      const lines = r.error.stack!.split('\n');
      expect(lines.length).toBeLessThan(30);
      expect(r.error.stack).toMatch(/\.\.\. \(\d{4,} more\)/);
      expect(lines[lines.length - 1]).toBe(`\t${file}:3: in function 'recurse'`);
      stillServes(engine);
    }
  });

  it('shows where a tail call replaced the route function', async () => {
    const { engine, file } = await load(`function tail()\n  local function f(n) return 1 + f(n + 1) end\n  return f(1)\nend`, { route_time_limit: 0 });
    const r = engine.run('tail', []);
    expectError(r, /^stack overflow$/, file, 2);
    if (r.kind !== 'error') return;
    const lines = r.error.stack!.split('\n');
    expect(lines.slice(-2)).toEqual([`\t${file}:2: in function <${file}:2>`, '\t(...tail calls...)']);
  });

  it('under the default time budget ends as one of the two errors, promptly', async () => {
    const { engine, file } = await load(recurse);
    const { r, ms } = timed(engine, 'recurse');
    expectError(r, /^(stack overflow|route time limit of 100 ms exceeded)$/, file, 2);
    expect(ms).toBeLessThan(1500);
    stillServes(engine);
  });

  it('leaves ordinary deep recursion alone (thousands of levels)', async () => {
    const { engine } = await load(`function deep()
  local function f(n) if n == 0 then return 0 end return 1 + f(n - 1) end
  -- a function with many locals takes more stack per level
  local function g(n)
    local a, b, c, d, e, f1, g1, h1, i, j, k, l, m, o, p, q = 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16
    local t = { a, b, c, d, e, f1, g1, h1, i, j, k, l, m, o, p, q }
    if n == 0 then return #t end
    return g(n - 1) + 1
  end
  KSR.test.record(tostring(f(20000)) .. " " .. tostring(g(3000)))
end`, { route_time_limit: 0 });
    expect(engine.run('deep', []).kind).toBe('ok');
    expect(recorded()).toEqual(['20000 3016']);
  });

  it('recursion through pcall unwinds (each pcall catches the overflow) and the run ends', async () => {
    const { engine } = await load(`function viapcall()
  local first
  local function f()
    local ok, e = pcall(f)
    if not ok and not first then first = e end
  end
  f()
  KSR.test.record(tostring(first))
end
function plain() local function f() pcall(f) end f() end`);
    const { r, ms } = timed(engine, 'viapcall');
    expect(r.kind).toBe('ok');
    expect(ms).toBeLessThan(1500);
    expect(String(recorded()[0])).toMatch(/stack overflow/);
    expect(timed(engine, 'plain').r.kind).toBe('ok');
    stillServes(engine);
  });

  it.each([
    ['string.gsub callbacks', 'local function f(s) return (s:gsub(".", f)) end f("x")'],
    ['__index metamethods', 'local t = setmetatable({}, { __index = function(t, k) return t[k] end }) return t.x'],
    ['__tostring', 'local t t = setmetatable({}, { __tostring = function(x) return tostring(x) end }) return tostring(t)'],
    ['coroutines', 'local function f() local co = coroutine.wrap(f) return co() end f()'],
    ['table.sort comparators', 'local function f() table.sort({ 3, 2, 1 }, function(a, b) f() return a < b end) end f()'],
  ])('recursion through %s ends as a Lua error', async (_name, code) => {
    const { engine, file } = await load(`function r()\n  ${code}\nend`);
    const { r, ms } = timed(engine, 'r');
    expect(r.kind, JSON.stringify(r)).toBe('error');
    if (r.kind !== 'error') return;
    expect(r.error.message).toMatch(/stack overflow/);
    expect(r.error.file).toBe(file);
    expect(ms).toBeLessThan(1500);
    stillServes(engine);
  });
});

describe('max_string_size', () => {
  const limit = DEFAULT_MAX_STRING_SIZE;
  const tooLarge = (n: number, l = limit) => new RegExp(`^string too large \\(${n} bytes > ${l}\\)$`);

  it('is 16 MiB by default', () => {
    expect(DEFAULT_MAX_STRING_SIZE).toBe(16 * 1024 * 1024);
  });

  it('string.rep: refused before any memory is taken, as a function and as a method', async () => {
    const { engine, file } = await load(`function a()\n  return string.rep("x", 2^30)\nend
function b()\n  return ("xy"):rep(1e9)\nend
function c()\n  return ("ab"):rep(1e8, ", ")\nend`);
    for (const [f, n, line] of [['a', 2 ** 30, 2], ['b', 2e9, 5], ['c', 4e8 - 2, 8]] as const) {
      const { r, ms } = timed(engine, f);
      expectError(r, tooLarge(n), file, line);
      expect(ms).toBeLessThan(200);
    }
    stillServes(engine);
  });

  it('string.rep still works (and fast), also for empty pieces and odd arguments', async () => {
    const { engine } = await load(`function reps()
  assert(("ab"):rep(3, ",") == "ab,ab,ab")
  assert(string.rep("", 3, ",") == ",,")
  assert(string.rep("x", 0) == "" and string.rep("x", -5) == "")
  assert(string.rep("xyz", 1, "--") == "xyz")
  assert(string.rep(12, 2) == "1212" and string.rep("a", "3") == "aaa" and string.rep("a", 2.0) == "aa")
  local s = string.rep("abc", 100000, "-")
  assert(#s == 399999 and s:sub(1, 8) == "abc-abc-" and s:sub(-4) == "-abc")
  assert(string.rep("", 2^31 - 1) == "" and string.rep("", 2^31 - 1, "") == "")
  assert(#string.rep("x", 16 * 1024 * 1024) == 16 * 1024 * 1024)
  assert(not pcall(string.rep, "x", 1.5))
  assert(not pcall(string.rep, {}, 2))
  KSR.test.record("ok")
end`);
    const { r, ms } = timed(engine, 'reps');
    expect(r, JSON.stringify(r)).toMatchObject({ kind: 'ok' });
    expect(ms).toBeLessThan(1000);
    expect(recorded()).toEqual(['ok']);
  });

  it('string.gsub with a string replacement: refused at once from the match count', async () => {
    const { engine, file } = await load(`function g()\n  local s = string.rep("x", 65536)\n  return s:gsub("x", s)\nend
function fine_gsub()
  local s = string.rep("a\\n", 1000000)
  local r, n = s:gsub("\\n", "\\r\\n")
  assert(#r == 3000000 and n == 1000000)
  assert(("hello world"):gsub("(%w+)", "<%1>") == "<hello> <world>")
  assert(("abc"):gsub("", "-") == "-a-b-c-")
  KSR.test.record("ok")
end`, { route_time_limit: 0 });
    const { r, ms } = timed(engine, 'g');
    expectError(r, tooLarge(65536 * 65536), file, 3);
    expect(ms).toBeLessThan(500);
    const fine = engine.run('fine_gsub', []);
    expect(fine, JSON.stringify(fine)).toMatchObject({ kind: 'ok' });
    expect(recorded()).toEqual(['ok']);
  });

  it('string.gsub with a function or table replacement: stopped as the result grows', async () => {
    const { engine, file } = await load(`local big = string.rep("y", 100000)
function fn()\n  return (string.rep("x", 1000)):gsub("x", function() return big end)\nend
function tbl()\n  return (string.rep("x", 1000)):gsub("x", { x = big })\nend`, { max_string_size: 1048576 });
    expectError(engine.run('fn', []), /^string too large \(\d+ bytes > 1048576\)$/, file, 3);
    expectError(engine.run('tbl', []), /^string too large \(\d+ bytes > 1048576\)$/, file, 6);
    stillServes(engine);
  });

  it('table.concat, string.format, string.pack: the result is checked as it grows', async () => {
    const { engine, file } = await load(`local s = string.rep("x", 300000)
function concat()\n  local t = {} for i = 1, 10 do t[i] = s end return table.concat(t, ",")\nend
function format()\n  return string.format("%s%s%s%s", s, s, s, s)\nend
function pack()\n  return string.pack("c100000000", "")\nend
function small()
  assert(table.concat({ 1, "a", 2.5 }, "-") == "1-a-2.5")
  assert(string.format("%5.1f|%-4s|%q", 3.14159, "ab", "a\\n") == "  3.1|ab  |\\"a\\\\\\n\\"")
  assert(#string.pack("c10", "abc") == 10 and #os.date("%Y-%m-%d") == 10)
  assert(utf8.char(72, 228, 8364) == "H\\u{e4}\\u{20ac}")
  KSR.test.record("ok")
end`, { max_string_size: 1048576, route_time_limit: 0 });
    const cases: Array<[string, number]> = [['concat', 3], ['format', 6], ['pack', 9]];
    for (const [f, line] of cases) {
      const { r, ms } = timed(engine, f);
      expectError(r, /^string too large \(\d+ bytes > 1048576\)$/, file, line);
      expect(ms).toBeLessThan(1000);
    }
    expect(engine.run('small', [])).toMatchObject({ kind: 'ok' });
    expect(recorded()).toEqual(['ok']);
  });

  it('string.format widths are bounded by Lua itself', async () => {
    const { engine, file } = await load(`function f()\n  return string.format("%99999999s", "x")\nend`);
    expectError(engine.run('f', []), /invalid format \(width or precision too long\)|invalid conversion/, file, 2);
  });

  it('s = s .. s doubling stops at the first string over the limit, within a second', async () => {
    const { engine, file } = await load(`function bomb()\n  local s = "x"\n  for _ = 1, 40 do s = s .. s end\n  return #s\nend
function many()\n  local s = string.rep("y", 10000000)\n  return s .. s .. s .. s\nend`, { route_time_limit: 0 });
    const { r, ms } = timed(engine, 'bomb');
    expectError(r, tooLarge(2 ** 25), file, 3);
    expect(ms).toBeLessThan(1000);
    expectError(engine.run('many', []), tooLarge(4e7), file, 8);
    stillServes(engine);
  });

  it('the error is an ordinary Lua error: pcall catches it and the script goes on', async () => {
    const { engine } = await load(`function caught()
  local ok, e = pcall(string.rep, "x", 2^30)
  local ok2, e2 = pcall(function() local s = "x" for _ = 1, 40 do s = s .. s end end)
  KSR.test.record(tostring(ok) .. " " .. e .. " | " .. tostring(ok2) .. " " .. e2)
  KSR.test.record(#string.rep("z", 1000))
end`);
    expect(engine.run('caught', [])).toMatchObject({ kind: 'ok' });
    const [first, second] = recorded();
    expect(first).toMatch(/^false string too large \(1073741824 bytes > 16777216\) \| false .*route\.lua:3: string too large \(33554432 bytes > 16777216\)$/);
    expect(second).toBe('1000');
  });

  it('follows the modparam: a small limit, and 0 for none of ksr\'s own', async () => {
    const { engine, file } = await load(`function small()\n  assert(#("x"):rep(4096) == 4096)\n  local s = string.rep("x", 3000)\n  return s .. s\nend
function big() return #string.rep("x", 20000000) end
function message() error(string.rep("m", 4000) .. string.rep("n", 100)) end`, { max_string_size: 4096 });
    expectError(engine.run('small', []), tooLarge(6000, 4096), file, 4);
    expectError(engine.run('big', []), tooLarge(2e7, 4096), file, 6);
    // an error message over the limit: the "string too large" error takes its place
    expectError(engine.run('message', []), tooLarge(4100, 4096), file, 7);
    const { engine: unlimited } = await load(`function big() KSR.test.record(#string.rep("x", 20000000)) end`, { max_string_size: 0 });
    expect(unlimited.run('big', [])).toMatchObject({ kind: 'ok' });
    expect(recorded()).toEqual(['20000000']);
    // each interpreter keeps its own limit
    expectError(engine.run('small', []), tooLarge(6000, 4096), file, 4);
  });

  it('accepts 0 or 1024 … 2^31 - 1 as max_string_size', async () => {
    const { appLuaModule, readSettings } = await import('../src/index.js');
    const check = appLuaModule.params.max_string_size!.check!;
    for (const ok of [0, 1024, 16777216, 2 ** 31 - 1]) expect(check(ok)).toBeUndefined();
    for (const bad of [-1, 1, 1023, 2 ** 31, 1.5]) expect(check(bad)).toMatch(/expected 0/);
    expect(readSettings(new Map()).maxStringSize).toBe(16777216);
    expect(readSettings(new Map([['max_string_size', [0]]])).maxStringSize).toBe(Infinity);
    expect(readSettings(new Map([['max_string_size', ['2048']]])).maxStringSize).toBe(2048);
  });

  it('a loop of large library calls still stops at its deadline', async () => {
    // each os.date call takes long with no VM instruction in between: the guard checks the clock
    const { engine, file } = await load(`function slow()\n  while true do local d = os.date(string.rep("%c", 100000)) end\nend`, { route_time_limit: 50 });
    const { r, ms } = timed(engine, 'slow');
    expectError(r, /^route time limit of 50 ms exceeded$/, file, 2);
    expect(ms).toBeLessThan(1000);
    stillServes(engine);
  });

  it('also applies while the main chunk runs', async () => {
    const file = tmp.write('bomb.lua', `local s = "x"\nfor _ = 1, 40 do s = s .. s end\nfunction ksr_request_route() end\n`);
    await expect(h.load(file)).rejects.toMatchObject({ code: 'KSR_ERR_SCRIPT_LOAD', message: `${file}:2: string too large (33554432 bytes > 16777216)` });
  });
});
