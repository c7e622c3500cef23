import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { JsdtEngine } from '../src/index.js';
import { makeHarness, type Harness } from './support.js';

let h: Harness;
beforeEach(() => {
  h = makeHarness();
});
afterEach(() => h.cleanup());

const ROUTE = `var count = 0;
function ksr_request_route() {
  count++;
  const t = KSR.test;
  let acc = t.echo_s("msg-" + count) + t.echo_i(count) + t.echo_l(count * 3) + String(t.get_null()) + String(t.nothing());
  acc += t.yes() && !t.no() ? "b" : "";
  acc += t.six("a" + count, 1, "b", 2, "c".repeat(200), 3);
  acc += t.big(20).length;
  t.echo_i("not a number");
  try { null.x; } catch (e) { acc += e.message.length; }
  if (count % 10 === 0) KSR.x.exit();
  if (count % 7 === 0) throw new Error("failure " + count);
  if (count % 13 === 0) { try { KSR.x.exit(); } catch (e) { acc += e.message; } }
  t.record(String(acc.length));
}
function ev(name) { KSR.test.echo_s(name); }`;

describe('resources', () => {
  it('returns to the same allocation counters and heap size after 5,000 routed messages', async () => {
    h.write('main.js', ROUTE);
    const e = await h.load('main.js');
    const route = (n: number) => {
      for (let i = 0; i < n; i++) {
        h.route(e);
        e.run('ev', ['event-' + i]);
      }
      h.recorded.length = 0;
      h.logs.length = 0;
      h.replies.length = 0;
    };
    route(200);
    const before = e.memoryUsage()!;
    route(5000);
    const after = e.memoryUsage()!;
    expect(after).toEqual(before);
    expect(e.stats()).toMatchObject({ rebuilds: 0, recycles: 0 });
    e.dispose();
  });

  it('loads and disposes interpreters repeatedly', async () => {
    h.write('main.js', ROUTE);
    const engines: JsdtEngine[] = [];
    for (let i = 0; i < 12; i++) {
      const e = await h.load('main.js');
      expect(h.route(e).kind).toBe('ok');
      engines.push(e);
      if (engines.length > 2) engines.shift()!.dispose();
    }
    for (const e of engines) e.dispose();
  });
});
