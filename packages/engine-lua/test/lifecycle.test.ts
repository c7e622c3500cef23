import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { KsrError, ScriptHost, type EngineLoadOptions, type ScriptEngine } from '@ksr/core';
import { appLuaModule, luaEngine } from '../src/index.js';
import { TempDir, harness, makeContext, type Harness } from './support.js';

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

async function load(file: string, extra: Partial<EngineLoadOptions> = {}): Promise<ScriptEngine> {
  const engine = await h.load(file, extra);
  engines.push(engine);
  return engine;
}

async function loadError(file: string, extra: Partial<EngineLoadOptions> = {}): Promise<KsrError> {
  try {
    engines.push(await h.load(file, extra));
  } catch (err) {
    expect(err).toBeInstanceOf(KsrError);
    return err as KsrError;
  }
  throw new Error('the script loaded');
}

describe('descriptor', () => {
  it('names the engine, its module and parameters', () => {
    expect(luaEngine.name).toBe('lua');
    expect(luaEngine.cfgengineNames).toEqual(['lua']);
    expect(luaEngine.scriptParams).toEqual(['load']);
    expect(luaEngine.module).toBe(appLuaModule);
    expect(appLuaModule.name).toBe('app_lua');
    expect(Object.keys(appLuaModule.params).sort()).toEqual(['load', 'log_mode', 'max_string_size', 'register', 'reload', 'route_time_limit', 'search_path']);
    expect(appLuaModule.params.load).toMatchObject({ type: 'str', multi: true });
    expect(appLuaModule.params.search_path).toMatchObject({ type: 'str', multi: true });
    expect(appLuaModule.params.route_time_limit?.type).toBe('int');
    expect(appLuaModule.params.route_time_limit?.check?.(100)).toBeUndefined();
    expect(appLuaModule.params.route_time_limit?.check?.(-1)).toMatch(/expected/);
    expect(appLuaModule.params.max_string_size?.type).toBe('int');
    expect(appLuaModule.params.max_string_size?.check?.(1048576)).toBeUndefined();
    expect(appLuaModule.params.max_string_size?.check?.(2 ** 31)).toMatch(/expected/);
  });
});

describe('loading', () => {
  it('rejects a syntax error with SCRIPT_LOAD and file:line', async () => {
    const file = tmp.write('bad.lua', `function ksr_request_route()\n  local x = = 1\nend\n`);
    const err = await loadError(file);
    expect(err.code).toBe('KSR_ERR_SCRIPT_LOAD');
    expect(err.message).toBe(`${file}:2: unexpected symbol near '='`);
  });

  it('gives the full path of a script in a deep folder (Lua shortens chunk names)', async () => {
    const deep = 'a-rather-long-folder-name/another-long-folder-name/yet-another-folder/and-one-more';
    const file = tmp.write(`${deep}/routing-script.lua`, `function ksr_request_route()\n  error("deep")\nend\nx = = 1\n`);
    expect(file.length).toBeGreaterThan(80);
    expect((await loadError(file)).message).toBe(`${file}:4: unexpected symbol near '='`);
    const ok = tmp.write(`${deep}/ok.lua`, `function ksr_request_route()\n  error("deep")\nend\n`);
    const r = (await load(ok)).run('ksr_request_route', []);
    expect(r).toMatchObject({ kind: 'error', error: { file: ok, line: 2, message: 'deep' } });
  });

  it('rejects a runtime error of the main chunk with file:line', async () => {
    const file = tmp.write('boom.lua', `local t = nil\nlocal y = t.field\nfunction ksr_request_route() end\n`);
    const err = await loadError(file);
    expect(err.code).toBe('KSR_ERR_SCRIPT_LOAD');
    expect(err.message).toBe(`${file}:2: attempt to index a nil value (local 't')`);
  });

  it('rejects a script without the required functions, naming the script', async () => {
    const file = tmp.write('noroute.lua', `function ksr_reply_route() end\nksr_request_route = 5\n`);
    const err = await loadError(file, { requiredFunctions: ['ksr_request_route', 'ksr_onsend_route'] });
    expect(err.code).toBe('KSR_ERR_SCRIPT_LOAD');
    expect(err.message).toBe(`${file}: the script does not define ksr_request_route(), ksr_onsend_route() (required as a route function)`);
  });

  it('rejects a missing file', async () => {
    const err = await loadError(path.join(tmp.dir, 'nope.lua'));
    expect(err.code).toBe('KSR_ERR_SCRIPT_LOAD');
    expect(err.message).toContain('nope.lua: cannot read the Lua script');
  });

  it('accepts a shebang line and a UTF-8 BOM, keeping line numbers', async () => {
    const file = tmp.write('shebang.lua', `\uFEFF#!/usr/bin/env lua\nfunction ksr_request_route()\n  error("here")\nend\n`);
    const r = (await load(file)).run('ksr_request_route', []);
    expect(r).toMatchObject({ kind: 'error', error: { line: 3 } });
  });

  it('resolves a relative script path', async () => {
    const file = tmp.write('rel.lua', `function ksr_request_route() end`);
    const engine = await load(path.relative(process.cwd(), file));
    expect(engine.scriptPath).toBe(file);
    expect(engine.engineName).toBe('lua');
  });

  it('loads every `load` script into one interpreter, the last modparam first', async () => {
    const lib = tmp.write('lib.lua', `ORDER = (ORDER or "") .. "lib;"\nfunction helper() return "from lib" end\n`);
    const main = tmp.write('main.lua', `ORDER = (ORDER or "") .. "main;"\nfunction ksr_request_route() KSR.info(ORDER .. helper()) end\n`);
    const engine = await load(main, { params: new Map([['load', [lib, main]]]) });
    expect(h.route(engine).kind).toBe('ok');
    expect(h.rec.calls).toEqual([{ fn: 'info', args: ['main;lib;from lib'] }]);
  });

  it('log_mode 1 logs the bound KSR functions', async () => {
    const file = tmp.write('log.lua', `function ksr_request_route() end`);
    await load(file, { params: new Map([['log_mode', [1]]]) });
    expect(h.lines.filter((l) => l.msg.startsWith('app_lua: exporting KSR.')).length).toBe(h.registry.exports.length);
    expect(h.lines.some((l) => l.msg === 'app_lua: exporting KSR.test.concat(str, int) -> xval')).toBe(true);
  });
});

describe('running', () => {
  it('reports a runtime error with file, line, function and stack', async () => {
    const file = tmp.write('rt.lua', `local function helper(t)
  return t.x.y
end
function ksr_request_route()
  local v = helper({})
end
function direct()
  error("direct failure")
end
function with_table()
  error({ code = 1 })
end
function with_tostring()
  error(setmetatable({}, { __tostring = function() return "custom error" end }))
end
function anon()
  local f = function() error("in anon") end
  f()
end
function bad_tostring()
  error(setmetatable({}, { __tostring = function() error("tostring fails") end }))
end
`);
    const engine = await load(file);
    const r = engine.run('ksr_request_route', []);
    // func names the route function that ran; the stack shows where inside it
    expect(r).toMatchObject({ kind: 'error', error: { file, line: 2, func: 'ksr_request_route', message: "attempt to index a nil value (field 'x')" } });
    if (r.kind === 'error') {
      expect(r.error.stack).toContain(`${file}:2: in function 'helper'`);
      expect(r.error.stack).toContain(`${file}:5: in function 'ksr_request_route'`);
    }
    expect(engine.run('direct', [])).toMatchObject({ kind: 'error', error: { file, line: 8, func: 'direct', message: 'direct failure' } });
    expect(engine.run('with_table', [])).toMatchObject({ kind: 'error', error: { file, line: 11, message: '(error object is a table value)' } });
    expect(engine.run('with_tostring', [])).toMatchObject({ kind: 'error', error: { file, line: 14, message: 'custom error' } });
    expect(engine.run('anon', [])).toMatchObject({ kind: 'error', error: { file, line: 17, message: 'in anon' } });
    const bt = engine.run('bad_tostring', []);
    expect(bt.kind).toBe('error');
    // Lua hands the __tostring error to the message handler again
    if (bt.kind === 'error') expect(bt.error.message).toMatch(/tostring fails|^error in the Lua error handler/);
    // the interpreter is fine afterwards
    expect(engine.run('direct', [])).toMatchObject({ kind: 'error', error: { line: 8 } });

    // through the runtime: logged with file:line and function
    expect(h.route(engine, 'direct').kind).toBe('error');
    expect(h.lines.find((l) => l.level === 'error')?.msg).toBe(`script error: ${file}:8 in direct: direct failure (Call-ID call-1@192.0.2.10)`);
  });

  it('a missing function is "missing"; hasFunction sees global functions only', async () => {
    const file = tmp.write('m.lua', `function ksr_request_route() end\nnot_a_function = 1\nlocal function hidden() end\n`);
    const engine = await load(file);
    expect(engine.run('nope', [])).toEqual({ kind: 'missing' });
    expect(engine.run('not_a_function', [])).toEqual({ kind: 'missing' });
    expect(engine.hasFunction('ksr_request_route')).toBe(true);
    expect(engine.hasFunction('not_a_function')).toBe(false);
    expect(engine.hasFunction('hidden')).toBe(false);
    expect(engine.hasFunction('nope')).toBe(false);
    expect(h.route(engine, 'nope').kind).toBe('missing');
  });

  it('does not run script code when looking functions up (raw global access)', async () => {
    const file = tmp.write('meta.lua', `function ksr_request_route() end
setmetatable(_G, { __index = function(t, k) while true do end end })`);
    const engine = await load(file);
    expect(engine.hasFunction('other')).toBe(false);
    expect(engine.run('other', [])).toEqual({ kind: 'missing' });
  });

  it('keeps globals between runs of one interpreter', async () => {
    const file = tmp.write('count.lua', `n = 0\nfunction ksr_request_route() n = n + 1 KSR.info(tostring(n)) end\n`);
    const engine = await load(file);
    for (let i = 0; i < 3; i++) h.route(engine);
    expect(h.rec.calls.map((c) => c.args[0])).toEqual(['1', '2', '3']);
  });
});

describe('reload and dispose', () => {
  it('each load is a fresh, independent interpreter', async () => {
    const file = tmp.write('r.lua', `n = 0\nfunction ksr_request_route() n = n + 1 KSR.info("v1 " .. n) end\n`);
    const first = await load(file);
    h.route(first);
    h.route(first);
    tmp.write('r.lua', `n = n or 100\nfunction ksr_request_route() n = n + 1 KSR.info("v2 " .. n) end\nfunction added() end\n`);
    const second = await load(file);
    h.route(second);
    h.route(first);
    expect(h.rec.calls.map((c) => c.args[0])).toEqual(['v1 1', 'v1 2', 'v2 101', 'v1 3']);
    expect(first.hasFunction('added')).toBe(false);
    expect(second.hasFunction('added')).toBe(true);
  });

  it('works with the core ScriptHost: reload swaps, a failed reload keeps the running script', async () => {
    const file = tmp.write('host.lua', `function ksr_request_route() KSR.info("gen1") end\n`);
    const host = new ScriptHost(luaEngine, {
      registry: h.registry,
      invoke: h.runtime.invoke,
      logger: h.logger,
      script: file,
      params: new Map(),
      requiredFunctions: ['ksr_request_route'],
      version: 'test',
    });
    await host.start();
    host.run(h.runtime, makeContext(), 'ksr_request_route');
    tmp.write('host.lua', `function ksr_request_route() KSR.info("gen2") end\n`);
    expect(await host.reload()).toMatchObject({ ok: true, generation: 2 });
    host.run(h.runtime, makeContext(), 'ksr_request_route');
    tmp.write('host.lua', `function ksr_request_route( KSR.info("gen3") end\n`);
    const bad = await host.reload();
    expect(bad).toMatchObject({ ok: false, generation: 2 });
    if (!bad.ok) expect(bad.error).toContain(`${file}:1:`);
    host.run(h.runtime, makeContext(), 'ksr_request_route');
    expect(h.rec.calls.map((c) => c.args[0])).toEqual(['gen1', 'gen2', 'gen2']);
    host.dispose();
  });

  it('dispose closes the state; later calls fail cleanly', async () => {
    const file = tmp.write('d.lua', `function ksr_request_route() end\n`);
    const engine = await h.load(file);
    expect(engine.run('ksr_request_route', [])).toEqual({ kind: 'ok' });
    engine.dispose();
    engine.dispose();
    expect(engine.hasFunction('ksr_request_route')).toBe(false);
    expect(engine.run('ksr_request_route', [])).toMatchObject({ kind: 'error', error: { message: 'the Lua interpreter was disposed' } });
  });
});
