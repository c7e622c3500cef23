/**
 * Helpers for route runtime tests: a logger that keeps its lines in memory, and a fake engine
 * whose "script" is a table of TypeScript functions that call KSR exports by qualified name.
 */
import { createLogger, type Logger } from '../../src/log.js';
import type { FrozenKemiRegistry } from '../../src/kemi/registry.js';
import type { RouteContext } from '../../src/routing/context.js';
import type { EngineRunResult, Invoke, ScriptEngine } from '../../src/routing/engine.js';
import { isRouteExit } from '../../src/routing/runtime.js';

export interface LogLine {
  level: number;
  msg: string;
  [field: string]: unknown;
}

export const LEVEL = { trace: 10, debug: 20, info: 30, warn: 40, error: 50, fatal: 60 } as const;

export interface MemoryLog {
  logger: Logger;
  lines: LogLine[];
  /** Messages at exactly this level. */
  at(level: keyof typeof LEVEL): string[];
}

/** A pino logger writing JSON lines into an array (synchronously). */
export function memoryLogger(level: keyof typeof LEVEL = 'trace'): MemoryLog {
  const lines: LogLine[] = [];
  const logger = createLogger({
    level,
    destination: {
      write(s: string): void {
        for (const part of s.split('\n')) if (part.trim()) lines.push(JSON.parse(part) as LogLine);
      },
    },
  });
  return { logger, lines, at: (l) => lines.filter((x) => x.level === LEVEL[l]).map((x) => x.msg) };
}

/** What a fake script function gets: `k('sl.send_reply', 404, 'x')` calls KSR.sl.send_reply. */
export type KsrCall = (qualified: string, ...args: unknown[]) => unknown;
export type FakeRoute = (k: KsrCall, args: readonly string[]) => unknown;

/** A script error with a line, the way an engine would report one. */
export class FakeScriptError extends Error {
  constructor(
    message: string,
    readonly line?: number,
  ) {
    super(message);
  }
}

export class FakeEngine implements ScriptEngine {
  readonly engineName = 'fake';
  disposed = 0;
  /** The location `where()` reports for every KSR call. */
  location: string | undefined = 'fake.lua:7';
  /** Number of times the runtime asked for the location. */
  whereCalls = 0;

  constructor(
    private readonly registry: FrozenKemiRegistry<RouteContext>,
    private readonly invoke: Invoke,
    readonly routes: Record<string, FakeRoute>,
    readonly scriptPath = '/etc/ksr/fake.lua',
  ) {}

  /** KSR call as the script sees it (what an engine binding does). */
  readonly k: KsrCall = (qualified, ...args) => {
    const [m, f] = qualified.includes('.') ? qualified.split('.', 2) : ['', qualified];
    const exp = this.registry.find(m!, f!);
    if (!exp) throw new FakeScriptError(`attempt to call a nil value (KSR.${qualified})`);
    return this.invoke(exp.id, args, () => {
      this.whereCalls++;
      return this.location;
    });
  };

  hasFunction(name: string): boolean {
    return Object.hasOwn(this.routes, name);
  }

  run(func: string, args: readonly string[]): EngineRunResult {
    const f = this.routes[func];
    if (!f) return { kind: 'missing' };
    try {
      f(this.k, args);
      return { kind: 'ok' };
    } catch (e) {
      if (isRouteExit(e)) return { kind: 'exit' };
      const err = e as FakeScriptError;
      return { kind: 'error', error: { message: err.message, ...(err.line !== undefined ? { line: err.line } : {}) } };
    }
  }

  dispose(): void {
    this.disposed++;
  }
}
