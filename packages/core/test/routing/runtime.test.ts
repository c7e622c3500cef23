import { describe, expect, it } from 'vitest';
import { ErrorCodes, KsrError } from '../../src/errors.js';
import { KemiRegistry } from '../../src/kemi/registry.js';
import type { KemiExportDef, KemiXval } from '../../src/kemi/types.js';
import type { RouteContext } from '../../src/routing/context.js';
import type { ScriptEngine } from '../../src/routing/engine.js';
import { formatScriptError, isRouteExit, ROUTE_EXIT, RouteExitSignal, RouteRuntime, type RouteRuntimeOptions } from '../../src/routing/runtime.js';
import { xExports } from '../../src/routing/x.js';
import { INVITE_LINES, makeContext, testServices, type TestServices } from '../support/context.js';
import { FakeEngine, FakeScriptError, memoryLogger, type FakeRoute, type MemoryLog } from './helpers.js';

const CALL_ID = 'call-1@192.0.2.10';

const ACK_LINES = INVITE_LINES.map((l) => l.replace(/^INVITE /, 'ACK ').replace('CSeq: 10 INVITE', 'CSeq: 10 ACK')).filter((l) => !l.startsWith('Content-Type'));

const RESPONSE_LINES = [
  'SIP/2.0 200 OK',
  'Via: SIP/2.0/UDP 127.0.0.1:5060;branch=z9hG4bK-out1',
  'From: "Alice" <sip:alice@atlanta.test>;tag=a1',
  'To: <sip:bob@ksr.test>;tag=b1',
  `Call-ID: ${CALL_ID}`,
  'CSeq: 10 INVITE',
];

interface Setup {
  runtime: RouteRuntime;
  engine: FakeEngine;
  log: MemoryLog;
  ctx: RouteContext;
  services: TestServices;
  /** Every call an export received: [name, callId of its ctx, ...args]. */
  calls: unknown[][];
}

function setup(routes: Record<string, FakeRoute>, opts: Partial<RouteRuntimeOptions> & { lines?: string[]; routeType?: RouteContext['routeType'] } = {}): Setup {
  const calls: unknown[][] = [];
  // eslint-disable-next-line prefer-const
  let runtime: RouteRuntime;
  // eslint-disable-next-line prefer-const
  let engine: FakeEngine;
  const rec =
    (name: string, ret: (ctx: RouteContext, ...a: never[]) => unknown) =>
    (ctx: RouteContext, ...args: unknown[]): KemiXval | boolean => {
      calls.push([name, ctx.msg.callId, ...args]);
      // some exports deliberately break their contract (bad, nothing)
      return (ret as (ctx: RouteContext, ...a: unknown[]) => KemiXval | boolean)(ctx, ...args);
    };
  const testExports: KemiExportDef<RouteContext>[] = [
    { name: 'echo_i', returns: 'int', params: ['int'], fn: rec('echo_i', (_c, n: number) => n) },
    { name: 'is_s', returns: 'bool', params: ['str', 'int'], fn: rec('is_s', (_c, s: string) => s === 'yes') },
    { name: 'echo_x', returns: 'xval', params: ['str'], fn: rec('echo_x', (_c, s: string) => (s === 'null' ? null : s)) },
    { name: 'nothing', returns: 'none', params: [], fn: rec('nothing', () => 'ignored') },
    { name: 'boom', returns: 'int', params: [], fn: rec('boom', () => { throw new Error('kaput'); }) },
    { name: 'bad', returns: 'int', params: [], fn: rec('bad', () => 'oops') },
    { name: 'sflags', returns: 'int', params: [], fn: rec('sflags', (c) => c.scriptFlags) },
    { name: 'setsflag', returns: 'int', params: ['int'], fn: rec('setsflag', (c, f: number) => ((c.scriptFlags |= 1 << f), 1)) },
    {
      name: 'nested',
      returns: 'xval',
      params: ['str', 'int'],
      fn: rec('nested', (c, func: string, other: number) => {
        const target = other ? makeContext([...INVITE_LINES.filter((l) => !l.startsWith('Call-ID')), 'Call-ID: inner@x'], { services: c.services }) : c;
        return runtime.run(engine, target, func).kind;
      }),
    },
  ];
  const reg = new KemiRegistry<RouteContext>();
  reg.addModule('test', testExports);
  reg.addModule('x', xExports);
  const registry = reg.freeze();
  const log = memoryLogger();
  runtime = new RouteRuntime({ registry, logger: log.logger, ...opts });
  engine = new FakeEngine(registry, runtime.invoke, routes);
  const services = testServices({ logger: log.logger });
  const ctx = makeContext(opts.lines ?? INVITE_LINES, { services, ...(opts.routeType ? { routeType: opts.routeType } : {}) });
  return { runtime, engine, log, ctx, services, calls };
}

/** Let the error-reply promise settle. */
const tick = (): Promise<void> => new Promise((r) => setImmediate(r));

describe('RouteRuntime.invoke', () => {
  it('calls the export with the route context and coerced arguments, and returns its value', () => {
    const seen: unknown[] = [];
    const s = setup({
      ksr_request_route: (k) => {
        seen.push(k('test.echo_i', '41'), k('test.is_s', 'yes', 1), k('test.echo_x', 5), k('test.echo_x', 'null'), k('test.nothing'));
      },
    });
    expect(s.runtime.run(s.engine, s.ctx, 'ksr_request_route')).toEqual({ kind: 'ok', dropped: false });
    expect(seen).toEqual([41, true, '5', null, undefined]);
    expect(s.calls).toEqual([
      ['echo_i', CALL_ID, 41],
      ['is_s', CALL_ID, 'yes', 1],
      ['echo_x', CALL_ID, '5'],
      ['echo_x', CALL_ID, 'null'],
      ['nothing', CALL_ID],
    ]);
    expect(s.log.at('error')).toEqual([]);
  });

  it('keeps the last int result as ctx.lastReturn', () => {
    const s = setup({ r: (k) => k('test.echo_i', -3) });
    s.runtime.run(s.engine, s.ctx, 'r');
    expect(s.ctx.lastReturn).toBe(-3);
  });

  it('does not ask the engine for the location when nothing goes wrong', () => {
    const s = setup({ r: (k) => k('test.echo_i', 1) });
    s.runtime.run(s.engine, s.ctx, 'r');
    expect(s.engine.whereCalls).toBe(0);
  });

  it('throws KSR_ERR_KEMI_INVALID for an id that does not exist (an engine bug)', () => {
    const s = setup({});
    let err: unknown;
    try {
      s.runtime.invoke(999, []);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(KsrError);
    expect((err as KsrError).code).toBe(ErrorCodes.KEMI_INVALID);
  });

  describe('outside a route', () => {
    it('without an initContext: returns the failure value of each return type and logs the location', () => {
      const s = setup({});
      s.engine.location = 'fake.lua:3';
      expect([s.engine.k('test.echo_i', 1), s.engine.k('test.is_s', 'yes', 1), s.engine.k('test.echo_x', 'a'), s.engine.k('test.nothing')]).toEqual([-1, false, null, undefined]);
      expect(s.calls).toEqual([]);
      expect(s.log.at('error')).toEqual([
        'KSR.test.echo_i called outside a route (at fake.lua:3)',
        'KSR.test.is_s called outside a route (at fake.lua:3)',
        'KSR.test.echo_x called outside a route (at fake.lua:3)',
        'KSR.test.nothing called outside a route (at fake.lua:3)',
      ]);
    });

    it('with an initContext: runs the export on that context, created once', () => {
      let made = 0;
      const initCtx = makeContext([...INVITE_LINES.filter((l) => !l.startsWith('Call-ID')), 'Call-ID: init@ksr']);
      const s = setup({}, { initContext: () => (made++, initCtx) });
      expect(s.engine.k('test.echo_i', 7)).toBe(7);
      expect(s.engine.k('test.echo_x', 'a')).toBe('a');
      expect(made).toBe(1);
      expect(s.calls).toEqual([
        ['echo_i', 'init@ksr', 7],
        ['echo_x', 'init@ksr', 'a'],
      ]);
      expect(s.log.at('error')).toEqual([]);
    });

    it('inside a run, the run context wins over initContext', () => {
      const initCtx = makeContext([...INVITE_LINES.filter((l) => !l.startsWith('Call-ID')), 'Call-ID: init@ksr']);
      const s = setup({ r: (k) => k('test.echo_i', 1) }, { initContext: () => initCtx });
      s.runtime.run(s.engine, s.ctx, 'r');
      expect(s.calls).toEqual([['echo_i', CALL_ID, 1]]);
      expect(s.runtime.current).toBeUndefined();
    });

    it('an exit requested outside a route does not poison later calls', () => {
      const initCtx = makeContext();
      const s = setup({}, { initContext: () => initCtx });
      expect(() => s.engine.k('x.exit')).toThrow(RouteExitSignal);
      expect(s.engine.k('test.echo_i', 2)).toBe(2);
    });
  });

  describe('bad arguments', () => {
    it('return the failure value, skip the export and log the problem with the script location', () => {
      const got: unknown[] = [];
      const s = setup({
        r: (k) => {
          got.push(k('test.echo_i', 'abc'), k('test.is_s', 'yes'), k('test.echo_x'), k('test.nothing', 1), k('test.echo_i', 2 ** 31));
          got.push('continued');
        },
      });
      s.engine.location = 'fake.lua:12';
      expect(s.runtime.run(s.engine, s.ctx, 'r').kind).toBe('ok');
      expect(got).toEqual([-1, false, null, undefined, -1, 'continued']);
      expect(s.calls).toEqual([]);
      expect(s.log.at('error')).toEqual([
        'KSR.test.echo_i: argument 1: expected 32-bit integer, got string "abc" (at fake.lua:12)',
        'KSR.test.is_s: expects 2 arguments (str, int), got 1 (at fake.lua:12)',
        'KSR.test.echo_x: expects 1 argument (str), got 0 (at fake.lua:12)',
        'KSR.test.nothing: expects no arguments, got 1 (at fake.lua:12)',
        'KSR.test.echo_i: argument 1: 32-bit integer out of range: 2147483648 (at fake.lua:12)',
      ]);
    });

    it('a refused int call leaves lastReturn unchanged', () => {
      const s = setup({ r: (k) => (k('test.echo_i', 5), k('test.echo_i', 'x')) });
      s.runtime.run(s.engine, s.ctx, 'r');
      expect(s.ctx.lastReturn).toBe(5);
    });

    it('log no location when the engine has none, or when asking for it throws', () => {
      const s = setup({ r: (k) => k('test.echo_i', 'abc') });
      s.engine.location = undefined;
      s.runtime.run(s.engine, s.ctx, 'r');
      const s2 = setup({});
      s2.runtime.invoke(0, ['abc'], () => {
        throw new Error('no debug info');
      });
      expect([...s.log.at('error'), ...s2.log.at('error')]).toEqual([
        'KSR.test.echo_i: argument 1: expected 32-bit integer, got string "abc"',
        'KSR.test.echo_i called outside a route',
      ]);
    });
  });

  describe('an export that throws', () => {
    it('gives the failure value, is logged with the location and the error, and the route continues', () => {
      const got: unknown[] = [];
      const s = setup({ r: (k) => got.push(k('test.boom'), k('test.echo_i', 3)) });
      s.engine.location = 'fake.lua:20';
      expect(s.runtime.run(s.engine, s.ctx, 'r').kind).toBe('ok');
      expect(got).toEqual([-1, 3]);
      const line = s.log.lines.find((l) => l.msg.startsWith('KSR.test.boom'));
      expect(line?.msg).toBe('KSR.test.boom failed: kaput (at fake.lua:20)');
      expect(line?.level).toBe(50);
      expect((line?.err as { message?: string })?.message).toBe('kaput');
    });

    it('an export that returns the wrong type is normalised and logged as a ksr bug', () => {
      const got: unknown[] = [];
      const s = setup({ r: (k) => got.push(k('test.bad')) });
      s.runtime.run(s.engine, s.ctx, 'r');
      expect(got).toEqual([-1]);
      expect(s.log.at('error')).toEqual(['KSR.test.bad returned string "oops" for an int export (a ksr bug)']);
    });
  });
});

describe('RouteRuntime.run: exit and drop', () => {
  it('KSR.x.exit ends the route: code after it does not run, run() reports exit, not dropped', () => {
    const trail: string[] = [];
    const s = setup({ r: (k) => (trail.push('before'), k('x.exit'), trail.push('after')) });
    expect(s.runtime.run(s.engine, s.ctx, 'r')).toEqual({ kind: 'exit', dropped: false });
    expect(trail).toEqual(['before']);
    expect(s.ctx.dropRequested).toBe(false);
    expect(s.log.at('error')).toEqual([]);
  });

  it('KSR.x.drop ends the route and marks it dropped', () => {
    const trail: string[] = [];
    const s = setup({ r: (k) => (trail.push('before'), k('x.drop'), trail.push('after')) });
    expect(s.runtime.run(s.engine, s.ctx, 'r')).toEqual({ kind: 'exit', dropped: true });
    expect(trail).toEqual(['before']);
    expect(s.ctx.dropRequested).toBe(true);
  });

  it('a script that catches the exit is ended again at its next KSR call', () => {
    const trail: string[] = [];
    const s = setup({
      r: (k) => {
        try {
          k('x.exit');
        } catch {
          trail.push('caught');
        }
        trail.push('still running');
        k('test.echo_i', 1);
        trail.push('after the next call');
      },
    });
    expect(s.runtime.run(s.engine, s.ctx, 'r')).toEqual({ kind: 'exit', dropped: false });
    expect(trail).toEqual(['caught', 'still running']);
    expect(s.calls).toEqual([]);
  });

  it('a caught drop still drops', () => {
    const s = setup({
      r: (k) => {
        try {
          k('x.drop');
        } catch {
          /* swallowed */
        }
      },
    });
    expect(s.runtime.run(s.engine, s.ctx, 'r')).toEqual({ kind: 'ok', dropped: true });
  });

  it('the exit of one run does not end the next run on the same context', () => {
    const s = setup({ a: (k) => k('x.exit'), b: (k) => k('test.echo_i', 1) });
    expect(s.runtime.run(s.engine, s.ctx, 'a').kind).toBe('exit');
    expect(s.runtime.run(s.engine, s.ctx, 'b').kind).toBe('ok');
    expect(s.calls).toEqual([['echo_i', CALL_ID, 1]]);
  });

  it('the exit signal is one frozen object, not a string a script could forge', () => {
    expect(isRouteExit(ROUTE_EXIT)).toBe(true);
    expect(Object.isFrozen(ROUTE_EXIT)).toBe(true);
    expect(isRouteExit(new RouteExitSignal())).toBe(false);
    expect(isRouteExit('~~ksr~exit~~')).toBe(false);
    expect(isRouteExit(String(ROUTE_EXIT))).toBe(false);
  });
});

describe('RouteRuntime.run: per-run state', () => {
  it('script flags start at 0 for each run and are restored afterwards', () => {
    const seen: unknown[] = [];
    const s = setup({ r: (k) => seen.push(k('test.sflags'), k('test.setsflag', 2), k('test.sflags')) });
    s.ctx.scriptFlags = 5;
    s.runtime.run(s.engine, s.ctx, 'r');
    expect(seen).toEqual([0, 1, 4]);
    expect(s.ctx.scriptFlags).toBe(5);
  });

  it('script flags are restored even when the route exits or fails', () => {
    const s = setup({
      e: (k) => (k('test.setsflag', 1), k('x.exit')),
      f: (k) => {
        k('test.setsflag', 1);
        throw new FakeScriptError('x', 1);
      },
    });
    s.ctx.scriptFlags = 8;
    s.runtime.run(s.engine, s.ctx, 'e');
    expect(s.ctx.scriptFlags).toBe(8);
    s.runtime.run(s.engine, s.ctx, 'f');
    expect(s.ctx.scriptFlags).toBe(8);
  });

  it('current is the running context, and undefined outside runs', () => {
    const s = setup({ r: () => seen.push(s.runtime.current) });
    const seen: unknown[] = [];
    expect(s.runtime.current).toBeUndefined();
    s.runtime.run(s.engine, s.ctx, 'r');
    expect(seen).toEqual([s.ctx]);
    expect(s.runtime.current).toBeUndefined();
  });

  it('a missing function reports missing and logs no error', () => {
    const s = setup({});
    expect(s.runtime.run(s.engine, s.ctx, 'no_such_route')).toEqual({ kind: 'missing', dropped: false });
    expect(s.log.at('error')).toEqual([]);
    expect(s.services.replies).toEqual([]);
  });
});

describe('RouteRuntime.run: nested runs', () => {
  it('a nested run on another context uses it, then restores the outer context', () => {
    const seen: unknown[] = [];
    const s = setup({
      outer: (k) => {
        k('test.echo_i', 1);
        seen.push(k('test.nested', 'inner', 1));
        seen.push(s.runtime.current?.msg.callId);
        k('test.echo_i', 2);
      },
      inner: (k) => {
        seen.push(s.runtime.current?.msg.callId);
        k('test.echo_i', 10);
        k('x.exit');
      },
    });
    expect(s.runtime.run(s.engine, s.ctx, 'outer')).toEqual({ kind: 'ok', dropped: false });
    expect(seen).toEqual(['inner@x', 'exit', CALL_ID]);
    expect(s.calls.filter((c) => c[0] === 'echo_i')).toEqual([
      ['echo_i', CALL_ID, 1],
      ['echo_i', 'inner@x', 10],
      ['echo_i', CALL_ID, 2],
    ]);
    expect(s.runtime.current).toBeUndefined();
  });

  it('a nested run on the same context: its exit does not end the outer route, its flags are its own', () => {
    const seen: unknown[] = [];
    const s = setup({
      outer: (k) => {
        k('test.setsflag', 0);
        seen.push(k('test.nested', 'inner', 0));
        seen.push(k('test.sflags'));
      },
      inner: (k) => {
        seen.push(k('test.sflags'));
        k('test.setsflag', 3);
        k('x.exit');
      },
    });
    expect(s.runtime.run(s.engine, s.ctx, 'outer')).toEqual({ kind: 'ok', dropped: false });
    expect(seen).toEqual([0, 'exit', 1]);
  });

  it('a nested missing function reports missing to the outer route', () => {
    const seen: unknown[] = [];
    const s = setup({ outer: (k) => seen.push(k('test.nested', 'nope', 0)) });
    s.runtime.run(s.engine, s.ctx, 'outer');
    expect(seen).toEqual(['missing']);
  });
});

describe('RouteRuntime.run: script errors', () => {
  it('are logged with file:line, function and Call-ID; an unanswered request gets 500', async () => {
    const s = setup({
      ksr_request_route: () => {
        throw new FakeScriptError('attempt to index a nil value', 12);
      },
    });
    const res = s.runtime.run(s.engine, s.ctx, 'ksr_request_route');
    expect(res).toEqual({ kind: 'error', dropped: false });
    const line = s.log.lines.find((l) => l.msg.startsWith('script error'));
    expect(line?.msg).toBe(`script error: /etc/ksr/fake.lua:12 in ksr_request_route: attempt to index a nil value (Call-ID ${CALL_ID})`);
    expect(line).toMatchObject({ level: 50, callId: CALL_ID, route: 'request' });
    expect(s.ctx.replied).toBe(true);
    await tick();
    expect(s.services.replies).toEqual([{ status: 500, reason: 'Server Internal Error' }]);
  });

  it('use the file the engine names, and leave the line out when unknown', () => {
    const s = setup({});
    const engine: ScriptEngine = {
      engineName: 'x',
      scriptPath: '/etc/ksr/main.js',
      hasFunction: () => true,
      run: () => ({ kind: 'error', error: { message: 'boom', file: '/etc/ksr/lib.js', func: 'helper', stack: 'Error: boom\n    at helper' } }),
      dispose: () => undefined,
    };
    s.runtime.run(engine, s.ctx, 'ksr_request_route');
    const s2 = setup({ r: () => { throw new FakeScriptError('no line'); } });
    s2.runtime.run(s2.engine, s2.ctx, 'r');
    expect(s.log.lines.find((l) => l.msg.startsWith('script error'))).toMatchObject({
      msg: `script error: /etc/ksr/lib.js in helper: boom (Call-ID ${CALL_ID})`,
      stack: 'Error: boom\n    at helper',
    });
    expect(s2.log.at('error')).toEqual([`script error: /etc/ksr/fake.lua in r: no line (Call-ID ${CALL_ID})`]);
  });

  const noReply: Array<[string, (s: Setup) => void, Partial<Parameters<typeof setup>[1]>]> = [
    ['an already replied request', (s) => (s.ctx.replied = true), {}],
    ['an already relayed request', (s) => (s.ctx.relayed = true), {}],
    ['an ACK', () => undefined, { lines: ACK_LINES }],
    ['a reply (reply route)', () => undefined, { lines: RESPONSE_LINES, routeType: 'reply' }],
    ['a request in a failure route', () => undefined, { routeType: 'failure' }],
  ];
  for (const [what, prepare, opts] of noReply) {
    it(`do not send the error reply for ${what}`, async () => {
      const s = setup({ r: () => { throw new FakeScriptError('boom', 1); } }, opts);
      prepare(s);
      expect(s.runtime.run(s.engine, s.ctx, 'r').kind).toBe('error');
      await tick();
      expect(s.services.replies).toEqual([]);
      expect(s.log.at('error')).toHaveLength(1);
    });
  }

  it('the error outcome can be another reply', async () => {
    const s = setup({ r: () => { throw new FakeScriptError('boom', 1); } }, { errorOutcome: { kind: 'reply', status: 503, reason: 'Service Unavailable' } });
    s.runtime.run(s.engine, s.ctx, 'r');
    await tick();
    expect(s.services.replies).toEqual([{ status: 503, reason: 'Service Unavailable' }]);
  });

  it("errorOutcome {kind: 'drop'} sends nothing and marks the message dropped", async () => {
    const s = setup({ r: () => { throw new FakeScriptError('boom', 1); } }, { errorOutcome: { kind: 'drop' } });
    expect(s.runtime.run(s.engine, s.ctx, 'r').kind).toBe('error');
    await tick();
    expect(s.services.replies).toEqual([]);
    expect(s.ctx.dropRequested).toBe(true);
    expect(s.ctx.replied).toBe(false);
  });

  it('a failed error reply is logged as a warning', async () => {
    const s = setup({ r: () => { throw new FakeScriptError('boom', 1); } });
    (s.services as { reply: TestServices['reply'] }).reply = async () => false;
    s.runtime.run(s.engine, s.ctx, 'r');
    await tick();
    expect(s.log.at('warn')).toEqual(['could not send the error reply']);
  });

  it('an engine that throws instead of reporting is treated as a script error', () => {
    const s = setup({});
    const engine: ScriptEngine = {
      engineName: 'x',
      scriptPath: '/etc/ksr/broken.js',
      hasFunction: () => true,
      run: () => {
        throw new Error('engine bug');
      },
      dispose: () => undefined,
    };
    expect(s.runtime.run(engine, s.ctx, 'r')).toEqual({ kind: 'error', dropped: false });
    expect(s.log.at('error')).toEqual([`script error: /etc/ksr/broken.js in r: engine bug (Call-ID ${CALL_ID})`]);
    expect(s.runtime.current).toBeUndefined();
  });

  it('very long error messages are cut in the log', () => {
    const s = setup({ r: () => { throw new FakeScriptError('x'.repeat(5000), 1); } });
    s.runtime.run(s.engine, s.ctx, 'r');
    const msg = s.log.at('error')[0]!;
    expect(msg).toContain('… (3000 more characters)');
    expect(msg.length).toBeLessThan(2200);
  });
});

describe('formatScriptError', () => {
  it('formats file:line in func: message, leaving out what is unknown', () => {
    expect(formatScriptError({ message: 'm', file: 'a.lua', line: 3, func: 'f' })).toBe('a.lua:3 in f: m');
    expect(formatScriptError({ message: 'm', file: 'a.lua' })).toBe('a.lua: m');
    expect(formatScriptError({ message: 'm', line: 3 })).toBe('unknown location: m');
    expect(formatScriptError({ message: 'm', func: 'f' })).toBe('unknown location in f: m');
  });
});

describe('RouteRuntime.run: latency log', () => {
  it('logs "request-route executed in: N usec" at the configured level', () => {
    const s = setup({ ksr_request_route: (k) => k('test.echo_i', 1) }, { latencyLogLevel: 'debug' });
    s.runtime.run(s.engine, s.ctx, 'ksr_request_route');
    const lines = s.log.lines.filter((l) => l.msg.includes('executed in'));
    expect(lines).toHaveLength(1);
    expect(lines[0]!.level).toBe(20);
    expect(lines[0]!.msg).toMatch(/^request-route executed in: \d+ usec$/);
  });

  it('names the route type: reply-route, failure-route', () => {
    const r = setup({ ksr_reply_route: () => undefined }, { latencyLogLevel: 'info', lines: RESPONSE_LINES, routeType: 'reply' });
    r.runtime.run(r.engine, r.ctx, 'ksr_reply_route');
    const f = setup({ failure: () => undefined }, { latencyLogLevel: 'info', routeType: 'failure' });
    f.runtime.run(f.engine, f.ctx, 'failure');
    expect(r.log.at('info').filter((m) => m.includes('executed'))).toEqual([expect.stringMatching(/^reply-route executed in: \d+ usec$/)]);
    expect(f.log.at('info').filter((m) => m.includes('executed'))).toEqual([expect.stringMatching(/^failure-route executed in: \d+ usec$/)]);
  });

  it('is logged for exits and errors too, and not at all when off', () => {
    const on = setup({ e: (k) => k('x.exit') }, { latencyLogLevel: 'debug' });
    on.runtime.run(on.engine, on.ctx, 'e');
    expect(on.log.lines.filter((l) => l.msg.includes('executed in'))).toHaveLength(1);
    const off = setup({ e: (k) => k('x.exit') });
    off.runtime.run(off.engine, off.ctx, 'e');
    expect(off.log.lines.filter((l) => l.msg.includes('executed in'))).toHaveLength(0);
  });

  it('measures the time spent in the route', () => {
    const s = setup({
      slow: () => {
        const end = performance.now() + 5;
        while (performance.now() < end) {
          /* spin */
        }
      },
    }, { latencyLogLevel: 'debug' });
    s.runtime.run(s.engine, s.ctx, 'slow');
    const us = Number(/executed in: (\d+) usec/.exec(s.log.at('debug').join('\n'))?.[1]);
    expect(us).toBeGreaterThanOrEqual(4000);
  });
});
