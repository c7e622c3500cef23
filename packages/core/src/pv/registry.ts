/**
 * The table of pseudo-variable classes and the cache of compiled names.
 *
 * Classes: `register(name, factory, options)`. Core registers its classes when a registry is
 * created (createPvRegistry in index.ts); modules add theirs (htable: $sht, tm: $T_*) before the
 * server starts. Registering clears the cache, so a name that failed before ("unknown class")
 * is compiled again.
 *
 * Cache: `lookup(name)` compiles a name once and keeps the result, so a script that calls
 * KSR.pv.get("$ru") for every message does not parse it again. The cache is an LRU bounded to
 * `cacheLimit` names (default 1024): a hit moves the name to the newest end, and adding a name
 * to a full cache drops the least recently used one. Invalid names are cached too (the
 * PvNameError is kept), so a script that keeps asking for a bad name costs one map lookup plus
 * the error log. Scripts that build names dynamically ("$sht(t=>" .. key .. ")") therefore cannot
 * grow memory without bound; they only lose the benefit of the cache.
 */
import { parseIndexText, parsePvName, type RawIndex } from './parser.js';
import { PvNameError, type PvAccessor, type PvClassOptions, type PvFactory, type PvIndex, type PvSpec } from './types.js';

export const DEFAULT_PV_CACHE_LIMIT = 1024;

const CLASS_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;

interface PvClass {
  factory: PvFactory;
  param: 'none' | 'required' | 'optional';
  index: boolean;
}

export class PvRegistry {
  readonly cacheLimit: number;
  private readonly classes = new Map<string, PvClass>();
  private readonly cache = new Map<string, PvAccessor | PvNameError>();

  constructor(opts: { cacheLimit?: number } = {}) {
    const limit = opts.cacheLimit ?? DEFAULT_PV_CACHE_LIMIT;
    if (!Number.isInteger(limit) || limit < 1) throw new RangeError(`cacheLimit must be a positive integer, got ${String(limit)}`);
    this.cacheLimit = limit;
  }

  /**
   * Add a class: `$name`, `$name(param)`, `$(name(param)[index])` depending on the options.
   * A class name is registered once unless `replace` is set. Throws on a bad or duplicate name.
   */
  register(name: string, factory: PvFactory, opts: PvClassOptions = {}): void {
    if (!CLASS_NAME.test(name)) throw new TypeError(`invalid pseudo-variable class name ${JSON.stringify(name)}`);
    if (typeof factory !== 'function') throw new TypeError(`pseudo-variable class $${name}: factory is not a function`);
    if (this.classes.has(name) && !opts.replace) throw new Error(`pseudo-variable class $${name} is already registered`);
    this.classes.set(name, { factory, param: opts.param ?? 'none', index: opts.index ?? false });
    this.cache.clear();
  }

  has(name: string): boolean {
    return this.classes.has(name);
  }

  /** The registered class names, sorted. */
  classNames(): string[] {
    return [...this.classes.keys()].sort();
  }

  /** Compile a name without the cache. Throws PvNameError. */
  compile(text: string): PvAccessor {
    if (typeof text !== 'string') throw new PvNameError(String(text), 'not a string');
    const p = parsePvName(text);
    const c = this.classes.get(p.cls);
    if (!c) throw new PvNameError(text, `unknown pseudo-variable class $${p.cls}`);
    if (c.param === 'none' && p.param !== undefined) throw new PvNameError(text, `$${p.cls} takes no parameter`);
    if (c.param === 'required' && (p.param === undefined || p.param.length === 0)) throw new PvNameError(text, `$${p.cls} needs a parameter: $${p.cls}(...)`);
    if (p.index !== undefined && !c.index) throw new PvNameError(text, `$${p.cls} takes no index`);
    const spec: PvSpec = { text, cls: p.cls, param: p.param, index: p.index ? this.compileIndex(text, p.index) : undefined };
    return c.factory(spec, (inner) => this.compile(inner));
  }

  /** Turn the raw index of the parser into a PvIndex (compiling a dynamic one). */
  compileIndex(text: string, raw: RawIndex): PvIndex {
    if (raw.kind !== 'pv') return raw;
    try {
      return { kind: 'pv', pv: this.compile(raw.text) };
    } catch (e) {
      if (e instanceof PvNameError) throw new PvNameError(text, `bad index: ${e.reason}`);
      throw e;
    }
  }

  /** Parse `[...]` text of an index (for classes with indexes inside their parameter, like $xavp). */
  parseIndex(text: string, indexText: string): PvIndex {
    return this.compileIndex(text, parseIndexText(text, indexText));
  }

  /** The compiled name, from the cache; a PvNameError (also cached) when the name is invalid. */
  lookup(text: string): PvAccessor | PvNameError {
    const hit = this.cache.get(text);
    if (hit !== undefined) {
      // refresh: the most recently used name goes to the end of the Map's order
      this.cache.delete(text);
      this.cache.set(text, hit);
      return hit;
    }
    let r: PvAccessor | PvNameError;
    try {
      r = this.compile(text);
    } catch (e) {
      if (!(e instanceof PvNameError)) throw e;
      r = e;
    }
    if (typeof text === 'string') {
      if (this.cache.size >= this.cacheLimit) {
        const oldest = this.cache.keys().next();
        if (!oldest.done) this.cache.delete(oldest.value);
      }
      this.cache.set(text, r);
    }
    return r;
  }

  get cacheSize(): number {
    return this.cache.size;
  }

  clearCache(): void {
    this.cache.clear();
  }
}
