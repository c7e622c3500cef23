import { ErrorCodes } from '@ksr/core';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { JsdtEngine } from '../src/index.js';
import { makeHarness, type Harness } from './support.js';

let h: Harness;
const engines: JsdtEngine[] = [];
async function load(source: string, params: Record<string, string | number> = {}): Promise<JsdtEngine> {
  h.write('main.js', source);
  const e = await h.load('main.js', params);
  engines.push(e);
  return e;
}
function errorOf(r: { result: unknown }): { message: string; file?: string; line?: number; stack?: string; func?: string } {
  const res = r.result as { kind: string; error?: { message: string } };
  expect(res.kind).toBe('error');
  return res.error!;
}

beforeEach(() => {
  h = makeHarness();
});
afterEach(() => {
  for (const e of engines.splice(0)) e.dispose();
  h.cleanup();
});

/** ECMAScript globals (ES2023 + what QuickJS 2025 ships that is standard or stage 4). */
const STANDARD_GLOBALS = new Set(
  ('Object Function Error EvalError RangeError ReferenceError SyntaxError TypeError URIError InternalError AggregateError ' +
    'Array parseInt parseFloat isNaN isFinite decodeURI decodeURIComponent encodeURI encodeURIComponent escape unescape ' +
    'Infinity NaN undefined Number Boolean String Math Reflect Symbol eval globalThis Date RegExp JSON Proxy Map Set WeakMap WeakSet ' +
    'WeakRef FinalizationRegistry ArrayBuffer SharedArrayBuffer Uint8ClampedArray Int8Array Uint8Array Int16Array Uint16Array ' +
    'Int32Array Uint32Array BigInt64Array BigUint64Array Float16Array Float32Array Float64Array DataView Atomics Promise BigInt Iterator ' +
    'KSR KSRVERSION').split(' '),
);

describe('sandbox', () => {
  it('offers only ECMAScript globals, KSR and KSRVERSION', async () => {
    const e = await load(`function ksr_request_route() {
  KSR.test.record(Object.getOwnPropertyNames(globalThis).join(" "));
  KSR.test.record([typeof require, typeof process, typeof globalThis.fetch, typeof console, typeof setTimeout, typeof module,
    typeof exports, typeof std, typeof os, typeof print, typeof scriptArgs, typeof Buffer, typeof WebAssembly, typeof __dirname].join(","));
}`);
    expect(h.route(e).kind).toBe('ok');
    const names = h.recorded[0]!.split(' ').filter((n) => n !== 'ksr_request_route');
    expect(names.filter((n) => !STANDARD_GLOBALS.has(n))).toEqual([]);
    expect(h.recorded[1]).toBe(Array(14).fill('undefined').join(','));
  });

  it('has no way to reach the host through constructors or the KSR functions', async () => {
    const e = await load(`function ksr_request_route() {
  const f = KSR.test.record.constructor;
  KSR.test.record(String(f === Function) + " " + f("return typeof process")());
  KSR.test.record(String(KSR.test.record.toString()).includes("native") + " " + KSR.test.six.name);
}`);
    expect(h.route(e).kind).toBe('ok');
    expect(h.recorded).toEqual(['true undefined', 'true six']);
  });
});

describe('limits', () => {
  it('stops an infinite loop at the deadline with file:line, and stays usable', async () => {
    const e = await load(`function ksr_request_route() { KSR.test.record("ok"); }
function spin() {
  let i = 0;
  while (true) { i++; }
}
function spinCatching() {
  for (;;) { try { for (;;) {} } catch (e) { KSR.test.record("caught"); } finally { } }
}
function spinWithKsr() { for (;;) KSR.test.echo_i(1); }`, { route_time_limit: 40 });
    for (const f of ['spin', 'spinCatching', 'spinWithKsr']) {
      const t0 = performance.now();
      const err = errorOf(h.route(e, f));
      const ms = performance.now() - t0;
      expect(ms).toBeGreaterThanOrEqual(35);
      expect(ms).toBeLessThan(2000);
      expect(err.message).toBe('the route ran longer than route_time_limit (40 ms) and was stopped');
      expect(err.file).toBe(e.scriptPath);
      expect(err.func).toBe(f);
    }
    // QuickJS places an interrupt at the loop or at the function it runs in
    expect(errorOf(h.route(e, 'spin')).line).toBeGreaterThanOrEqual(2);
    expect(errorOf(h.route(e, 'spin')).line).toBeLessThanOrEqual(4);
    expect(h.route(e).kind).toBe('ok');
    expect(h.recorded).toEqual(['ok']);
  });

  it('stops a memory bomb with out of memory, keeps the heap capped and stays usable', async () => {
    const e = await load(`function ksr_request_route() { KSR.test.record("ok " + KSR.test.echo_s("s")); }
function bomb() { const a = []; for (;;) a.push("x".repeat(100000) + a.length); }
function typed() { const a = []; for (;;) a.push(new Uint8Array(1 << 20)); }
function huge() { return "x".repeat(2 ** 29).length; }`, { memory_limit: 8, route_time_limit: 5000 });
    const max = e.memoryUsage()!.maxHeapBytes;
    expect(max).toBe((16 + 8) * 1024 * 1024);
    for (const f of ['bomb', 'typed', 'huge']) {
      expect(errorOf(h.route(e, f)).message).toBe('out of memory (app_jsdt memory_limit 8 MB)');
      expect(e.memoryUsage()!.heapBytes).toBeLessThanOrEqual(max);
      expect(h.route(e).kind).toBe('ok');
    }
    expect(e.stats().recycles).toBe(0);
    expect(h.recorded).toEqual(['ok s', 'ok s', 'ok s']);
  });

  it('recycles the interpreter when the script keeps the memory it exhausted', async () => {
    const e = await load(`var keep = [];
var loads = (globalThis.loads || 0) + 1;
function ksr_request_route() { KSR.test.record("kept " + keep.length); }
function hoard() { for (;;) keep.push("y".repeat(100000) + keep.length); }`, { memory_limit: 8, route_time_limit: 5000 });
    expect(errorOf(h.route(e, 'hoard')).message).toMatch(/out of memory/);
    expect(e.stats().recycles).toBe(1);
    expect(h.route(e).kind).toBe('ok');
    expect(h.recorded).toEqual(['kept 0']);
  });

  it('recycles between messages when cyclic garbage fills the heap (no message fails)', async () => {
    const e = await load(`function ksr_request_route() {
  const o = { big: "z".repeat(20000) + Math.random(), peers: [] };
  o.peers.push(o);
  const f = function again() { return again; };
  o.f = f;
  KSR.test.echo_i(1);
}`, { memory_limit: 8 });
    for (let i = 0; i < 3000; i++) {
      const r = h.route(e);
      if (r.kind !== 'ok') throw new Error(`run ${i}: ${JSON.stringify(r.result)}`);
    }
    expect(e.stats().recycles).toBeGreaterThanOrEqual(1);
    expect(e.stats().rebuilds).toBe(0);
  });

  it('stops deep recursion with a stack overflow and a bounded stack text', async () => {
    const e = await load(`function ksr_request_route() { KSR.test.record("ok"); }
function down(n) { return down(n + 1) + 1; }
function parseDeep() { return JSON.parse("[".repeat(100000)); }
function sortDeep() { [2, 1].sort(() => sortDeep()); }`);
    for (const f of ['down', 'parseDeep', 'sortDeep']) {
      const err = errorOf(h.route(e, f));
      expect(err.message).toMatch(/stack overflow/);
      expect((err.stack ?? '').length).toBeLessThanOrEqual(4100);
      expect(h.route(e).kind).toBe('ok');
    }
    expect(e.stats()).toMatchObject({ rebuilds: 0, recycles: 0 });
  });

  it('rebuilds the interpreter when native recursion overflows the host stack', async () => {
    // 256 KB lets JSON.parse of deeply nested arrays overflow V8's stack before QuickJS notices.
    const e = await load(`var generation = Math.random();
function ksr_request_route() { KSR.test.record("ok"); }
function parseDeep() { return JSON.parse("[".repeat(1000000)); }`, { stack_limit: 256 });
    const err = errorOf(h.route(e, 'parseDeep'));
    expect(err.message).toMatch(/the JavaScript interpreter crashed: RangeError/);
    // until the new instance is up, messages fail cleanly
    expect(errorOf(h.route(e)).message).toMatch(/being rebuilt/);
    await e.settled();
    expect(e.stats()).toMatchObject({ rebuilds: 1, broken: undefined });
    expect(h.route(e).kind).toBe('ok');
    expect(h.recorded).toEqual(['ok']);
  });

  it('bounds the load time of the script', async () => {
    h.write('main.js', 'function ksr_request_route() {}\nfor (;;) {}\n');
    const t0 = performance.now();
    await expect(h.load('main.js', { route_time_limit: 10 })).rejects.toMatchObject({
      code: ErrorCodes.SCRIPT_LOAD,
      message: expect.stringMatching(/main\.js:\d+: loading the script took longer than 1000 ms \(10 × route_time_limit, at least 1 s\)$/),
    });
    expect(performance.now() - t0).toBeLessThan(5000);
  });

  it('drains promise jobs within the run; jobs left after exit cannot call KSR', async () => {
    const e = await load(`function ksr_request_route() {
  Promise.resolve().then(() => KSR.test.record("job ran"));
  KSR.test.record("route");
}
function exitThenJob() {
  Promise.resolve().then(() => { KSR.test.record("job after exit"); });
  KSR.x.exit();
}
function pingPong() { const f = () => Promise.resolve().then(f); f(); }
function next() { KSR.test.record("next"); }`, { route_time_limit: 40 });
    expect(h.route(e).kind).toBe('ok');
    expect(h.route(e, 'exitThenJob').kind).toBe('exit');
    expect(errorOf(h.route(e, 'pingPong')).message).toMatch(/route_time_limit/);
    expect(h.route(e, 'next').kind).toBe('ok');
    expect(h.recorded).toEqual(['route', 'job ran', 'next']);
  });
});
