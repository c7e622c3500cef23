import { describe, expect, it } from 'vitest';
import { KemiRegistry } from '../../src/kemi/registry.js';
import type { KemiExportDef } from '../../src/kemi/types.js';
import type { RouteContext } from '../../src/routing/context.js';
import { RouteRuntime, type RouteRuntimeOptions } from '../../src/routing/runtime.js';
import { xExports } from '../../src/routing/x.js';
import { INVITE_LINES, makeContext, testServices } from '../support/context.js';
import { FakeEngine, memoryLogger, type FakeRoute } from './helpers.js';

function spin(ms: number): void {
  const end = performance.now() + ms;
  while (performance.now() < end) {
    /* spin */
  }
}

function setup(routes: Record<string, FakeRoute>, opts: Partial<RouteRuntimeOptions> = {}, level: 'trace' | 'info' = 'trace') {
  const exportsDef: KemiExportDef<RouteContext>[] = [
    { name: 'slow', returns: 'int', params: ['int'], fn: (_c, ms: number) => (spin(ms), 1) },
    { name: 'fast', returns: 'int', params: [], fn: () => 1 },
    { name: 'boom', returns: 'int', params: [], fn: () => { throw new Error('kaput'); } },
  ];
  const reg = new KemiRegistry<RouteContext>();
  reg.addModule('test', exportsDef);
  reg.addModule('x', xExports);
  const registry = reg.freeze();
  const log = memoryLogger(level);
  const runtime = new RouteRuntime({ registry, logger: log.logger, ...opts });
  const engine = new FakeEngine(registry, runtime.invoke, routes);
  const ctx = makeContext(INVITE_LINES, { services: testServices({ logger: log.logger }) });
  return { runtime, engine, log, ctx };
}

describe('latency_limit_action: slow KSR calls', () => {
  it('logs an alert naming KSR.module.function when a call exceeds the limit, at the latency_log level', () => {
    const s = setup({ r: (k) => (k('test.slow', 3), k('test.fast')) }, { actionLatency: { limitUs: 1000, level: 'error' } });
    s.runtime.run(s.engine, s.ctx, 'r');
    const alerts = s.log.at('error').filter((m) => m.includes('took too long'));
    expect(alerts).toHaveLength(1);
    expect(alerts[0]).toMatch(/^alert - action KSR\.test\.slow\(\.\.\.\) took too long \[\d+ us\]/);
    expect(Number(/\[(\d+) us\]/.exec(alerts[0]!)![1])).toBeGreaterThanOrEqual(3000);
  });

  it('names the script location when the engine knows it', () => {
    const s = setup({ r: (k) => k('test.slow', 2) }, { actionLatency: { limitUs: 500, level: 'warn' } });
    s.engine.location = '/srv/route.lua:42';
    s.runtime.run(s.engine, s.ctx, 'r');
    expect(s.log.at('warn').find((m) => m.includes('took too long'))).toMatch(/\(at \/srv\/route\.lua:42\)$/);
  });

  it('times a call that throws too, and is silent when off or under the limit', () => {
    const on = setup({ r: (k) => k('test.boom') }, { actionLatency: { limitUs: 0, level: 'error' } });
    on.runtime.run(on.engine, on.ctx, 'r');
    expect(on.log.lines.some((l) => l.msg.includes('took too long'))).toBe(false);
    const under = setup({ r: (k) => k('test.fast') }, { actionLatency: { limitUs: 1_000_000, level: 'error' } });
    under.runtime.run(under.engine, under.ctx, 'r');
    expect(under.log.lines.some((l) => l.msg.includes('took too long'))).toBe(false);
  });
});

describe('setLatency: changed at run time', () => {
  it('turns the alerts and the route-time log on and off', () => {
    const s = setup({ r: (k) => k('test.slow', 2) });
    s.runtime.run(s.engine, s.ctx, 'r');
    expect(s.log.lines.filter((l) => /took too long|executed in/.test(l.msg))).toHaveLength(0);
    s.runtime.setLatency({ latencyLogLevel: 'info', actionLatency: { limitUs: 500, level: 'warn' } });
    s.runtime.run(s.engine, s.ctx, 'r');
    expect(s.log.at('warn').filter((m) => m.includes('took too long'))).toHaveLength(1);
    expect(s.log.at('info').filter((m) => m.includes('executed in'))).toHaveLength(1);
    s.runtime.setLatency({});
    s.runtime.run(s.engine, s.ctx, 'r');
    expect(s.log.lines.filter((l) => /took too long|executed in/.test(l.msg))).toHaveLength(2);
  });
});

describe('latency_limit_cfg and the route observer', () => {
  it('logs the route time only at or above latency_limit_cfg', () => {
    const quick = setup({ r: (k) => k('test.fast') }, { latencyLogLevel: 'info', latencyLimitUs: 50_000 });
    quick.runtime.run(quick.engine, quick.ctx, 'r');
    expect(quick.log.lines.filter((l) => l.msg.includes('executed in'))).toHaveLength(0);
    const slow = setup({ r: (k) => k('test.slow', 3) }, { latencyLogLevel: 'info', latencyLimitUs: 1000 });
    slow.runtime.run(slow.engine, slow.ctx, 'r');
    expect(slow.log.at('info').filter((m) => /^request-route executed in: \d+ usec$/.test(m))).toHaveLength(1);
  });

  it('does not format the line when its level is disabled', () => {
    const s = setup({ r: (k) => k('test.fast') }, { latencyLogLevel: 'debug' }, 'info');
    s.runtime.run(s.engine, s.ctx, 'r');
    expect(s.log.lines.filter((l) => l.msg.includes('executed in'))).toHaveLength(0);
  });

  it('tells the observer of every run with its duration and outcome', () => {
    const seen: Array<[string, string, number, string]> = [];
    const s = setup(
      { ok: (k) => k('test.slow', 2), bad: () => { throw new Error('script bug'); }, bye: (k) => k('x.exit') },
      { onRouteDone: (ctx, func, sec, kind) => seen.push([ctx.routeType, func, sec, kind]) },
    );
    s.runtime.run(s.engine, s.ctx, 'ok');
    s.runtime.run(s.engine, s.ctx, 'bad');
    s.runtime.run(s.engine, s.ctx, 'bye');
    s.runtime.run(s.engine, s.ctx, 'nope');
    expect(seen.map(([t, f, , k]) => [t, f, k])).toEqual([
      ['request', 'ok', 'ok'],
      ['request', 'bad', 'error'],
      ['request', 'bye', 'exit'],
      ['request', 'nope', 'missing'],
    ]);
    expect(seen[0]![2]).toBeGreaterThanOrEqual(0.0015);
    expect(seen[0]![2]).toBeLessThan(1);
  });
});
