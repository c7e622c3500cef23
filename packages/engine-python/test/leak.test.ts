/**
 * engine-python resources: nothing crossing the boundary per call stays alive (JS references
 * held by Python — JsProxies — and Python objects are back to their baseline after thousands of
 * messages, including exits, errors, None returns and Python objects passed as arguments), and
 * generations freed by reloads release their KSR bindings. Also reports the per-route cost.
 */
import { afterAll, beforeAll, expect, it } from 'vitest';
import type { PythonEngine } from '../src/index.js';
import { makeHarness, type Harness } from './support.js';

let h: Harness;
let e: PythonEngine;

const ROUTE = `import KSR

def ksr_request_route():
    # 22 KSR calls, as on an INVITE path
    if KSR.is_method("INVITE"):
        KSR.pv.get("$ru")
    KSR.pv.get("$fu")
    KSR.pv.get("$tu")
    KSR.hdr.is_present("Contact")
    KSR.hdr.is_present("X-Foo")
    KSR.setflag(1)
    KSR.isflagset(1)
    KSR.pv.sets("$var(a)", "x")
    KSR.pv.seti("$var(b)", 5)
    KSR.pv.get("$var(a)")
    KSR.hdr.append("X-Ksr: " + KSR.pv.get("$ci") + "\\r\\n")
    KSR.is_method("REGISTER")
    KSR.is_method_in("IR")
    KSR.pv.gete("$var(none)")
    KSR.resetflag(1)
    KSR.isflagset(1)
    KSR.test.nothing()
    KSR.test.echo_i(3)
    KSR.test.echo_s("abc")

def empty():
    pass

def calls22():
    # binding cost only: 22 calls of trivial exports (11 int round trips, 11 string round trips)
    i, s = KSR.test.echo_i, KSR.test.echo_s
    i(1); s("a"); i(2); s("b"); i(3); s("c"); i(4); s("d"); i(5); s("e"); i(6)
    s("f"); i(7); s("g"); i(8); s("h"); i(9); s("i"); i(10); s("j"); i(11); s("k")

def mixed(i):
    n = int(i)
    KSR.test.echo_s("s" * (n % 50))
    KSR.test.get_null()
    KSR.test.echo_s([n])
    KSR.test.echo_s({"n": n})
    if n % 4 == 0:
        KSR.x.exit()
    if n % 4 == 1:
        KSR.x.drop()
    if n % 4 == 2:
        raise ValueError("failure %d" % n)
    try:
        KSR.x.exit()
    except BaseException:
        pass
`;

beforeAll(async () => {
  h = makeHarness();
  h.write('route.py', ROUTE);
  e = await h.load('script', 'route.py');
}, 60_000);
afterAll(() => {
  e?.dispose();
  h?.cleanup();
});

/** µs per run through RouteRuntime.run (contexts are parsed beforehand: that is not engine time). */
function perRoute(func: string, n: number): number {
  const ctxs = Array.from({ length: n }, () => h.ctx());
  const t0 = performance.now();
  for (let i = 0; i < n; i++) h.runtime.run(e, ctxs[i]!, func);
  return ((performance.now() - t0) * 1000) / n;
}

it('no JS reference or Python object stays alive per message', () => {
  const run = (n: number) => {
    for (let i = 0; i < n; i++) {
      h.route(e, 'ksr_request_route');
      h.route(e, 'mixed', [String(i)]);
    }
    h.logs.length = 0;
  };
  run(300); // warm-up: caches, interned strings
  const before = e.stats();
  run(2000);
  const after = e.stats();
  expect(before.jsRefs).toBeTypeOf('number');
  expect(after.jsRefs).toBe(before.jsRefs);
  expect(after.pythonObjects - before.pythonObjects).toBeLessThan(50);
});

it('disposed generations release their KSR bindings', async () => {
  const before = e.stats();
  for (let i = 0; i < 4; i++) {
    const g = await h.load('script', 'route.py');
    expect(g.stats().jsRefs).toBeGreaterThan(before.jsRefs!);
    g.dispose();
  }
  const after = e.stats();
  expect(after.generations).toEqual(before.generations);
  expect(after.jsRefs).toBe(before.jsRefs);
  expect(after.pythonObjects - before.pythonObjects).toBeLessThan(50);
});

it('per-route cost', () => {
  perRoute('ksr_request_route', 500);
  const route = perRoute('ksr_request_route', 2000);
  const empty = perRoute('empty', 2000);
  const calls = perRoute('calls22', 2000);
  const s = e.stats();
  console.log(
    `engine-python: Pyodide ${s.python} started in ${s.startupMs.toFixed(0)} ms; empty route ${empty.toFixed(1)} µs, 22 trivial KSR calls ${calls.toFixed(1)} µs, INVITE-like route with 22 KSR calls ${route.toFixed(1)} µs (through RouteRuntime.run)`,
  );
  expect(route).toBeLessThan(5000);
});
