import { describe, expect, it } from 'vitest';
import { ErrorCodes, KsrError } from '../../src/errors.js';
import { KemiRegistry } from '../../src/kemi/registry.js';
import type { RouteContext } from '../../src/routing/context.js';
import type { EngineDescriptor, EngineLoadOptions } from '../../src/routing/engine.js';
import { RouteRuntime } from '../../src/routing/runtime.js';
import { ScriptHost } from '../../src/routing/script-host.js';
import { xExports } from '../../src/routing/x.js';
import { makeContext } from '../support/context.js';
import { FakeEngine, memoryLogger, type FakeRoute, type MemoryLog } from './helpers.js';

/** A deferred promise, to hold a load in flight. */
function deferred<T>(): { promise: Promise<T>; resolve: (v: T) => void; reject: (e: unknown) => void } {
  let resolve!: (v: T) => void;
  let reject!: (e: unknown) => void;
  const promise = new Promise<T>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  return { promise, resolve, reject };
}

interface Setup {
  host: ScriptHost;
  runtime: RouteRuntime;
  log: MemoryLog;
  /** Every engine `load` built, in order. */
  engines: FakeEngine[];
  loads: number;
  /** What the next load does: a route table (succeeds) or an Error (fails). */
  next: Record<string, FakeRoute> | Error;
  /** When set, the next load waits for this promise first. */
  gate: Promise<void> | undefined;
  /** Route trail recorded by the scripts. */
  trail: string[];
}

function version(tag: string, s: { trail: string[] }): Record<string, FakeRoute> {
  return { ksr_request_route: () => void s.trail.push(tag) };
}

function setup(): Setup {
  const reg = new KemiRegistry<RouteContext>();
  reg.addModule('x', xExports);
  const registry = reg.freeze();
  const log = memoryLogger();
  const runtime = new RouteRuntime({ registry, logger: log.logger });
  const s = { engines: [], loads: 0, gate: undefined, trail: [] } as unknown as Setup;
  s.next = version('v1', s);
  const descriptor: EngineDescriptor = {
    name: 'fake',
    cfgengineNames: ['fake'],
    module: { name: 'app_fake', params: { load: { type: 'str' } } },
    scriptParams: ['load'],
    load: async (opts: EngineLoadOptions) => {
      s.loads++;
      if (s.gate) await s.gate;
      const next = s.next;
      if (next instanceof Error) throw next;
      const e = new FakeEngine(opts.registry, opts.invoke, next, opts.script);
      s.engines.push(e);
      return e;
    },
  };
  s.host = new ScriptHost(descriptor, {
    registry,
    invoke: runtime.invoke,
    logger: log.logger,
    script: '/etc/ksr/fake.lua',
    params: new Map(),
    requiredFunctions: ['ksr_request_route'],
    version: '0.1.0',
  });
  s.runtime = runtime;
  s.log = log;
  return s;
}

describe('ScriptHost', () => {
  it('has no engine before start(): current throws KSR_ERR_SCRIPT_LOAD', () => {
    const s = setup();
    expect(s.host.generation).toBe(0);
    expect(() => s.host.current).toThrow(KsrError);
    try {
      void s.host.current;
    } catch (e) {
      expect((e as KsrError).code).toBe(ErrorCodes.SCRIPT_LOAD);
    }
  });

  it('start() loads generation 1; a failed start rejects', async () => {
    const s = setup();
    await s.host.start();
    expect(s.host.generation).toBe(1);
    expect(s.host.current).toBe(s.engines[0]);
    const f = setup();
    f.next = new KsrError(ErrorCodes.SCRIPT_LOAD, '/etc/ksr/fake.lua:3: syntax error');
    await expect(f.host.start()).rejects.toThrow('/etc/ksr/fake.lua:3: syntax error');
    expect(f.host.generation).toBe(0);
  });

  it('run() runs the current engine through the runtime', async () => {
    const s = setup();
    await s.host.start();
    expect(s.host.run(s.runtime, makeContext(), 'ksr_request_route')).toEqual({ kind: 'ok', dropped: false });
    expect(s.host.run(s.runtime, makeContext(), 'nope')).toEqual({ kind: 'missing', dropped: false });
    expect(s.trail).toEqual(['v1']);
  });

  it('reload() swaps in a fresh engine, bumps the generation and disposes the old one', async () => {
    const s = setup();
    await s.host.start();
    s.next = version('v2', s);
    const out = await s.host.reload();
    expect(out).toMatchObject({ ok: true, generation: 2 });
    expect(out.ok && typeof out.ms).toBe('number');
    expect(s.host.generation).toBe(2);
    expect(s.host.current).toBe(s.engines[1]);
    expect(s.engines[0]!.disposed).toBe(1);
    expect(s.engines[1]!.disposed).toBe(0);
    s.host.run(s.runtime, makeContext(), 'ksr_request_route');
    expect(s.trail).toEqual(['v2']);
    expect(s.log.at('info')).toEqual([expect.stringMatching(/^reloaded \/etc\/ksr\/fake\.lua: generation 2 \(\d+\.\d ms\)$/)]);
  });

  it('a failed reload keeps the running engine and returns the error', async () => {
    const s = setup();
    await s.host.start();
    s.next = new KsrError(ErrorCodes.SCRIPT_LOAD, '/etc/ksr/fake.lua:9: unexpected symbol near "end"');
    const out = await s.host.reload();
    expect(out).toEqual({ ok: false, error: '/etc/ksr/fake.lua:9: unexpected symbol near "end"', generation: 1 });
    expect(s.host.generation).toBe(1);
    expect(s.host.current).toBe(s.engines[0]);
    expect(s.engines[0]!.disposed).toBe(0);
    s.host.run(s.runtime, makeContext(), 'ksr_request_route');
    expect(s.trail).toEqual(['v1']);
    expect(s.log.at('error')).toEqual(['reload of /etc/ksr/fake.lua failed, keeping generation 1: /etc/ksr/fake.lua:9: unexpected symbol near "end"']);
    // and the next good reload still works
    s.next = version('v3', s);
    expect(await s.host.reload()).toMatchObject({ ok: true, generation: 2 });
  });

  it('a non-Error rejection is reported as text', async () => {
    const s = setup();
    await s.host.start();
    (s.host.descriptor as { load: EngineDescriptor['load'] }).load = () => Promise.reject('plain string');
    expect(await s.host.reload()).toEqual({ ok: false, error: 'plain string', generation: 1 });
  });

  it('does not dispose the old engine while a run is active; disposes it when the run leaves', async () => {
    const s = setup();
    await s.host.start();
    expect(s.host.enter()).toBe(s.engines[0]);
    const old = s.engines[0]!;
    s.next = version('v2', s);
    expect(await s.host.reload()).toMatchObject({ ok: true, generation: 2 });
    expect(s.host.current).toBe(s.engines[1]);
    expect(old.disposed).toBe(0); // still in use
    s.host.leave();
    expect(old.disposed).toBe(1);
    expect(s.engines[1]!.disposed).toBe(0);
  });

  it('waits for every active run (nested enter) and disposes each retired engine once', async () => {
    const s = setup();
    await s.host.start();
    s.host.enter();
    s.host.enter();
    s.next = version('v2', s);
    await s.host.reload();
    s.next = version('v3', s);
    await s.host.reload();
    expect(s.host.generation).toBe(3);
    s.host.leave();
    expect(s.engines.map((e) => e.disposed)).toEqual([0, 0, 0]);
    s.host.leave();
    expect(s.engines.map((e) => e.disposed)).toEqual([1, 1, 0]);
    s.host.enter();
    s.host.leave();
    expect(s.engines.map((e) => e.disposed)).toEqual([1, 1, 0]);
  });

  it('a reload started inside a route run swaps only after the run, and the run keeps its engine', async () => {
    const s = setup();
    await s.host.start();
    let pending: Promise<unknown> | undefined;
    s.engines[0]!.routes.ksr_request_route = () => {
      s.next = version('v2', s);
      pending = s.host.reload();
      s.trail.push(`running in generation ${s.host.generation}`);
    };
    s.host.run(s.runtime, makeContext(), 'ksr_request_route');
    expect(s.trail).toEqual(['running in generation 1']);
    await pending;
    expect(s.host.generation).toBe(2);
    expect(s.engines[0]!.disposed).toBe(1);
  });

  it('concurrent reloads share one load and one outcome', async () => {
    const s = setup();
    await s.host.start();
    const gate = deferred<void>();
    s.gate = gate.promise;
    s.next = version('v2', s);
    const a = s.host.reload();
    const b = s.host.reload();
    expect(b).toBe(a);
    gate.resolve();
    const [ra, rb] = await Promise.all([a, b]);
    expect(ra).toBe(rb);
    expect(ra).toMatchObject({ ok: true, generation: 2 });
    expect(s.loads).toBe(2); // start + one reload
    // once settled, the next reload is a new one
    s.gate = undefined;
    expect(await s.host.reload()).toMatchObject({ ok: true, generation: 3 });
    expect(s.loads).toBe(3);
  });

  it('concurrent reloads that fail share the failure, and the next reload tries again', async () => {
    const s = setup();
    await s.host.start();
    const gate = deferred<void>();
    s.gate = gate.promise;
    s.next = new Error('broken');
    const both = Promise.all([s.host.reload(), s.host.reload()]);
    gate.resolve();
    const [ra, rb] = await both;
    expect(ra).toEqual({ ok: false, error: 'broken', generation: 1 });
    expect(rb).toBe(ra);
    s.gate = undefined;
    s.next = version('v2', s);
    expect(await s.host.reload()).toMatchObject({ ok: true, generation: 2 });
  });

  it('a dispose error of an old engine is logged, not thrown', async () => {
    const s = setup();
    await s.host.start();
    s.engines[0]!.dispose = () => {
      throw new Error('double free');
    };
    s.next = version('v2', s);
    expect(await s.host.reload()).toMatchObject({ ok: true });
    expect(s.log.at('warn')).toEqual(['disposing an old interpreter failed']);
  });

  it('dispose() frees the current and the retired engines', async () => {
    const s = setup();
    await s.host.start();
    s.host.enter();
    s.next = version('v2', s);
    await s.host.reload();
    s.host.dispose();
    expect(s.engines.map((e) => e.disposed)).toEqual([1, 1]);
    expect(() => s.host.current).toThrow(KsrError);
  });
});
