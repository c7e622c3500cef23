/**
 * Test harness: a small registry (core + x + test), a route runtime, route contexts over a real
 * parsed INVITE, scripts written to temp folders, and a recording wrapper around the engine.
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import {
  detachedServices,
  KemiRegistry,
  MessageState,
  RouteContext,
  RouteRuntime,
  createLogger,
  parseMessage,
  xExports,
  type EngineRunResult,
  type FrozenKemiRegistry,
  type KemiExportDef,
  type Logger,
  type ReceiveInfo,
  type RouteServices,
  type ScriptEngine,
} from '@ksr/core';
import { SAMPLE_INFO, sampleInvite } from '@ksr/engine-testkit';
import { jsdtEngine, type JsdtEngine } from '../src/index.js';

export interface Harness {
  registry: FrozenKemiRegistry<RouteContext>;
  runtime: RouteRuntime;
  logger: Logger;
  /** Log lines (JSON objects) written so far. */
  logs: Array<{ level: number; msg: string; [k: string]: unknown }>;
  /** What test.record(s) received, in order. */
  recorded: string[];
  replies: Array<{ status: number; reason: string }>;
  dir: string;
  write(rel: string, source: string): string;
  load(mainRel: string, params?: Record<string, string | number>, requiredFunctions?: string[]): Promise<JsdtEngine>;
  ctx(): RouteContext;
  /** Run a route function through the runtime; returns the engine's own result too. */
  route(engine: ScriptEngine, func?: string, args?: string[]): { kind: EngineRunResult['kind']; dropped: boolean; result: EngineRunResult; ctx: RouteContext };
  cleanup(): void;
}

const INVITE = sampleInvite();

const INFO: ReceiveInfo = SAMPLE_INFO;

export function makeHarness(): Harness {
  const dir = mkdtempSync(path.join(tmpdir(), 'ksr-engine-js-'));
  const recorded: string[] = [];
  const logs: Harness['logs'] = [];
  const replies: Harness['replies'] = [];
  const logger = createLogger({
    level: 'debug',
    destination: {
      write(s: string) {
        for (const line of s.split('\n')) if (line.trim()) logs.push(JSON.parse(line) as Harness['logs'][number]);
      },
    },
  });
  const core: KemiExportDef<RouteContext>[] = [
    { name: 'info', returns: 'none', params: ['str'], fn: () => undefined },
    { name: 'is_INVITE', returns: 'bool', params: [], fn: (ctx) => ctx.request?.method === 'INVITE' },
  ];
  const test: KemiExportDef<RouteContext>[] = [
    { name: 'record', returns: 'int', params: ['str'], fn: (_c, s: string) => (recorded.push(s), 1) },
    { name: 'echo_s', returns: 'xval', params: ['str'], fn: (_c, s: string) => s },
    { name: 'echo_i', returns: 'int', params: ['int'], fn: (_c, n: number) => n },
    { name: 'echo_l', returns: 'xval', params: ['long'], fn: (_c, n: number) => n },
    { name: 'get_null', returns: 'xval', params: [], fn: () => null },
    { name: 'nothing', returns: 'none', params: [], fn: () => undefined },
    { name: 'yes', returns: 'bool', params: [], fn: () => true },
    { name: 'no', returns: 'bool', params: [], fn: () => false },
    { name: 'neg', returns: 'int', params: [], fn: () => -1 },
    { name: 'zero', returns: 'int', params: [], fn: () => 0 },
    { name: 'half', returns: 'xval', params: [], fn: () => 0.5 },
    { name: 'six', returns: 'xval', params: ['str', 'int', 'str', 'int', 'str', 'long'], fn: (_c, ...a: unknown[]) => a.map((x) => `${typeof x}:${String(x)}`).join(',') },
    { name: 'fails', returns: 'int', params: [], fn: () => {
      throw new Error('module failure');
    } },
    { name: 'big', returns: 'xval', params: ['int'], fn: (_c, n: number) => 'é'.repeat(n) },
  ];
  const reg = new KemiRegistry<RouteContext>();
  reg.addModule('', core);
  reg.addModule('x', xExports);
  reg.addModule('test', test);
  const registry = reg.freeze();
  const runtime = new RouteRuntime({ registry, logger });
  const services: RouteServices = detachedServices({
    logger,
    myselfHosts: [],
    reply: async (_ctx, status, reason) => {
      replies.push({ status, reason });
      return true;
    },
  });
  const ctx = () => new RouteContext(parseMessage(Buffer.from(INVITE)), INFO, services, 'request', 'ksr_request_route', new MessageState());
  const write = (rel: string, source: string): string => {
    const file = path.join(dir, rel);
    mkdirSync(path.dirname(file), { recursive: true });
    writeFileSync(file, source);
    return file;
  };
  return {
    registry,
    runtime,
    logger,
    logs,
    recorded,
    replies,
    dir,
    write,
    ctx,
    load: async (mainRel, params = {}, requiredFunctions = ['ksr_request_route']) => {
      const map = new Map<string, Array<string | number>>();
      for (const [k, v] of Object.entries(params)) map.set(k, [v]);
      return (await jsdtEngine.load({
        registry,
        invoke: runtime.invoke,
        logger,
        script: path.join(dir, mainRel),
        params: map,
        requiredFunctions,
        version: '9.9.9-test',
      })) as JsdtEngine;
    },
    route: (engine, func = 'ksr_request_route', args = []) => {
      let result: EngineRunResult = { kind: 'ok' };
      const recordingEngine: ScriptEngine = {
        engineName: engine.engineName,
        scriptPath: engine.scriptPath,
        hasFunction: (n) => engine.hasFunction(n),
        run: (f, a) => (result = engine.run(f, a)),
        dispose: () => undefined,
      };
      const c = ctx();
      const r = runtime.run(recordingEngine, c, func, args);
      return { ...r, result, ctx: c };
    },
    cleanup: () => rmSync(dir, { recursive: true, force: true }),
  };
}
