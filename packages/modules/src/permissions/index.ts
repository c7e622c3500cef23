/**
 * permissions: IP access control (Kamailio's permissions module, address and trusted parts).
 * The address table (grp, ip_addr, mask, port, tag) is loaded from db_url (or address_file) into
 * memory: exact IPv4/IPv6 addresses in a hash, subnets by longest mask, domain names by name.
 * The trusted table (src_ip, proto, from_pattern, ruri_pattern, tag, priority) is cached with
 * db_mode=1 or read on every call with db_mode=0 (Kamailio's default).
 *
 * RPC: permissions.addressReload, permissions.trustedReload (a failed reload keeps the old
 * table), permissions.addressDump, permissions.subnetDump, permissions.domainDump,
 * permissions.trustedDump. See README.md.
 */
import { readFileSync } from 'node:fs';
import { dirname, isAbsolute, resolve } from 'node:path';
import {
  DEFAULT_DB_URL,
  RpcError,
  defineModule,
  openDb,
  type Db,
  type DbRow,
  type KemiExportDef,
  type KsrModuleDef,
  type Logger,
  type RouteContext,
  type RpcCommand,
} from '@ksr/core';
import { AddressTable, TrustedTable, type AddressRow, type TrustedRow } from './tables.js';

export { AddressTable, TrustedTable, parseIp } from './tables.js';

type Def = KemiExportDef<RouteContext>;

const IDENT = /^[A-Za-z_][A-Za-z0-9_]*$/;
const identCheck = (v: unknown): string | undefined => (IDENT.test(String(v)) ? undefined : 'must be a table/column name ([A-Za-z_][A-Za-z0-9_]*)');

function num(v: unknown, dflt: number): number {
  if (v === null || v === undefined || v === '') return dflt;
  const n = typeof v === 'bigint' ? Number(v) : Number(v);
  return Number.isFinite(n) ? n : NaN;
}
function strOrNull(v: unknown): string | null {
  return v === null || v === undefined ? null : String(v);
}

/** Parse Kamailio's address file: `grp address [mask [port [tag]]]` per line, `#` comments. */
export function parseAddressFile(text: string): AddressRow[] {
  const rows: AddressRow[] = [];
  text.split(/\r?\n/).forEach((line, i) => {
    const l = line.replace(/#.*$/, '').trim();
    if (l === '') return;
    const f = l.split(/\s+/);
    if (f.length < 2 || f.length > 5) throw new Error(`line ${i + 1}: expected "group address [mask [port [tag]]]"`);
    const grp = Number(f[0]);
    const mask = f[2] !== undefined ? Number(f[2]) : 0;
    const port = f[3] !== undefined ? Number(f[3]) : 0;
    if (!Number.isInteger(grp) || !Number.isInteger(mask) || !Number.isInteger(port)) throw new Error(`line ${i + 1}: group, mask and port must be integers`);
    rows.push({ grp, ipAddr: f[1]!, mask, port, tag: f[4] ?? null });
  });
  return rows;
}

interface Cols {
  grp: string;
  ip: string;
  mask: string;
  port: string;
  tag: string;
  src: string;
  proto: string;
  from: string;
  ruri: string;
  priority: string;
}

class Permissions {
  private db: Db | undefined;
  address = new AddressTable([]);
  trusted: TrustedTable | undefined;
  private lastReload = new Map<string, number>();

  constructor(
    private readonly log: Logger,
    private readonly url: string | undefined,
    private readonly addressFile: string | undefined,
    private readonly addressTableName: string,
    private readonly trustedTableName: string,
    private readonly cols: Cols,
    readonly peerTagAvp: string | undefined,
    readonly peerTagMode: number,
    readonly dbMode: number,
    private readonly reloadDeltaMs: number,
    private readonly now: () => number,
    private readonly opener: (url: string) => Db,
  ) {}

  private conn(): Db {
    if (!this.url) throw new Error('no db_url is set');
    this.db ??= this.opener(this.url);
    return this.db;
  }

  close(): void {
    this.db?.close();
    this.db = undefined;
  }

  /** Build a new address table from the file or the database; throws on failure (the old one stays). */
  loadAddress(): AddressTable {
    let rows: AddressRow[];
    if (this.addressFile) rows = parseAddressFile(readFileSync(this.addressFile, 'utf8'));
    else {
      const c = this.cols;
      rows = this.conn()
        .select(this.addressTableName, { columns: [c.grp, c.ip, c.mask, c.port, c.tag] })
        .map((r: DbRow) => ({ grp: num(r[c.grp], 1), ipAddr: String(r[c.ip] ?? ''), mask: num(r[c.mask], 32), port: num(r[c.port], 0), tag: strOrNull(r[c.tag]) }));
    }
    const t = new AddressTable(rows);
    for (const r of t.rejected) this.log.warn(`permissions: address row ${JSON.stringify(r.row)} skipped: ${r.reason}`);
    return t;
  }

  private trustedRows(where?: Record<string, string>): TrustedRow[] {
    const c = this.cols;
    return this.conn()
      .select(this.trustedTableName, { columns: [c.src, c.proto, c.from, c.ruri, c.tag, c.priority], ...(where ? { where } : {}) })
      .map((r: DbRow) => ({
        srcIp: String(r[c.src] ?? ''),
        proto: String(r[c.proto] ?? ''),
        fromPattern: strOrNull(r[c.from]),
        ruriPattern: strOrNull(r[c.ruri]),
        tag: strOrNull(r[c.tag]),
        priority: num(r[c.priority], 0),
      }));
  }

  loadTrusted(): TrustedTable {
    const t = new TrustedTable(this.trustedRows());
    for (const r of t.rejected) this.log.warn(`permissions: trusted row ${JSON.stringify(r.row)} skipped: ${r.reason}`);
    return t;
  }

  rateLimited(what: string): boolean {
    const last = this.lastReload.get(what);
    const now = this.now();
    if (last !== undefined && this.reloadDeltaMs > 0 && now - last < this.reloadDeltaMs) return true;
    this.lastReload.set(what, now);
    return false;
  }

  setTag(ctx: RouteContext, tag: string | null): void {
    if (!this.peerTagAvp || tag === null) return;
    const stack = ctx.state.avps.get(this.peerTagAvp) ?? [];
    stack.unshift(tag);
    ctx.state.avps.set(this.peerTagAvp, stack);
  }

  allowAddress(ctx: RouteContext, grp: number | undefined, ip: string, port: number): number {
    const m = this.address.match(ip, port, grp);
    if (!m) return -1;
    this.setTag(ctx, m.tag);
    return grp === undefined ? m.grp : 1;
  }

  allowTrusted(ctx: RouteContext): number {
    const req = ctx.request;
    if (!req) return -1;
    const src = ctx.info.remote.address;
    const from = req.from.uri.raw;
    const ruri = req.newRequestUri ?? req.uri;
    let matches;
    if (this.dbMode === 1) {
      if (!this.trusted) return -1;
      matches = this.trusted.matches(src, ctx.info.proto, from, ruri);
    } else {
      try {
        matches = new TrustedTable(this.trustedRows({ [this.cols.src]: src })).matches(src, ctx.info.proto, from, ruri);
      } catch (err) {
        this.log.error(`KSR.permissions.allow_trusted: ${err instanceof Error ? err.message : String(err)}`);
        return -1;
      }
    }
    if (matches.length === 0) return -1;
    if (this.peerTagMode === 1) {
      for (const m of matches) this.setTag(ctx, m.tag);
      return matches.length;
    }
    this.setTag(ctx, matches[0]!.tag);
    return 1;
  }
}

export function makePermissionsModule(opener?: (url: string, log: Logger) => Db): KsrModuleDef {
  return defineModule({
    name: 'permissions',
    params: {
      db_url: { type: 'str' },
      address_file: { type: 'str' },
      address_table: { type: 'str', check: identCheck },
      trusted_table: { type: 'str', check: identCheck },
      grp_col: { type: 'str', check: identCheck },
      ip_addr_col: { type: 'str', check: identCheck },
      mask_col: { type: 'str', check: identCheck },
      port_col: { type: 'str', check: identCheck },
      tag_col: { type: 'str', check: identCheck },
      source_col: { type: 'str', check: identCheck },
      proto_col: { type: 'str', check: identCheck },
      from_col: { type: 'str', check: identCheck },
      ruri_col: { type: 'str', check: identCheck },
      priority_col: { type: 'str', check: identCheck },
      peer_tag_avp: { type: 'str', check: (v) => (/^\$avp\((?:[si]:)?[A-Za-z0-9_.-]+\)$/.test(String(v)) ? undefined : 'must be $avp(name)') },
      peer_tag_mode: { type: 'int', check: (v) => (Number(v) === 0 || Number(v) === 1 ? undefined : 'must be 0 or 1') },
      db_mode: { type: 'int', check: (v) => (Number(v) === 0 || Number(v) === 1 ? undefined : 'must be 0 (no cache) or 1 (cache)') },
      load_backends: { type: 'int' },
      reload_delta: { type: 'int', check: (v) => (Number(v) >= 0 ? undefined : 'must be >= 0') },
      max_subnets: { type: 'int' },
    },
    create(ctx) {
      const p = ctx.params;
      const log = ctx.logger;
      const avp = p.has('peer_tag_avp') ? /^\$avp\((?:[si]:)?([^)]+)\)$/.exec(p.str('peer_tag_avp', ''))?.[1] : undefined;
      let addressFile = p.has('address_file') ? p.str('address_file', '') : undefined;
      if (addressFile && !isAbsolute(addressFile)) addressFile = resolve(dirname(ctx.config.file), addressFile);
      const url = p.has('db_url') ? p.str('db_url', DEFAULT_DB_URL) : undefined;
      const perms = new Permissions(
        log,
        url,
        addressFile,
        p.str('address_table', 'address'),
        p.str('trusted_table', 'trusted'),
        {
          grp: p.str('grp_col', 'grp'),
          ip: p.str('ip_addr_col', 'ip_addr'),
          mask: p.str('mask_col', 'mask'),
          port: p.str('port_col', 'port'),
          tag: p.str('tag_col', 'tag'),
          src: p.str('source_col', 'src_ip'),
          proto: p.str('proto_col', 'proto'),
          from: p.str('from_col', 'from_pattern'),
          ruri: p.str('ruri_col', 'ruri_pattern'),
          priority: p.str('priority_col', 'priority'),
        },
        avp,
        p.int('peer_tag_mode', 0),
        p.int('db_mode', 0),
        p.int('reload_delta', 5) * 1000,
        () => ctx.clock.now(),
        (u) => (opener ? opener(u, log) : openDb(u, { logger: log })),
      );
      const backends = p.int('load_backends', 0xffff);
      const haveAddress = (backends & 1) !== 0 && (addressFile !== undefined || url !== undefined);
      const haveTrusted = (backends & 2) !== 0 && url !== undefined;
      if (!haveAddress) log.warn('permissions: no db_url or address_file: the address table is empty');
      // startup: a table that cannot be loaded stops the server (as Kamailio)
      if (haveAddress) perms.address = perms.loadAddress();
      if (haveTrusted && perms.dbMode === 1) perms.trusted = perms.loadTrusted();

      const reload = (what: 'address' | 'trusted'): unknown => {
        if (what === 'address' ? !haveAddress : !haveTrusted) throw new RpcError(500, `permissions: the ${what} table is not in use (no db_url${what === 'address' ? ' or address_file' : ''})`);
        if (what === 'trusted' && perms.dbMode !== 1) throw new RpcError(500, 'permissions: trusted table is not cached (db_mode=0): nothing to reload');
        if (perms.rateLimited(what)) throw new RpcError(500, `permissions: ${what} reload rate limited (reload_delta)`);
        try {
          if (what === 'address') perms.address = perms.loadAddress();
          else perms.trusted = perms.loadTrusted();
        } catch (err) {
          const msg = err instanceof Error ? err.message : String(err);
          log.error(`permissions: ${what} reload failed, the old table stays: ${msg}`);
          throw new RpcError(500, `Reload failed: ${msg}`);
        }
        const size = what === 'address' ? perms.address.size : perms.trusted!.size;
        log.info(`permissions: ${what} table reloaded (${size} entries)`);
        return 'Reload OK';
      };
      const rpc: RpcCommand[] = [
        { name: 'permissions.addressReload', doc: 'Reload the address table into memory (the old table stays when it fails).', handler: () => reload('address') },
        { name: 'permissions.trustedReload', doc: 'Reload the trusted table into memory (db_mode=1).', handler: () => reload('trusted') },
        { name: 'permissions.addressDump', doc: 'The cached addresses (exact IPs).', handler: () => perms.address.dumpAddresses() },
        { name: 'permissions.subnetDump', doc: 'The cached subnets.', handler: () => perms.address.dumpSubnets() },
        { name: 'permissions.domainDump', doc: 'The cached domain names.', handler: () => perms.address.dumpDomains() },
        {
          name: 'permissions.trustedDump',
          doc: 'The cached trusted table (db_mode=1).',
          handler: () => {
            if (!perms.trusted) throw new RpcError(500, 'permissions: the trusted table is not cached (db_mode=0)');
            return perms.trusted.dump();
          },
        },
      ];

      const groupOk = (fname: string, g: number): boolean => {
        if (Number.isInteger(g) && g >= 0) return true;
        log.error(`KSR.permissions.${fname}: invalid group ${g}`);
        return false;
      };
      const portOk = (fname: string, port: number): boolean => {
        if (Number.isInteger(port) && port >= 0 && port <= 65535) return true;
        log.error(`KSR.permissions.${fname}: invalid port ${port}`);
        return false;
      };
      const exports: Def[] = [
        {
          name: 'allow_source_address',
          returns: 'int',
          params: ['int'],
          paramNames: ['group'],
          doc: 'Is the source address and port of the message in the address group? 1 yes, -1 no. Sets peer_tag_avp to the tag of the match.',
          fn: (c: RouteContext, g: number) => (groupOk('allow_source_address', g) ? perms.allowAddress(c, g, c.info.remote.address, c.info.remote.port) : -1),
        },
        {
          name: 'allow_source_address_group',
          returns: 'int',
          params: [],
          doc: 'The group of the address table the source address and port belong to, -1 when none.',
          fn: (c: RouteContext) => perms.allowAddress(c, undefined, c.info.remote.address, c.info.remote.port),
        },
        {
          name: 'allow_address',
          returns: 'int',
          params: ['int', 'str', 'int'],
          paramNames: ['group', 'addr', 'port'],
          doc: 'Is the address (IP or domain name) and port in the address group? 1 yes, -1 no.',
          fn: (c: RouteContext, g: number, addr: string, port: number) =>
            groupOk('allow_address', g) && portOk('allow_address', port) ? perms.allowAddress(c, g, addr, port) : -1,
        },
        {
          name: 'allow_address_group',
          returns: 'int',
          params: ['str', 'int'],
          paramNames: ['addr', 'port'],
          doc: 'The group of the address table the address and port belong to, -1 when none.',
          fn: (c: RouteContext, addr: string, port: number) => (portOk('allow_address_group', port) ? perms.allowAddress(c, undefined, addr, port) : -1),
        },
        {
          name: 'allow_trusted',
          returns: 'int',
          params: [],
          doc: 'Does a trusted-table rule accept the source IP, protocol, From URI and R-URI? 1 yes (peer_tag_mode=1: the number of matches), -1 no.',
          fn: (c: RouteContext) => (haveTrusted ? perms.allowTrusted(c) : -1),
        },
      ];
      return { exports, rpc, destroy: () => perms.close() };
    },
  });
}

export const permissionsModule = makePermissionsModule();
