/**
 * Test harness: the core registry (KSR.*, pv, hdr, kx, x) plus a small KSR.test module, a route
 * runtime, route contexts over a parsed INVITE (or a 200 reply), scripts written to temp folders,
 * and a recording wrapper around the engine.
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import {
  MemorySharedVars,
  MessageState,
  RouteContext,
  RouteRuntime,
  buildCoreRegistry,
  createLogger,
  parseMessage,
  type EngineDescriptor,
  type EngineLoadOptions,
  type EngineRunResult,
  type FrozenKemiRegistry,
  type KemiExportDef,
  type Logger,
  type ReceiveInfo,
  type RouteServices,
  type ScriptEngine,
} from '@ksr/core';
import { SAMPLE_INFO, sampleInvite } from '@ksr/engine-testkit';
import { python3sEngine, pythonEngine, type PythonEngine } from '../src/index.js';

export type LogLine = { level: number; msg: string; [k: string]: unknown };

export interface Harness {
  registry: FrozenKemiRegistry<RouteContext>;
  runtime: RouteRuntime;
  logger: Logger;
  logs: LogLine[];
  /** What KSR.test.record(s) received, in order. */
  recorded: string[];
  replies: Array<{ status: number; reason: string }>;
  dir: string;
  /** Set by a test: what KSR.test.run_nested(name) does. */
  nested?: (ctx: RouteContext, name: string) => string;
  write(rel: string, source: string): string;
  load(style: 'class' | 'script', mainRel: string, params?: Record<string, string | number>, required?: string[]): Promise<PythonEngine>;
  loadOptions(style: 'class' | 'script', mainRel: string, params?: Record<string, string | number>, required?: string[]): EngineLoadOptions;
  descriptor(style: 'class' | 'script'): EngineDescriptor;
  ctx(kind?: 'request' | 'reply'): RouteContext;
  route(engine: ScriptEngine, func?: string, args?: string[], ctx?: RouteContext): { kind: EngineRunResult['kind']; dropped: boolean; result: EngineRunResult; ctx: RouteContext };
  errors(): string[];
  cleanup(): void;
}

const INVITE = sampleInvite({ extraHeaders: ['X-Test: hello'] });

const REPLY = [
  'SIP/2.0 200 OK',
  'Via: SIP/2.0/UDP 127.0.0.1:5060;branch=z9hG4bK-out1',
  'From: "Alice" <sip:alice@atlanta.test>;tag=a1',
  'To: <sip:bob@ksr.test>;tag=b1',
  'Call-ID: call-1@192.0.2.10',
  'CSeq: 10 INVITE',
  'Content-Length: 0',
  '',
  '',
].join('\r\n');

const INFO: ReceiveInfo = SAMPLE_INFO;

export function makeHarness(): Harness {
  const dir = mkdtempSync(path.join(tmpdir(), 'ksr-engine-python-'));
  const recorded: string[] = [];
  const logs: LogLine[] = [];
  const replies: Harness['replies'] = [];
  const logger = createLogger({
    level: 'debug',
    destination: {
      write(s: string) {
        for (const line of s.split('\n')) if (line.trim()) logs.push(JSON.parse(line) as LogLine);
      },
    },
  });
  const h = {} as Harness;
  const test: KemiExportDef<RouteContext>[] = [
    { name: 'record', returns: 'none', params: ['str'], fn: (_c, s: string) => void recorded.push(s) },
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
    {
      name: 'six',
      returns: 'xval',
      params: ['str', 'int', 'str', 'int', 'str', 'long'],
      fn: (_c, ...a: unknown[]) => a.map((x) => `${typeof x}:${String(x)}`).join(','),
    },
    {
      name: 'fails',
      returns: 'int',
      params: [],
      fn: () => {
        throw new Error('module failure');
      },
    },
    { name: 'big', returns: 'xval', params: ['int'], fn: (_c, n: number) => 'é'.repeat(n) },
    { name: 'run_nested', returns: 'xval', params: ['str'], fn: (ctx, name: string) => h.nested?.(ctx, name) ?? 'none' },
  ];
  const reg = buildCoreRegistry();
  reg.addModule('test', test);
  const registry = reg.freeze();
  const services: RouteServices = {
    logger,
    myself: { isMyself: (host) => host === '127.0.0.1' || host === 'ksr.test' },
    defines: new Map(),
    debugLevel: () => 2,
    vars: new Map(),
    shv: new MemorySharedVars(),
    reply: async (_ctx, status, reason) => {
      replies.push({ status, reason });
      return true;
    },
    send: async () => undefined,
    localAddress: () => ({ host: '127.0.0.1', port: 5060 }),
    sockets: () => [],
    setDebugLevel: () => {},
  };
  const ctx = (kind: 'request' | 'reply' = 'request') =>
    new RouteContext(parseMessage(Buffer.from(kind === 'request' ? INVITE : REPLY)), INFO, services, kind, kind === 'request' ? 'ksr_request_route' : 'ksr_reply_route', new MessageState());
  const runtime = new RouteRuntime({ registry, logger, initContext: () => new RouteContext(parseMessage(Buffer.from(INVITE)), INFO, services, 'event', 'script-init') });
  const write = (rel: string, source: string): string => {
    const file = path.join(dir, rel);
    mkdirSync(path.dirname(file), { recursive: true });
    writeFileSync(file, source);
    return file;
  };
  const loadOptions = (style: 'class' | 'script', mainRel: string, params: Record<string, string | number> = {}, required = ['ksr_request_route']): EngineLoadOptions => {
    const map = new Map<string, Array<string | number>>();
    for (const [k, v] of Object.entries(params)) map.set(k, [v]);
    return { registry, invoke: runtime.invoke, logger, script: path.join(dir, mainRel), params: map, requiredFunctions: required, version: '9.9.9-test' };
  };
  Object.assign(h, {
    registry,
    runtime,
    logger,
    logs,
    recorded,
    replies,
    dir,
    write,
    loadOptions,
    descriptor: (style: 'class' | 'script') => (style === 'class' ? pythonEngine : python3sEngine),
    load: async (style: 'class' | 'script', mainRel: string, params?: Record<string, string | number>, required?: string[]) =>
      (await (style === 'class' ? pythonEngine : python3sEngine).load(loadOptions(style, mainRel, params, required))) as PythonEngine,
    ctx,
    route: (engine: ScriptEngine, func = 'ksr_request_route', args: string[] = [], c?: RouteContext) => {
      let result: EngineRunResult = { kind: 'ok' };
      const recordingEngine: ScriptEngine = {
        engineName: engine.engineName,
        scriptPath: engine.scriptPath,
        hasFunction: (n) => engine.hasFunction(n),
        run: (f, a) => (result = engine.run(f, a)),
        dispose: () => undefined,
      };
      const rc = c ?? ctx();
      const r = runtime.run(recordingEngine, rc, func, args);
      return { ...r, result, ctx: rc };
    },
    errors: () => logs.filter((l) => l.level >= 50).map((l) => l.msg),
    cleanup: () => rmSync(dir, { recursive: true, force: true }),
  });
  return h;
}
