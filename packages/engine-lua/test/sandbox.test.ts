import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { EngineLoadOptions, ScriptEngine } from '@ksr/core';
import { TempDir, harness, type Harness } from './support.js';

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

async function load(body: string, extra: Partial<EngineLoadOptions> = {}, name = 'route.lua'): Promise<{ engine: ScriptEngine; file: string }> {
  const file = tmp.write(name, body);
  const engine = await h.load(file, extra);
  engines.push(engine);
  return { engine, file };
}

async function reported(body: string, extra: Partial<EngineLoadOptions> = {}, name = 'route.lua'): Promise<string[]> {
  const { engine } = await load(`function ksr_request_route()\n${body}\nend\n`, extra, name);
  const r = h.route(engine);
  expect(r.kind, JSON.stringify(h.lines)).toBe('ok');
  return h.rec.calls.filter((c) => c.fn === 'info').map((c) => String(c.args[0]));
}

describe('sandbox', () => {
  it('leaves out what reaches the process, the file system or the VM', async () => {
    const out = await reported(`
      for _, name in ipairs({ "io", "debug", "dofile", "loadfile", "fengari", "module", "setfenv", "unpack" }) do
        KSR.info(name .. "=" .. type(_G[name]))
      end
      for _, name in ipairs({ "exit", "getenv", "execute", "remove", "rename", "tmpname", "setlocale" }) do
        KSR.info("os." .. name .. "=" .. type(os[name]))
      end
      KSR.info("package.loadlib=" .. type(package.loadlib))
      KSR.info("package.searchers=" .. type(package.searchers))
      KSR.info("package.path=" .. type(package.path))
    `);
    expect(out).toEqual([
      'io=nil',
      'debug=nil',
      'dofile=nil',
      'loadfile=nil',
      'fengari=nil',
      'module=nil',
      'setfenv=nil',
      'unpack=nil',
      'os.exit=nil',
      'os.getenv=nil',
      'os.execute=nil',
      'os.remove=nil',
      'os.rename=nil',
      'os.tmpname=nil',
      'os.setlocale=nil',
      'package.loadlib=nil',
      'package.searchers=nil',
      'package.path=nil',
    ]);
  });

  it('keeps the libraries a routing script uses', async () => {
    const out = await reported(`
      KSR.info(string.format("%s-%d", ("abc"):upper(), 7))
      KSR.info(table.concat({ 1, 2, 3 }, ","))
      KSR.info(tostring(math.max(3, 9)) .. " " .. math.type(math.floor(2.5)))
      KSR.info(tostring(utf8.len("h\\u{e9}")))
      KSR.info(type(coroutine.wrap))
      KSR.info(math.type(os.time()) .. " " .. type(os.clock()) .. " " .. type(os.date("%Y")) .. " " .. type(os.difftime(2, 1)))
      KSR.info(tostring(collectgarbage("count")))
      KSR.info(_VERSION)
      KSR.info(tostring(package.loaded.string == string) .. " " .. tostring(package.loaded.os == os))
      KSR.info(tostring(require("string") == string))
    `);
    expect(out).toEqual(['ABC-7', '1,2,3', '9 integer', '2', 'function', 'integer number string number', '0', 'Lua 5.3', 'true true', 'true']);
  });

  it('load compiles text only', async () => {
    const out = await reported(`
      KSR.info(tostring(load("return 1 + 1")()))
      local env = { x = 5 }
      KSR.info(tostring(load("return x", "chunk", "t", env)()))
      local f, err = load("\\27Lua binary")
      KSR.info(tostring(f) .. " " .. tostring(err))
      local f2, err2 = load("return 1", "c", "b")
      KSR.info(tostring(f2) .. " " .. tostring(err2))
      local parts = { "return ", "3" }
      local i = 0
      KSR.info(tostring(load(function() i = i + 1 return parts[i] end)()))
    `);
    expect(out[0]).toBe('2');
    expect(out[1]).toBe('5');
    expect(out[2]).toMatch(/^nil .*binary chunk/);
    expect(out[3]).toMatch(/^function: /); // mode "b" is overridden: text loads
    expect(out[4]).toBe('3');
  });

  it('print writes to the ksr log', async () => {
    await reported(`print("hello", 1, nil, true)`);
    expect(h.lines).toContainEqual({ level: 'info', msg: 'hello\t1\tnil\ttrue' });
  });

  it('os.exit cannot stop the process', async () => {
    const { engine } = await load(`function ksr_request_route() os.exit(1) end`);
    const r = engine.run('ksr_request_route', []);
    expect(r.kind).toBe('error');
    if (r.kind === 'error') expect(r.error.message).toMatch(/attempt to call a nil value \(field 'exit'\)/);
  });
});

describe('require', () => {
  it('loads <name>.lua from the script folder, once, with dots as folders', async () => {
    tmp.write('helpers.lua', `COUNT = (COUNT or 0) + 1\nlocal M = {}\nfunction M.greet(n) return "hi " .. n end\nreturn M`);
    tmp.write('lib/util/strings.lua', `return { up = function(s) return s:upper() end, name = ... }`);
    tmp.write('noreturn.lua', `NORETURN_RAN = true`);
    const out = await reported(`
      local h1 = require("helpers")
      local h2 = require("helpers")
      KSR.info(h1.greet("bob") .. " " .. tostring(h1 == h2) .. " " .. COUNT)
      local s = require("lib.util.strings")
      KSR.info(s.up("x") .. " " .. s.name)
      KSR.info(tostring(require("noreturn")) .. " " .. tostring(NORETURN_RAN))
      KSR.info(tostring(package.loaded.helpers == h1))
    `);
    expect(out).toEqual(['hi bob true 1', 'X lib.util.strings', 'true true', 'true']);
  });

  it('refuses paths and names outside the allowed set', async () => {
    tmp.write('outside.lua', `return 1`);
    const out = await reported(
      `
      for _, name in ipairs({ "../outside", "/etc/passwd", "a..b", ".hidden", "x/y", "", "trailing.", "name.lua", "missing" }) do
        local ok, err = pcall(require, name)
        KSR.info(tostring(ok) .. " " .. tostring(err))
      end
      local ok, err = pcall(require, 42)
      KSR.info(tostring(ok) .. " " .. tostring(err))
    `,
      {},
      'scripts/route.lua',
    );
    expect(out).toHaveLength(10);
    for (const line of out) expect(line).toMatch(/^false /);
    expect(out[0]).toMatch(/module '\.\.\/outside' not found: require takes a module name/);
    expect(out[7]).toMatch(/module 'name\.lua' not found/);
    expect(out[8]).toMatch(/module 'missing' not found:\n\tno file '.*missing\.lua'/);
    expect(out[9]).toMatch(/bad argument #1 to 'require' \(string expected, got number\)/);
  });

  it('searches the search_path folders after the script folder', async () => {
    const other = new TempDir('ksr-lua-lib-');
    try {
      other.write('shared.lua', `return { where = "search_path" }`);
      other.write('helpers.lua', `return { where = "search_path" }`);
      tmp.write('helpers.lua', `return { where = "script folder" }`);
      const out = await reported(`KSR.info(require("shared").where .. ", " .. require("helpers").where)`, {
        params: new Map([['search_path', [other.dir]]]),
      });
      expect(out).toEqual(['search_path, script folder']);
    } finally {
      other.remove();
    }
  });

  it('reports errors inside a required module with its own file and line', async () => {
    const mod = tmp.write('broken.lua', `local M = {}\nfunction M.f()\n  error("inside module")\nend\nreturn M`);
    tmp.write('syntax.lua', `return {`);
    const { engine } = await load(`local b = require("broken")
function ksr_request_route() b.f() end
function syn() require("syntax") end`);
    const r = engine.run('ksr_request_route', []);
    expect(r).toMatchObject({ kind: 'error', error: { message: 'inside module', file: mod, line: 3, func: 'ksr_request_route' } });
    if (r.kind === 'error') {
      expect(r.error.stack).toContain(`${mod}:3: in function 'f'`);
      expect(r.error.stack).toContain(`${path.join(tmp.dir, 'route.lua')}:2: in function 'ksr_request_route'`);
    }
    const s = engine.run('syn', []);
    expect(s.kind).toBe('error');
    if (s.kind === 'error') {
      expect(s.error.message).toContain(`error loading module 'syntax' from file '${path.join(tmp.dir, 'syntax.lua')}'`);
      expect(s.error.line).toBe(3);
    }
  });

  it('detects require loops', async () => {
    tmp.write('a.lua', `return require("b")`);
    tmp.write('b.lua', `return require("a")`);
    const { engine } = await load(`function ksr_request_route() require("a") end`);
    const r = engine.run('ksr_request_route', []);
    expect(r.kind).toBe('error');
    if (r.kind === 'error') expect(r.error.message).toContain("loop or previous error loading module 'a'");
  });
});
