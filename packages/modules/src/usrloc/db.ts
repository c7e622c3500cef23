/**
 * usrloc's database storage (Kamailio's db_mode 1, 2 and 3) over the core database layer, in
 * Kamailio's `location` table layout (one table per usrloc table/udomain, e.g. "location").
 *
 * - `CachedDbStore` (db_mode 1 write-through, 2 write-back): the in-memory table stays the read
 *   side; every change is written at once (1) or queued and written by `flush()` on usrloc's timer
 *   and at shutdown (2). Tables are loaded from the database on start-up (db_load) and on first
 *   use, so locations survive a restart.
 * - `DbOnlyStore` (db_mode 3): no cache; every read and write goes to the database, so several
 *   servers can share one location table.
 */
import { ErrorCodes, KsrError, ensureTable, fromDbDatetime, locationTable, toDbDatetime, type Db, type DbRow, type DbValue, type Logger } from '@ksr/core';
import { UL_FLAGS } from './api.js';
import { MemoryLocationStore, type LocationChange, type LocationListener, type LocationStore, type UlContact } from './store.js';

/** Kamailio's METHOD_* bits (parser/msg_parser.h), the `methods` column's bitmask. */
export const METHOD_BITS: Readonly<Record<string, number>> = {
  INVITE: 1,
  CANCEL: 2,
  ACK: 4,
  BYE: 8,
  INFO: 16,
  REGISTER: 32,
  SUBSCRIBE: 64,
  NOTIFY: 128,
  MESSAGE: 256,
  OPTIONS: 512,
  PRACK: 1024,
  UPDATE: 2048,
  REFER: 4096,
  PUBLISH: 8192,
  KDMQ: 16384,
  GET: 32768,
  POST: 65536,
  PUT: 131072,
  DELETE: 262144,
};
/** Every method (Kamailio's ALL_METHODS). */
export const ALL_METHODS = 0xffffffff;

/** A method list → bitmask; undefined (all methods) → null (the column's "all"). Unknown methods are dropped. */
export function methodsToMask(methods: readonly string[] | undefined): number | null {
  if (!methods) return null;
  let m = 0;
  for (const x of methods) m |= METHOD_BITS[x.toUpperCase()] ?? 0;
  return m >>> 0;
}

/** A bitmask → method list; null, -1 and ALL_METHODS → undefined (all). */
export function maskToMethods(mask: DbValue | undefined): string[] | undefined {
  if (mask === null || mask === undefined) return undefined;
  const n = Number(mask) >>> 0;
  if (n === ALL_METHODS) return undefined;
  return Object.entries(METHOD_BITS)
    .filter(([, bit]) => (n & bit) !== 0)
    .map(([name]) => name);
}

/** "Permanent" (expires 0) is stored as the epoch. */
const EPOCH = toDbDatetime(0);

function str(v: DbValue | undefined): string | undefined {
  return v === null || v === undefined || v === '' ? undefined : String(v);
}
function num(v: DbValue | undefined, dflt = 0): number {
  if (v === null || v === undefined) return dflt;
  const n = Number(v);
  return Number.isFinite(n) ? n : dflt;
}

/** The username / domain columns of an AOR. */
export function splitAor(aor: string, useDomain: boolean): { username: string; domain: string | null } {
  if (!useDomain) return { username: aor, domain: null };
  const at = aor.indexOf('@');
  return at < 0 ? { username: aor, domain: null } : { username: aor.slice(0, at), domain: aor.slice(at + 1) };
}

export function contactToRow(c: UlContact, useDomain: boolean): DbRow {
  const { username, domain } = splitAor(c.aor, useDomain);
  return {
    ruid: c.ruid,
    username,
    domain,
    contact: c.uri,
    received: c.received ?? null,
    path: c.path ?? null,
    expires: c.expires === 0 ? EPOCH : toDbDatetime(c.expires),
    q: c.q < 0 ? -0.001 : c.q / 1000,
    callid: c.callid,
    cseq: c.cseq,
    last_modified: toDbDatetime(c.lastModified),
    flags: c.flags,
    cflags: c.cflags,
    user_agent: c.userAgent ?? '',
    socket: c.socket ?? null,
    methods: methodsToMask(c.methods),
    instance: c.instance ?? null,
    reg_id: c.regId,
    server_id: c.serverId,
    connection_id: c.connectionId ?? -1,
    keepalive: 0,
    partition: 0,
  };
}

export function rowToContact(r: DbRow, table: string, useDomain: boolean): UlContact | undefined {
  const ruid = str(r.ruid);
  const uri = str(r.contact);
  if (!ruid || !uri) return undefined;
  const username = String(r.username ?? '');
  const domain = str(r.domain);
  const exp = fromDbDatetime(r.expires ?? null);
  const q = num(r.q, 1);
  const methods = maskToMethods(r.methods);
  const received = str(r.received);
  const path = str(r.path);
  const userAgent = str(r.user_agent);
  const socket = str(r.socket);
  const instance = str(r.instance);
  const conn = num(r.connection_id, -1);
  return {
    ruid,
    table,
    aor: useDomain && domain ? `${username}@${domain}` : username,
    uri,
    expires: !Number.isFinite(exp) || exp <= 0 ? 0 : exp,
    q: q < 0 ? -1 : Math.round(q * 1000),
    callid: String(r.callid ?? ''),
    cseq: num(r.cseq),
    flags: num(r.flags),
    cflags: num(r.cflags) >>> 0,
    regId: num(r.reg_id),
    lastModified: Math.max(0, fromDbDatetime(r.last_modified ?? null) || 0),
    serverId: num(r.server_id),
    ...(received !== undefined ? { received } : {}),
    ...(path !== undefined ? { path } : {}),
    ...(userAgent !== undefined ? { userAgent } : {}),
    ...(socket !== undefined ? { socket } : {}),
    ...(conn > 0 ? { connectionId: conn } : {}),
    ...(methods !== undefined ? { methods } : {}),
    ...(instance !== undefined ? { instance } : {}),
  };
}

export interface DbStoreOptions {
  db: Db;
  logger: Logger;
  useDomain: boolean;
  /** Create missing location tables (CREATE TABLE IF NOT EXISTS on first use of a table). */
  createTables: boolean;
  /** The module clock (ms since the epoch). */
  now: () => number;
}

/** The tables already checked/created, per Db. */
class TableGuard {
  private readonly ready = new Set<string>();
  constructor(private readonly o: DbStoreOptions) {}
  ensure(table: string): void {
    if (this.ready.has(table)) return;
    if (this.o.createTables) {
      try {
        ensureTable(this.o.db, locationTable(table));
      } catch (err) {
        // a concurrent server may have created it; anything else shows up on the next query
        this.o.logger.debug({ err }, `usrloc: creating table ${table}`);
      }
    }
    this.ready.add(table);
  }
}

function writeContact(db: Db, c: UlContact, useDomain: boolean): void {
  const row = contactToRow(c, useDomain);
  if (db.update(c.table, { ruid: c.ruid }, row) === 0) db.insert(c.table, row);
}

/** db_mode 1 (write-through) and 2 (write-back): memory read side, database behind it. */
export class CachedDbStore extends MemoryLocationStore {
  override readonly kind: string;
  private readonly guard: TableGuard;
  private readonly loaded = new Set<string>();
  private loading = false;
  /** db_mode 2: the changes not written yet, by table and ruid (the last change wins). */
  private readonly dirty = new Map<string, { table: string; ruid: string; contact: UlContact | undefined }>();

  constructor(
    private readonly o: DbStoreOptions,
    readonly mode: 1 | 2,
    /** Tables to load at start-up (db_load). */
    private readonly preload: readonly string[],
    private readonly dbLoad: boolean,
  ) {
    super();
    this.kind = mode === 1 ? 'db-write-through' : 'db-write-back';
    this.guard = new TableGuard(o);
    super.subscribe((ch) => this.onChange(ch));
  }

  private onChange(ch: LocationChange): void {
    if (this.loading) return;
    const c = ch.contact;
    const key = `${c.table}\n${c.ruid}`;
    // a contact saved with the memory-only flag (registrar save flag 0x01) is not written; a
    // removal is (the row may exist from before the flag was set)
    if (ch.op === 'put' && (c.flags & UL_FLAGS.MEM) !== 0) {
      if (!ch.previous || (ch.previous.flags & UL_FLAGS.MEM) !== 0) return;
    }
    const contact = ch.op === 'put' && (c.flags & UL_FLAGS.MEM) === 0 ? c : undefined;
    if (this.mode === 2) {
      this.dirty.set(key, { table: c.table, ruid: c.ruid, contact });
      return;
    }
    this.write(c.table, c.ruid, contact);
  }

  private write(table: string, ruid: string, contact: UlContact | undefined): boolean {
    try {
      this.guard.ensure(table);
      if (contact) writeContact(this.o.db, contact, this.o.useDomain);
      else this.o.db.delete(table, { ruid });
      return true;
    } catch (err) {
      this.o.logger.error({ err }, `usrloc: writing contact ${ruid} to ${this.o.db.url} table ${table} failed`);
      return false;
    }
  }

  /** Load a table's unexpired contacts from the database (once per table); expired rows are deleted. */
  loadTable(table: string, now = this.o.now()): number {
    if (this.loaded.has(table)) return 0;
    this.loaded.add(table);
    let n = 0;
    try {
      this.guard.ensure(table);
      const rows = this.o.db.select(table, { orderBy: 'id' });
      this.loading = true;
      try {
        for (const r of rows) {
          const c = rowToContact(r, table, this.o.useDomain);
          if (!c) continue;
          if (c.expires !== 0 && c.expires <= now) {
            this.o.db.delete(table, { ruid: c.ruid });
            continue;
          }
          if (super.findByRuid(table, c.ruid)) continue;
          super.put(c);
          n++;
        }
      } finally {
        this.loading = false;
      }
    } catch (err) {
      this.o.logger.error({ err }, `usrloc: loading table ${table} from ${this.o.db.url} failed`);
    }
    return n;
  }

  override get(table: string, aor: string): readonly UlContact[] | undefined {
    if (this.dbLoad) this.loadTable(table);
    return super.get(table, aor);
  }
  override put(contact: UlContact): void {
    if (this.dbLoad) this.loadTable(contact.table);
    super.put(contact);
  }
  override findByRuid(table: string, ruid: string): UlContact | undefined {
    if (this.dbLoad) this.loadTable(table);
    return super.findByRuid(table, ruid);
  }
  override aors(table: string): IterableIterator<string> {
    if (this.dbLoad) this.loadTable(table);
    return super.aors(table);
  }

  async load(): Promise<void> {
    if (!this.dbLoad) return;
    let n = 0;
    for (const t of this.preload) n += this.loadTable(t);
    this.o.logger.info(`usrloc: loaded ${n} contacts from ${this.o.db.url}`);
  }

  /** Changes waiting for the next flush (db_mode 2). */
  get pending(): number {
    return this.dirty.size;
  }

  /** Write the queued changes (db_mode 2) in one transaction; what fails stays queued. */
  flushNow(): number {
    if (this.dirty.size === 0) return 0;
    const batch = [...this.dirty.entries()];
    this.dirty.clear();
    try {
      this.o.db.transaction(() => {
        for (const [, ch] of batch) {
          this.guard.ensure(ch.table);
          if (ch.contact) writeContact(this.o.db, ch.contact, this.o.useDomain);
          else this.o.db.delete(ch.table, { ruid: ch.ruid });
        }
      });
      return batch.length;
    } catch (err) {
      for (const [k, v] of batch) if (!this.dirty.has(k)) this.dirty.set(k, v);
      this.o.logger.error({ err }, `usrloc: flushing ${batch.length} changes to ${this.o.db.url} failed (kept for the next flush)`);
      return 0;
    }
  }

  async flush(): Promise<void> {
    this.flushNow();
  }

  async close(): Promise<void> {
    this.o.db.close();
  }
}

/** db_mode 3: every read and write goes to the database (several servers share the table). */
export class DbOnlyStore implements LocationStore {
  readonly kind = 'db-only';
  private readonly guard: TableGuard;
  private readonly known = new Set<string>(['location']);
  private readonly listeners: LocationListener[] = [];

  constructor(private readonly o: DbStoreOptions) {
    this.guard = new TableGuard(o);
  }

  private emit(ch: LocationChange): void {
    for (const l of this.listeners) {
      try {
        l(ch);
      } catch (err) {
        this.o.logger.error({ err }, 'usrloc: change listener failed');
      }
    }
  }

  private use(table: string): void {
    if (!/^[A-Za-z_][A-Za-z0-9_]{0,62}$/.test(table)) throw new KsrError(ErrorCodes.DB_QUERY, `invalid usrloc table name "${table}"`);
    this.guard.ensure(table);
    this.known.add(table);
  }

  private rows(table: string, where: Record<string, DbValue>): UlContact[] {
    this.use(table);
    return this.o.db
      .select(table, { where, orderBy: 'id' })
      .map((r) => rowToContact(r, table, this.o.useDomain))
      .filter((c): c is UlContact => c !== undefined);
  }

  get(table: string, aor: string): readonly UlContact[] | undefined {
    const list = this.rows(table, splitAor(aor, this.o.useDomain));
    return list.length ? list : undefined;
  }

  put(contact: UlContact): void {
    this.use(contact.table);
    const previous = this.findByRuid(contact.table, contact.ruid);
    writeContact(this.o.db, contact, this.o.useDomain);
    this.emit({ op: 'put', contact, previous });
  }

  remove(table: string, aor: string, ruid: string): UlContact | undefined {
    const c = this.findByRuid(table, ruid);
    if (!c || c.aor !== aor) return undefined;
    if (this.o.db.delete(table, { ruid }) === 0) return undefined;
    this.emit({ op: 'remove', contact: c, reason: 'deleted' });
    return c;
  }

  removeRecord(table: string, aor: string): readonly UlContact[] {
    const list = this.rows(table, splitAor(aor, this.o.useDomain));
    const out: UlContact[] = [];
    for (const c of list) {
      if (this.o.db.delete(table, { ruid: c.ruid }) > 0) {
        out.push(c);
        this.emit({ op: 'remove', contact: c, reason: 'deleted' });
      }
    }
    return out;
  }

  findByRuid(table: string, ruid: string): UlContact | undefined {
    return this.rows(table, { ruid })[0];
  }

  aors(table: string): IterableIterator<string> {
    this.use(table);
    const seen = new Set<string>();
    for (const r of this.o.db.select(table, { columns: ['username', 'domain'], orderBy: 'id' })) {
      const d = str(r.domain);
      seen.add(this.o.useDomain && d ? `${String(r.username)}@${d}` : String(r.username));
    }
    return seen.values();
  }

  tables(): string[] {
    return [...this.known].filter((t) => {
      try {
        return this.counts(t).contacts > 0;
      } catch {
        return false;
      }
    });
  }

  counts(table: string): { records: number; contacts: number } {
    this.use(table);
    const r = this.o.db.exec(
      `SELECT COUNT(*) AS contacts, COUNT(DISTINCT username || '@' || COALESCE(domain, '')) AS records FROM "${table}"`,
    )[0];
    return { records: num(r?.records), contacts: num(r?.contacts) };
  }

  purgeExpired(now: number): UlContact[] {
    const out: UlContact[] = [];
    for (const table of this.known) {
      this.use(table);
      const rows = this.o.db.exec(`SELECT * FROM "${table}" WHERE expires <= ? AND expires > ? ORDER BY id`, [toDbDatetime(now), EPOCH]);
      for (const r of rows) {
        const c = rowToContact(r, table, this.o.useDomain);
        if (!c) continue;
        // several servers clean the same table: only the one whose delete wins reports it
        if (this.o.db.delete(table, { ruid: c.ruid }) > 0) {
          out.push(c);
          this.emit({ op: 'remove', contact: c, reason: 'expired' });
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

  async close(): Promise<void> {
    this.o.db.close();
  }
}
