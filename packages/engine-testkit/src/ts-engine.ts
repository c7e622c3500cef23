/**
 * A plain TypeScript "engine": the reference the conformance suite runs against, and a light
 * engine for tests that need routing without an interpreter.
 *
 * A script is an ES module (.ts/.js) whose default export receives the bound `KSR` object and
 * returns its route functions:
 *
 *   export default function (KSR) {
 *     KSR.info('loading');                       // load-time calls use the runtime's initContext
 *     return { ksr_request_route() { KSR.sl.send_reply(200, 'OK'); } };
 *   }
 *
 * `KSR` is a frozen nested object built from the frozen registry: core functions at the root,
 * each module as a member; every function calls `invoke(id, args, where)`. KSR.x.exit()/drop()
 * throw the runtime's ROUTE_EXIT, which run() turns into `{ kind: 'exit' }`. Each load imports a
 * fresh module instance (a query string defeats the module cache), so a reload re-reads the file.
 */
import { pathToFileURL } from 'node:url';
import { ErrorCodes, KsrError, isRouteExit, type EngineDescriptor, type EngineLoadOptions, type EngineRunResult, type FrozenKemiRegistry, type Invoke, type ScriptEngine, type ScriptError } from '@ksr/core';

export type KsrFunction = (...args: unknown[]) => unknown;
export type KsrObject = { readonly [name: string]: KsrFunction | { readonly [name: string]: KsrFunction } };
/** What a TS script module exports as default. */
export type TsScriptFactory = (KSR: KsrObject) => Record<string, unknown>;

/** Build the KSR object for a registry: `KSR.<core fn>`, `KSR.<module>.<fn>`. */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export function bindKsr(registry: FrozenKemiRegistry<any>, invoke: Invoke, where?: () => string | undefined): KsrObject {
  const root: Record<string, unknown> = {};
  for (const m of registry.modules) {
    const target: Record<string, unknown> = m === '' ? root : {};
    for (const e of registry.exportsOf(m)) {
      const id = e.id;
      const f = (...args: unknown[]): unknown => invoke(id, args, where);
      Object.defineProperty(f, 'name', { value: e.qualified });
      target[e.name] = f;
    }
    if (m !== '') root[m] = Object.freeze(target);
  }
  return Object.freeze(root) as KsrObject;
}

// eslint-disable-next-line no-control-regex
const ANSI = /\u001b\[[0-9;]*m/g;

function escapeRe(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

/**
 * The line of the innermost `<script>:<line>` in a stack or an error message: the full path
 * first, then the file name after a separator (tools print relative paths). A query string
 * (`?ksr-load=3`) and ANSI colours are tolerated.
 */
export function scriptLine(text: string | undefined, scriptPath: string): number | undefined {
  if (!text) return undefined;
  const clean = text.replace(ANSI, '');
  const tail = '(?:\\?[^:)\\s]*)?:(\\d+)';
  const full = new RegExp(`${escapeRe(scriptPath)}${tail}`).exec(clean);
  if (full) return Number(full[1]);
  const base = scriptPath.split(/[\\/]/).pop()!;
  const rel = new RegExp(`(?:^|[\\s(/\\\\])${escapeRe(base)}${tail}`, 'm').exec(clean);
  return rel ? Number(rel[1]) : undefined;
}

function errorText(e: unknown): string {
  if (e instanceof Error) return e.message.replace(ANSI, '');
  return String(e);
}

export class TsScriptEngine implements ScriptEngine {
  readonly engineName: string;
  private disposed = false;

  constructor(
    name: string,
    readonly scriptPath: string,
    private readonly routes: Record<string, unknown>,
  ) {
    this.engineName = name;
  }

  hasFunction(name: string): boolean {
    return Object.hasOwn(this.routes, name) && typeof this.routes[name] === 'function';
  }

  run(func: string, args: readonly string[]): EngineRunResult {
    if (this.disposed) return { kind: 'error', error: { message: 'the interpreter was disposed', file: this.scriptPath } };
    if (!this.hasFunction(func)) return { kind: 'missing' };
    try {
      const out = (this.routes[func] as (...a: string[]) => unknown).apply(this.routes, [...args]);
      if (out && typeof (out as PromiseLike<unknown>).then === 'function') {
        (out as Promise<unknown>).then(undefined, () => undefined); // never an unhandled rejection
        return { kind: 'error', error: { message: `${func} returned a promise: route functions must be synchronous`, file: this.scriptPath, func } };
      }
      return { kind: 'ok' };
    } catch (e) {
      if (isRouteExit(e)) return { kind: 'exit' };
      return { kind: 'error', error: this.describe(e, func) };
    }
  }

  private describe(e: unknown, func: string): ScriptError {
    const stack = e instanceof Error ? e.stack : undefined;
    const line = scriptLine(stack, this.scriptPath);
    return { message: errorText(e), file: this.scriptPath, func, ...(line !== undefined ? { line } : {}), ...(stack ? { stack } : {}) };
  }

  dispose(): void {
    this.disposed = true;
  }
}

export interface TsEngineOptions {
  /** Engine name (default "ts"). */
  name?: string;
  /** Scripts served from memory instead of importing the path (path → factory). */
  scripts?: ReadonlyMap<string, TsScriptFactory> | Record<string, TsScriptFactory>;
}

let loadCounter = 0;

async function importFactory(path: string): Promise<unknown> {
  const url = `${pathToFileURL(path).href}?ksr-load=${++loadCounter}`;
  const mod = (await import(url)) as { default?: unknown };
  return mod.default;
}

function loadError(path: string, e: unknown): KsrError {
  if (e instanceof KsrError) return e;
  const text = errorText(e);
  const line = scriptLine(`${text}\n${e instanceof Error ? (e.stack ?? '') : ''}`, path);
  const first = text.split('\n').find((l) => l.trim() !== '') ?? text;
  return new KsrError(ErrorCodes.SCRIPT_LOAD, `${path}${line !== undefined ? `:${line}` : ''}: ${first.trim()}`, { cause: e });
}

/** An EngineDescriptor for TS/JS module scripts. */
export function createTsEngine(opts: TsEngineOptions = {}): EngineDescriptor {
  const name = opts.name ?? 'ts';
  const inMemory = opts.scripts instanceof Map ? opts.scripts : new Map(Object.entries(opts.scripts ?? {}));
  return {
    name,
    cfgengineNames: [name],
    module: { name: `app_${name}`, params: { load: { type: 'str' } } },
    scriptParams: ['load'],
    async load(o: EngineLoadOptions): Promise<ScriptEngine> {
      const path = o.script;
      const where = (): string | undefined => {
        const line = scriptLine(new Error().stack, path);
        return line !== undefined ? `${path}:${line}` : undefined;
      };
      const KSR = bindKsr(o.registry, o.invoke, where);
      let routes: unknown;
      try {
        const factory = inMemory.get(path) ?? (await importFactory(path));
        if (typeof factory !== 'function') throw new Error('the module has no default export function (KSR) => routes');
        routes = (factory as TsScriptFactory)(KSR);
      } catch (e) {
        if (isRouteExit(e)) throw new KsrError(ErrorCodes.SCRIPT_LOAD, `${path}: KSR.x.exit() while loading`);
        throw loadError(path, e);
      }
      if (routes === null || typeof routes !== 'object') throw new KsrError(ErrorCodes.SCRIPT_LOAD, `${path}: the default export must return an object of route functions`);
      const engine = new TsScriptEngine(name, path, routes as Record<string, unknown>);
      for (const f of o.requiredFunctions) {
        if (!engine.hasFunction(f)) throw new KsrError(ErrorCodes.SCRIPT_LOAD, `${path}: required function ${f} is not defined`);
      }
      return engine;
    },
  };
}

/** The TS engine with default options. */
export const tsEngine: EngineDescriptor = createTsEngine();
