import { ErrorCodes, KsrError } from '@ksr/core';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { jsdtEngine, type JsdtEngine } from '../src/index.js';
import { makeHarness, type Harness } from './support.js';

let h: Harness;
const engines: JsdtEngine[] = [];
async function load(source: string, params: Record<string, string | number> = {}, required?: string[]): Promise<JsdtEngine> {
  h.write('main.js', source);
  const e = await h.load('main.js', params, required);
  engines.push(e);
  return e;
}

beforeEach(() => {
  h = makeHarness();
});
afterEach(() => {
  for (const e of engines.splice(0)) e.dispose();
  h.cleanup();
});

describe('descriptor', () => {
  it('is jsdt / js with the app_jsdt module', () => {
    expect(jsdtEngine.name).toBe('jsdt');
    expect(jsdtEngine.cfgengineNames).toEqual(['jsdt', 'js']);
    expect(jsdtEngine.module.name).toBe('app_jsdt');
    expect(jsdtEngine.scriptParams).toEqual(['load']);
    expect(Object.keys(jsdtEngine.module.params).sort()).toEqual(['load', 'memory_limit', 'mode', 'route_time_limit', 'stack_limit']);
    expect(jsdtEngine.module.params['mode']!.check!(2)).toMatch(/between 0 and 1/);
    expect(jsdtEngine.module.params['stack_limit']!.check!(64)).toBeUndefined();
    expect(jsdtEngine.module.params['route_time_limit']!.check!(-1)).toBeDefined();
  });
});

describe('KSR binding', () => {
  it('exposes the registered modules only, frozen, plus KSRVERSION', async () => {
    const e = await load(`
"use strict";
function ksr_request_route() {
  KSR.test.record([typeof KSR, typeof KSR.x, typeof KSR.x.exit, typeof KSR.x.drop, typeof KSR.test.echo_s, typeof KSR.info,
    typeof KSR.auth, typeof KSR.pv, typeof KSR_x, KSRVERSION, Object.isFrozen(KSR), Object.isFrozen(KSR.test)].join(","));
  let threw = false;
  try { KSR.test.echo_s = null; } catch (e) { threw = e instanceof TypeError; }
  try { KSR.auth = {}; } catch (e) { threw = threw && e instanceof TypeError; }
  KSR.test.record("assign threw " + threw + " " + typeof KSR.auth);
  if (KSR.auth) KSR.test.record("auth loaded?!");
}`);
    expect(h.route(e).kind).toBe('ok');
    expect(h.recorded).toEqual([
      'object,object,function,function,function,function,undefined,undefined,undefined,9.9.9-test,true,true',
      'assign threw true undefined',
    ]);
  });

  it('passes every argument type and returns every return type', async () => {
    const e = await load(`
function show(v) { return v === null ? "null" : typeof v + ":" + String(v); }
function ksr_request_route() {
  const r = KSR.test.record;
  r(show(KSR.test.echo_s("héllo wörld €")));
  r(show(KSR.test.echo_s(42)));
  r(show(KSR.test.echo_i(-7)));
  r(show(KSR.test.echo_i("12")));
  r(show(KSR.test.echo_i(2147483647)));
  r(show(KSR.test.echo_l(9007199254740991)));
  r(show(KSR.test.echo_l(12n)));
  r(show(KSR.test.get_null()));
  r(show(KSR.test.nothing()));
  r(show(KSR.info("log line")));
  r(show(KSR.test.yes()) + " " + show(KSR.test.no()));
  r(show(KSR.test.neg()) + " " + show(KSR.test.zero()) + " " + show(KSR.test.half()));
  r(show(KSR.is_INVITE()));
  r(show(KSR.test.six("a", 1, "b", 2, "c", 3)));
  const long = "ab€".repeat(20000);
  r(show(KSR.test.echo_s(long) === long));
  r(show(KSR.test.big(30000).length));
  r(show(KSR.test.echo_s("x" + "y".repeat(5000) + "z".repeat(5000)).length));
}`);
    expect(h.route(e).kind).toBe('ok');
    expect(h.recorded).toEqual([
      'string:héllo wörld €',
      'string:42',
      'number:-7',
      'number:12',
      'number:2147483647',
      'number:9007199254740991',
      'number:12',
      'null',
      'undefined:undefined',
      'undefined:undefined',
      'boolean:true boolean:false',
      'number:-1 number:0 number:0.5',
      'boolean:true',
      'string:string:a,number:1,string:b,number:2,string:c,number:3',
      'boolean:true',
      'number:30000',
      'number:10001',
    ]);
  });

  it('refuses bad arguments with the failure value and logs the script location', async () => {
    const e = await load(`function ksr_request_route() {
  const r = KSR.test.record;
  r(String(KSR.test.echo_i(1.5)));
  r(String(KSR.test.echo_i(null)));
  r(String(KSR.test.echo_i({})));
  r(String(KSR.test.echo_s(undefined)));
  r(String(KSR.test.echo_s(Symbol("s"))));
  r(String(KSR.test.echo_s()));
  r(String(KSR.test.echo_s("a", "b")));
  r(String(KSR.test.yes(1)));
  r(String(KSR.test.fails()));
}`);
    expect(h.route(e).kind).toBe('ok');
    expect(h.recorded).toEqual(['-1', '-1', '-1', 'null', 'null', 'null', 'null', 'false', '-1']);
    const errors = h.logs.filter((l) => l.level >= 50).map((l) => l.msg);
    expect(errors[0]).toMatch(/KSR\.test\.echo_i: argument 1: expected 32-bit integer, got number 1\.5 \(at .*main\.js:3\)/);
    expect(errors[2]).toMatch(/got object \(at .*main\.js:5\)/);
    expect(errors[4]).toMatch(/got symbol \(at .*main\.js:7\)/);
    expect(errors[5]).toMatch(/expects 1 argument \(str\), got 0 \(at .*main\.js:8\)/);
    expect(errors.at(-1)).toMatch(/KSR\.test\.fails failed: module failure \(at .*main\.js:11\)/);
  });

  it('passes route arguments (event routes) as strings', async () => {
    const e = await load(`function ksr_request_route() {}
function ev(name, extra) { KSR.test.record(name + "|" + typeof extra); }`);
    expect(h.route(e, 'ev', ['tm:local-request']).kind).toBe('ok');
    expect(h.route(e, 'ev', ['a', 'b']).kind).toBe('ok');
    expect(h.recorded).toEqual(['tm:local-request|undefined', 'a|string']);
  });
});

describe('exit and drop', () => {
  it('KSR.x.exit() ends the route; nothing after it runs', async () => {
    const e = await load(`function ksr_request_route() {
  KSR.test.record("before");
  KSR.x.exit();
  KSR.test.record("after");
}
function helper() { KSR.x.exit(); }
function nested() { helper(); KSR.test.record("after helper"); }`);
    const r = h.route(e);
    expect(r.kind).toBe('exit');
    expect(r.dropped).toBe(false);
    expect(h.route(e, 'nested').kind).toBe('exit');
    expect(h.recorded).toEqual(['before']);
  });

  it('KSR.x.drop() ends the route and drops', async () => {
    const e = await load(`function ksr_request_route() { KSR.x.drop(); KSR.test.record("after"); }`);
    const r = h.route(e);
    expect(r).toMatchObject({ kind: 'exit', dropped: true });
    expect(h.recorded).toEqual([]);
  });

  it('try/catch around exit does not keep the route alive past the next KSR call', async () => {
    const e = await load(`function ksr_request_route() {
  try { KSR.x.exit(); } catch (e) { KSR.test.record("caught " + e); }
  KSR.test.record("still running");
}
function swallow() {
  try { KSR.x.exit(); } catch (e) { }
  return 1;
}
function catchAll() {
  for (let i = 0; i < 3; i++) {
    try { KSR.test.record("iteration " + i); KSR.x.exit(); } catch (e) { }
  }
}`);
    expect(h.route(e).kind).toBe('exit');
    expect(h.route(e, 'swallow').kind).toBe('exit');
    expect(h.route(e, 'catchAll').kind).toBe('exit');
    expect(h.recorded).toEqual(['iteration 0']);
  });

  it('a catch that loops without KSR calls is stopped by the deadline and still counts as exit', async () => {
    const e = await load(`function ksr_request_route() { try { KSR.x.exit(); } catch (e) { for (;;) {} } }
function ok() { KSR.test.record("ok"); }`, { route_time_limit: 30 });
    expect(h.route(e).kind).toBe('exit');
    expect(h.logs.some((l) => /caught KSR\.x\.exit\(\) and then ran past route_time_limit/.test(l.msg))).toBe(true);
    expect(h.route(e, 'ok').kind).toBe('ok');
    expect(h.recorded).toEqual(['ok']);
  });
});

describe('errors', () => {
  it('reports a runtime error with file, line, function and stack', async () => {
    const e = await load(`function inner(o) {
  return o.missing.field;
}
function ksr_request_route() {
  KSR.test.record("start");
  inner({});
}
function throwsString() { throw "plain string"; }
function throwsObject() { throw { code: 5 }; }
function throwsError() { const err = new RangeError("x".repeat(5000)); throw err; }`);
    const r = h.route(e);
    expect(r.kind).toBe('error');
    expect(r.result).toMatchObject({
      kind: 'error',
      error: { file: e.scriptPath, line: 2, func: 'ksr_request_route', message: expect.stringMatching(/^TypeError: cannot read property 'field' of undefined/) },
    });
    const err = (r.result as { error: { stack: string } }).error;
    expect(err.stack).toContain(`at inner (${e.scriptPath}:2`);
    expect(err.stack).toContain(`at ksr_request_route (${e.scriptPath}:6`);
    expect(h.replies).toEqual([{ status: 500, reason: 'Server Internal Error' }]);

    expect(h.route(e, 'throwsString').result).toMatchObject({ kind: 'error', error: { message: 'uncaught exception: "plain string"' } });
    expect(h.route(e, 'throwsObject').result).toMatchObject({ kind: 'error', error: { message: expect.stringMatching(/without message/) } });
    const long = h.route(e, 'throwsError').result as { error: { message: string; line: number } };
    expect(long.error.line).toBe(10);
    expect(long.error.message.length).toBeLessThan(1100);
    expect(long.error.message).toMatch(/^RangeError: x+… \(\d+ more characters\)$/);
  });

  it('reports missing functions and answers hasFunction', async () => {
    const e = await load(`function ksr_request_route() {}
var notAFunction = 5;
globalThis.assigned = function () { KSR.test.record("assigned"); };`);
    expect(e.hasFunction('ksr_request_route')).toBe(true);
    expect(e.hasFunction('assigned')).toBe(true);
    expect(e.hasFunction('ksr_reply_route')).toBe(false);
    expect(e.hasFunction('notAFunction')).toBe(false);
    expect(h.route(e, 'ksr_reply_route').kind).toBe('missing');
    expect(h.route(e, 'notAFunction').kind).toBe('missing');
    expect(h.route(e, 'assigned').kind).toBe('ok');
    expect(h.recorded).toEqual(['assigned']);
  });

  it('rejects a syntax error at load with SCRIPT_LOAD and file:line', async () => {
    h.write('main.js', 'function ksr_request_route() {\n  let x = ;\n}\n');
    const err = await h.load('main.js').catch((e: unknown) => e);
    expect(err).toBeInstanceOf(KsrError);
    expect((err as KsrError).code).toBe(ErrorCodes.SCRIPT_LOAD);
    expect((err as KsrError).message).toBe(`${h.dir}/main.js:2: SyntaxError: unexpected token in expression: ';'`);
  });

  it('rejects an error thrown by top-level code with file:line', async () => {
    h.write('main.js', 'function ksr_request_route() {}\n\nnull.boom;\n');
    await expect(h.load('main.js')).rejects.toThrow(`${h.dir}/main.js:3: TypeError: cannot read property 'boom' of null`);
  });

  it('rejects a script without a required function, and a missing file', async () => {
    h.write('main.js', 'function other() {}\n');
    await expect(h.load('main.js')).rejects.toMatchObject({ code: ErrorCodes.SCRIPT_LOAD, message: expect.stringMatching(/function ksr_request_route is not defined/) });
    await expect(h.load('nope.js')).rejects.toMatchObject({ code: ErrorCodes.SCRIPT_LOAD, message: expect.stringMatching(/nope\.js: cannot read the script/) });
    await expect(h.load('main.js', { stack_limit: 100000 }, [])).rejects.toMatchObject({ code: ErrorCodes.SCRIPT_LOAD, message: expect.stringMatching(/stack_limit/) });
  });

  it('reports a rejected async route function', async () => {
    const e = await load(`function ksr_request_route() {}
async function later() {
  await null;
  KSR.test.record("after await " + KSR.test.echo_i(3));
  throw new Error("async failure");
}`);
    const r = h.route(e, 'later');
    expect(r.result).toMatchObject({ kind: 'error', error: { message: 'Error: async failure', line: 5 } });
    expect(h.recorded).toEqual(['after await 3']);
  });
});

describe('script forms', () => {
  it('runs a module script that exports its route functions', async () => {
    h.write('main.mjs', `
const PREFIX = "mod";
export function ksr_request_route() { KSR.test.record(PREFIX + " " + KSR.test.echo_i(1)); }
function hidden() {}
globalThis.viaGlobal = () => KSR.test.record("global");
`);
    const e = await h.load('main.mjs');
    engines.push(e);
    expect(e.stats().module).toBe(true);
    expect(h.route(e).kind).toBe('ok');
    expect(h.route(e, 'viaGlobal').kind).toBe('ok');
    expect(e.hasFunction('hidden')).toBe(false);
    expect(h.recorded).toEqual(['mod 1', 'global']);
  });

  it('treats a .js file with import/export statements as a module, others as classic scripts', async () => {
    const e = await load(`// a comment first
const x = 1;
export function ksr_request_route() { KSR.test.record(typeof this); }`);
    expect(e.stats().module).toBe(true);
    expect(h.route(e).kind).toBe('ok');
    const c = await load(`var counter = 0;
function ksr_request_route() { counter++; undeclared = counter; KSR.test.record(typeof this + " " + undeclared); }`);
    expect(c.stats().module).toBe(false);
    expect(h.route(c).kind).toBe('ok');
    expect(h.route(c).kind).toBe('ok');
    expect(h.recorded).toEqual(['undefined', 'object 1', 'object 2']);
  });
});

describe('lifecycle', () => {
  it('keeps state between messages of one generation, and reload builds a fresh one', async () => {
    const src = `var n = 0; function ksr_request_route() { n++; KSR.test.record("n=" + n); }`;
    const a = await load(src);
    h.route(a);
    h.route(a);
    const b = await h.load('main.js');
    engines.push(b);
    h.route(b);
    h.route(a);
    expect(h.recorded).toEqual(['n=1', 'n=2', 'n=1', 'n=3']);
  });

  it('dispose frees the interpreter; later runs fail cleanly', async () => {
    const e = await load(`function ksr_request_route() { KSR.test.record("x"); }`);
    expect(h.route(e).kind).toBe('ok');
    e.dispose();
    e.dispose();
    expect(e.run('ksr_request_route', [])).toMatchObject({ kind: 'error', error: { message: expect.stringMatching(/disposed/) } });
    expect(e.hasFunction('ksr_request_route')).toBe(false);
    expect(e.memoryUsage()).toBeUndefined();
  });

  it('KSR calls outside a route are refused (logged), not fatal', async () => {
    const e = await load(`var atLoad = KSR.test.echo_i(5);
function ksr_request_route() { KSR.test.record("atLoad=" + atLoad); }`);
    h.route(e);
    expect(h.recorded).toEqual(['atLoad=-1']);
    expect(h.logs.some((l) => /KSR\.test\.echo_i called outside a route \(at .*main\.js:1\)/.test(l.msg))).toBe(true);
  });
});
