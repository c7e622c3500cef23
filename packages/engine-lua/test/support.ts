/**
 * Test scaffolding: a registry with KSR.x plus a small KSR.test module, a route runtime over it,
 * route contexts over a parsed INVITE, and scripts written to temp folders.
 */
import { mkdtempSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import {
  detachedServices,
  KemiRegistry,
  MessageState,
  RouteContext,
  RouteRuntime,
  parseMessage,
  silentLogger,
  xExports,
  type EngineLoadOptions,
  type FrozenKemiRegistry,
  type KemiExportDef,
  type Logger,
  type ReceiveInfo,
  type RouteServices,
  type ScriptEngine,
} from '@ksr/core';
import { SAMPLE_INFO, sampleInvite } from '@ksr/engine-testkit';
import { luaEngine } from '../src/index.js';

export interface Recorder {
  calls: Array<{ fn: string; args: unknown[] }>;
  /** What KSR.test.run_nested(name) does (set by a test). */
  nested?: (ctx: RouteContext, name: string) => number;
}

export function testExports(rec: Recorder): KemiExportDef<RouteContext>[] {
  const note = (fn: string, args: unknown[]) => rec.calls.push({ fn, args });
  return [
    { name: 'ret_int', returns: 'int', params: [], fn: () => 42 },
    { name: 'ret_neg', returns: 'int', params: [], fn: () => -2147483648 },
    { name: 'id_int', returns: 'int', params: ['int'], fn: (_c, i: number) => i },
    { name: 'big_int', returns: 'int', params: [], fn: () => 2 ** 31 },
    { name: 'echo', returns: 'xval', params: ['str'], fn: (_c, s: string) => s },
    { name: 'concat', returns: 'xval', params: ['str', 'int'], fn: (_c, s: string, i: number) => `${s}${i}` },
    { name: 'long_id', returns: 'xval', params: ['long'], fn: (_c, l: number) => l },
    { name: 'xfloat', returns: 'xval', params: [], fn: () => 1.5 },
    { name: 'xint', returns: 'xval', params: [], fn: () => 7 },
    { name: 'xnull', returns: 'xval', params: [], fn: () => null },
    { name: 'yes', returns: 'bool', params: [], fn: () => true },
    { name: 'no', returns: 'bool', params: [], fn: () => false },
    {
      name: 'nothing',
      returns: 'none',
      params: [],
      fn: () => {
        note('nothing', []);
      },
    },
    {
      name: 'record',
      returns: 'none',
      params: ['str'],
      fn: (_c, s: string) => {
        note('record', [s]);
      },
    },
    {
      name: 'sum6',
      returns: 'int',
      params: ['int', 'int', 'int', 'int', 'int', 'int'],
      fn: (_c, a: number, b: number, c: number, d: number, e: number, f: number) => a + b + c + d + e + f,
    },
    {
      name: 'mixed',
      returns: 'xval',
      params: ['str', 'int', 'str', 'long', 'str'],
      fn: (_c, ...a: unknown[]) => a.join('|'),
    },
    { name: 'run_nested', returns: 'int', params: ['str'], fn: (ctx, name: string) => rec.nested?.(ctx, name) ?? -1 },
    {
      name: 'fails',
      returns: 'int',
      params: [],
      fn: () => {
        throw new Error('module failure');
      },
    },
  ];
}

export function makeRegistry(rec: Recorder): FrozenKemiRegistry<RouteContext> {
  const reg = new KemiRegistry<RouteContext>();
  reg.addModule('', [
    {
      name: 'info',
      returns: 'none',
      params: ['str'],
      fn: (_c, s: string) => {
        rec.calls.push({ fn: 'info', args: [s] });
      },
    },
  ]);
  reg.addModule('x', xExports);
  reg.addModule('test', testExports(rec));
  return reg.freeze();
}

/** A logger that keeps what was logged (level and message). */
export function memoryLogger(): { logger: Logger; lines: Array<{ level: string; msg: string }> } {
  const lines: Array<{ level: string; msg: string }> = [];
  const make = (): Logger => {
    const log = (level: string) => (a: unknown, b?: unknown) => {
      lines.push({ level, msg: typeof a === 'string' ? a : String(b ?? '') });
    };
    const l = {
      level: 'trace',
      fatal: log('fatal'),
      error: log('error'),
      warn: log('warn'),
      info: log('info'),
      debug: log('debug'),
      trace: log('trace'),
      silent: () => {},
      child: () => l,
    };
    return l as unknown as Logger;
  };
  return { logger: make(), lines };
}

const INVITE = sampleInvite();

const INFO: ReceiveInfo = SAMPLE_INFO;

export function testServices(logger: Logger = silentLogger): RouteServices & { replies: Array<{ status: number; reason: string }> } {
  return detachedServices({ logger, myselfHosts: [] });
}

export function makeContext(services: RouteServices = testServices(), routeName = 'ksr_request_route'): RouteContext {
  return new RouteContext(parseMessage(Buffer.from(INVITE)), INFO, services, 'request', routeName, new MessageState());
}

export class TempDir {
  readonly dir: string;
  constructor(prefix = 'ksr-lua-') {
    this.dir = mkdtempSync(path.join(tmpdir(), prefix));
  }
  write(rel: string, content: string): string {
    const p = path.join(this.dir, rel);
    mkdirSync(path.dirname(p), { recursive: true });
    writeFileSync(p, content);
    return p;
  }
  remove(): void {
    rmSync(this.dir, { recursive: true, force: true });
  }
}

export interface Harness {
  rec: Recorder;
  registry: FrozenKemiRegistry<RouteContext>;
  runtime: RouteRuntime;
  lines: Array<{ level: string; msg: string }>;
  logger: Logger;
  load(script: string, extra?: Partial<EngineLoadOptions>): Promise<ScriptEngine>;
  /** Run a function through the route runtime (as the server does). */
  route(engine: ScriptEngine, func?: string, args?: string[]): ReturnType<RouteRuntime['run']> & { ctx: RouteContext };
}

export function harness(): Harness {
  const rec: Recorder = { calls: [] };
  const registry = makeRegistry(rec);
  const { logger, lines } = memoryLogger();
  // initContext: engine.run() called directly (outside runtime.run) still reaches the exports
  const runtime = new RouteRuntime({ registry, logger, initContext: () => makeContext(testServices(logger)) });
  return {
    rec,
    registry,
    runtime,
    lines,
    logger,
    load(script, extra = {}) {
      return luaEngine.load({
        registry,
        invoke: runtime.invoke,
        logger,
        script,
        params: new Map(),
        requiredFunctions: ['ksr_request_route'],
        version: '9.9.9-test',
        ...extra,
      });
    },
    route(engine, func = 'ksr_request_route', args = []) {
      const ctx = makeContext(testServices(logger), func);
      return { ...runtime.run(engine, ctx, func, args), ctx };
    },
  };
}
