/**
 * The location storage behind usrloc: tables (Kamailio's "udomains", e.g. "location") of records
 * keyed by address of record, each holding the contacts (bindings) of that AOR.
 *
 * Routes run synchronously, so every read is synchronous and served from memory. A store that
 * persists (database, Redis: later issues) keeps this in-memory table as its read side and
 * writes behind it: it subscribes to the changes (`subscribe`), queues them and writes them out
 * in `flush()` (called by usrloc's timer and at shutdown); `load()` fills the table at start-up.
 * `MemoryLocationStore` is the embedded default (Kamailio's db_mode 0) and the base such stores
 * can wrap.
 */

/** One contact (binding) of an address of record. Stored values are never mutated: updates replace them. */
export interface UlContact {
  /** Record unique id (Kamailio's ruid), unique over all tables. */
  readonly ruid: string;
  /** The table (udomain) the contact is in. */
  readonly table: string;
  /** The AOR key: the user, or user@domain with usrloc's use_domain. */
  readonly aor: string;
  /** The Contact URI as registered. */
  readonly uri: string;
  /** Absolute expiry in ms since the epoch; 0 = permanent (never expires). */
  readonly expires: number;
  /** q-value ×1000 (0..1000), -1 when not given. */
  readonly q: number;
  readonly callid: string;
  readonly cseq: number;
  /** Where requests for this contact go instead of its URI (NAT): a SIP URI, e.g. "sip:192.0.2.1:5070". */
  readonly received?: string;
  /** The Path header value (RFC 3327) of the registration. */
  readonly path?: string;
  readonly userAgent?: string;
  /** The listen socket the REGISTER came in on, as "proto:address:port". */
  readonly socket?: string;
  /** Its listen socket id (not meaningful across restarts). */
  readonly socketId?: number;
  /** TCP connection id the REGISTER came in on. */
  readonly connectionId?: number;
  /** Internal usrloc flags (Kamailio's `flags`; FL_* bits). */
  readonly flags: number;
  /** Branch flags of the REGISTER, restored on lookup (Kamailio's `cflags`). */
  readonly cflags: number;
  /** Methods the contact accepts (Allow header of the REGISTER, uppercase); undefined = all. */
  readonly methods?: readonly string[];
  /** `+sip.instance` (RFC 5626/5627), stored, not acted on. */
  readonly instance?: string;
  /** `reg-id` (RFC 5626), 0 when absent; stored, not acted on. */
  readonly regId: number;
  /** Last change, ms since the epoch. */
  readonly lastModified: number;
  /** Kamailio's server_id (0 here). */
  readonly serverId: number;
}

export type LocationChange =
  | { readonly op: 'put'; readonly contact: UlContact; readonly previous: UlContact | undefined }
  | { readonly op: 'remove'; readonly contact: UlContact; readonly reason: 'deleted' | 'expired' };

export type LocationListener = (change: LocationChange) => void;

/** What usrloc needs from a store. Reads and writes are synchronous; persistence writes behind. */
export interface LocationStore {
  /** "memory", "redis", … (for logs and the RPC). */
  readonly kind: string;
  /** The contacts of an AOR in insertion order (expired ones not purged yet included); undefined when there is no record. */
  get(table: string, aor: string): readonly UlContact[] | undefined;
  /** Insert a contact, or replace the one with the same ruid. */
  put(contact: UlContact): void;
  /** Remove one contact; the record goes away with its last contact. */
  remove(table: string, aor: string, ruid: string): UlContact | undefined;
  /** Remove a whole record; returns its contacts. */
  removeRecord(table: string, aor: string): readonly UlContact[];
  /** The contact with this ruid in a table. */
  findByRuid(table: string, ruid: string): UlContact | undefined;
  /** The AOR keys of a table. */
  aors(table: string): IterableIterator<string>;
  /** The tables that hold at least one record. */
  tables(): string[];
  /** Record and contact counts of a table. */
  counts(table: string): { records: number; contacts: number };
  /** Remove every contact with 0 < expires <= now; returns them. */
  purgeExpired(now: number): UlContact[];
  /** Called after every change, synchronously (write-behind hook). Returns an unsubscribe function. */
  subscribe(listener: LocationListener): () => void;
  /** Fill the table from persistent storage (start-up). */
  load?(): Promise<void>;
  /** Write pending changes out (timer, shutdown). */
  flush?(): Promise<void>;
  close?(): Promise<void>;
}

interface Table {
  records: Map<string, UlContact[]>;
  byRuid: Map<string, UlContact>;
  contacts: number;
}

/** The embedded in-memory store. */
export class MemoryLocationStore implements LocationStore {
  readonly kind: string = 'memory';
  private readonly data = new Map<string, Table>();
  private readonly listeners: LocationListener[] = [];

  private table(name: string, create: true): Table;
  private table(name: string, create: false): Table | undefined;
  private table(name: string, create: boolean): Table | undefined {
    let t = this.data.get(name);
    if (!t && create) {
      t = { records: new Map(), byRuid: new Map(), contacts: 0 };
      this.data.set(name, t);
    }
    return t;
  }

  private emit(change: LocationChange): void {
    for (const l of this.listeners) l(change);
  }

  get(table: string, aor: string): readonly UlContact[] | undefined {
    return this.data.get(table)?.records.get(aor);
  }

  put(contact: UlContact): void {
    const t = this.table(contact.table, true);
    let list = t.records.get(contact.aor);
    if (!list) {
      list = [];
      t.records.set(contact.aor, list);
    }
    const i = list.findIndex((c) => c.ruid === contact.ruid);
    const previous = i >= 0 ? list[i] : undefined;
    if (i >= 0) list[i] = contact;
    else {
      list.push(contact);
      t.contacts++;
    }
    t.byRuid.set(contact.ruid, contact);
    this.emit({ op: 'put', contact, previous });
  }

  private removeAt(t: Table, list: UlContact[], i: number, reason: 'deleted' | 'expired'): UlContact {
    const [c] = list.splice(i, 1) as [UlContact];
    t.contacts--;
    t.byRuid.delete(c.ruid);
    if (list.length === 0) t.records.delete(c.aor);
    this.emit({ op: 'remove', contact: c, reason });
    return c;
  }

  remove(table: string, aor: string, ruid: string): UlContact | undefined {
    const t = this.table(table, false);
    const list = t?.records.get(aor);
    if (!t || !list) return undefined;
    const i = list.findIndex((c) => c.ruid === ruid);
    return i < 0 ? undefined : this.removeAt(t, list, i, 'deleted');
  }

  removeRecord(table: string, aor: string): readonly UlContact[] {
    const t = this.table(table, false);
    const list = t?.records.get(aor);
    if (!t || !list) return [];
    const out: UlContact[] = [];
    while (list.length > 0) out.push(this.removeAt(t, list, list.length - 1, 'deleted'));
    return out.reverse();
  }

  findByRuid(table: string, ruid: string): UlContact | undefined {
    return this.data.get(table)?.byRuid.get(ruid);
  }

  aors(table: string): IterableIterator<string> {
    return (this.data.get(table)?.records ?? new Map<string, UlContact[]>()).keys();
  }

  tables(): string[] {
    return [...this.data.keys()].filter((k) => this.data.get(k)!.records.size > 0);
  }

  counts(table: string): { records: number; contacts: number } {
    const t = this.data.get(table);
    return { records: t?.records.size ?? 0, contacts: t?.contacts ?? 0 };
  }

  purgeExpired(now: number): UlContact[] {
    const out: UlContact[] = [];
    for (const t of this.data.values()) {
      for (const list of [...t.records.values()]) {
        for (let i = list.length - 1; i >= 0; i--) {
          const c = list[i]!;
          if (c.expires !== 0 && c.expires <= now) out.push(this.removeAt(t, list, i, 'expired'));
        }
      }
    }
    return out;
  }

  subscribe(listener: LocationListener): () => void {
    this.listeners.push(listener);
    return () => {
      const i = this.listeners.indexOf(listener);
      if (i >= 0) this.listeners.splice(i, 1);
    };
  }
}
