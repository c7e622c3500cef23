/**
 * What other modules (pike, dialog, …) and the RPC layer get from `ctx.api('htable')` /
 * `running.modules.api('htable')`. Plain synchronous functions over the same tables the script
 * uses; values are integers (numbers) or strings. Expiry times are in seconds.
 */
import type { ScriptValue } from '@ksr/core';

/** A table definition (RPC htable.listTables). */
export interface HtableInfo {
  name: string;
  autoexpire: number;
  initval: number | null;
  updateexpire: boolean;
  /** Accepted from the definition; without effect in ksr. */
  size: number;
  dbtable: string | null;
  dbmode: number;
  dmqreplicate: boolean;
}

/** One item (RPC htable.get / htable.dump). */
export interface HtableItem {
  name: string;
  value: ScriptValue;
  /** Seconds before it expires; 0 = never. */
  expires: number;
}

/** Per-table counts (RPC htable.stats). */
export interface HtableStats {
  name: string;
  items: number;
}

export interface HtableApi {
  /** The defined tables. */
  tables(): HtableInfo[];
  hasTable(table: string): boolean;
  /** The value ($sht semantics: initval, else null when absent); undefined when the table does not exist. */
  get(table: string, key: string): ScriptValue | null | undefined;
  /** The item with its expiry; undefined when absent or the table does not exist. */
  item(table: string, key: string): HtableItem | undefined;
  /** Store a value (exSec > 0: lifetime in seconds, else the table's autoexpire rules). False when the table does not exist. */
  set(table: string, key: string, value: ScriptValue, exSec?: number): boolean;
  sets(table: string, key: string, value: string): boolean;
  seti(table: string, key: string, value: number): boolean;
  /** Set the lifetime of an existing item (0 = never expires). False when the table or the item does not exist. */
  setex(table: string, key: string, exSec: number): boolean;
  /** Remove an item. False when the table or the item does not exist. */
  delete(table: string, key: string): boolean;
  /** Add to an integer item ($shtinc semantics); null when not possible. */
  add(table: string, key: string, delta: number): number | null;
  /** Every live item of a table; undefined when the table does not exist. */
  dump(table: string): HtableItem[] | undefined;
  /** Remove every item; the number removed, undefined when the table does not exist. */
  flush(table: string): number | undefined;
  stats(): HtableStats[];
  /**
   * Be told of items removed by expiry (the timer). Returns an unsubscribe function. While a
   * listener runs, $shtrecord(key) / $shtrecord(value) name the expired item.
   */
  onExpired(listener: (table: string, key: string, value: ScriptValue) => void): () => void;
  /** The event routes this module asks to run ({event, callback}); the server runs them (startupEvents). */
  readonly events: ReadonlyArray<{ readonly name: string; readonly callback: string }>;
}
