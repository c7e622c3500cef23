/**
 * auth_db: digest authentication against the subscriber table (Kamailio's auth_db module), on top
 * of the auth module's AuthApi. auth_check, www_authenticate, www_authenticate_method,
 * proxy_authenticate and is_subscriber; passwords as plain text (calculate_ha1=1) or as stored
 * HA1 (password_column / password_column_2 for user@domain usernames); load_credentials copies
 * subscriber columns into AVPs after a successful check.
 *
 * The database is opened lazily (first use) from db_url through the core database layer
 * (SQLite file by default, PostgreSQL for shared deployments). See README.md.
 */
import { DEFAULT_DB_URL, defineModule, openDb, parseUri, tableVersion, type Db, type DbRow, type KemiExportDef, type KsrModuleDef, type Logger, type RouteContext } from '@ksr/core';
import { AuthResult, type AuthApi, type CheckedCredentials, type HfType } from '../auth/api.js';

type Def = KemiExportDef<RouteContext>;

const IDENT = /^[A-Za-z_][A-Za-z0-9_]*$/;
const identCheck = (v: unknown): string | undefined => (IDENT.test(String(v)) ? undefined : 'must be a column name ([A-Za-z_][A-Za-z0-9_]*)');
const bool = (v: unknown): string | undefined => (Number(v) === 0 || Number(v) === 1 ? undefined : 'must be 0 or 1');

export interface LoadCredential {
  /** AVP name the value goes to. */
  avp: string;
  column: string;
}

/**
 * Parse load_credentials: `credential (';' credential)*`, credential = `$avp(name)=column` | `column`.
 * Undefined when malformed.
 */
export function parseLoadCredentials(text: string): LoadCredential[] | undefined {
  const out: LoadCredential[] = [];
  for (const raw of text.split(';')) {
    const item = raw.trim();
    if (item === '') continue;
    const eq = item.indexOf('=');
    if (eq === -1) {
      if (!IDENT.test(item)) return undefined;
      out.push({ avp: item, column: item });
      continue;
    }
    const spec = item.slice(0, eq).trim();
    const column = item.slice(eq + 1).trim();
    const m = /^\$avp\((?:[si]:)?([A-Za-z0-9_.-]+)\)$/.exec(spec);
    if (!m || !IDENT.test(column)) return undefined;
    out.push({ avp: m[1]!, column });
  }
  return out;
}

class AuthDb {
  private db: Db | undefined;
  private readonly checkedTables = new Set<string>();

  constructor(
    private readonly log: Logger,
    private readonly auth: AuthApi,
    private readonly url: string,
    private readonly cols: { user: string; domain: string; password: string; password2: string },
    private readonly calculateHa1: boolean,
    private readonly useDomain: boolean,
    private readonly load: LoadCredential[],
    private readonly versionTable: boolean,
    private readonly forceAvps: boolean,
    private readonly opener: (url: string) => Db,
  ) {}

  /** The database, opened on first use; undefined (logged) when it cannot be opened. */
  private conn(): Db | undefined {
    if (this.db) return this.db;
    try {
      this.db = this.opener(this.url);
      return this.db;
    } catch (err) {
      this.log.error({ err }, `auth_db: cannot open ${this.url}: ${err instanceof Error ? err.message : String(err)}`);
      return undefined;
    }
  }

  close(): void {
    this.db?.close();
    this.db = undefined;
  }

  private tableOk(db: Db, table: string): boolean {
    if (!IDENT.test(table)) {
      this.log.error(`auth_db: invalid table name ${JSON.stringify(table)}`);
      return false;
    }
    if (!this.versionTable || this.checkedTables.has(table)) return true;
    try {
      const v = tableVersion(db, table);
      if (v !== undefined && v !== 6 && v !== 7) this.log.warn(`auth_db: table ${table} has version ${v}; Kamailio's subscriber table is version 7`);
    } catch (err) {
      this.log.warn(`auth_db: cannot read the version of ${table}: ${err instanceof Error ? err.message : String(err)}`);
    }
    this.checkedTables.add(table);
    return true;
  }

  /** The subscriber row for user (and domain when use_domain), with the columns needed. */
  private fetch(table: string, user: string, domain: string | undefined, columns: string[], useDomain: boolean): DbRow | undefined | null {
    const db = this.conn();
    if (!db || !this.tableOk(db, table)) return null;
    const where: Record<string, string> = { [this.cols.user]: user };
    if (useDomain) where[this.cols.domain] = domain ?? '';
    try {
      const rows = db.select(table, { columns: [...new Set(columns)], where, limit: 2 });
      if (rows.length > 1) this.log.warn(`auth_db: several rows in ${table} for ${user}${useDomain ? `@${domain}` : ''}; using the first`);
      return rows[0];
    } catch (err) {
      this.log.error({ err }, `auth_db: query on ${table} failed: ${err instanceof Error ? err.message : String(err)}`);
      return null;
    }
  }

  private loadAvps(ctx: RouteContext, row: DbRow): void {
    for (const l of this.load) {
      const v = row[l.column];
      if (v === null || v === undefined) continue;
      const value = typeof v === 'number' ? v : typeof v === 'bigint' ? Number(v) : typeof v === 'boolean' ? (v ? 1 : 0) : v;
      const stack = ctx.state.avps.get(l.avp) ?? [];
      stack.unshift(value);
      ctx.state.avps.set(l.avp, stack);
    }
  }

  authenticate(ctx: RouteContext, realm: string, table: string, hftype: HfType, method: string | undefined, fname: string): { code: number; creds?: CheckedCredentials } {
    if (!ctx.request) {
      this.log.error(`KSR.auth_db.${fname}: only requests can be authenticated`);
      return { code: AuthResult.ERROR };
    }
    const pre = this.auth.preCheck(ctx, realm, hftype, method);
    if (!pre.ok) return { code: pre.code };
    const creds = pre.creds;
    const pwCol = this.calculateHa1 ? this.cols.password : creds.domain !== undefined ? this.cols.password2 : this.cols.password;
    const row = this.fetch(table, creds.user, creds.domain ?? realm, [pwCol, ...this.load.map((l) => l.column)], this.useDomain);
    if (row === null) return { code: AuthResult.ERROR };
    if (row === undefined) {
      // the same work as for a known user: no timing difference tells who exists
      this.auth.verifyDummy(creds);
      return { code: AuthResult.USER_UNKNOWN, creds };
    }
    const secretValue = row[pwCol];
    const secret = secretValue === null || secretValue === undefined ? '' : String(secretValue);
    const r = this.auth.verify(ctx, creds, this.calculateHa1 ? { password: secret } : { ha1: secret });
    if (r > 0 || this.forceAvps) this.loadAvps(ctx, row);
    return { code: r, creds };
  }

  isSubscriber(ctx: RouteContext, uri: string, table: string, flags: number): number {
    let u;
    try {
      u = parseUri(uri);
    } catch {
      this.log.error(`KSR.auth_db.is_subscriber: invalid URI ${JSON.stringify(uri)}`);
      return -1;
    }
    if (!u.user) return -1;
    const row = this.fetch(table, u.user, u.host.toLowerCase(), [this.cols.user, ...this.load.map((l) => l.column)], (flags & 1) !== 0);
    if (!row) return -1;
    if (!(flags & 2)) this.loadAvps(ctx, row);
    return 1;
  }
}

/** The module, with the database opener replaceable (tests); `authDbModule` uses core's openDb. */
export function makeAuthDbModule(opener?: (url: string, log: Logger) => Db): KsrModuleDef {
  return defineModule({
    name: 'auth_db',
    params: {
      db_url: { type: 'str' },
      user_column: { type: 'str', check: identCheck },
      domain_column: { type: 'str', check: identCheck },
      password_column: { type: 'str', check: identCheck },
      password_column_2: { type: 'str', check: identCheck },
      calculate_ha1: { type: 'int', check: bool },
      use_domain: { type: 'int', check: bool },
      load_credentials: { type: 'str', check: (v: unknown) => (parseLoadCredentials(String(v)) ? undefined : 'must be "$avp(name)=column;column;…"') },
      version_table: { type: 'int', check: bool },
      force_generate_avps: { type: 'int', check: bool },
    },
    dependencies: ['auth'],
    create(ctx) {
      const p = ctx.params;
      const log = ctx.logger;
      const auth = ctx.api<AuthApi>('auth');
      const url = p.str('db_url', DEFAULT_DB_URL);
      const useDomain = p.int('use_domain', 0) !== 0;
      const a = new AuthDb(
        log,
        auth,
        url,
        {
          user: p.str('user_column', 'username'),
          domain: p.str('domain_column', 'domain'),
          password: p.str('password_column', 'ha1'),
          password2: p.str('password_column_2', 'ha1b'),
        },
        p.int('calculate_ha1', 0) !== 0,
        useDomain,
        parseLoadCredentials(p.str('load_credentials', '')) ?? [],
        p.int('version_table', 1) !== 0,
        p.int('force_generate_avps', 0) !== 0,
        (u) => (opener ? opener(u, log) : openDb(u, { logger: log })),
      );
      const flagsOk = (fname: string, flags: number): boolean => {
        if (Number.isInteger(flags) && flags >= 0 && flags <= 3) return true;
        log.error(`KSR.auth_db.${fname}: invalid flags ${flags} (0..3)`);
        return false;
      };
      const exports: Def[] = [
        {
          name: 'auth_check',
          returns: 'int',
          params: ['str', 'str', 'int'],
          paramNames: ['realm', 'table', 'flags'],
          doc: 'www_authenticate for REGISTER, proxy_authenticate otherwise; flags 1: the From/To (REGISTER), From/To/R-URI (PUBLISH) or From user must be the auth user and their domains the realm; 2: skip that for INVITE, BYE, PRACK, UPDATE, MESSAGE. 1 ok; -1 error, -2 wrong password, -3 unknown user, -4 nonce expired, -5 no credentials, -6 nonce reused, -8 user mismatch.',
          fn: (c: RouteContext, realm: string, table: string, flags: number) => {
            if (!flagsOk('auth_check', flags)) return -1;
            const hftype: HfType = c.request?.method === 'REGISTER' ? 'www' : 'proxy';
            const r = a.authenticate(c, realm, table, hftype, undefined, 'auth_check');
            if (r.code > 0 && r.creds) return auth.checkIdentity(c, r.creds, realm, flags, true);
            return r.code;
          },
        },
        {
          name: 'www_authenticate',
          returns: 'int',
          params: ['str', 'str'],
          paramNames: ['realm', 'table'],
          doc: 'Verify the Authorization credentials against the subscriber table. Codes as auth_check.',
          fn: (c: RouteContext, realm: string, table: string) => a.authenticate(c, realm, table, 'www', undefined, 'www_authenticate').code,
        },
        {
          name: 'www_authenticate_method',
          returns: 'int',
          params: ['str', 'str', 'str'],
          paramNames: ['realm', 'table', 'method'],
          doc: 'www_authenticate with the method used in the digest given explicitly.',
          fn: (c: RouteContext, realm: string, table: string, method: string) => a.authenticate(c, realm, table, 'www', method, 'www_authenticate_method').code,
        },
        {
          name: 'proxy_authenticate',
          returns: 'int',
          params: ['str', 'str'],
          paramNames: ['realm', 'table'],
          doc: 'Verify the Proxy-Authorization credentials against the subscriber table. Codes as auth_check.',
          fn: (c: RouteContext, realm: string, table: string) => a.authenticate(c, realm, table, 'proxy', undefined, 'proxy_authenticate').code,
        },
        {
          name: 'is_subscriber',
          returns: 'int',
          params: ['str', 'str', 'int'],
          paramNames: ['uri', 'table', 'flags'],
          doc: 'Is there a subscriber for the URI (flags 1: match the domain too; 2: do not load load_credentials into AVPs)? 1 yes, -1 no or error.',
          fn: (c: RouteContext, uri: string, table: string, flags: number) => (flagsOk('is_subscriber', flags) ? a.isSubscriber(c, uri, table, flags) : -1),
        },
      ];
      return { exports, destroy: () => a.close() };
    },
  });
}

export const authDbModule = makeAuthDbModule();
