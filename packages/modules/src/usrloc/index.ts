/**
 * usrloc: the user location table (Kamailio's usrloc module). Keeps the contacts registrar saves,
 * per table ("location") and address of record, removes them when they expire, and offers them to
 * registrar and the RPC module through `UsrlocApi`. Like Kamailio's, the module exports no KEMI
 * functions.
 *
 * Storage goes through `LocationStore` (store.ts): in memory (db_mode 0), or the database (db.ts:
 * db_mode 1 write-through, 2 write-back, 3 database only) at `db_url`. `createUsrlocModule` takes
 * another store factory. RPC: ul.dump, ul.lookup, ul.rm, ul.rm_contact, ul.add, ul.flush (rpc.ts).
 */
import { DEFAULT_DB_URL, defineModule, openDb, type KsrModuleDef, type ModuleContext, type ModuleParamSpec } from '@ksr/core';
import type { ContactUpdate, NewContact, UlDump, UlDumpContact, UlLookup, UsrlocApi } from './api.js';
import { CachedDbStore, DbOnlyStore } from './db.js';
import { usrlocRpc } from './rpc.js';
import { MemoryLocationStore, type LocationStore, type UlContact } from './store.js';

export * from './api.js';
export { MemoryLocationStore } from './store.js';
export { CachedDbStore, DbOnlyStore, METHOD_BITS, methodsToMask, maskToMethods, contactToRow, rowToContact } from './db.js';

const int: ModuleParamSpec = { type: 'int' };
const str: ModuleParamSpec = { type: 'str' };

/** Kamailio's usrloc parameters. */
const PARAMS: Record<string, ModuleParamSpec> = {
  nat_bflag: { type: 'int', check: (v) => (Number(v) >= 0 && Number(v) <= 31 ? undefined : 'must be a branch flag 0..31') },
  use_domain: int,
  desc_time_order: int,
  timer_interval: int,
  db_mode: { type: 'int', check: (v) => ([0, 1, 2, 3].includes(Number(v)) ? undefined : 'must be 0 (memory), 1 (write-through), 2 (write-back) or 3 (database only)') },
  matching_mode: { type: 'int', check: (v) => ([0, 1, 2, 3].includes(Number(v)) ? undefined : 'must be 0, 1, 2 or 3') },
  cseq_delay: int,
  hash_size: int,
  preload: { type: 'str', multi: true },
  db_url: str,
  db_load: int,
  db_insert_update: int,
  db_update_as_insert: int,
  db_check_update: int,
  db_ops_ruid: int,
  db_raw_fetch_type: int,
  db_insert_null: int,
  db_timer_clean: int,
  fetch_rows: int,
  timer_procs: int,
  expires_type: int,
  server_id_filter: int,
  rm_expired_delay: int,
  version_table: int,
  handle_lost_tcp: int,
  close_expired_tcp: int,
  skip_remote_socket: int,
  xavp_contact: str,
  ruid_column: str,
  user_column: str,
  domain_column: str,
  contact_column: str,
  expires_column: str,
  q_column: str,
  callid_column: str,
  cseq_column: str,
  flags_column: str,
  cflags_column: str,
  user_agent_column: str,
  received_column: str,
  path_column: str,
  socket_column: str,
  methods_column: str,
  instance_column: str,
  reg_id_column: str,
  server_id_column: str,
  connection_id_column: str,
  keepalive_column: str,
  partition_column: str,
};

/** Parameters accepted and ignored (told once at start-up when set). */
const IGNORED = [
  'db_insert_update',
  'db_update_as_insert',
  'db_check_update',
  'db_raw_fetch_type',
  'db_insert_null',
  'db_timer_clean',
  'fetch_rows',
  'timer_procs',
  'expires_type',
  'server_id_filter',
  'rm_expired_delay',
  'handle_lost_tcp',
  'close_expired_tcp',
  'skip_remote_socket',
  'xavp_contact',
];

/** 32-bit FNV-1a: the AOR hash ($ulc(…=>aorhash), ul.dump HashID). */
function fnv1a(s: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < s.length; i++) {
    h ^= s.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return h >>> 0;
}

export interface UsrlocOptions {
  /** Build the store (default: in memory). Called once per module instance. */
  store?: (ctx: ModuleContext) => LocationStore;
}

class Usrloc implements UsrlocApi {
  readonly useDomain: boolean;
  readonly natBflag: number;
  readonly matchingMode: number;
  readonly cseqDelay: number;
  readonly descTimeOrder: boolean;
  readonly hashSlots: number;
  private readonly declared: string[] = [];
  private readonly expiredListeners: Array<(c: UlContact) => void> = [];
  private ruidCounter = 0;
  private readonly ruidPrefix: string;

  constructor(
    private readonly ctx: ModuleContext,
    readonly store: LocationStore,
  ) {
    const p = ctx.params;
    this.useDomain = p.int('use_domain', 0) !== 0;
    this.natBflag = p.has('nat_bflag') ? p.int('nat_bflag', -1) : -1;
    this.matchingMode = p.int('matching_mode', 0);
    this.cseqDelay = Math.max(0, p.int('cseq_delay', 20));
    this.descTimeOrder = p.int('desc_time_order', 0) !== 0;
    const hs = p.int('hash_size', 10);
    this.hashSlots = hs <= 1 ? 512 : 2 ** Math.min(hs, 30);
    // a random part keeps ruids unique between servers (or instances in one process) sharing a table
    const rnd = Math.floor(Math.random() * 0x10000).toString(16).padStart(4, '0');
    this.ruidPrefix = `ulcx-${Math.floor(ctx.clock.now() / 1000).toString(16)}-${process.pid}-${rnd}-`;
  }

  now(): number {
    return this.ctx.clock.now();
  }

  registerTable(name: string): void {
    if (!this.declared.includes(name)) this.declared.push(name);
  }

  tables(): string[] {
    const out = [...this.declared];
    for (const t of this.store.tables()) if (!out.includes(t)) out.push(t);
    return out;
  }

  private order(list: UlContact[]): UlContact[] {
    if (this.descTimeOrder) return list.sort((a, b) => b.lastModified - a.lastModified);
    return list.sort((a, b) => b.q - a.q || b.lastModified - a.lastModified);
  }

  contacts(table: string, aor: string): UlContact[] {
    const list = this.store.get(table, aor);
    if (!list) return [];
    const now = this.now();
    return this.order(list.filter((c) => c.expires === 0 || c.expires > now));
  }

  record(table: string, aor: string): readonly UlContact[] | undefined {
    return this.store.get(table, aor);
  }

  findByRuid(table: string, ruid: string): UlContact | undefined {
    return this.store.findByRuid(table, ruid);
  }

  insert(table: string, aor: string, f: NewContact): UlContact {
    this.registerTable(table);
    const c: UlContact = {
      ruid: `${this.ruidPrefix}${++this.ruidCounter}`,
      table,
      aor,
      uri: f.uri,
      expires: f.expires,
      q: f.q ?? -1,
      callid: f.callid,
      cseq: f.cseq,
      flags: f.flags ?? 0,
      cflags: f.cflags ?? 0,
      regId: f.regId ?? 0,
      lastModified: this.now(),
      serverId: 0,
      ...(f.received !== undefined ? { received: f.received } : {}),
      ...(f.path !== undefined ? { path: f.path } : {}),
      ...(f.userAgent !== undefined ? { userAgent: f.userAgent } : {}),
      ...(f.socket !== undefined ? { socket: f.socket } : {}),
      ...(f.socketId !== undefined ? { socketId: f.socketId } : {}),
      ...(f.connectionId !== undefined ? { connectionId: f.connectionId } : {}),
      ...(f.methods !== undefined ? { methods: [...f.methods] } : {}),
      ...(f.instance !== undefined ? { instance: f.instance } : {}),
    };
    this.store.put(c);
    return c;
  }

  update(contact: UlContact, f: ContactUpdate): UlContact | undefined {
    const cur = this.store.findByRuid(contact.table, contact.ruid);
    if (!cur) return undefined;
    const next: Record<string, unknown> = { ...cur, lastModified: this.now() };
    for (const [k, v] of Object.entries(f)) {
      if (v === undefined) delete next[k];
      else next[k] = Array.isArray(v) ? [...(v as string[])] : v;
    }
    const c = next as unknown as UlContact;
    this.store.put(c);
    return c;
  }

  remove(table: string, aor: string, ruid: string): boolean {
    return this.store.remove(table, aor, ruid) !== undefined;
  }

  removeRecord(table: string, aor: string): number {
    return this.store.removeRecord(table, aor).length;
  }

  expire(): number {
    const gone = this.store.purgeExpired(this.now());
    for (const c of gone) {
      for (const fn of this.expiredListeners) {
        try {
          fn(c);
        } catch (err) {
          this.ctx.logger.error({ err }, 'usrloc: contact-expired listener failed');
        }
      }
    }
    return gone.length;
  }

  onExpired(fn: (contact: UlContact) => void): () => void {
    this.expiredListeners.push(fn);
    return () => {
      const i = this.expiredListeners.indexOf(fn);
      if (i >= 0) this.expiredListeners.splice(i, 1);
    };
  }

  aorHash(aor: string): number {
    return fnv1a(aor);
  }

  private dumpContact(c: UlContact, now: number): UlDumpContact {
    return {
      Address: c.uri,
      Expires: c.expires === 0 ? 'permanent' : Math.max(0, Math.round((c.expires - now) / 1000)),
      Q: c.q < 0 ? -1 : c.q / 1000,
      'Call-ID': c.callid,
      CSeq: c.cseq,
      'User-Agent': c.userAgent ?? '',
      Received: c.received ?? '[not set]',
      Path: c.path ?? '[not set]',
      State: 'CS_NEW',
      Flags: c.flags,
      CFlags: c.cflags,
      Socket: c.socket ?? '[not set]',
      Methods: c.methods ? c.methods.join(',') : 4294967295,
      Ruid: c.ruid,
      Instance: c.instance ?? '[not set]',
      'Reg-Id': c.regId,
      'Server-Id': c.serverId,
      'Tcpconn-Id': c.connectionId ?? -1,
      Keepalive: 0,
      'Last-Modified': Math.floor(c.lastModified / 1000),
    };
  }

  dump(): UlDump {
    const now = this.now();
    return {
      Domains: this.tables().map((name) => {
        const aors = [...this.store.aors(name)].map((aor) => ({
          Info: {
            AoR: aor,
            HashID: this.aorHash(aor),
            Contacts: (this.store.get(name, aor) ?? []).map((c) => ({ Contact: this.dumpContact(c, now) })),
          },
        }));
        return { Domain: { Domain: name, Size: this.hashSlots, AoRs: aors, Stats: { Records: aors.length, 'Max-Slots': this.hashSlots } } };
      }),
    };
  }

  lookup(table: string, aor: string): UlLookup | undefined {
    const list = this.store.get(table, aor);
    if (!list || list.length === 0) return undefined;
    const now = this.now();
    return { AoR: aor, Contacts: list.map((c) => ({ Contact: this.dumpContact(c, now) })) };
  }

  counts(): { tables: Record<string, { records: number; contacts: number }>; records: number; contacts: number } {
    const tables: Record<string, { records: number; contacts: number }> = {};
    let records = 0;
    let contacts = 0;
    for (const t of this.tables()) {
      const c = this.store.counts(t);
      tables[t] = c;
      records += c.records;
      contacts += c.contacts;
    }
    return { tables, records, contacts };
  }
}

/** The store for db_mode: memory (0), write-through (1), write-back (2), database only (3) at db_url. */
function dbStore(ctx: ModuleContext, dbMode: number): LocationStore {
  if (dbMode === 0) return new MemoryLocationStore();
  const p = ctx.params;
  const url = p.str('db_url', DEFAULT_DB_URL);
  const db = openDb(url, { logger: ctx.logger });
  const o = { db, logger: ctx.logger, useDomain: p.int('use_domain', 0) !== 0, createTables: true, now: () => ctx.clock.now() };
  ctx.logger.info(`usrloc: db_mode ${dbMode} on ${db.url}`);
  if (dbMode === 3) return new DbOnlyStore(o);
  const preload = ['location', ...p.all('preload').map(String)].filter((t, i, a) => a.indexOf(t) === i);
  return new CachedDbStore(o, dbMode === 1 ? 1 : 2, preload, p.int('db_load', 1) !== 0);
}

/** The usrloc module with a chosen store. */
export function createUsrlocModule(opts: UsrlocOptions = {}): KsrModuleDef {
  return defineModule({
    name: 'usrloc',
    kemiName: null,
    params: PARAMS,
    async create(ctx) {
      const p = ctx.params;
      const dbMode = p.int('db_mode', 0);
      for (const name of IGNORED) if (p.has(name)) ctx.logger.debug(`parameter ${name} is accepted and has no effect`);
      if (p.int('matching_mode', 0) !== 0) ctx.logger.debug(`matching_mode ${p.int('matching_mode', 0)}`);
      const store: LocationStore = opts.store ? opts.store(ctx) : dbStore(ctx, dbMode);
      try {
        await store.load?.();
      } catch (err) {
        await store.close?.();
        throw err;
      }
      const ul = new Usrloc(ctx, store);
      for (const t of p.all('preload')) ul.registerTable(String(t));

      // statistics: usrloc:registered_users and <table>-users / -contacts are sizes, read from the
      // store when asked for (no recount per change: in db_mode 3 a count is a query);
      // <table>-expires counts the contacts the timer expired
      const sized = new Set<string>();
      const sizeGauges = (table: string): void => {
        if (sized.has(table)) return;
        sized.add(table);
        ctx.stats.gauge('usrloc', `${table}-users`, () => store.counts(table).records);
        ctx.stats.gauge('usrloc', `${table}-contacts`, () => store.counts(table).contacts);
      };
      ctx.stats.gauge('usrloc', 'registered_users', () => ul.counts().records);
      for (const t of ul.tables()) sizeGauges(t);
      const unsubscribe = store.subscribe((ch) => {
        sizeGauges(ch.contact.table);
        if (ch.op === 'remove' && ch.reason === 'expired') ctx.stats.counter('usrloc', `${ch.contact.table}-expires`).inc();
      });

      const intervalS = p.int('timer_interval', 60);
      let flushing = false;
      const timer =
        intervalS > 0
          ? ctx.clock.every(intervalS * 1000, () => {
              try {
                ul.expire();
              } catch (err) {
                ctx.logger.error({ err }, 'usrloc: expiring contacts failed');
              }
              if (store.flush && !flushing) {
                flushing = true;
                store
                  .flush()
                  .catch((err: unknown) => ctx.logger.error({ err }, `usrloc: flushing the ${store.kind} store failed`))
                  .finally(() => {
                    flushing = false;
                  });
              }
            })
          : undefined;

      return {
        api: ul satisfies UsrlocApi,
        rpc: usrlocRpc(ul),
        async destroy() {
          timer?.cancel();
          unsubscribe();
          await store.flush?.();
          await store.close?.();
        },
      };
    },
  });
}

/** usrloc: the store follows the db_mode / db_url parameters (memory by default). */
export const usrlocModule: KsrModuleDef = createUsrlocModule();
