/**
 * Record-Route insertion and Route processing (RFC 3261 §16.4, §16.6 step 6, §16.12), written
 * from RFC 3261 and Kamailio's rr module documentation.
 */
import { myselfUri, sip, type NameAddr, type PvRegistry, type RouteContext, type SipRequest, type SocketInfo, type SipUri } from '@ksr/core';

export interface RrConfig {
  appendFromtag: boolean;
  /** 0 off, 1 when the in and out sockets differ, 2 always (transport always explicit). */
  enableDoubleRr: number;
  enableFullLr: boolean;
  addUsername: boolean;
  /** The custom_user_avp pseudo-variable name ("" = none). */
  customUserAvp: string;
  forceSendSocket: boolean;
  ignoreSips: boolean;
  /** loose_route() mode bits: 1 = loose only (no strict-router check of the R-URI). */
  looseRouteMode: number;
  enableSocketMismatchWarning: boolean;
}

export const RR_PRELOADED = -3;

type Render = (ctx: RouteContext, params: string) => string[];

/** What rr knows about one request (kept across route runs with the message object). */
interface RrState {
  /** record_route*() ran (Kamailio's FL_RR_ADDED). */
  added: boolean;
  /** The Record-Route values we inserted (at the top of the header list), to take them back. */
  inserted: string[];
  /** Renders our Record-Route values from the add_rr_param() params. */
  render?: Render;
  /** add_rr_param() params, each ";name[=value]". */
  params: string[];
  /** loose_route() ran on this message. */
  routed: boolean;
  /** URI params of the local Route entry loose_route() consumed (";lr;ftag=…"), "" when none. */
  routeParams: string;
  /** loose_route() took the next hop from a Route header (next_hop_route()). */
  nextHopFromRoute: boolean;
}

interface Addr {
  proto: string;
  host: string;
  port: number;
  id?: number;
}

const URI_PARAM = /^(?:;[A-Za-z0-9\-_.!~*'()%[\]/:&+$]+(?:=[A-Za-z0-9\-_.!~*'()%[\]/:&+$]*)?)+$/;

/** ";a=b;c" (a leading ';' is added when missing); undefined when not valid URI parameters. */
export function normalizeParams(s: string): string | undefined {
  const t = s.trim();
  if (t === '') return '';
  const p = t.startsWith(';') ? t : `;${t}`;
  return URI_PARAM.test(p) ? p : undefined;
}

function bracket(host: string): string {
  return sip.isIPv6(host) ? `[${host}]` : host;
}

function renderParams(m: Map<string, string | null>): string {
  let s = '';
  for (const [k, v] of m) s += v === null ? `;${k}` : `;${k}=${v}`;
  return s;
}

function isStrict(u: SipUri): boolean {
  return !u.params.has('lr');
}

/** The URI to send to for a Route entry: maddr (when present) replaces the host. */
function dstOf(u: SipUri): string {
  const maddr = u.params.get('maddr');
  if (!maddr) return u.raw;
  const p = sip.parseUri(u.raw);
  p.host = bracket(maddr);
  p.params.delete('maddr');
  return p.toString();
}

export class RecordRouter {
  private readonly states = new WeakMap<SipRequest, RrState>();
  private readonly regexCache = new Map<string, RegExp | null>();

  constructor(
    readonly cfg: RrConfig,
    private readonly pv?: PvRegistry,
  ) {}

  state(req: SipRequest): RrState {
    let s = this.states.get(req);
    if (!s) {
      s = { added: false, inserted: [], params: [], routed: false, routeParams: '', nextHopFromRoute: false };
      this.states.set(req, s);
    }
    return s;
  }

  private request(ctx: RouteContext, fname: string): SipRequest | undefined {
    const req = ctx.request;
    if (!req) ctx.logger.error(`rr ${fname}: the message is a reply`);
    return req;
  }

  // ------------------------------------------------------------------ sockets

  private sockAddr(s: SocketInfo): Addr {
    return { proto: s.proto, host: bracket(s.advertise?.address ?? s.local.address), port: s.advertise?.port ?? s.local.port, id: s.id };
  }

  /** The socket the request came in on. */
  private inbound(ctx: RouteContext): Addr {
    const s = ctx.services.sockets().find((x) => x.id === ctx.info.socketId);
    if (s) return this.sockAddr(s);
    return { proto: ctx.info.proto, host: bracket(ctx.info.local.address), port: ctx.info.local.port };
  }

  /**
   * The socket the request will leave from: the forced send socket, else the one matching the
   * protocol and address family of $du (else the R-URI), else the inbound one. Kamailio fills
   * this in when the request is sent; here it is decided when record_route() runs.
   */
  private outbound(ctx: RouteContext, req: SipRequest, inb: Addr): Addr {
    const socks = ctx.services.sockets();
    let out: Addr | undefined;
    if (ctx.state.sendSocketId !== undefined) {
      const s = socks.find((x) => x.id === ctx.state.sendSocketId);
      if (s) out = this.sockAddr(s);
    }
    if (!out) {
      let dest: SipUri | undefined;
      try {
        dest = sip.parseUri(ctx.state.dstUri || (req.newRequestUri ?? req.uri));
      } catch {
        dest = undefined;
      }
      if (dest && (dest.scheme === 'sip' || dest.scheme === 'sips')) {
        const proto = (dest.params.get('transport') ?? (dest.scheme === 'sips' ? 'tls' : 'udp')).toLowerCase();
        const h = dest.host.replace(/^\[|\]$/g, '');
        const family = sip.isIPv6(h) ? 6 : sip.isIPv4(h) ? 4 : ctx.info.local.family;
        if (proto === inb.proto && family === ctx.info.local.family) out = inb;
        else {
          const s = socks.find((x) => x.proto === proto && x.local.family === family);
          if (s) out = this.sockAddr(s);
          else if (proto === 'udp' || proto === 'tcp') {
            const la = ctx.services.localAddress(proto, family);
            if (la) out = { proto, host: la.host, port: la.port };
          }
        }
      }
    }
    out ??= inb;
    // set_advertised_address / set_advertised_port apply to the outgoing side
    const adv = ctx.state.advertisedAddress;
    const advPort = ctx.state.advertisedPort;
    if (adv || advPort) out = { ...out, host: adv ? bracket(adv) : out.host, port: advPort ? Number(advPort) : out.port };
    return out;
  }

  // ------------------------------------------------------------------ Record-Route

  private scheme(req: SipRequest): string {
    if (this.cfg.ignoreSips) return 'sip';
    return /^sips:/i.test(req.newRequestUri ?? req.uri) ? 'sips' : 'sip';
  }

  private userPart(ctx: RouteContext, req: SipRequest): string {
    if (!this.cfg.addUsername) return '';
    let user: string | undefined;
    if (this.cfg.customUserAvp !== '' && this.pv) {
      const acc = this.pv.lookup(this.cfg.customUserAvp);
      const v = acc instanceof Error ? null : acc.get(ctx);
      if (v !== null && v !== '') user = String(v);
    }
    if (user === undefined) {
      try {
        user = sip.parseUri(req.newRequestUri ?? req.uri).user;
      } catch {
        user = undefined;
      }
    }
    return user ? `${user}@` : '';
  }

  /** ftag: the From tag, or the To tag for an upstream in-dialog request (after loose_route). */
  private ftag(req: SipRequest): string {
    if (!this.cfg.appendFromtag) return '';
    const upstream = this.direction(req) === 'upstream';
    const tag = upstream ? req.to.tag : req.from.tag;
    return tag ? `;ftag=${tag}` : '';
  }

  private lr(): string {
    return this.cfg.enableFullLr ? ';lr=on' : ';lr';
  }

  /** (Re)write our Record-Route fields from the state. */
  private apply(ctx: RouteContext, req: SipRequest, st: RrState): void {
    // take back what we inserted before (found by value: the script may have added others since)
    for (const v of st.inserted) {
      const i = req
        .currentHeaders()
        .filter((h) => h.key === 'record-route')
        .findIndex((h) => h.value === v);
      if (i >= 0) req.removeHeader('Record-Route', i);
    }
    st.inserted = [];
    if (!st.render) return;
    const values = st.render(ctx, st.params.join(''));
    // insertHeader puts each value first: insert in reverse to keep the order
    for (let i = values.length - 1; i >= 0; i--) req.insertHeader('Record-Route', values[i]!);
    st.inserted = values;
  }

  private begin(ctx: RouteContext, req: SipRequest, fname: string): RrState | undefined {
    const st = this.state(req);
    if (st.added && ctx.routeType !== 'branch') {
      ctx.logger.error(`rr ${fname}: double attempt to record-route`);
      return undefined;
    }
    return st;
  }

  private finish(ctx: RouteContext, req: SipRequest, st: RrState, render: Render): number {
    st.render = render;
    try {
      this.apply(ctx, req, st);
    } catch (err) {
      st.render = undefined;
      ctx.logger.error(`rr: cannot add Record-Route: ${(err as Error).message}`);
      return -1;
    }
    if (ctx.routeType !== 'branch') st.added = true;
    return 1;
  }

  /** record_route() / record_route_params(params). */
  recordRoute(ctx: RouteContext, extra = ''): number {
    const req = this.request(ctx, 'record_route');
    if (!req) return -1;
    const more = normalizeParams(extra);
    if (more === undefined) {
      ctx.logger.error(`rr record_route_params: invalid parameters ${JSON.stringify(extra)} (expected ";name=value")`);
      return -1;
    }
    const st = this.begin(ctx, req, 'record_route');
    if (!st) return -1;
    const mode = this.cfg.enableDoubleRr;
    const transport = (a: Addr): string => (mode === 2 || a.proto !== 'udp' ? `;transport=${a.proto}` : '');
    // rendered again by add_rr_param() and refresh(): the addresses follow the current destination
    return this.finish(ctx, req, st, (c, params) => {
      const inb = this.inbound(c);
      const out = this.outbound(c, req, inb);
      const head = `<${this.scheme(req)}:${this.userPart(c, req)}`;
      const tail = `${this.lr()}${this.ftag(req)}${more}${params}>`;
      const double = mode === 2 || (mode === 1 && (inb.proto !== out.proto || inb.host !== out.host || inb.port !== out.port));
      const one = (a: Addr, r2: boolean): string => `${head}${a.host}:${a.port}${transport(a)}${r2 ? ';r2=on' : ''}${tail}`;
      // double: the first (top) entry faces the next hop (outbound), the second the previous hop
      return double ? [one(out, true), one(inb, true)] : [one(out, false)];
    });
  }

  /** record_route_preset(addr1, addr2) / record_route_preset_one(addr1): "host[:port][;params]" entries. */
  recordRoutePreset(ctx: RouteContext, addr1: string, addr2: string | undefined): number {
    const req = this.request(ctx, 'record_route_preset');
    if (!req) return -1;
    const a1 = addr1.trim();
    const a2 = addr2?.trim() ?? '';
    if (a2 !== '' && this.cfg.enableDoubleRr === 0) {
      ctx.logger.error("rr record_route_preset: two addresses given while 'enable_double_rr' is off");
      return -1;
    }
    const scheme = this.scheme(req);
    for (const a of a2 === '' ? [a1] : [a1, a2]) {
      if (!this.validPreset(scheme, a)) {
        ctx.logger.error(`rr record_route_preset: invalid address ${JSON.stringify(a)} (expected host[:port][;params], no scheme)`);
        return -1;
      }
    }
    const st = this.begin(ctx, req, 'record_route_preset');
    if (!st) return -1;
    const user = this.userPart(ctx, req);
    const ftag = this.ftag(req);
    const one = (a: string, params: string): string => `<${scheme}:${user}${a}${this.lr()}${ftag}${params}>`;
    return this.finish(ctx, req, st, (_c, params) => (a2 === '' ? [one(a1, params)] : [one(a1, params), one(a2, params)]));
  }

  private validPreset(scheme: string, a: string): boolean {
    if (a === '' || /[\s<>,"]/.test(a) || /^sips?:/i.test(a) || a.includes('@')) return false;
    try {
      const u = sip.parseUri(`${scheme}:${a}`);
      return u.host !== '' && u.headers.size === 0;
    } catch {
      return false;
    }
  }

  /** record_route_advertised_address(addr): our Record-Route with this host[:port]. */
  recordRouteAdvertised(ctx: RouteContext, addr: string): number {
    const req = this.request(ctx, 'record_route_advertised_address');
    if (!req) return -1;
    const a = addr.trim();
    const scheme = this.scheme(req);
    if (!this.validPreset(scheme, a) || a.includes(';')) {
      ctx.logger.error(`rr record_route_advertised_address: invalid address ${JSON.stringify(addr)} (expected host[:port])`);
      return -1;
    }
    const st = this.begin(ctx, req, 'record_route_advertised_address');
    if (!st) return -1;
    const inb = this.inbound(ctx);
    const out = this.outbound(ctx, req, inb);
    const user = this.userPart(ctx, req);
    const ftag = this.ftag(req);
    const mode = this.cfg.enableDoubleRr;
    const double = mode === 2 || (mode === 1 && inb.proto !== out.proto);
    const transport = (p: string): string => (mode === 2 || p !== 'udp' ? `;transport=${p}` : '');
    const one = (p: string, r2: boolean, params: string): string => `<${scheme}:${user}${a}${transport(p)}${r2 ? ';r2=on' : ''}${this.lr()}${ftag}${params}>`;
    return this.finish(ctx, req, st, (_c, params) => (double ? [one(out.proto, true, params), one(inb.proto, true, params)] : [one(out.proto, false, params)]));
  }

  /** add_rr_param(";name=value"): to our Record-Route, now or when it is added. */
  addRrParam(ctx: RouteContext, param: string): number {
    const req = this.request(ctx, 'add_rr_param');
    if (!req) return -1;
    const p = normalizeParams(param);
    if (p === undefined || p === '') {
      ctx.logger.error(`rr add_rr_param: invalid parameter ${JSON.stringify(param)} (expected ";name=value")`);
      return -1;
    }
    const st = this.state(req);
    st.params.push(p);
    if (st.render) {
      try {
        this.apply(ctx, req, st);
      } catch (err) {
        st.params.pop();
        ctx.logger.error(`rr add_rr_param: ${(err as Error).message}`);
        return -1;
      }
    }
    return 1;
  }

  /** remove_record_route(): take back what record_route*() and add_rr_param() added. */
  removeRecordRoute(ctx: RouteContext): number {
    const req = this.request(ctx, 'remove_record_route');
    if (!req) return -1;
    const st = this.state(req);
    st.render = undefined;
    this.apply(ctx, req, st);
    st.params = [];
    st.added = false;
    return 1;
  }

  /**
   * Render our Record-Route again for the current destination: the out socket of record_route()
   * follows $du / the R-URI / the forced socket, which lookup() and the script may change after
   * record_route() ran. For senders (tm, core forwarding) to call just before a request goes out.
   */
  refresh(ctx: RouteContext): void {
    const req = ctx.request;
    const st = req ? this.states.get(req) : undefined;
    if (req && st?.render) this.apply(ctx, req, st);
  }

  // ------------------------------------------------------------------ Route

  /** The current Route values, in order, and how many Route fields hold them. */
  private routes(req: SipRequest): { values: string[]; fields: number } {
    const values: string[] = [];
    let fields = 0;
    for (const h of req.currentHeaders()) {
      if (h.key !== 'route') continue;
      fields++;
      for (const v of sip.splitTopLevel(h.value)) if (v !== '') values.push(v);
    }
    return { values, fields };
  }

  private writeRoutes(req: SipRequest, values: string[], fields: number): void {
    if (fields === 0) {
      if (values.length > 0) req.appendHeader('Route', values.join(', '));
      return;
    }
    if (values.length === 0) {
      req.removeHeader('Route');
      return;
    }
    req.replaceHeader('Route', values.join(', '));
    for (let i = 1; i < fields; i++) req.removeHeader('Route', 1);
  }

  private forceSocketFor(ctx: RouteContext, u: SipUri, warn: boolean): void {
    const t = (u.params.get('transport') ?? (u.scheme === 'sips' ? 'tls' : 'udp')).toLowerCase();
    const host = u.host.replace(/^\[|\]$/g, '').toLowerCase();
    const port = u.port ?? (u.scheme === 'sips' ? 5061 : 5060);
    const s = ctx.services
      .sockets()
      .find((x) => x.proto === t && x.local.port === port && (x.local.address.toLowerCase() === host || x.advertise?.address.toLowerCase() === host));
    if (s) ctx.state.sendSocketId = s.id;
    else if (warn && this.cfg.enableSocketMismatchWarning) ctx.logger.warn(`rr loose_route: no socket found to match second RR (${u.raw})`);
  }

  /** loose_route() / loose_route_mode(mode): 1 routed, -3 preloaded route of ours only, -1 no Route / error. */
  looseRoute(ctx: RouteContext, mode: number): number {
    const req = this.request(ctx, 'loose_route');
    if (!req) return -1;
    const st = this.state(req);
    st.routed = true;
    st.routeParams = '';
    st.nextHopFromRoute = false;
    const { values, fields } = this.routes(req);
    if (values.length === 0) return -1;
    let parsed: NameAddr[];
    let ruri: SipUri;
    try {
      parsed = values.map((v) => sip.parseRouteParam(v));
      ruri = sip.parseUri(req.newRequestUri ?? req.uri);
    } catch (err) {
      ctx.logger.error(`rr loose_route: cannot parse the Route set or the R-URI: ${(err as Error).message}`);
      return -1;
    }
    const preloaded = !req.to.tag;
    const vals = [...values];
    const uris = parsed.map((p) => p.uri);
    try {
      if (!preloaded && !(mode & 1) && myselfUri(ctx, ruri)) return this.afterStrict(ctx, req, st, ruri, vals, uris, fields);
      return this.afterLoose(ctx, req, st, vals, uris, fields, preloaded);
    } catch (err) {
      ctx.logger.error(`rr loose_route: ${(err as Error).message}`);
      return -1;
    }
  }

  /** The next hop is a strict router: it becomes the R-URI, the R-URI goes to the end of the route set. */
  private toStrictNextHop(req: SipRequest, vals: string[], uris: SipUri[], i: number): void {
    const cur = req.newRequestUri ?? req.uri;
    req.setRequestUri(uris[i]!.raw);
    vals.splice(i, 1);
    uris.splice(i, 1);
    vals.push(`<${cur}>`);
  }

  /** The previous hop was a strict router: the R-URI is our Record-Route entry (RFC 3261 §16.4). */
  private afterStrict(ctx: RouteContext, req: SipRequest, st: RrState, ruri: SipUri, vals: string[], uris: SipUri[], fields: number): number {
    st.routeParams = renderParams(ruri.params);
    // the remote target is the last Route entry
    const last = uris.pop()!;
    vals.pop();
    req.setRequestUri(last.raw);
    ctx.state.dstUri = undefined;
    if (uris.length > 0) {
      const top = uris[0]!;
      if (isStrict(top)) this.toStrictNextHop(req, vals, uris, 0);
      else {
        ctx.state.dstUri = dstOf(top);
        st.nextHopFromRoute = true;
      }
    }
    this.writeRoutes(req, vals, fields);
    return 1;
  }

  private afterLoose(ctx: RouteContext, req: SipRequest, st: RrState, vals: string[], uris: SipUri[], fields: number, preloaded: boolean): number {
    const top = uris[0]!;
    if (myselfUri(ctx, top)) {
      st.routeParams = renderParams(top.params);
      const r2 = this.cfg.enableDoubleRr !== 0 && top.params.get('r2')?.toLowerCase() === 'on';
      if (this.cfg.forceSendSocket && !r2) this.forceSocketFor(ctx, top, false);
      vals.shift();
      uris.shift();
      if (r2 && uris.length > 0) {
        // the second entry of a double Record-Route: ours too, and the socket towards the next hop
        this.forceSocketFor(ctx, uris[0]!, true);
        vals.shift();
        uris.shift();
      }
      if (uris.length === 0) {
        this.writeRoutes(req, vals, fields);
        return preloaded ? RR_PRELOADED : 1;
      }
      st.nextHopFromRoute = true;
    }
    const next = uris[0]!;
    if (isStrict(next)) this.toStrictNextHop(req, vals, uris, 0);
    else ctx.state.dstUri = dstOf(next);
    this.writeRoutes(req, vals, fields);
    return 1;
  }

  /** The params of the local Route entry: from loose_route(), else the first Route when it is ours. */
  private localParams(ctx: RouteContext, req: SipRequest): string {
    const st = this.states.get(req);
    if (st?.routed) return st.routeParams;
    const first = req.route[0];
    if (first && myselfUri(ctx, first.uri)) return renderParams(first.uri.params);
    return '';
  }

  /** check_route_param(re): do the params of our Route entry match the regular expression? */
  checkRouteParam(ctx: RouteContext, re: string): number {
    const req = this.request(ctx, 'check_route_param');
    if (!req) return -1;
    let rx = this.regexCache.get(re);
    if (rx === undefined) {
      try {
        rx = new RegExp(re);
      } catch {
        rx = null;
      }
      if (this.regexCache.size >= 256) this.regexCache.delete(this.regexCache.keys().next().value!);
      this.regexCache.set(re, rx);
    }
    if (rx === null) {
      ctx.logger.error(`rr check_route_param: invalid regular expression ${JSON.stringify(re)}`);
      return -1;
    }
    const params = this.localParams(ctx, req);
    if (params === '') return -1;
    return rx.test(params) ? 1 : -1;
  }

  /** The flow direction of an in-dialog request from the ftag of our Route entry. */
  direction(req: SipRequest, ctx?: RouteContext): 'downstream' | 'upstream' {
    const st = this.states.get(req);
    const params = st?.routed ? st.routeParams : ctx ? this.localParams(ctx, req) : '';
    const m = /;ftag=([^;]*)/i.exec(params);
    const ftag = m?.[1] ?? '';
    const tag = req.from.tag ?? '';
    if (ftag === '' || tag === '') return 'downstream';
    return ftag === tag ? 'downstream' : 'upstream';
  }

  isDirection(ctx: RouteContext, dir: string): number {
    const req = this.request(ctx, 'is_direction');
    if (!req) return -1;
    const d = dir.trim().toLowerCase();
    if (d !== 'downstream' && d !== 'upstream') {
      ctx.logger.error(`rr is_direction: unknown direction ${JSON.stringify(dir)} (downstream or upstream)`);
      return -1;
    }
    if (!this.cfg.appendFromtag) {
      ctx.logger.error('rr is_direction: needs modparam("rr", "append_fromtag", 1)');
      return -1;
    }
    return this.direction(req, ctx) === d ? 1 : -1;
  }

  /** A parameter of our Route entry: its value, "" for a flag, undefined when absent. */
  routeParam(ctx: RouteContext, name: string): string | undefined {
    const req = ctx.request;
    if (!req) return undefined;
    const params = this.localParams(ctx, req);
    for (const p of params.split(';')) {
      if (p === '') continue;
      const eq = p.indexOf('=');
      const k = eq < 0 ? p : p.slice(0, eq);
      if (k.toLowerCase() === name.toLowerCase()) return eq < 0 ? '' : p.slice(eq + 1);
    }
    return undefined;
  }

  nextHopRoute(ctx: RouteContext): number {
    const req = ctx.request;
    return req && this.states.get(req)?.nextHopFromRoute ? 1 : -1;
  }
}
