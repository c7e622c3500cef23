import { ErrorCodes, KemiRegistry, KsrError, createLogger, type EngineLoadOptions, type RouteContext } from '@ksr/core';
import { describe, expect, it } from 'vitest';
import { describeEngineConformance, fixturePath } from '../src/index.js';
import { bindKsr, createTsEngine, scriptLine, tsEngine, type TsScriptFactory } from '../src/ts-engine.js';
// type-check the TypeScript fixtures with the package (they are scripts, loaded at run time)
import type * as _fixture from '../fixtures/conformance.js';
import type * as _fixtureV2 from '../fixtures/conformance-reload.js';
import type * as _fixtureNoRequest from '../fixtures/conformance-norequest.js';

export type _Fixtures = [typeof _fixture, typeof _fixtureV2, typeof _fixtureNoRequest];

describeEngineConformance('ts', tsEngine, { script: fixturePath('conformance.ts') });

function registry() {
  const reg = new KemiRegistry<RouteContext>();
  reg.addModule('', [{ name: 'ping', returns: 'int', params: [], fn: () => 7 }]);
  reg.addModule('sl', [{ name: 'send_reply', returns: 'int', params: ['int', 'str'], fn: () => 1 }]);
  return reg.freeze();
}

function options(script: string, invoke: EngineLoadOptions['invoke'] = () => 1): EngineLoadOptions {
  return {
    registry: registry(),
    invoke,
    logger: createLogger({ level: 'silent' }),
    script,
    params: new Map(),
    requiredFunctions: ['ksr_request_route'],
    version: 'test',
  };
}

async function loadError(p: Promise<unknown>): Promise<KsrError> {
  const e = await p.then(
    () => undefined,
    (err: unknown) => err,
  );
  expect(e).toBeInstanceOf(KsrError);
  expect((e as KsrError).code).toBe(ErrorCodes.SCRIPT_LOAD);
  return e as KsrError;
}

describe('bindKsr', () => {
  it('puts core functions at the root and modules as frozen members that call invoke by id', () => {
    const calls: unknown[][] = [];
    const KSR = bindKsr(registry(), (id, args, where) => (calls.push([id, args, where?.()]), 'r'), () => 'here:1');
    expect(Object.keys(KSR)).toEqual(['ping', 'sl']);
    const sl = KSR.sl as Record<string, (...a: unknown[]) => unknown>;
    expect((KSR.ping as () => unknown)()).toBe('r');
    expect(sl.send_reply!(404, 'Not Found', 'extra')).toBe('r');
    expect(calls).toEqual([
      [0, [], 'here:1'],
      [1, [404, 'Not Found', 'extra'], 'here:1'],
    ]);
    expect(Object.isFrozen(KSR)).toBe(true);
    expect(Object.isFrozen(sl)).toBe(true);
    expect(sl.send_reply!.name).toBe('KSR.sl.send_reply');
  });
});

describe('scriptLine', () => {
  it('finds the innermost frame of the script, with a query string, in a stack', () => {
    const stack = 'Error: x\n    at where (/repo/src/ts-engine.ts:30:5)\n    at Object.f (/tmp/a/conf.ts?ksr-load=3:12:7)\n    at g (/tmp/a/conf.ts?ksr-load=3:40:1)';
    expect(scriptLine(stack, '/tmp/a/conf.ts')).toBe(12);
  });
  it('accepts file URLs, relative paths and coloured tool output; not a longer file name', () => {
    expect(scriptLine('at file:///tmp/a/conf.ts:9:1', '/tmp/a/conf.ts')).toBe(9);
    expect(scriptLine('\u001b[38;5;246m[\u001b[0m ../../tmp/a/conf.ts?ksr-load=1:4:4 ]', '/tmp/a/conf.ts')).toBe(4);
    expect(scriptLine('at x (/repo/suite-conf.ts:5:1)', '/tmp/a/conf.ts')).toBeUndefined();
    expect(scriptLine(undefined, '/tmp/a/conf.ts')).toBeUndefined();
  });
});

describe('createTsEngine', () => {
  it('serves scripts from memory, and runs route functions with their arguments', async () => {
    const seen: unknown[] = [];
    const factory: TsScriptFactory = (KSR) => ({
      ksr_request_route: (...args: unknown[]) => seen.push(['request', ...args, (KSR.ping as () => unknown)()]),
    });
    const engine = await createTsEngine({ name: 'mem', scripts: { '/virtual/a.ts': factory } }).load(options('/virtual/a.ts', () => 7));
    expect(engine.engineName).toBe('mem');
    expect(engine.scriptPath).toBe('/virtual/a.ts');
    expect(engine.run('ksr_request_route', ['ev'])).toEqual({ kind: 'ok' });
    expect(seen).toEqual([['request', 'ev', 7]]);
  });

  it('refuses async route functions (routes are synchronous)', async () => {
    const engine = await createTsEngine({ scripts: { '/v/a.ts': () => ({ ksr_request_route: async () => undefined }) } }).load(options('/v/a.ts'));
    const res = engine.run('ksr_request_route', []);
    expect(res.kind).toBe('error');
    expect(res.kind === 'error' && res.error.message).toBe('ksr_request_route returned a promise: route functions must be synchronous');
  });

  it('reports thrown non-Error values as text', async () => {
    const engine = await createTsEngine({
      scripts: {
        '/v/a.ts': () => ({
          ksr_request_route: () => {
            throw 'plain';
          },
        }),
      },
    }).load(options('/v/a.ts'));
    expect(engine.run('ksr_request_route', [])).toEqual({ kind: 'error', error: { message: 'plain', file: '/v/a.ts', func: 'ksr_request_route' } });
  });

  it('refuses a module without a default factory, a factory returning no object, and a missing file', async () => {
    const e1 = await loadError(createTsEngine({ scripts: { '/v/a.ts': 5 as unknown as TsScriptFactory } }).load(options('/v/a.ts')));
    expect(e1.message).toBe('/v/a.ts: the module has no default export function (KSR) => routes');
    const e2 = await loadError(createTsEngine({ scripts: { '/v/a.ts': (() => null) as unknown as TsScriptFactory } }).load(options('/v/a.ts')));
    expect(e2.message).toBe('/v/a.ts: the default export must return an object of route functions');
    const e3 = await loadError(tsEngine.load(options('/nonexistent/dir/script.ts')));
    expect(e3.message).toContain('/nonexistent/dir/script.ts');
  });

  it('reports an error thrown while loading with its line', async () => {
    const e = await loadError(
      createTsEngine({
        scripts: {
          '/v/a.ts': () => {
            const err = new Error('top-level failure');
            err.stack = 'Error: top-level failure\n    at default (/v/a.ts:3:9)';
            throw err;
          },
        },
      }).load(options('/v/a.ts')),
    );
    expect(e.message).toBe('/v/a.ts:3: top-level failure');
  });

  it('a disposed interpreter runs nothing', async () => {
    let ran = 0;
    const engine = await createTsEngine({ scripts: { '/v/a.ts': () => ({ ksr_request_route: () => ran++ }) } }).load(options('/v/a.ts'));
    engine.dispose();
    expect(engine.run('ksr_request_route', []).kind).toBe('error');
    expect(ran).toBe(0);
  });
});
