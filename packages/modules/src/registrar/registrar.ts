/**
 * REGISTER processing (RFC 3261 §10.3) and location lookups on top of usrloc.
 * Written from RFC 3261 / RFC 3327 and Kamailio's registrar documentation.
 */
import {
  MAX_BRANCHES,
  sip,
  uriEquals,
  type Branch,
  type NameAddr,
  type ModuleContext,
  type PvRegistry,
  type RouteContext,
  type ScriptValue,
  type SipRequest,
} from '@ksr/core';
import { UL_FLAGS, type NewContact, type UlContact, type UsrlocApi } from '../usrloc/api.js';
import { extractAor, formatQ, parseQ, type AorResult } from './aor.js';
import type { SlApi } from '../sl/api.js';
import { UlcProfiles } from './ulc.js';

/** save() flags. */
export const SAVE_FLAGS = {
  /** Keep the contacts in memory only (no database write; no effect without a database). */
  MEMORY: 0x01,
  /** Do not send the reply (reg_send_reply() can send it later). */
  NO_REPLY: 0x02,
  /** One contact per AOR: remove the others. */
  SINGLE_CONTACT: 0x04,
  /** Do not apply expires_range / default_expires_range. */
  NO_EXPIRES_RANGE: 0x08,
} as const;

export interface RegistrarConfig {
  defaultExpires: number;
  defaultExpiresRange: number;
  expiresRange: number;
  minExpires: number;
  maxExpires: number;
  /** ×1000, -1 = none. */
  defaultQ: number;
  realmPrefix: string;
  appendBranches: boolean;
  caseSensitive: boolean;
  receivedAvp: string;
  receivedParam: string;
  maxContacts: number;
  retryAfter: number;
  sockFlag: number;
  sockHdrName: string;
  methodFiltering: boolean;
  usePath: boolean;
  pathMode: number;
  pathUseReceived: boolean;
  pathCheckLocal: boolean;
  xavpCfg: string;
  xavpRcd: string;
  regidMode: boolean;
  contactMaxSize: number;
}

/** A reply prepared by save(): sent at once, or kept for reg_send_reply() with flag 0x02. */
interface PreparedReply {
  code: number;
  reason: string;
  headers: Array<[string, string]>;
}

class RegError {
  constructor(
    readonly code: number,
    readonly info: string,
    readonly rc = -1,
    readonly headers: Array<[string, string]> = [],
  ) {}
}

const REASONS: Readonly<Record<number, string>> = {
  200: 'OK',
  400: 'Bad Request',
  420: 'Bad Extension',
  423: 'Interval Too Brief',
  500: 'Server Internal Error',
  503: 'Service Unavailable',
};

/** A binding of the AOR while a REGISTER is processed: an existing one and/or what the request sets. */
interface Slot {
  existing?: UlContact;
  /** The new values (insert or update). */
  fields?: NewContact;
  removed: boolean;
  uri: string;
  callid: string;
  path: string | undefined;
}

function headerTokens(req: SipRequest, name: string): string[] {
  const out: string[] = [];
  for (const v of req.headerValues(name)) for (const t of v.split(',')) if (t.trim() !== '') out.push(t.trim().toLowerCase());
  return out;
}

function unquote(v: string): string {
  return v.length >= 2 && v.startsWith('"') && v.endsWith('"') ? v.slice(1, -1).replace(/\\(.)/g, '$1') : v;
}

function bracket(host: string): string {
  return sip.isIPv6(host) ? `[${host}]` : host;
}

export class Registrar {
  /** $ulc profiles (reg_fetch_contacts, expired contacts in "exp"). */
  readonly ulc = new UlcProfiles();
  private readonly pending = new WeakMap<SipRequest, PreparedReply>();
  private readonly qOverride = new WeakMap<SipRequest, number>();

  constructor(
    private readonly mctx: ModuleContext,
    readonly cfg: RegistrarConfig,
    private readonly ul: UsrlocApi,
    private readonly sl: SlApi | undefined,
    private readonly pv: PvRegistry,
  ) {}

  // ------------------------------------------------------------------ helpers

  private aorOf(text: string): AorResult {
    return extractAor(text, { useDomain: this.ul.useDomain, caseSensitive: this.cfg.caseSensitive, realmPrefix: this.cfg.realmPrefix });
  }

  private currentRuri(req: SipRequest): string {
    return req.newRequestUri ?? req.uri;
  }

  /** A field of the first record of $xavp(xavp_cfg). */
  private xavpCfg(ctx: RouteContext, field: string): ScriptValue | undefined {
    if (this.cfg.xavpCfg === '') return undefined;
    return ctx.state.xavps.get(this.cfg.xavpCfg)?.[0]?.get(field)?.[0];
  }

  /** Add ruid/contact/received/expires of a contact to $xavp(xavp_rcd) (its newest record). */
  private addXavpRcd(ctx: RouteContext, c: UlContact): void {
    const name = this.cfg.xavpRcd;
    if (name === '') return;
    let list = ctx.state.xavps.get(name);
    if (!list) {
      list = [];
      ctx.state.xavps.set(name, list);
    }
    let rec = list[0];
    if (!rec) {
      rec = new Map();
      list.unshift(rec);
    }
    const add = (k: string, v: ScriptValue): void => {
      const vals = rec.get(k) ?? [];
      vals.unshift(v);
      rec.set(k, vals);
    };
    add('ruid', c.ruid);
    if (c.received) add('received', c.received);
    add('contact', c.uri);
    add('expires', c.expires === 0 ? 0 : Math.round((c.expires - this.ul.now()) / 1000));
  }

  /** Send a reply through sl when loaded, else through the core's stateless reply. */
  reply(ctx: RouteContext, code: number, reason: string, headers: Array<[string, string]>): number {
    if (this.sl) return this.sl.reply(ctx, code, reason, { headers });
    ctx.services.reply(ctx, code, reason, { headers }).then(
      (ok) => {
        if (!ok) ctx.logger.error(`registrar: could not send ${code} ${reason}`);
      },
      (err: unknown) => ctx.logger.error({ err }, `registrar: could not send ${code} ${reason}`),
    );
    return 1;
  }

  private listenSocket(ctx: RouteContext, id: number | undefined): boolean {
    if (id === undefined) return false;
    return ctx.services.sockets().some((s) => s.id === id);
  }

  // ------------------------------------------------------------------ save

  /** save(table, flags[, uri]): process a REGISTER. */
  save(ctx: RouteContext, table: string, flags: number, uri?: string): number {
    const req = ctx.request;
    if (!req) {
      ctx.logger.error('registrar save: the message is a reply (saving from replies is not supported)');
      return -1;
    }
    if (req.method.toUpperCase() !== 'REGISTER') {
      ctx.logger.error(`registrar save: ${req.method} is not a REGISTER`);
      return -1;
    }
    if (table === '') {
      ctx.logger.error('registrar save: empty table name');
      return -1;
    }
    this.ul.registerTable(table);
    let prepared: PreparedReply;
    let rc: number;
    try {
      const r = this.processRegister(ctx, req, table, flags, uri);
      rc = r.rc;
      prepared = { code: 200, reason: 'OK', headers: r.headers };
      this.mctx.stats.counter('registrar', 'accepted_regs').inc();
    } catch (err) {
      if (!(err instanceof RegError)) throw err;
      rc = err.rc;
      const headers: Array<[string, string]> = [...err.headers, ['P-Registrar-Error', err.info]];
      if (err.code >= 500 && this.cfg.retryAfter > 0) headers.push(['Retry-After', String(this.cfg.retryAfter)]);
      prepared = { code: err.code, reason: REASONS[err.code] ?? 'Error', headers };
      this.mctx.stats.counter('registrar', 'rejected_regs').inc();
      ctx.logger.debug(`registrar save: ${err.code} ${err.info} (Call-ID ${req.callId})`);
    }
    if (flags & SAVE_FLAGS.NO_REPLY) this.pending.set(req, prepared);
    else this.reply(ctx, prepared.code, prepared.reason, prepared.headers);
    return rc;
  }

  /** reg_send_reply(): send the reply a save() with flag 0x02 prepared. */
  sendPendingReply(ctx: RouteContext): number {
    const req = ctx.request;
    const p = req ? this.pending.get(req) : undefined;
    if (!req || !p) {
      ctx.logger.error('registrar reg_send_reply: no reply prepared (call save() with flag 0x02 first)');
      return -1;
    }
    this.pending.delete(req);
    return this.reply(ctx, p.code, p.reason, p.headers) > 0 ? 1 : -1;
  }

  setQOverride(ctx: RouteContext, q: string): number {
    const req = ctx.request;
    const v = parseQ(q);
    if (!req || v === undefined) {
      ctx.logger.error(`registrar set_q_override: invalid q value ${JSON.stringify(q)}`);
      return -1;
    }
    this.qOverride.set(req, v);
    return 1;
  }

  /** The expires of one contact (seconds), before min/max checks. */
  private requestedExpires(na: NameAddr, hdr: number | undefined, flags: number): number {
    const p = na.params.get('expires');
    let exp: number;
    let isDefault = false;
    if (p !== undefined && p !== null) {
      if (!/^\d{1,10}$/.test(p)) throw new RegError(400, 'Invalid expires param in contact');
      exp = Math.min(Number(p), 0xffffffff);
    } else if (hdr !== undefined) exp = hdr;
    else {
      exp = this.cfg.defaultExpires;
      isDefault = true;
    }
    if (exp > 0 && !(flags & SAVE_FLAGS.NO_EXPIRES_RANGE)) {
      const range = isDefault ? this.cfg.defaultExpiresRange : this.cfg.expiresRange;
      if (range > 0) exp = Math.max(1, exp - Math.floor(Math.random() * ((exp * Math.min(range, 100)) / 100 + 1)));
    }
    if (isDefault && this.cfg.minExpires > 0 && exp < this.cfg.minExpires) exp = this.cfg.minExpires;
    return exp;
  }

  /** The received URI to store: received_avp, else path's received, else the source when the NAT flag is set. */
  private receivedOf(ctx: RouteContext, pathReceived: string | undefined): string | undefined {
    if (this.cfg.receivedAvp !== '') {
      const acc = this.pv.lookup(this.cfg.receivedAvp);
      if (!(acc instanceof Error)) {
        const v = acc.get(ctx);
        if (v !== null && v !== '' && v !== 0) return String(v);
      }
    }
    if (pathReceived) return pathReceived;
    const nat = this.ul.natBflag;
    if (nat >= 0 && (((ctx.state.branchFlags[0] ?? 0) >>> nat) & 1) === 1) {
      const r = ctx.info.remote;
      return `sip:${bracket(r.address)}:${r.port}${ctx.info.proto === 'udp' ? '' : `;transport=${ctx.info.proto}`}`;
    }
    return undefined;
  }

  /** The socket to store: sock_hdr_name (with sock_flag), $xavp(cfg=>socket), else the receiving one. */
  private socketOf(ctx: RouteContext, req: SipRequest): { socket: string; socketId?: number } {
    if (this.cfg.sockFlag >= 0 && this.cfg.sockHdrName !== '' && ((ctx.state.flags >>> this.cfg.sockFlag) & 1) === 1) {
      const h = req.header(this.cfg.sockHdrName);
      if (h) return { socket: h.trim() };
    }
    const x = this.xavpCfg(ctx, 'socket');
    if (x !== undefined && x !== '') return { socket: String(x) };
    const l = ctx.info.local;
    return { socket: `${ctx.info.proto}:${bracket(l.address)}:${l.port}`, socketId: ctx.info.socketId };
  }

  private processRegister(ctx: RouteContext, req: SipRequest, table: string, flags: number, uriOverride: string | undefined): { rc: number; headers: Array<[string, string]> } {
    const cfg = this.cfg;
    const ul = this.ul;
    const now = ul.now();
    // RFC 3261 §10.3 step 5: the address of record from the To header field (or the uri given)
    const a = this.aorOf(uriOverride !== undefined && uriOverride !== '' ? uriOverride : req.to.uri.raw);
    if ('error' in a) throw new RegError(400, a.error === 'user' ? 'No username in To URI' : 'Error while parsing AOR');
    const aor = a.aor;
    let hdrExpires: number | undefined;
    try {
      hdrExpires = req.expires;
    } catch {
      throw new RegError(400, 'Expires parse error');
    }

    // RFC 3327 Path
    let path: string | undefined;
    let pathReceived: string | undefined;
    const supported = headerTokens(req, 'Supported');
    const pathValues = req.headerValues('Path');
    if (cfg.usePath && pathValues.length > 0) {
      if (cfg.pathMode === 2 && !supported.includes('path')) {
        throw new RegError(420, 'No support for found Path indicated', -1, [['Unsupported', 'path'], ...pathValues.map((v): [string, string] => ['Path', v])]);
      }
      let first: NameAddr | undefined;
      try {
        for (const v of pathValues) {
          const na = sip.parseRouteParam(v);
          first ??= na;
        }
      } catch {
        throw new RegError(400, 'Path parse error');
      }
      path = pathValues.join(',');
      if (cfg.pathUseReceived && first) {
        const r = first.uri.params.get('received');
        if (r) {
          // the path module escapes it as a URI parameter: received=sip%3A192.0.2.1%3A5060
          try {
            pathReceived = decodeURIComponent(unquote(r));
          } catch {
            pathReceived = unquote(r);
          }
        }
      }
    }

    const current = ul.contacts(table, aor);
    /** The AOR's bindings as this request changes them: existing ones and tentative new ones. */
    const slots: Slot[] = current.map((c) => ({ existing: c, uri: c.uri, callid: c.callid, path: c.path, removed: false }));
    let retransmission = false;

    /** §10.3 step 7: the Call-ID / CSeq rule for an existing binding; false = a retransmission, leave it. */
    const cseqOk = (s: Slot): boolean => {
      const b = s.existing;
      if (!b || s.fields || s.removed) return true; // already changed by this request
      if (b.callid !== req.callId) return true;
      if (req.cseq.seq > b.cseq) return true;
      if (req.cseq.seq === b.cseq && ul.cseqDelay > 0 && now - b.lastModified <= ul.cseqDelay * 1000) {
        retransmission = true;
        return false;
      }
      // "the update MUST be aborted and the request fails": all or nothing, 500, nothing changed
      throw new RegError(500, 'Invalid CSeq number');
    };

    const cl = req.contact;
    if (cl.star) {
      // step 6: "*" only alone and with Expires: 0
      if (cl.contacts.length > 0) throw new RegError(400, '* used in contact and more than 1 contact');
      if (hdrExpires !== 0) throw new RegError(400, '* used in contact and expires is not zero');
      for (const s of slots) if (cseqOk(s)) s.removed = true;
    } else if (cl.contacts.length > 0) {
      const received = this.receivedOf(ctx, pathReceived);
      let cflags = ctx.state.branchFlags[0] ?? 0;
      if (pathReceived && ul.natBflag >= 0) cflags = (cflags | (1 << ul.natBflag)) >>> 0;
      const sock = this.socketOf(ctx, req);
      const ua = req.header('User-Agent');
      const allow = req.hasHeader('Allow') ? headerTokens(req, 'Allow').map((m) => m.toUpperCase()) : undefined;
      const xq = this.xavpCfg(ctx, 'q');
      const qOverride = this.qOverride.get(req) ?? (xq !== undefined && Number.isInteger(Number(xq)) ? Math.max(0, Math.min(1000, Number(xq))) : undefined);
      const outbound = supported.includes('outbound');
      const seen: Slot[] = [];

      for (const na of cl.contacts) {
        const uri = na.uri.raw;
        if (uri.length > cfg.contactMaxSize) throw new RegError(400, 'Contact/received too long');
        let exp = this.requestedExpires(na, hdrExpires, flags);
        if (exp > 0 && cfg.minExpires > 0 && exp < cfg.minExpires && exp < 3600) {
          throw new RegError(423, 'Interval too brief', -1, [['Min-Expires', String(cfg.minExpires)]]);
        }
        if (cfg.maxExpires > 0 && exp > cfg.maxExpires) exp = cfg.maxExpires;
        let q = qOverride ?? cfg.defaultQ;
        const qp = na.params.get('q');
        if (qOverride === undefined && qp !== undefined && qp !== null) {
          const v = parseQ(qp);
          if (v === undefined) throw new RegError(400, 'Invalid q param in contact');
          q = v;
        }
        let regId = 0;
        const rid = na.params.get('reg-id');
        if (rid !== undefined && (outbound || cfg.regidMode)) {
          if (rid === null || !/^\d{1,10}$/.test(rid)) throw new RegError(400, 'Invalid Reg-Id number');
          regId = Number(rid);
        }
        const inst = na.params.get('+sip.instance');
        const fields: NewContact = {
          uri,
          expires: now + exp * 1000,
          q,
          callid: req.callId,
          cseq: req.cseq.seq,
          flags: flags & SAVE_FLAGS.MEMORY ? UL_FLAGS.MEM : 0,
          cflags,
          regId,
          socket: sock.socket,
          ...(sock.socketId !== undefined ? { socketId: sock.socketId } : {}),
          ...(ctx.info.connectionId !== undefined ? { connectionId: ctx.info.connectionId } : {}),
          ...(received !== undefined ? { received } : {}),
          ...(path !== undefined ? { path } : {}),
          ...(ua !== undefined ? { userAgent: ua.slice(0, 255) } : {}),
          ...(allow !== undefined ? { methods: allow } : {}),
          ...(inst ? { instance: unquote(inst) } : {}),
        };
        let slot = slots.find((s) => !s.removed && this.matches(s, uri, req.callId, path));
        if (slot && !cseqOk(slot)) {
          seen.push(slot);
          continue;
        }
        if (!slot) {
          if (exp === 0) continue; // removing a binding that does not exist
          slot = { uri, callid: req.callId, path, removed: false };
          slots.push(slot);
        }
        seen.push(slot);
        if (exp === 0) {
          slot.removed = true;
          delete slot.fields;
        } else {
          slot.fields = fields;
          slot.callid = req.callId;
          slot.path = path;
        }
      }

      // save flag 0x04: one contact per AOR, the others go
      if (flags & SAVE_FLAGS.SINGLE_CONTACT) for (const s of slots) if (!seen.includes(s)) s.removed = true;

      // max_contacts: too many bindings after this request → 503
      const xmax = this.xavpCfg(ctx, 'max_contacts');
      const maxContacts = xmax !== undefined && Number.isInteger(Number(xmax)) ? Number(xmax) : cfg.maxContacts;
      if (maxContacts > 0 && slots.filter((s) => !s.removed).length > maxContacts) throw new RegError(503, 'Too many registered contacts', -2);
    }

    // commit (all or nothing: every check above ran before any change)
    let ins = 0;
    let upd = 0;
    let del = 0;
    for (const s of slots) {
      if (s.removed) {
        if (s.existing) {
          ul.remove(table, aor, s.existing.ruid);
          del++;
        }
      } else if (s.fields) {
        if (s.existing) {
          const { uri: _uri, ...rest } = s.fields;
          const f: Record<string, unknown> = { ...rest };
          // what the new REGISTER does not carry is cleared, not kept from the old binding
          for (const k of ['received', 'path', 'userAgent', 'methods', 'instance', 'connectionId', 'socketId']) if (!(k in f)) f[k] = undefined;
          ul.update(s.existing, f);
          upd++;
        } else {
          ul.insert(table, aor, s.fields);
          ins++;
        }
      }
    }
    const rc = ins > 0 ? 1 : upd > 0 ? 2 : del > 0 ? 3 : 4;
    if (retransmission) ctx.logger.debug(`registrar save: retransmission of ${req.callId} CSeq ${req.cseq.seq}`);

    // step 8: 200 OK with every current binding
    const headers: Array<[string, string]> = [];
    const bindings = ul.contacts(table, aor);
    if (bindings.length > 0) {
      headers.push(['Contact', bindings.map((c) => this.replyContact(ctx, c)).join(', ')]);
    }
    if (path !== undefined && (cfg.pathMode === 2 || (cfg.pathMode === 1 && supported.includes('path')))) {
      for (const v of pathValues) headers.push(['Path', v]);
    }
    headers.push(['Date', new Date(now).toUTCString()]);
    return { rc, headers };
  }

  /** matching_mode: 0 contact, 1 contact + Call-ID, 2 contact + path, 3 Call-ID. */
  private matches(b: { uri: string; callid: string; path?: string | undefined }, uri: string, callid: string, path: string | undefined): boolean {
    switch (this.ul.matchingMode) {
      case 1:
        return b.callid === callid && uriEquals(b.uri, uri);
      case 2:
        return uriEquals(b.uri, uri) && (path === undefined || b.path === path);
      case 3:
        return b.callid === callid;
      default:
        return uriEquals(b.uri, uri);
    }
  }

  private replyContact(ctx: RouteContext, c: UlContact): string {
    let s = `<${c.uri}>`;
    if (c.q >= 0) s += `;q=${formatQ(c.q)}`;
    if (c.expires !== 0) s += `;expires=${Math.max(0, Math.round((c.expires - this.ul.now()) / 1000))}`;
    if (this.cfg.receivedParam !== '' && c.received) s += `;${this.cfg.receivedParam}="${c.received.replace(/["\\]/g, '\\$&')}"`;
    if (c.instance) s += `;+sip.instance="${c.instance.replace(/["\\]/g, '\\$&')}"`;
    if (c.regId > 0) s += `;reg-id=${c.regId}`;
    this.addXavpRcd(ctx, c);
    return s;
  }

  // ------------------------------------------------------------------ lookup

  /** Contacts of an AOR usable for this request: (found, allowed). */
  private lookupContacts(ctx: RouteContext, req: SipRequest, table: string, uriText: string): { code: number; contacts: UlContact[] } {
    const a = this.aorOf(uriText);
    if ('error' in a) {
      ctx.logger.error(`registrar lookup: cannot get the address of record from ${JSON.stringify(uriText)}`);
      return { code: -3, contacts: [] };
    }
    const all = this.ul.contacts(table, a.aor);
    if (all.length === 0) return { code: -1, contacts: [] };
    if (!this.cfg.methodFiltering || req.to.tag) return { code: 1, contacts: all };
    const m = req.method.toUpperCase();
    const allowed = all.filter((c) => c.methods === undefined || c.methods.includes(m));
    return allowed.length === 0 ? { code: -2, contacts: [] } : { code: 1, contacts: allowed };
  }

  /** The next hop of a contact: the first Path URI (skipping ours with path_check_local), else received. */
  private nextHop(ctx: RouteContext, c: UlContact): { dst?: string; path?: string } {
    if (c.path) {
      let hops = sip.splitTopLevel(c.path).filter((h) => h !== '');
      let first: NameAddr | undefined;
      try {
        first = hops[0] ? sip.parseRouteParam(hops[0]) : undefined;
        if (first && this.cfg.pathCheckLocal) {
          const u = first.uri;
          if (ctx.services.myself.isMyself(u.host)) {
            hops = hops.slice(1);
            first = hops[0] ? sip.parseRouteParam(hops[0]) : undefined;
          }
        }
      } catch {
        ctx.logger.error(`registrar lookup: cannot parse the Path of ${c.uri}`);
        first = undefined;
      }
      if (first) return { dst: first.uri.raw, path: hops.join(',') };
    }
    return c.received ? { dst: c.received } : {};
  }

  private toBranch(ctx: RouteContext, c: UlContact): Branch {
    const hop = this.nextHop(ctx, c);
    return {
      uri: c.uri,
      q: c.q,
      flags: c.cflags,
      ruid: c.ruid,
      ...(hop.dst !== undefined ? { dstUri: hop.dst } : {}),
      ...(hop.path !== undefined ? { path: hop.path } : {}),
      ...(c.received !== undefined ? { received: c.received } : {}),
      ...(c.instance !== undefined ? { instance: c.instance } : {}),
      ...(this.listenSocket(ctx, c.socketId) ? { socketId: c.socketId } : {}),
    };
  }

  private appendBranches(ctx: RouteContext, contacts: UlContact[]): void {
    for (const c of contacts) {
      if (ctx.state.branches.length >= MAX_BRANCHES - 1) {
        ctx.logger.warn(`registrar lookup: branch limit (${MAX_BRANCHES}) reached; contact ${c.uri} not added`);
        break;
      }
      ctx.state.branches.push(this.toBranch(ctx, c));
    }
  }

  /** lookup / lookup_uri (mode "ruri") and lookup_to_dset (mode "dset"). */
  lookup(ctx: RouteContext, table: string, uriText: string | undefined, mode: 'ruri' | 'dset'): number {
    const req = ctx.request;
    if (!req) {
      ctx.logger.error('registrar lookup: the message is a reply');
      return -3;
    }
    const r = this.lookupContacts(ctx, req, table, uriText !== undefined && uriText !== '' ? uriText : this.currentRuri(req));
    if (r.code < 0) return r.code;
    let rest = r.contacts;
    if (mode === 'ruri') {
      const c = r.contacts[0]!;
      try {
        req.setRequestUri(c.uri);
      } catch (err) {
        ctx.logger.error(`registrar lookup: cannot use contact ${c.uri} as Request-URI: ${(err as Error).message}`);
        return -3;
      }
      const hop = this.nextHop(ctx, c);
      ctx.state.dstUri = hop.dst;
      ctx.state.ruriPath = hop.path;
      ctx.state.ruriQ = c.q;
      ctx.state.branchFlags[0] = ((ctx.state.branchFlags[0] ?? 0) | c.cflags) >>> 0;
      if (this.listenSocket(ctx, c.socketId)) ctx.state.sendSocketId = c.socketId;
      this.addXavpRcd(ctx, c);
      rest = this.cfg.appendBranches ? r.contacts.slice(1) : [];
    }
    this.appendBranches(ctx, rest);
    return 1;
  }

  /** lookup_branches(table): the R-URI and every plain additional branch. */
  lookupBranches(ctx: RouteContext, table: string): number {
    const req = ctx.request;
    if (!req) {
      ctx.logger.error('registrar lookup_branches: the message is a reply');
      return -3;
    }
    const before = ctx.state.branches;
    ctx.state.branches = [];
    let ret = this.lookup(ctx, table, undefined, 'ruri');
    const fromRuri = ctx.state.branches;
    if (before.length === 0) {
      ctx.state.branches = fromRuri;
      return ret;
    }
    let found = ret > 0;
    const out: Branch[] = [];
    const extra: Branch[] = [];
    for (const b of before) {
      const plain = !b.dstUri && !b.path && b.socketId === undefined && !b.flags;
      if (!plain) {
        out.push(b);
        continue;
      }
      const r = this.lookupContacts(ctx, req, table, b.uri);
      ret = r.code;
      if (r.code < 0) {
        out.push(b);
        continue;
      }
      found = true;
      out.push(this.toBranch(ctx, r.contacts[0]!));
      if (this.cfg.appendBranches) for (const c of r.contacts.slice(1)) extra.push(this.toBranch(ctx, c));
    }
    const all = [...out, ...fromRuri, ...extra];
    if (all.length > MAX_BRANCHES - 1) ctx.logger.warn(`registrar lookup_branches: branch limit (${MAX_BRANCHES}) reached; ${all.length - (MAX_BRANCHES - 1)} contacts not added`);
    ctx.state.branches = all.slice(0, MAX_BRANCHES - 1);
    return found ? 1 : ret;
  }

  // ------------------------------------------------------------------ registered / unregister / fetch

  registered(ctx: RouteContext, table: string, uriText: string | undefined, matchFlags: number, actionFlags: number): number {
    let text = uriText;
    if (text === undefined || text === '') {
      const req = ctx.request;
      text = req ? this.currentRuri(req) : ctx.msg.to.uri.raw;
    }
    const a = this.aorOf(text);
    if ('error' in a) {
      ctx.logger.error(`registrar registered: cannot get the address of record from ${JSON.stringify(text)}`);
      return -1;
    }
    const want = (bit: number, field: string): string | undefined => {
      if (!(matchFlags & bit)) return undefined;
      const v = this.xavpCfg(ctx, field);
      return v === undefined || v === '' ? undefined : String(v);
    };
    const callid = want(1, 'match_callid');
    const received = want(2, 'match_received');
    const contact = want(4, 'match_contact');
    for (const c of this.ul.contacts(table, a.aor)) {
      if (callid !== undefined && c.callid !== callid) continue;
      if (received !== undefined && c.received !== received) continue;
      if (contact !== undefined && c.uri !== contact) continue;
      if (!(actionFlags & 2)) this.addXavpRcd(ctx, c);
      return 1;
    }
    return -1;
  }

  unregister(ctx: RouteContext, table: string, uriText: string, ruid: string | undefined): number {
    if (ruid !== undefined && ruid !== '' && uriText === '') {
      const c = this.ul.findByRuid(table, ruid);
      if (!c) return -3;
      this.ul.remove(table, c.aor, ruid);
      return 1;
    }
    if (uriText === '') {
      ctx.logger.error('registrar unregister: empty uri');
      return -1;
    }
    const a = this.aorOf(uriText);
    if ('error' in a) {
      ctx.logger.error(`registrar unregister: cannot get the address of record from ${JSON.stringify(uriText)}`);
      return -1;
    }
    if (ruid !== undefined) {
      const c = this.ul.findByRuid(table, ruid);
      if (!c || c.aor !== a.aor) return -3;
      this.ul.remove(table, a.aor, ruid);
      return 1;
    }
    return this.ul.removeRecord(table, a.aor) > 0 ? 1 : -3;
  }

  fetchContacts(ctx: RouteContext, table: string, uriText: string, profile: string): number {
    if (profile === '') {
      ctx.logger.error('registrar reg_fetch_contacts: empty profile name');
      return -1;
    }
    const a = this.aorOf(uriText);
    if ('error' in a) {
      ctx.logger.error(`registrar reg_fetch_contacts: cannot get the address of record from ${JSON.stringify(uriText)}`);
      this.ulc.free(profile);
      return -1;
    }
    const contacts = this.ul.contacts(table, a.aor);
    if (contacts.length === 0) {
      this.ulc.free(profile);
      return -1;
    }
    this.ulc.set(profile, { aor: a.aor, table, aorhash: this.ul.aorHash(a.aor), contacts });
    return 1;
  }

  /** add_sock_hdr(name): a header naming the receiving socket (proto:address:port). */
  addSockHdr(ctx: RouteContext, name: string): number {
    const req = ctx.request;
    if (!req || !/^[A-Za-z0-9!%*_+`'~.-]+$/.test(name)) {
      ctx.logger.error(`registrar add_sock_hdr: invalid header name ${JSON.stringify(name)}`);
      return -1;
    }
    const l = ctx.info.local;
    req.appendHeader(name, `${ctx.info.proto}:${bracket(l.address)}:${l.port}`);
    return 1;
  }
}
