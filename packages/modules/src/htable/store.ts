/**
 * Where htable items live. The module works on tables through this interface only, so the
 * storage can move (shared memory for several workers, Redis behind a local write-through
 * cache, …) without touching the KEMI functions or the pseudo-variables.
 *
 * The interface is synchronous on purpose: KEMI functions and pseudo-variables answer
 * synchronously, as in Kamailio. A remote backend therefore needs a local copy that it keeps in
 * sync (write-through plus invalidation), which is also how Kamailio's DMQ replication works.
 *
 * The store knows nothing about expiry: it keeps each item's absolute expiry time and the table
 * logic (tables.ts) decides what is expired.
 */
import type { ScriptValue } from '@ksr/core';

/** One item: its value and when it expires. */
export interface HtableCell {
  /** An integer (number) or a string, as Kamailio's AVP-like values. */
  readonly value: ScriptValue;
  /** Milliseconds since the epoch; 0 = never expires. */
  readonly expires: number;
}

/** The items of one table. */
export interface HtableTableStore {
  get(key: string): HtableCell | undefined;
  set(key: string, cell: HtableCell): void;
  /** True when the key was there. */
  delete(key: string): boolean;
  clear(): void;
  readonly size: number;
  /**
   * A live view of the items: keys deleted while iterating are skipped and keys added are visited
   * (a JS Map iterator's guarantees), so an iterator may be kept across route runs
   * (sht_iterator_*).
   */
  entries(): IterableIterator<[string, HtableCell]>;
}

export interface HtableStore {
  /** The storage of a table; created empty on first use, the same object afterwards. */
  table(name: string): HtableTableStore;
}

class MemoryTable implements HtableTableStore {
  private readonly map = new Map<string, HtableCell>();
  get(key: string): HtableCell | undefined {
    return this.map.get(key);
  }
  set(key: string, cell: HtableCell): void {
    this.map.set(key, cell);
  }
  delete(key: string): boolean {
    return this.map.delete(key);
  }
  clear(): void {
    this.map.clear();
  }
  get size(): number {
    return this.map.size;
  }
  entries(): IterableIterator<[string, HtableCell]> {
    return this.map.entries();
  }
}

/** The default store: plain Maps in this process. */
export class MemoryHtableStore implements HtableStore {
  private readonly tables = new Map<string, MemoryTable>();
  table(name: string): HtableTableStore {
    let t = this.tables.get(name);
    if (!t) {
      t = new MemoryTable();
      this.tables.set(name, t);
    }
    return t;
  }
}
