/**
 * What usrloc offers to other modules (registrar, the RPC module): `ctx.api<UsrlocApi>('usrloc')`.
 * Everything is synchronous and reads from the in-memory table.
 */
import type { LocationStore, UlContact } from './store.js';

export type { LocationChange, LocationListener, LocationStore, UlContact } from './store.js';

/** Usrloc's internal contact flags (Kamailio's FL_* values). */
export const UL_FLAGS = {
  /** Contact kept in memory only (save flag 0x01). */
  MEM: 1 << 0,
  /** Contact added by the RPC (ul.add). */
  RPC: 1 << 1,
} as const;

/** The fields of a new contact; usrloc fills ruid, table, aor and lastModified. */
export interface NewContact {
  uri: string;
  /** Absolute expiry in ms since the epoch; 0 = permanent. */
  expires: number;
  q?: number;
  callid: string;
  cseq: number;
  received?: string;
  path?: string;
  userAgent?: string;
  socket?: string;
  socketId?: number;
  connectionId?: number;
  flags?: number;
  cflags?: number;
  methods?: readonly string[];
  instance?: string;
  regId?: number;
}

/** Fields an update may change (the URI, ruid, table and AOR stay). */
export type ContactUpdate = Partial<Omit<NewContact, 'uri'>>;

/** One contact in `ul.dump` / `ul.lookup` shape (Kamailio's RPC field names). */
export interface UlDumpContact {
  Address: string;
  /** Seconds left, or "permanent". */
  Expires: number | 'permanent';
  /** q as a number (q-value), -1 when not given. */
  Q: number;
  'Call-ID': string;
  CSeq: number;
  'User-Agent': string;
  Received: string;
  Path: string;
  State: 'CS_NEW' | 'CS_SYNC' | 'CS_DIRTY';
  Flags: number;
  CFlags: number;
  Socket: string;
  Methods: number | string;
  Ruid: string;
  Instance: string;
  'Reg-Id': number;
  'Server-Id': number;
  'Tcpconn-Id': number;
  Keepalive: number;
  /** Unix seconds. */
  'Last-Modified': number;
}

export interface UlDumpRecord {
  Info: { AoR: string; HashID: number; Contacts: Array<{ Contact: UlDumpContact }> };
}

/** `ul.dump` result (Kamailio's shape). */
export interface UlDump {
  Domains: Array<{
    Domain: {
      Domain: string;
      Size: number;
      AoRs: UlDumpRecord[];
      Stats: { Records: number; 'Max-Slots': number };
    };
  }>;
}

/** `ul.lookup` result (Kamailio's shape). */
export interface UlLookup {
  AoR: string;
  Contacts: Array<{ Contact: UlDumpContact }>;
}

export interface UsrlocApi {
  /** use_domain: AORs are user@domain instead of user. */
  readonly useDomain: boolean;
  /** nat_bflag: the branch flag index marking a NATed contact, -1 when not set. */
  readonly natBflag: number;
  /** matching_mode: 0 contact, 1 contact+Call-ID, 2 contact+path, 3 Call-ID only. */
  readonly matchingMode: number;
  /** cseq_delay in seconds: a REGISTER with the same Call-ID and CSeq within this delay is a retransmission. */
  readonly cseqDelay: number;
  /** desc_time_order: contacts ordered newest first instead of by q. */
  readonly descTimeOrder: boolean;
  /** hash_size: 2^hash_size slots (reported by ul.dump only). */
  readonly hashSlots: number;
  /** The store (for persistence modules and diagnostics). */
  readonly store: LocationStore;
  /** The module clock, ms since the epoch. */
  now(): number;
  /** Declare a table (Kamailio's register_udomain); tables also appear on first use. */
  registerTable(name: string): void;
  /** The declared tables (preload, first use), in order. */
  tables(): string[];
  /** The unexpired contacts of an AOR, best first (q descending then newest, or newest first with desc_time_order). */
  contacts(table: string, aor: string): UlContact[];
  /** Every stored contact of an AOR (also expired ones the timer has not removed yet), insertion order. */
  record(table: string, aor: string): readonly UlContact[] | undefined;
  /** The contact with this ruid in a table (any AOR). */
  findByRuid(table: string, ruid: string): UlContact | undefined;
  insert(table: string, aor: string, fields: NewContact): UlContact;
  /** Replace the fields given; returns the new contact, undefined when it no longer exists. */
  update(contact: UlContact, fields: ContactUpdate): UlContact | undefined;
  /** Remove one contact by ruid. */
  remove(table: string, aor: string, ruid: string): boolean;
  /** Remove every contact of an AOR; returns how many. */
  removeRecord(table: string, aor: string): number;
  /** Remove the expired contacts now (what the timer does); returns how many. */
  expire(): number;
  /** Called for every contact the timer removes as expired. Returns an unsubscribe function. */
  onExpired(fn: (contact: UlContact) => void): () => void;
  /** A 32-bit hash of an AOR (Kamailio's aorhash). */
  aorHash(aor: string): number;
  /** Everything, as `ul.dump` prints it. */
  dump(): UlDump;
  /** One AOR as `ul.lookup table AOR` prints it; undefined when the table or the AOR has no record. */
  lookup(table: string, aor: string): UlLookup | undefined;
  /** Counts for statistics: per table and in total. */
  counts(): { tables: Record<string, { records: number; contacts: number }>; records: number; contacts: number };
}
