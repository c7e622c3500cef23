/**
 * The conformance harness: a route runtime over the conformance registry, a ScriptHost for the
 * engine under test, an in-memory log, and route contexts over a real parsed INVITE.
 */
import {
  detachedServices,
  createLogger,
  MessageState,
  parseMessage,
  RouteContext,
  RouteRuntime,
  ScriptHost,
  type EngineDescriptor,
  type EngineLoadOptions,
  type FrozenKemiRegistry,
  type ReceiveInfo,
  type ReloadOutcome,
  type RouteRunResult,
  type RouteServices,
  type ScriptEngine,
} from '@ksr/core';
import { buildConformanceRegistry } from './registry.js';
import { SAMPLE_INFO, sampleInvite } from './samples.js';

/** What an engine package hands the suite: at least a name and a loader. */
export type ConformanceEngine = Pick<EngineDescriptor, 'name' | 'load'> & Partial<EngineDescriptor>;

export interface LogLine {
  level: number;
  msg: string;
  [field: string]: unknown;
}

export const CONFORMANCE_CALL_ID = 'conformance-1@192.0.2.10';

const INVITE = sampleInvite({ callId: CONFORMANCE_CALL_ID, branch: 'z9hG4bK-conf1' });

const INFO: ReceiveInfo = SAMPLE_INFO;

export interface RunOutcome {
  result: RouteRunResult;
  /** Events recorded during the run (args_* exports and KSR.test.record). */
  events: string[];
  /** Messages logged at error level or above during the run. */
  errors: string[];
  /** Replies the run asked for (the error outcome). */
  replies: Array<{ status: number; reason: string }>;
  ctx: RouteContext;
}

export interface HarnessOptions {
  script: string;
  params?: Readonly<Record<string, ReadonlyArray<string | number>>>;
  requiredFunctions?: readonly string[];
}

interface TrackedEngine {
  engine: ScriptEngine;
  disposed: boolean;
}

export class ConformanceHarness {
  readonly events: string[] = [];
  readonly log: LogLine[] = [];
  readonly replies: Array<{ status: number; reason: string }> = [];
  readonly registry: FrozenKemiRegistry<RouteContext>;
  readonly runtime: RouteRuntime;
  readonly host: ScriptHost;
  readonly services: RouteServices;
  /** Every interpreter the engine loaded through this harness, with whether it was disposed. */
  readonly loaded: TrackedEngine[] = [];
  /** Events recorded while the first load ran (the script's top level). */
  loadEvents: string[] = [];
  private readonly descriptor: EngineDescriptor;

  private constructor(
    engine: ConformanceEngine,
    readonly options: HarnessOptions,
  ) {
    const logger = createLogger({
      level: 'trace',
      destination: {
        write: (s: string): void => {
          for (const part of s.split('\n')) if (part.trim()) this.log.push(JSON.parse(part) as LogLine);
        },
      },
    });
    this.registry = buildConformanceRegistry({
      record: (e) => void this.events.push(e),
      runNested: (ctx, func) => this.host.run(this.runtime, ctx, func).kind,
    });
    this.services = detachedServices({
      logger,
      debugLevel: () => 3,
      reply: async (_ctx, status, reason) => {
        this.replies.push({ status, reason });
        return true;
      },
    });
    this.runtime = new RouteRuntime({
      registry: this.registry,
      logger,
      initContext: () => this.newContext('event', 'init'),
    });
    const loaded = this.loaded;
    this.descriptor = {
      cfgengineNames: [engine.name],
      module: { name: `app_${engine.name}`, params: {} },
      scriptParams: ['load'],
      ...engine,
      load: async (o: EngineLoadOptions): Promise<ScriptEngine> => {
        const e = await engine.load(o);
        const rec: TrackedEngine = { engine: e, disposed: false };
        loaded.push(rec);
        return {
          get engineName() {
            return e.engineName;
          },
          get scriptPath() {
            return e.scriptPath;
          },
          hasFunction: (n) => e.hasFunction(n),
          run: (f, a) => e.run(f, a),
          dispose: () => {
            rec.disposed = true;
            e.dispose();
          },
        };
      },
    };
    this.host = new ScriptHost(this.descriptor, this.loadOptions(options.script));
  }

  /** Load the script (rejects like the engine's load). */
  static async create(engine: ConformanceEngine, options: HarnessOptions): Promise<ConformanceHarness> {
    const h = new ConformanceHarness(engine, options);
    await h.host.start();
    h.loadEvents = h.events.splice(0);
    return h;
  }

  /** Load options for a script path, as the server would pass them. */
  loadOptions(script: string): EngineLoadOptions {
    return {
      registry: this.registry,
      invoke: this.runtime.invoke,
      logger: this.services.logger,
      script,
      params: new Map(Object.entries(this.options.params ?? {})),
      requiredFunctions: this.options.requiredFunctions ?? ['ksr_request_route'],
      version: '0.0.0-conformance',
    };
  }

  /** Load a script directly with the engine (no swap): for load-error checks. */
  loadDirect(script: string): Promise<ScriptEngine> {
    return this.descriptor.load(this.loadOptions(script));
  }

  newContext(routeType: RouteContext['routeType'] = 'request', routeName = 'ksr_request_route'): RouteContext {
    return new RouteContext(parseMessage(Buffer.from(INVITE)), INFO, this.services, routeType, routeName, new MessageState());
  }

  /** Run a function of the current interpreter for a fresh request context. */
  run(func: string, args: readonly string[] = []): RunOutcome {
    this.events.length = 0;
    this.replies.length = 0;
    const mark = this.log.length;
    const ctx = this.newContext();
    const result = this.host.run(this.runtime, ctx, func, args);
    return {
      result,
      events: this.events.splice(0),
      errors: this.log.slice(mark).filter((l) => l.level >= 50).map((l) => l.msg),
      replies: [...this.replies],
      ctx,
    };
  }

  reload(): Promise<ReloadOutcome> {
    return this.host.reload();
  }

  dispose(): void {
    this.host.dispose();
  }
}
