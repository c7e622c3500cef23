/**
 * Table semantics over the store: expiry (autoexpire, updateexpire, per-item expiry), initval,
 * increments, matching and removal by name or value, counting, and the named iterators.
 * Times are milliseconds from the module's clock (ctx.clock), so tests drive expiry with a fake one.
 */
import type { Clock, ScriptValue } from '@ksr/core';
import type { HtableSpec } from './spec.js';
import type { HtableCell, HtableStore, HtableTableStore } from './store.js';

export interface Htable {
  readonly spec: HtableSpec;
  readonly store: HtableTableStore;
}

/** Operators of sht_rm_name / sht_rm_value. */
export const RM_OPS = ['re', 'sw', 'ew', 'in'] as const;
/** Operators of sht_match_name / sht_match_str_value (sht_has_name / sht_has_str_value). */
export const MATCH_OPS = ['eq', 'ne', 're', 'sw'] as const;

/** What a name or value is compared against: the item name, or its string value (integers never match). */
export type MatchTarget = 'name' | 'value';

/** Kamailio compiles these POSIX extended, case-insensitive; JS syntax is close enough for the usual patterns. */
const reCache = new Map<string, RegExp>();
const RE_CACHE_LIMIT = 128;

/** A case-insensitive RegExp (cached); throws SyntaxError when invalid. */
export function compileRe(src: string): RegExp {
  let re = reCache.get(src);
  if (re) return re;
  re = new RegExp(src, 'i');
  if (reCache.size >= RE_CACHE_LIMIT) {
    const first = reCache.keys().next();
    if (!first.done) reCache.delete(first.value);
  }
  reCache.set(src, re);
  return re;
}

/** A predicate over strings for an operator; throws Error for an unknown operator or a bad regexp. */
export function matcher(op: string, val: string, allowed: readonly string[]): (s: string) => boolean {
  if (!allowed.includes(op)) throw new Error(`unknown operator ${JSON.stringify(op)} (expected ${allowed.join(', ')})`);
  switch (op) {
    case 'eq':
      return (s) => s === val;
    case 'ne':
      return (s) => s !== val;
    case 'sw':
      return (s) => s.startsWith(val);
    case 'ew':
      return (s) => s.endsWith(val);
    case 'in':
      return (s) => s.includes(val);
    default: {
      let re: RegExp;
      try {
        re = compileRe(val);
      } catch (e) {
        throw new Error(`bad regular expression ${JSON.stringify(val)}: ${(e as Error).message}`);
      }
      return (s) => re.test(s);
    }
  }
}

/**
 * The predicate of $shtcn / $shtcv: `~~re` (or a plain regexp), `~%suffix`, `%~prefix`, `==string`,
 * `eqINT` (integer values, $shtcv only), `**` (everything). Undefined: count nothing.
 */
function countPredicate(exp: string, target: MatchTarget): ((key: string, cell: HtableCell) => boolean) | 'all' | undefined {
  const two = exp.slice(0, 2);
  const rest = exp.slice(2);
  const strOf = (key: string, cell: HtableCell): string | undefined => (target === 'name' ? key : typeof cell.value === 'string' ? cell.value : undefined);
  const str = (f: (s: string) => boolean) => (key: string, cell: HtableCell) => {
    const s = strOf(key, cell);
    return s !== undefined && f(s);
  };
  if (exp.length >= 2) {
    switch (two) {
      case '**':
        return 'all';
      case '~%':
        return rest === '' ? undefined : str((s) => s.endsWith(rest));
      case '%~':
        return rest === '' ? undefined : str((s) => s.startsWith(rest));
      case '==':
        return rest === '' ? undefined : str((s) => s === rest);
      case 'eq': {
        if (target === 'name' || !/^[+-]?\d+$/.test(rest)) return undefined;
        const n = Number(rest);
        return (_k, cell) => cell.value === n;
      }
      case '~~': {
        if (rest === '') return undefined;
        const re = compileRe(rest);
        return str((s) => re.test(s));
      }
    }
  }
  const re = compileRe(exp);
  return str((s) => re.test(s));
}

interface IteratorState {
  readonly table: Htable;
  it: Iterator<[string, HtableCell]> | undefined;
  current: string | undefined;
}

/** Kamailio's limits: 4 iterators, names shorter than 32 characters. */
export const MAX_ITERATORS = 4;
export const MAX_ITERATOR_NAME = 31;

export interface ExpiredItem {
  readonly table: string;
  readonly key: string;
  readonly value: ScriptValue;
}

export class Htables {
  private readonly byName = new Map<string, Htable>();
  private readonly iterators = new Map<string, IteratorState>();

  constructor(
    specs: readonly HtableSpec[],
    store: HtableStore,
    private readonly clock: Clock,
  ) {
    for (const spec of specs) {
      if (this.byName.has(spec.name)) throw new Error(`htable ${JSON.stringify(spec.name)} is defined twice`);
      this.byName.set(spec.name, { spec, store: store.table(spec.name) });
    }
  }

  get(name: string): Htable | undefined {
    return this.byName.get(name);
  }

  list(): Htable[] {
    return [...this.byName.values()];
  }

  now(): number {
    return this.clock.now();
  }

  private expired(cell: HtableCell, now: number): boolean {
    return cell.expires !== 0 && cell.expires <= now;
  }

  /** The expiry of a new (or expired-and-replaced) item. */
  private defaultExpires(t: Htable, now: number): number {
    return t.spec.autoexpire > 0 ? now + t.spec.autoexpire * 1000 : 0;
  }

  /** A live (unexpired) item. */
  cell(t: Htable, key: string): HtableCell | undefined {
    const c = t.store.get(key);
    if (!c) return undefined;
    if (this.expired(c, this.now())) return undefined;
    return c;
  }

  /** The value of an item; the table's initval (or null) when absent. */
  value(t: Htable, key: string): ScriptValue | null {
    const c = this.cell(t, key);
    if (c) return c.value;
    return t.spec.initval ?? null;
  }

  /**
   * Store a value. `exSec` > 0 sets the item's lifetime; otherwise a new item gets the table's
   * autoexpire and an update restarts it when updateexpire is set (else keeps the old expiry).
   */
  set(t: Htable, key: string, value: ScriptValue, exSec = 0): void {
    const now = this.now();
    let expires: number;
    if (exSec > 0) expires = now + exSec * 1000;
    else {
      const old = this.cell(t, key);
      expires = old && !t.spec.updateexpire ? old.expires : this.defaultExpires(t, now);
    }
    t.store.set(key, { value, expires });
  }

  /** Set an item's lifetime: > 0 seconds from now, 0 = never. False when the item is absent. */
  setExpire(t: Htable, key: string, exSec: number): boolean {
    const c = this.cell(t, key);
    if (!c) return false;
    t.store.set(key, { value: c.value, expires: exSec > 0 ? this.now() + exSec * 1000 : 0 });
    return true;
  }

  /** Seconds left before an item expires; 0 when it never expires or is absent. */
  expiresIn(t: Htable, key: string): number {
    const c = this.cell(t, key);
    if (!c || c.expires === 0) return 0;
    return Math.max(0, Math.ceil((c.expires - this.now()) / 1000));
  }

  delete(t: Htable, key: string): boolean {
    const c = t.store.get(key);
    if (!c) return false;
    t.store.delete(key);
    return !this.expired(c, this.now());
  }

  /**
   * Add `delta` to an integer item and return the new value. An absent (or expired) item starts
   * from the table's initval; without initval, and for string items, the result is null.
   */
  add(t: Htable, key: string, delta: number): number | null {
    const now = this.now();
    const c = this.cell(t, key);
    if (!c) {
      if (t.spec.initval === undefined) return null;
      const v = t.spec.initval + delta;
      t.store.set(key, { value: v, expires: this.defaultExpires(t, now) });
      return v;
    }
    if (typeof c.value !== 'number') return null;
    const v = c.value + delta;
    t.store.set(key, { value: v, expires: t.spec.updateexpire ? this.defaultExpires(t, now) : c.expires });
    return v;
  }

  /** Remove every live item whose name (or string value) satisfies `pred`; returns how many. */
  removeWhere(t: Htable, target: MatchTarget, pred: (s: string) => boolean): number {
    const now = this.now();
    const doomed: string[] = [];
    for (const [key, cell] of t.store.entries()) {
      if (this.expired(cell, now)) continue;
      const s = target === 'name' ? key : typeof cell.value === 'string' ? cell.value : undefined;
      if (s !== undefined && pred(s)) doomed.push(key);
    }
    for (const key of doomed) t.store.delete(key);
    return doomed.length;
  }

  /** Whether a live item's name (or string value) satisfies `pred`. */
  some(t: Htable, target: MatchTarget, pred: (s: string) => boolean): boolean {
    const now = this.now();
    for (const [key, cell] of t.store.entries()) {
      if (this.expired(cell, now)) continue;
      const s = target === 'name' ? key : typeof cell.value === 'string' ? cell.value : undefined;
      if (s !== undefined && pred(s)) return true;
    }
    return false;
  }

  /** $shtcn / $shtcv: how many live items match `exp` (see countPredicate). Throws on a bad regexp. */
  count(t: Htable, target: MatchTarget, exp: string): number {
    if (exp === '') return 0;
    const pred = countPredicate(exp, target);
    if (pred === undefined) return 0;
    const now = this.now();
    let n = 0;
    for (const [key, cell] of t.store.entries()) {
      if (this.expired(cell, now)) continue;
      if (pred === 'all' || pred(key, cell)) n++;
    }
    return n;
  }

  /** Remove everything; returns how many items there were. */
  reset(t: Htable): number {
    const n = t.store.size;
    t.store.clear();
    return n;
  }

  /** Live items, in storage order. */
  *items(t: Htable): Generator<[string, HtableCell]> {
    const now = this.now();
    for (const [key, cell] of t.store.entries()) {
      if (!this.expired(cell, now)) yield [key, cell];
    }
  }

  liveSize(t: Htable): number {
    let n = 0;
    for (const _ of this.items(t)) n++;
    return n;
  }

  /** Drop the expired items of every table; returns them (for expiry listeners). */
  sweep(): ExpiredItem[] {
    const now = this.now();
    const out: ExpiredItem[] = [];
    for (const t of this.byName.values()) {
      const doomed: Array<[string, HtableCell]> = [];
      for (const [key, cell] of t.store.entries()) if (this.expired(cell, now)) doomed.push([key, cell]);
      for (const [key, cell] of doomed) {
        t.store.delete(key);
        out.push({ table: t.spec.name, key, value: cell.value });
      }
    }
    return out;
  }

  // ---------------------------------------------------------------- iterators

  /** Start (or restart) a named iterator over a table. Throws Error with the reason. */
  iteratorStart(name: string, t: Htable): void {
    if (name === '' || name.length > MAX_ITERATOR_NAME) throw new Error(`bad iterator name ${JSON.stringify(name)} (1 to ${MAX_ITERATOR_NAME} characters)`);
    if (!this.iterators.has(name) && this.iterators.size >= MAX_ITERATORS) throw new Error(`no iterator available (at most ${MAX_ITERATORS})`);
    this.iterators.set(name, { table: t, it: undefined, current: undefined });
  }

  /** Move to the next live item: true when there is one. Throws for an unknown iterator. */
  iteratorNext(name: string): boolean {
    const st = this.iterator(name);
    st.it ??= st.table.store.entries();
    const now = this.now();
    for (;;) {
      const r = st.it.next();
      if (r.done) {
        st.current = undefined;
        return false;
      }
      const [key, cell] = r.value;
      if (!this.expired(cell, now)) {
        st.current = key;
        return true;
      }
    }
  }

  iteratorEnd(name: string): void {
    if (!this.iterators.delete(name)) throw new Error(`iterator ${JSON.stringify(name)} not found`);
  }

  /** The table and key the iterator is on; undefined when not on an item. */
  iteratorCurrent(name: string): { table: Htable; key: string } | undefined {
    const st = this.iterators.get(name);
    if (!st || st.current === undefined) return undefined;
    return { table: st.table, key: st.current };
  }

  /** The current item of an iterator that must be on one (throws otherwise). */
  iteratorItem(name: string): { table: Htable; key: string } {
    const st = this.iterator(name);
    if (st.current === undefined || !this.cell(st.table, st.current)) throw new Error(`iterator ${JSON.stringify(name)} is not on an item`);
    return { table: st.table, key: st.current };
  }

  /** Remove the current item; the next iteratorNext moves to the item after it. */
  iteratorRemove(name: string): void {
    const { table, key } = this.iteratorItem(name);
    table.store.delete(key);
    this.iterator(name).current = undefined;
  }

  private iterator(name: string): IteratorState {
    const st = this.iterators.get(name);
    if (!st) throw new Error(`iterator ${JSON.stringify(name)} not found`);
    return st;
  }
}
