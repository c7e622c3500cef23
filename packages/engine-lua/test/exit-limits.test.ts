import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { EngineLoadOptions, ScriptEngine } from '@ksr/core';
import { makeContext, testServices, TempDir, harness, type Harness } from './support.js';

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

async function load(body: string, extra: Partial<EngineLoadOptions> = {}): Promise<{ engine: ScriptEngine; file: string }> {
  const file = tmp.write('route.lua', body);
  const engine = await h.load(file, extra);
  engines.push(engine);
  return { engine, file };
}

const recorded = () => h.rec.calls.filter((c) => c.fn === 'record').map((c) => c.args[0]);

describe('KSR.x.exit / KSR.x.drop', () => {
  it('exit ends the route: code after it does not run', async () => {
    const { engine } = await load(`function ksr_request_route()
  KSR.test.record("before")
  KSR.x.exit()
  KSR.test.record("after")
end`);
    const r = h.route(engine);
    expect(r.kind).toBe('exit');
    expect(r.dropped).toBe(false);
    expect(recorded()).toEqual(['before']);
  });

  it('exit from a nested Lua function and from inside a coroutine', async () => {
    const { engine } = await load(`local function deep(n) if n == 0 then KSR.x.exit() end deep(n - 1) end
function ksr_request_route() deep(10) KSR.test.record("after") end
function co_route()
  local co = coroutine.wrap(function() KSR.x.exit() end)
  co()
  KSR.test.record("after co")
end`);
    expect(h.route(engine).kind).toBe('exit');
    expect(h.route(engine, 'co_route').kind).toBe('exit');
    expect(recorded()).toEqual([]);
  });

  it('drop ends the route and marks the message dropped', async () => {
    const { engine } = await load(`function ksr_request_route() KSR.x.drop() KSR.test.record("after") end`);
    const r = h.route(engine);
    expect(r.kind).toBe('exit');
    expect(r.dropped).toBe(true);
    expect(recorded()).toEqual([]);
  });

  it('a pcall around KSR.x.exit does not keep the route alive past the next KSR call', async () => {
    const { engine } = await load(`function ksr_request_route()
  local ok, e = pcall(KSR.x.exit)
  pure_lua_ran = not ok
  KSR.test.record("after pcall")
  KSR.test.record("never")
end`);
    expect(h.route(engine).kind).toBe('exit');
    expect(recorded()).toEqual([]);
  });

  it('an exit the script swallowed still reports exit when the function returns', async () => {
    const { engine } = await load(`function ksr_request_route()
  local ok, e = pcall(KSR.x.exit)
  return type(e)
end`);
    expect(h.route(engine).kind).toBe('exit');
  });

  it('the exit value is not a string a script could make', async () => {
    const { engine } = await load(`function ksr_request_route()
  local ok, e = pcall(KSR.x.exit)
  KSR_SEEN = type(e)
end
function fake() error("~~ksr~exit~~") end
function report() KSR.test.record(KSR_SEEN) end`);
    expect(h.route(engine).kind).toBe('exit');
    expect(h.route(engine, 'report').kind).toBe('ok');
    expect(recorded()).toEqual(['userdata']); // a light userdata: Lua code cannot forge one
    expect(h.route(engine, 'fake').kind).toBe('error');
  });

  it('each run starts without the exit of the previous one', async () => {
    const { engine } = await load(`function ksr_request_route() KSR.x.exit() end
function ok_route() KSR.test.record("ran") end`);
    expect(h.route(engine).kind).toBe('exit');
    expect(h.route(engine, 'ok_route').kind).toBe('ok');
    expect(recorded()).toEqual(['ran']);
  });
});

describe('route time limit', () => {
  const loops: Array<[string, string]> = [
    ['a plain loop', 'while true do end'],
    ['a pcall-and-continue loop', 'while true do pcall(function() while true do end end) end'],
    ['nested pcalls', 'while true do pcall(pcall, pcall, function() while true do pcall(function() while true do end end) end end) end'],
    ['an error-swallowing xpcall loop', 'while true do xpcall(function() while true do end end, function(e) return e end) end'],
    ['a loop inside a coroutine', 'local co = coroutine.wrap(function() while true do end end) co()'],
    ['a loop resuming a looping coroutine', 'while true do local co = coroutine.create(function() while true do end end) coroutine.resume(co) end'],
    ['a loop calling KSR', 'while true do KSR.test.ret_int() end'],
    ['infinite recursion through pcall', 'local function f() pcall(f) f() end f()'],
  ];

  it.each(loops)('stops %s and reports the limit with file and line', async (_name, code) => {
    const { engine, file } = await load(`function ksr_request_route()\n  ${code}\nend\nfunction fine() KSR.test.record("fine") end\n`, {
      params: new Map([['route_time_limit', [50]]]),
    });
    const t0 = performance.now();
    const r = engine.run('ksr_request_route', []);
    const ms = performance.now() - t0;
    expect(r.kind).toBe('error');
    if (r.kind !== 'error') return;
    expect(r.error.message).toMatch(/route time limit of 50 ms exceeded|stack overflow/);
    expect(r.error.file).toBe(file);
    expect(r.error.line).toBe(2);
    expect(ms).toBeLessThan(2000);
    // the interpreter keeps serving, with a fresh budget
    const t1 = performance.now();
    expect(engine.run('fine', []).kind).toBe('ok');
    expect(performance.now() - t1).toBeLessThan(250);
    expect(recorded()).toEqual(['fine']);
  });

  it('defaults to 100 ms and the server keeps serving', async () => {
    const { engine } = await load(`function ksr_request_route() while true do end end\nfunction fine() KSR.test.record("ok") end\n`);
    const t0 = performance.now();
    const r = h.route(engine);
    const ms = performance.now() - t0;
    expect(r.kind).toBe('error');
    expect(ms).toBeGreaterThanOrEqual(95);
    expect(ms).toBeLessThan(2000);
    const err = h.lines.find((l) => l.level === 'error');
    expect(err?.msg).toContain('route time limit of 100 ms exceeded');
    expect(err?.msg).toContain('route.lua:1');
    for (let i = 0; i < 3; i++) expect(h.route(engine, 'fine').kind).toBe('ok');
    expect(recorded()).toEqual(['ok', 'ok', 'ok']);
  });

  it('a coroutine left sticky by one run does not slow or fail the next', async () => {
    const { engine } = await load(`
co = coroutine.create(function() while true do coroutine.yield() end end)
function ksr_request_route() while true do coroutine.resume(co) end end
function fine() for i = 1, 200 do coroutine.resume(co) end KSR.test.record("ok") end
`);
    expect(engine.run('ksr_request_route', []).kind).toBe('error');
    const r = engine.run('fine', []);
    expect(r, JSON.stringify(r)).toMatchObject({ kind: 'ok' });
    expect(recorded()).toEqual(['ok']);
  });

  it('route_time_limit 0 turns the limit off', async () => {
    const { engine } = await load(`function ksr_request_route() local t = os.clock() while os.clock() - t < 0.15 do end KSR.test.record("done") end`, {
      params: new Map([['route_time_limit', [0]]]),
    });
    expect(h.route(engine).kind).toBe('ok');
    expect(recorded()).toEqual(['done']);
  });

  it('a nested route gets at most what is left of the outer budget, and the outer one goes on', async () => {
    const { engine } = await load(`function ksr_request_route()
  KSR.test.record("rc=" .. KSR.test.run_nested("branch"))
  KSR.test.record("rc=" .. KSR.test.run_nested("spin"))
  KSR.test.record("rc=" .. KSR.test.run_nested("leave"))
  KSR.test.record("outer done")
end
function branch() KSR.test.record("in branch") end
function spin() while true do end end
function leave() KSR.x.exit() end`);
    h.rec.nested = (_ctx, name) => {
      const r = h.runtime.run(engine, makeContext(testServices(h.logger), name), name);
      return r.kind === 'ok' ? 1 : r.kind === 'exit' ? 0 : -1;
    };
    const r = h.route(engine);
    expect(r.kind).toBe('ok');
    expect(recorded()).toEqual(['in branch', 'rc=1', 'rc=-1', 'rc=0', 'outer done']);
  });

  it('the main chunk has a load budget too', async () => {
    const file = tmp.write('spin.lua', `while true do end\nfunction ksr_request_route() end\n`);
    const t0 = performance.now();
    await expect(h.load(file, { params: new Map([['route_time_limit', [10]]]) })).rejects.toMatchObject({
      code: 'KSR_ERR_SCRIPT_LOAD',
      message: `${file}:1: script load time limit of 1000 ms exceeded`,
    });
    expect(performance.now() - t0).toBeLessThan(5000);
  });
});
