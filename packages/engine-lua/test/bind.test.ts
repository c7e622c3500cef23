import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { ScriptEngine } from '@ksr/core';
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

async function load(body: string, name = 'route.lua'): Promise<{ engine: ScriptEngine; file: string }> {
  const file = tmp.write(name, body);
  const engine = await h.load(file);
  engines.push(engine);
  return { engine, file };
}

/** Run a script body inside ksr_request_route that reports values with KSR.info(). */
async function reported(body: string): Promise<string[]> {
  const { engine } = await load(`function ksr_request_route()\n${body}\nend\n`);
  const r = h.route(engine);
  expect(r.kind, JSON.stringify(h.lines)).toBe('ok');
  return h.rec.calls.filter((c) => c.fn === 'info').map((c) => String(c.args[0]));
}

describe('KSR tables', () => {
  it('exist for the registered modules only, with one function per export', async () => {
    const out = await reported(`
      KSR.info(type(KSR))
      KSR.info(type(KSR.info))
      KSR.info(type(KSR.x) .. " " .. type(KSR.x.exit) .. " " .. type(KSR.x.drop))
      KSR.info(type(KSR.test) .. " " .. type(KSR.test.ret_int))
      if KSR.auth then KSR.info("auth present") else KSR.info("no auth") end
      KSR.info(tostring(KSR.x.modf))
      KSR.info(KSRVERSION)
      local n = 0
      for k, v in pairs(KSR.test) do n = n + 1 end
      KSR.info(tostring(n))
    `);
    expect(out).toEqual([
      'table',
      'function',
      'table function function',
      'table function',
      'no auth',
      'nil',
      '9.9.9-test',
      String(h.registry.exportsOf('test').length),
    ]);
  });

  it('gives each interpreter its own tables', async () => {
    const a = await load(`function ksr_request_route() KSR.test.extra = 1 end`, 'a.lua');
    const b = await load(`function ksr_request_route() KSR.info(tostring(KSR.test.extra)) end`, 'b.lua');
    expect(h.route(a.engine).kind).toBe('ok');
    expect(h.route(b.engine).kind).toBe('ok');
    expect(h.rec.calls).toEqual([{ fn: 'info', args: ['nil'] }]);
  });
});

describe('arguments and returns', () => {
  it('int returns are Lua integers', async () => {
    const out = await reported(`
      local v = KSR.test.ret_int()
      KSR.info(math.type(v) .. " " .. v)
      KSR.info(tostring(KSR.test.ret_neg()))
      KSR.info(tostring(KSR.test.id_int(7)) .. " " .. tostring(KSR.test.id_int(-7)))
      KSR.info(tostring(KSR.test.id_int("12")))
      KSR.info(tostring(KSR.test.id_int(3.0)))
      KSR.info(tostring(KSR.test.sum6(1, 2, 3, 4, 5, 6)))
    `);
    expect(out).toEqual(['integer 42', '-2147483648', '7 -7', '12', '3', '21']);
  });

  it('strings cross both ways, UTF-8 included', async () => {
    const out = await reported(`
      KSR.info(KSR.test.echo("héllo ☎ \\u{1F600}"))
      KSR.info(KSR.test.echo(""))
      KSR.info(KSR.test.echo(5))
      KSR.info(KSR.test.concat("a", 3))
      KSR.info(KSR.test.mixed("s", 1, "t", 2, "u"))
      KSR.info(type(KSR.test.echo("x")))
    `);
    expect(out).toEqual(['héllo ☎ 😀', '', '5', 'a3', 's|1|t|2|u', 'string']);
  });

  it('xval, bool, null and none returns', async () => {
    const out = await reported(`
      KSR.info(math.type(KSR.test.xint()) .. " " .. KSR.test.xint())
      KSR.info(math.type(KSR.test.xfloat()) .. " " .. KSR.test.xfloat())
      KSR.info(tostring(KSR.test.xnull() == nil))
      KSR.info(tostring(KSR.test.yes()) .. " " .. tostring(KSR.test.no()) .. " " .. type(KSR.test.yes()))
      KSR.info(tostring(select("#", KSR.test.nothing())))
      KSR.info(tostring(select("#", KSR.test.xnull())))
    `);
    expect(out).toEqual(['integer 7', 'float 1.5', 'true', 'true false boolean', '0', '1']);
    expect(h.rec.calls.some((c) => c.fn === 'nothing')).toBe(true);
  });

  it('long values beyond 32 bits go in as floats and come back as floats', async () => {
    const out = await reported(`
      local v = KSR.test.long_id(2^40)
      KSR.info(math.type(v) .. " " .. string.format("%.0f", v))
      KSR.info(string.format("%.0f", KSR.test.long_id("9007199254740991")))
      KSR.info(math.type(KSR.test.long_id(5)))
    `);
    expect(out).toEqual(['float 1099511627776', '9007199254740991', 'integer']);
  });

  it('an int return outside 32 bits is a Lua error, not a wrapped number', async () => {
    const out = await reported(`
      local ok, e = pcall(KSR.test.big_int)
      KSR.info(tostring(ok))
      KSR.info(tostring(e))
    `);
    expect(out[0]).toBe('false');
    expect(out[1]).toMatch(/KSR\.test\.big_int returned 2147483648, which does not fit in a Lua integer/);
  });

  it('an int overflow in a route is reported with file and line', async () => {
    const { engine, file } = await load(`function ksr_request_route()\n  local x = 1\n  return KSR.test.big_int()\nend\n`);
    const r = engine.run('ksr_request_route', []);
    expect(r.kind).toBe('error');
    if (r.kind !== 'error') return;
    expect(r.error.file).toBe(file);
    expect(r.error.line).toBe(3);
    expect(r.error.message).toMatch(/does not fit in a Lua integer/);
  });

  it('bad arguments are reported by the convention with the script position, and return the failure value', async () => {
    const { engine, file } = await load(`function ksr_request_route()
  KSR.info(tostring(KSR.test.id_int(1.5)))
  KSR.info(tostring(KSR.test.id_int(true)))
  KSR.info(tostring(KSR.test.id_int(nil)))
  KSR.info(tostring(KSR.test.id_int()))
  KSR.info(tostring(KSR.test.id_int(1, 2)))
  KSR.info(tostring(KSR.test.echo({})))
  KSR.info(tostring(KSR.test.echo(print)))
  KSR.info(tostring(KSR.test.ret_int(1)))
end
`);
    expect(h.route(engine).kind).toBe('ok');
    expect(h.rec.calls.map((c) => c.args[0])).toEqual(['-1', '-1', '-1', '-1', '-1', 'nil', 'nil', '-1']);
    const errors = h.lines.filter((l) => l.level === 'error').map((l) => l.msg);
    expect(errors).toHaveLength(8);
    expect(errors[0]).toContain('KSR.test.id_int: argument 1: expected 32-bit integer, got number 1.5');
    expect(errors[0]).toContain(`(at ${file}:2)`);
    expect(errors[1]).toContain('got boolean');
    expect(errors[2]).toContain('got null');
    expect(errors[3]).toContain('expects 1 argument (int), got 0');
    expect(errors[4]).toContain('got 2');
    expect(errors[5]).toContain('expected string, got object');
    expect(errors[6]).toContain('expected string, got function');
    expect(errors[7]).toContain(`(at ${file}:9)`);
  });

  it('a module function that throws gives the failure value (logged by the runtime)', async () => {
    const out = await reported(`KSR.info(tostring(KSR.test.fails()))`);
    expect(out).toEqual(['-1']);
    expect(h.lines.some((l) => l.level === 'error' && l.msg.includes('KSR.test.fails failed: module failure'))).toBe(true);
  });

  it('KSR functions work from coroutines and report the coroutine position', async () => {
    const { engine, file } = await load(`function ksr_request_route()
  local co = coroutine.wrap(function(a)
    KSR.info("in " .. a)
    local b = coroutine.yield(KSR.test.ret_int())
    KSR.test.id_int("no")
    return b
  end)
  KSR.info(tostring(co("co")))
  KSR.info(tostring(co("done")))
end
`);
    expect(h.route(engine).kind).toBe('ok');
    expect(h.rec.calls.map((c) => c.args[0])).toEqual(['in co', '42', 'done']);
    expect(h.lines.find((l) => l.level === 'error')?.msg).toContain(`(at ${file}:5)`);
  });

  it('event routes receive their string arguments', async () => {
    const { engine } = await load(`function ksr_request_route() end
function ksr_event(evname, extra) KSR.info(evname .. "/" .. tostring(extra)) end
`);
    expect(h.route(engine, 'ksr_event', ['tm:local-request']).kind).toBe('ok');
    expect(h.rec.calls).toEqual([{ fn: 'info', args: ['tm:local-request/nil'] }]);
  });

  it('an exception from the host side is a catchable Lua error, not a crash', async () => {
    const file = tmp.write('host.lua', `function ksr_request_route()
  local ok, e = pcall(KSR.test.ret_int)
  KSR_RESULT = tostring(ok) .. " " .. tostring(e)
  KSR.test.ret_int()
end`);
    const engine = await h.load(file, {
      invoke: () => {
        throw new TypeError('host broke');
      },
    });
    engines.push(engine);
    const r = engine.run('ksr_request_route', []);
    expect(r).toMatchObject({ kind: 'error', error: { file, line: 4, message: 'KSR.test.ret_int: TypeError: host broke' } });
  });

  it('a JS exception inside a Lua-called JS function becomes a Lua error (lua_atnativeerror)', async () => {
    const file = tmp.write('native.lua', `function ksr_request_route()
  local ok, e = pcall(print, "x")
  KSR.info(tostring(ok) .. " " .. tostring(e))
  print("again")
end`);
    const logger = Object.create(h.logger) as typeof h.logger;
    logger.child = (() => logger) as unknown as typeof logger.child;
    logger.info = () => {
      throw new RangeError('logger broke');
    };
    const engine = await h.load(file, { logger });
    engines.push(engine);
    const r = engine.run('ksr_request_route', []);
    expect(h.rec.calls[0]?.args[0]).toBe(`false ${file}:2: RangeError: logger broke`);
    expect(r).toMatchObject({ kind: 'error', error: { file, line: 4, message: 'RangeError: logger broke' } });
  });
});
