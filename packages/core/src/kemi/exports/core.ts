/**
 * The core KEMI exports (Kamailio's `_sr_kemi_core`, module "" → `KSR.<name>`): logging, drop,
 * is_myself*, message/branch/script flags, R-URI and $du setters, rport, method and transport
 * tests, stateless forwarding and a few socket settings. Names, parameter and return types are
 * Kamailio's; the behaviour is written from its documentation (no Kamailio code).
 *
 * Differences from Kamailio, on purpose or for now:
 *  - set_drop() marks the message as dropped (`ctx.dropRequested`) in every route type and does
 *    not end the route. Kamailio's set_drop is a no-op in the KEMI request route (no action
 *    context there), so `KSR.set_drop(); return` in ksr_request_route drops the request's
 *    implicit handling in ksr but not in Kamailio (where nothing is forwarded implicitly anyway).
 *  - forward()/forward_uri() send only to literal IP addresses over UDP or TCP (no DNS, no TLS,
 *    WS or SCTP yet); the send happens in the background, so a later socket error is logged
 *    and not reflected in the return value.
 *  - route(name) cannot run a native route block (ksr has none): it logs an error and returns -1.
 *  - add_tcp_alias()/add_tcp_alias_via() are accepted and ignored (TCP aliases are not
 *    implemented); they log at debug level and return 1.
 */
import { createHash } from 'node:crypto';
import { currentRuri as parsedRuri, dstUri as parsedDstUri } from '../../pv/util.js';
import type { RouteContext } from '../../routing/context.js';
import { MAGIC_COOKIE, isIPv4, isIPv6, parseUri, type SipRequest, type SipResponse, type SipUri } from '../../sip/index.js';
import type { SendTarget } from '../../transport/index.js';
import type { KemiExportDef } from '../types.js';

type Def = KemiExportDef<RouteContext>;

// ------------------------------------------------------------------------------------ logging

type ScriptLevel = 'dbg' | 'info' | 'notice' | 'warn' | 'err' | 'crit';
type PinoLevel = 'debug' | 'info' | 'warn' | 'error' | 'fatal';

/** Kamailio levels → pino. pino has no NOTICE (→ info) and no CRIT (→ fatal). */
const PINO_LEVEL: Readonly<Record<ScriptLevel, PinoLevel>> = {
  dbg: 'debug',
  info: 'info',
  notice: 'info',
  warn: 'warn',
  err: 'error',
  crit: 'fatal',
};

/** Scripts end log messages with "\n" (Kamailio writes them verbatim); pino adds its own line end. */
function stripLineEnd(s: string): string {
  if (s.endsWith('\r\n')) return s.slice(0, -2);
  if (s.endsWith('\n')) return s.slice(0, -1);
  return s;
}

function scriptLog(ctx: RouteContext, level: ScriptLevel, msg: string): void {
  const logger = ctx.logger;
  const pl = PINO_LEVEL[level];
  if (!logger.isLevelEnabled(pl)) return;
  logger[pl]({ src: 'script', ...(level === 'notice' || level === 'crit' ? { slevel: level } : {}) }, stripLineEnd(msg));
}

function logExport(name: ScriptLevel, what: string): Def {
  return {
    name,
    returns: 'none',
    params: ['str'],
    paramNames: ['msg'],
    doc: `Write a log message at ${what} level (one trailing newline is removed).`,
    fn: (ctx: RouteContext, msg: string) => scriptLog(ctx, name, msg),
  };
}

const LOG_LEVELS = new Set<string>(['dbg', 'info', 'notice', 'warn', 'err', 'crit']);

// ------------------------------------------------------------------------------------ helpers

/** The Request-URI as it is now (after seturi/setuser/sethost), or the received one. */
function currentRuri(req: SipRequest): string {
  return req.newRequestUri ?? req.uri;
}

function unbracket(host: string): string {
  return host.length > 1 && host.startsWith('[') && host.endsWith(']') ? host.slice(1, -1) : host;
}

function ipFamily(host: string): 0 | 4 | 6 {
  const h = unbracket(host);
  if (isIPv4(h)) return 4;
  if (isIPv6(h)) return 6;
  return 0;
}

function errText(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

/** The request of the context, or undefined with an error log when the route handles a reply. */
function requestOnly(ctx: RouteContext, fname: string): SipRequest | undefined {
  const req = ctx.request;
  if (!req) ctx.logger.error(`KSR.${fname}: the message is a reply, not a request`);
  return req;
}

/** The next hop parsed without parsing again what the message already holds: $du when set, else the R-URI. */
function nextHopUri(ctx: RouteContext): SipUri | undefined {
  const u = ctx.state.dstUri ? parsedDstUri(ctx) : parsedRuri(ctx);
  return u && (u.scheme === 'sip' || u.scheme === 'sips') ? u : undefined;
}

function parseSipUri(text: string): SipUri | undefined {
  try {
    const u = parseUri(text);
    return u.scheme === 'sip' || u.scheme === 'sips' ? u : undefined;
  } catch {
    return undefined;
  }
}

/** `;transport=` lowercased, else tls for sips:, else udp. */
function uriProto(u: SipUri): string {
  const t = u.params.get('transport');
  if (t) return t.toLowerCase();
  return u.scheme === 'sips' ? 'tls' : 'udp';
}

/** A host name, IPv4 or [IPv6] (IPv6 without brackets is accepted and bracketed); undefined if invalid. */
function validHost(host: string): string | undefined {
  const h = isIPv6(host) ? `[${host}]` : host;
  if (!/^(?:\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9.-]+)$/.test(h)) return undefined;
  try {
    const u = parseUri(`sip:${h}`);
    return u.host === h && u.port === undefined && u.params.size === 0 ? h : undefined;
  } catch {
    return undefined;
  }
}

// ------------------------------------------------------------------------------------ myself

/**
 * Does this URI name us? Host, port (5060, or 5061 for sips: / transport=tls, when the URI has
 * none) and the `;transport=` protocol, checked against the listen sockets and aliases.
 */
export function myselfUri(ctx: RouteContext, u: SipUri | undefined): boolean {
  if (!u || (u.scheme !== 'sip' && u.scheme !== 'sips')) return false;
  if (u.host === '') return false;
  const t = u.params.get('transport')?.toLowerCase();
  const port = u.port ?? (u.scheme === 'sips' || t === 'tls' ? 5061 : 5060);
  return ctx.services.myself.isMyself(u.host, port, t);
}

/** is_myself(str): a sip:/sips: URI, or a bare host / host:port / [v6]:port / IPv6 literal. */
function isMyselfText(ctx: RouteContext, text: string): boolean {
  const s = text.trim();
  if (s.length === 0) return false;
  if (/^sips?:/i.test(s)) return myselfUri(ctx, parseSipUri(s));
  // A bare host without a port is a host-only check (any of our ports).
  if (isIPv6(s)) return ctx.services.myself.isMyself(`[${s}]`);
  const u = parseSipUri(`sip:${s}`);
  if (!u || u.user !== undefined || u.params.size > 0 || u.headers.size > 0) return false;
  return u.port === undefined ? ctx.services.myself.isMyself(u.host) : ctx.services.myself.isMyself(u.host, u.port);
}

// ------------------------------------------------------------------------------------ flags

const FLAG_MAX = 31;
/** Kamailio's default max_branches: branch indexes 0..11. */
export const MAX_BRANCHES = 12;

function flagOk(ctx: RouteContext, fname: string, flag: number): boolean {
  if (Number.isInteger(flag) && flag >= 0 && flag <= FLAG_MAX) return true;
  ctx.logger.error(`KSR.${fname}: flag ${flag} out of range (0..${FLAG_MAX})`);
  return false;
}

function branchOk(ctx: RouteContext, fname: string, branch: number): boolean {
  if (Number.isInteger(branch) && branch >= 0 && branch < MAX_BRANCHES) return true;
  ctx.logger.error(`KSR.${fname}: branch ${branch} out of range (0..${MAX_BRANCHES - 1})`);
  return false;
}

const setBit = (v: number, f: number): number => (v | (1 << f)) >>> 0;
const clearBit = (v: number, f: number): number => (v & ~(1 << f)) >>> 0;
const hasBit = (v: number, f: number): boolean => ((v >>> f) & 1) === 1;

function branchFlagOp(ctx: RouteContext, fname: string, flag: number, branch: number, op: 'set' | 'reset' | 'test'): boolean {
  if (!flagOk(ctx, fname, flag) || !branchOk(ctx, fname, branch)) return false;
  const bf = ctx.state.branchFlags;
  const cur = bf[branch] ?? 0;
  if (op === 'test') return hasBit(cur, flag);
  if (op === 'reset' && branch >= bf.length) return true;
  while (bf.length <= branch) bf.push(0);
  bf[branch] = op === 'set' ? setBit(cur, flag) : clearBit(cur, flag);
  return true;
}

function flagExports(): Def[] {
  const msgFlag = (name: string, op: 'set' | 'reset' | 'test', doc: string): Def => ({
    name,
    returns: 'bool',
    params: ['int'],
    paramNames: ['flag'],
    doc,
    fn: (ctx: RouteContext, flag: number) => {
      if (!flagOk(ctx, name, flag)) return false;
      const st = ctx.state;
      if (op === 'test') return hasBit(st.flags, flag);
      st.flags = op === 'set' ? setBit(st.flags, flag) : clearBit(st.flags, flag);
      return true;
    },
  });
  const scriptFlag = (name: string, op: 'set' | 'reset' | 'test', doc: string): Def => ({
    name,
    returns: 'bool',
    params: ['int'],
    paramNames: ['flag'],
    doc,
    fn: (ctx: RouteContext, flag: number) => {
      if (!flagOk(ctx, name, flag)) return false;
      if (op === 'test') return hasBit(ctx.scriptFlags, flag);
      ctx.scriptFlags = op === 'set' ? setBit(ctx.scriptFlags, flag) : clearBit(ctx.scriptFlags, flag);
      return true;
    },
  });
  const bflag = (name: string, op: 'set' | 'reset' | 'test', doc: string): Def => ({
    name,
    returns: 'bool',
    params: ['int'],
    paramNames: ['flag'],
    doc,
    fn: (ctx: RouteContext, flag: number) => branchFlagOp(ctx, name, flag, 0, op),
  });
  const biflag = (name: string, op: 'set' | 'reset' | 'test', doc: string): Def => ({
    name,
    returns: 'bool',
    params: ['int', 'int'],
    paramNames: ['flag', 'branch'],
    doc,
    fn: (ctx: RouteContext, flag: number, branch: number) => branchFlagOp(ctx, name, flag, branch, op),
  });
  return [
    msgFlag('setflag', 'set', 'Set message/transaction flag 0..31.'),
    msgFlag('resetflag', 'reset', 'Reset message/transaction flag 0..31.'),
    msgFlag('isflagset', 'test', 'Is message/transaction flag 0..31 set?'),
    bflag('setbflag', 'set', 'Set flag 0..31 of branch 0.'),
    bflag('resetbflag', 'reset', 'Reset flag 0..31 of branch 0.'),
    bflag('isbflagset', 'test', 'Is flag 0..31 of branch 0 set?'),
    biflag('setbiflag', 'set', `Set flag 0..31 of a branch (0..${MAX_BRANCHES - 1}).`),
    biflag('resetbiflag', 'reset', `Reset flag 0..31 of a branch (0..${MAX_BRANCHES - 1}).`),
    biflag('isbiflagset', 'test', `Is flag 0..31 of a branch (0..${MAX_BRANCHES - 1}) set?`),
    scriptFlag('setsflag', 'set', 'Set script flag 0..31 (reset for every route run).'),
    scriptFlag('resetsflag', 'reset', 'Reset script flag 0..31.'),
    scriptFlag('issflagset', 'test', 'Is script flag 0..31 set?'),
  ];
}

// ------------------------------------------------------------------------------------ URIs

function setRuri(ctx: RouteContext, fname: string, req: SipRequest, uri: string): boolean {
  try {
    req.setRequestUri(uri);
    return true;
  } catch (err) {
    ctx.logger.error(`KSR.${fname}: invalid Request-URI ${JSON.stringify(uri)}: ${errText(err)}`);
    return false;
  }
}

/** The current R-URI parsed, for setuser/sethost (which edit it); undefined when not sip/sips. */
function currentSipRuri(ctx: RouteContext, fname: string, req: SipRequest): SipUri | undefined {
  const u = parseSipUri(currentRuri(req));
  if (!u) ctx.logger.error(`KSR.${fname}: the Request-URI ${JSON.stringify(currentRuri(req))} is not a sip:/sips: URI`);
  return u;
}

const uriExports: Def[] = [
  {
    name: 'seturi',
    returns: 'bool',
    params: ['str'],
    paramNames: ['uri'],
    doc: 'Set the Request-URI (sip:, sips: or tel:). False for an invalid URI or a reply.',
    fn: (ctx: RouteContext, uri: string) => {
      const req = requestOnly(ctx, 'seturi');
      if (!req) return false;
      let scheme: string;
      try {
        scheme = parseUri(uri).scheme;
      } catch (err) {
        ctx.logger.error(`KSR.seturi: invalid URI ${JSON.stringify(uri)}: ${errText(err)}`);
        return false;
      }
      if (scheme !== 'sip' && scheme !== 'sips' && scheme !== 'tel') {
        ctx.logger.error(`KSR.seturi: unsupported URI scheme in ${JSON.stringify(uri)}`);
        return false;
      }
      return setRuri(ctx, 'seturi', req, uri);
    },
  },
  {
    name: 'setuser',
    returns: 'bool',
    params: ['str'],
    paramNames: ['user'],
    doc: 'Replace the user part of the (current) Request-URI; "" removes it.',
    fn: (ctx: RouteContext, user: string) => {
      const req = requestOnly(ctx, 'setuser');
      if (!req) return false;
      const u = currentSipRuri(ctx, 'setuser', req);
      if (!u) return false;
      if (user === '') {
        u.user = undefined;
        u.password = undefined;
      } else u.user = user;
      return setRuri(ctx, 'setuser', req, u.toString());
    },
  },
  {
    name: 'sethost',
    returns: 'bool',
    params: ['str'],
    paramNames: ['host'],
    doc: 'Replace the host part of the (current) Request-URI (port and parameters are kept).',
    fn: (ctx: RouteContext, host: string) => {
      const req = requestOnly(ctx, 'sethost');
      if (!req) return false;
      const h = validHost(host);
      if (!h) {
        ctx.logger.error(`KSR.sethost: invalid host ${JSON.stringify(host)}`);
        return false;
      }
      const u = currentSipRuri(ctx, 'sethost', req);
      if (!u) return false;
      u.host = h;
      return setRuri(ctx, 'sethost', req, u.toString());
    },
  },
  {
    name: 'setdsturi',
    returns: 'bool',
    params: ['str'],
    paramNames: ['uri'],
    doc: 'Set the destination URI ($du, the outbound proxy): a sip:/sips: URI.',
    fn: (ctx: RouteContext, uri: string) => {
      if (!requestOnly(ctx, 'setdsturi')) return false;
      const u = parseSipUri(uri);
      if (!u || u.host === '' || /\s/.test(uri)) {
        ctx.logger.error(`KSR.setdsturi: invalid SIP URI ${JSON.stringify(uri)}`);
        return false;
      }
      ctx.state.dstUri = uri;
      return true;
    },
  },
  {
    name: 'resetdsturi',
    returns: 'bool',
    params: [],
    doc: 'Clear the destination URI ($du).',
    fn: (ctx: RouteContext) => {
      if (!requestOnly(ctx, 'resetdsturi')) return false;
      ctx.state.dstUri = undefined;
      return true;
    },
  },
  {
    name: 'isdsturiset',
    returns: 'bool',
    params: [],
    doc: 'Is the destination URI ($du) set?',
    fn: (ctx: RouteContext) => ctx.request !== undefined && ctx.state.dstUri !== undefined && ctx.state.dstUri !== '',
  },
];

// ------------------------------------------------------------------------------------ methods

/** The method of a request, or the CSeq method of a reply; uppercase. */
function methodOf(ctx: RouteContext): string {
  const req = ctx.request;
  return (req ? req.method : ctx.msg.cseq.method).toUpperCase();
}

/** is_method_in letters (INFO has none). */
const METHOD_LETTERS: Readonly<Record<string, string>> = {
  I: 'INVITE',
  A: 'ACK',
  B: 'BYE',
  C: 'CANCEL',
  M: 'MESSAGE',
  R: 'REGISTER',
  E: 'PRACK',
  P: 'PUBLISH',
  S: 'SUBSCRIBE',
  N: 'NOTIFY',
  O: 'OPTIONS',
  F: 'REFER',
  G: 'GET',
  U: 'UPDATE',
  K: 'KDMQ',
  D: 'DELETE',
  T: 'POST',
  V: 'PUT',
};

const IS_METHODS = [
  'INVITE',
  'ACK',
  'BYE',
  'CANCEL',
  'REGISTER',
  'OPTIONS',
  'SUBSCRIBE',
  'PUBLISH',
  'NOTIFY',
  'REFER',
  'INFO',
  'UPDATE',
  'PRACK',
  'MESSAGE',
  'KDMQ',
  'GET',
  'POST',
  'PUT',
  'DELETE',
] as const;

const methodExports: Def[] = [
  {
    name: 'is_method',
    returns: 'bool',
    params: ['str'],
    paramNames: ['method'],
    doc: 'Does the method (the CSeq method for a reply) match? Case-insensitive; "INVITE|BYE" lists alternatives.',
    fn: (ctx: RouteContext, list: string) => {
      const m = methodOf(ctx);
      for (const alt of list.split('|')) if (alt.trim().toUpperCase() === m) return true;
      return false;
    },
  },
  {
    name: 'is_method_in',
    returns: 'bool',
    params: ['str'],
    paramNames: ['letters'],
    doc: 'Does the method match one of the letters? I A B C M R E(PRACK) P(PUBLISH) S N O F(REFER) G U K D T(POST) V(PUT).',
    fn: (ctx: RouteContext, letters: string) => {
      const m = methodOf(ctx);
      for (const ch of letters) if (METHOD_LETTERS[ch.toUpperCase()] === m) return true;
      return false;
    },
  },
  ...IS_METHODS.map(
    (method): Def => ({
      name: `is_${method}`,
      returns: 'bool',
      params: [],
      doc: `Is the method (the CSeq method for a reply) ${method}?`,
      fn: (ctx: RouteContext) => methodOf(ctx) === method,
    }),
  ),
];

// ------------------------------------------------------------------------------------ transports

/** Receiving-side protocol of the message (lowercase). */
function rcvProto(ctx: RouteContext): string {
  return String(ctx.info.proto).toLowerCase();
}

const STREAM_PROTOS = new Set(['tcp', 'tls', 'ws', 'wss']);
const WS_PROTOS = new Set(['ws', 'wss']);
/** is_proto letters. */
const PROTO_LETTERS: Readonly<Record<string, string>> = { e: 'tls', s: 'sctp', t: 'tcp', u: 'udp', v: 'ws', w: 'wss' };

/**
 * Where the message goes next: for a request the protocol and host of $du, else of the current
 * R-URI; for a reply those of the second Via (its `received` address when present).
 */
function destination(ctx: RouteContext): { proto: string; host: string } | undefined {
  const req = ctx.request;
  if (req) {
    const u = nextHopUri(ctx);
    if (!u) return undefined;
    return { proto: uriProto(u), host: unbracket(u.host) };
  }
  const v = ctx.msg.via[1];
  if (!v) return undefined;
  return { proto: v.transport.toLowerCase(), host: unbracket(v.received ?? v.host) };
}

function transportExports(): Def[] {
  const is = (name: string, test: (p: string) => boolean, what: string): Def => ({
    name,
    returns: 'bool',
    params: [],
    doc: `Was the message received over ${what}?`,
    fn: (ctx: RouteContext) => test(rcvProto(ctx)),
  });
  const to = (name: string, test: (p: string) => boolean, what: string): Def => ({
    name,
    returns: 'bool',
    params: [],
    doc: `Does the message go out over ${what} ($du or R-URI transport; the second Via for a reply)?`,
    fn: (ctx: RouteContext) => {
      const d = destination(ctx);
      return d !== undefined && test(d.proto);
    },
  });
  const toAf = (name: string, family: 4 | 6): Def => ({
    name,
    returns: 'bool',
    params: [],
    doc: `Is the destination host ($du or R-URI; the second Via for a reply) an IPv${family} address?`,
    fn: (ctx: RouteContext) => {
      const d = destination(ctx);
      return d !== undefined && ipFamily(d.host) === family;
    },
  });
  return [
    is('is_UDP', (p) => p === 'udp', 'UDP'),
    is('is_TCP', (p) => p === 'tcp', 'TCP'),
    is('is_TLS', (p) => p === 'tls', 'TLS'),
    is('is_WS', (p) => p === 'ws', 'WebSocket'),
    is('is_WSS', (p) => p === 'wss', 'secure WebSocket'),
    is('is_WSX', (p) => WS_PROTOS.has(p), 'WS or WSS'),
    is('is_SCTP', (p) => p === 'sctp', 'SCTP'),
    is('is_TCPX', (p) => STREAM_PROTOS.has(p), 'TCP, TLS, WS or WSS'),
    {
      name: 'is_proto',
      returns: 'bool',
      params: ['str'],
      paramNames: ['letters'],
      doc: 'Was the message received over one of these? e=TLS s=SCTP t=TCP u=UDP v=WS w=WSS.',
      fn: (ctx: RouteContext, letters: string) => {
        const p = rcvProto(ctx);
        for (const ch of letters) if (PROTO_LETTERS[ch.toLowerCase()] === p) return true;
        return false;
      },
    },
    {
      name: 'is_IPv4',
      returns: 'bool',
      params: [],
      doc: 'Was the message received over IPv4?',
      fn: (ctx: RouteContext) => ctx.info.local.family === 4,
    },
    {
      name: 'is_IPv6',
      returns: 'bool',
      params: [],
      doc: 'Was the message received over IPv6?',
      fn: (ctx: RouteContext) => ctx.info.local.family === 6,
    },
    to('to_UDP', (p) => p === 'udp', 'UDP'),
    to('to_TCP', (p) => p === 'tcp', 'TCP'),
    to('to_TLS', (p) => p === 'tls', 'TLS'),
    to('to_SCTP', (p) => p === 'sctp', 'SCTP'),
    to('to_WS', (p) => p === 'ws', 'WebSocket'),
    to('to_WSS', (p) => p === 'wss', 'secure WebSocket'),
    to('to_WSX', (p) => WS_PROTOS.has(p), 'WS or WSS'),
    toAf('to_IPv4', 4),
    toAf('to_IPv6', 6),
    {
      name: 'is_src_port',
      returns: 'bool',
      params: ['int'],
      paramNames: ['port'],
      doc: 'Is this the source port of the message?',
      fn: (ctx: RouteContext, port: number) => ctx.info.remote.port === port,
    },
    {
      name: 'is_dst_port',
      returns: 'bool',
      params: ['int'],
      paramNames: ['port'],
      doc: 'Is this the local port the message was received on?',
      fn: (ctx: RouteContext, port: number) => ctx.info.local.port === port,
    },
  ];
}

// ------------------------------------------------------------------------------------ forwarding

/**
 * The branch of the Via a stateless forward adds (RFC 3261 §16.11): the same for every
 * retransmission of the request, and for the CANCEL and non-2xx ACK of an INVITE (they carry the
 * INVITE's top Via branch and R-URI), so the next hop can match them. Derived from the received
 * top Via branch when it is an RFC 3261 one, else from the §16.6 transaction identifiers, plus
 * the received R-URI and the forwarding target.
 */
export function statelessBranch(req: SipRequest, target: string): string {
  const h = createHash('sha1');
  const top = req.via[0];
  if (top?.branch?.startsWith(MAGIC_COOKIE)) h.update(top.branch);
  else {
    h.update(`${req.callId}\0${req.from.tag ?? ''}\0${req.to.tag ?? ''}\0${req.cseq.seq}\0${top?.raw ?? ''}`);
  }
  h.update(`\0${req.uri}\0${target}`);
  return `${MAGIC_COOKIE}${h.digest('hex').slice(0, 24)}`;
}

/** force_rport(): make the received top Via carry received=/rport= like a client that asked for rport (RFC 3581). */
function applyForcedRport(ctx: RouteContext, req: SipRequest): void {
  const top = req.via[0];
  if (!top || top.rport !== undefined) return; // rport asked for: the server stamped it already
  req.setTopViaParam('received', ctx.info.remote.address);
  req.setTopViaParam('rport', String(ctx.info.remote.port));
}

function sendInBackground(ctx: RouteContext, fname: string, target: SendTarget, data: Buffer): void {
  const where = `${target.proto}:${target.address.includes(':') ? `[${target.address}]` : target.address}:${target.port}`;
  const fail = (err: unknown): void => {
    ctx.logger.error({ err, callId: ctx.msg.callId }, `KSR.${fname}: sending to ${where} failed: ${errText(err)}`);
  };
  try {
    ctx.services.send(target, data).catch(fail);
  } catch (err) {
    fail(err);
  }
}

/** Stateless forward of a request to `uriText` (RFC 3261 §16.11). */
function forwardRequest(ctx: RouteContext, fname: string, req: SipRequest, uriText: string): number {
  const u = parseSipUri(uriText);
  if (!u || u.host === '') {
    ctx.logger.error(`KSR.${fname}: cannot forward to ${JSON.stringify(uriText)}: not a sip:/sips: URI`);
    return -1;
  }
  const proto = uriProto(u);
  if (u.scheme === 'sips' || (proto !== 'udp' && proto !== 'tcp')) {
    ctx.logger.error(`KSR.${fname}: cannot forward to ${uriText}: transport ${u.scheme === 'sips' ? 'tls' : proto} is not supported (udp and tcp only)`);
    return -1;
  }
  const address = unbracket(u.host);
  const family = ipFamily(address);
  if (family === 0) {
    ctx.logger.error(`KSR.${fname}: cannot forward to ${uriText}: DNS resolution is not supported yet (use an IP address)`);
    return -1;
  }
  const local = ctx.services.localAddress(proto, family);
  if (!local) {
    ctx.logger.error(`KSR.${fname}: cannot forward to ${uriText}: no ${proto.toUpperCase()} IPv${family} listen socket`);
    return -1;
  }
  const adv = ctx.state.advertisedAddress;
  const viaHost = adv ? (isIPv6(adv) ? `[${adv}]` : adv) : local.host;
  const viaPort = ctx.state.advertisedPort ?? String(local.port);
  const via = `SIP/2.0/${proto.toUpperCase()} ${viaHost}:${viaPort};branch=${statelessBranch(req, uriText)}${ctx.state.localRport ? ';rport' : ''}`;
  let data: Buffer;
  let added = false;
  try {
    if (ctx.state.forceRport) applyForcedRport(ctx, req);
    req.addVia(via);
    added = true;
    data = req.serialize({ stream: proto === 'tcp' });
  } catch (err) {
    ctx.logger.error(`KSR.${fname}: cannot build the forwarded request: ${errText(err)}`);
    return -1;
  } finally {
    // The Via belongs to this copy only: a second forward (or t_relay) must not see it.
    if (added) req.removeTopVia();
  }
  sendInBackground(ctx, fname, { proto, address, port: u.port ?? 5060 }, data);
  ctx.relayed = true;
  return 1;
}

/** Replies whose top (our) Via was already removed by forward(). */
const strippedReplies = new WeakSet<SipResponse>();

/**
 * Stateless forward of a reply (RFC 3261 §16.7 step 3, §18.2.2, RFC 3581 §4): remove our top Via
 * and send to the next Via: its `received` address (else sent-by host) and its `rport` value
 * (else sent-by port, else 5060).
 */
export function forwardReply(ctx: RouteContext, res: SipResponse): number {
  const top = res.via[0];
  const next = res.via[1];
  if (!top || !ctx.services.myself.isMyself(top.host, top.port ?? 5060, top.transport.toLowerCase())) {
    ctx.logger.error(`KSR.forward: the top Via of the reply (${top?.host ?? 'none'}) is not ours; not forwarded`);
    return -1;
  }
  if (!next) {
    ctx.logger.error('KSR.forward: the reply has no second Via; nowhere to forward it');
    return -1;
  }
  const proto = next.transport.toLowerCase();
  if (proto !== 'udp' && proto !== 'tcp') {
    ctx.logger.error(`KSR.forward: cannot forward the reply over ${next.transport} (udp and tcp only)`);
    return -1;
  }
  const address = unbracket(next.received ?? next.host);
  if (ipFamily(address) === 0) {
    ctx.logger.error(`KSR.forward: cannot forward the reply to ${address}: DNS resolution is not supported yet`);
    return -1;
  }
  const port = typeof next.rport === 'number' ? next.rport : (next.port ?? 5060);
  let data: Buffer;
  try {
    if (!strippedReplies.has(res)) {
      res.removeTopVia();
      strippedReplies.add(res);
    }
    data = res.serialize({ stream: proto === 'tcp' });
  } catch (err) {
    ctx.logger.error(`KSR.forward: cannot build the forwarded reply: ${errText(err)}`);
    return -1;
  }
  sendInBackground(ctx, 'forward', { proto, address, port }, data);
  ctx.relayed = true;
  return 1;
}

const forwardExports: Def[] = [
  {
    name: 'forward',
    returns: 'int',
    params: [],
    doc: 'Forward statelessly: a request to $du, else the R-URI (IP address, udp/tcp); a reply to the next Via. 1 ok, -1 error.',
    fn: (ctx: RouteContext) => {
      const req = ctx.request;
      if (!req) return forwardReply(ctx, ctx.msg as SipResponse);
      return forwardRequest(ctx, 'forward', req, ctx.state.dstUri || currentRuri(req));
    },
  },
  {
    name: 'forward_uri',
    returns: 'int',
    params: ['str'],
    paramNames: ['uri'],
    doc: 'Forward the request statelessly to this SIP URI (IP address, udp/tcp). 1 ok, -1 error.',
    fn: (ctx: RouteContext, uri: string) => {
      const req = ctx.request;
      if (!req) {
        ctx.logger.error('KSR.forward_uri: forwards requests only (use KSR.forward() for a reply)');
        return -1;
      }
      return forwardRequest(ctx, 'forward_uri', req, uri);
    },
  },
  ...(
    [
      ['set_forward_close', 'forwardClose', 'Close the connection after forwarding this message.'],
      ['set_forward_no_connect', 'forwardNoConnect', 'Do not open a new connection to forward this message.'],
      ['set_reply_close', 'replyClose', 'Close the connection after sending the reply.'],
      ['set_reply_no_connect', 'replyNoConnect', 'Do not open a new connection to send the reply.'],
    ] as const
  ).map(
    ([name, field, doc]): Def => ({
      name,
      returns: 'bool',
      params: [],
      doc,
      fn: (ctx: RouteContext) => {
        ctx.state[field] = true;
        return true;
      },
    }),
  ),
];

// ------------------------------------------------------------------------------------ the table

export const coreExports: readonly KemiExportDef<RouteContext>[] = [
  logExport('dbg', 'DEBUG'),
  logExport('err', 'ERROR'),
  logExport('info', 'INFO'),
  logExport('warn', 'WARNING'),
  logExport('notice', 'NOTICE'),
  logExport('crit', 'CRITICAL'),
  {
    name: 'log',
    returns: 'none',
    params: ['str', 'str'],
    paramNames: ['level', 'msg'],
    doc: 'Write a log message at a level: dbg, info, notice, warn, err or crit (anything else: err).',
    fn: (ctx: RouteContext, level: string, msg: string) => scriptLog(ctx, LOG_LEVELS.has(level) ? (level as ScriptLevel) : 'err', msg),
  },
  {
    name: 'set_drop',
    returns: 'none',
    params: [],
    doc: 'Do not send the message of this route (request branch, reply, onsend message) when the route ends; the route goes on.',
    // Kamailio: a no-op in the KEMI request route (no action context there). ksr marks the drop in
    // every route type; it never ends the route (KSR.x.drop() does).
    fn: (ctx: RouteContext) => {
      ctx.dropRequested = true;
    },
  },
  {
    name: 'is_myself',
    returns: 'bool',
    params: ['str'],
    paramNames: ['uri'],
    doc: 'Does a sip:/sips: URI (host, port, transport) or a bare host[:port] name this server (listen sockets, aliases)?',
    fn: (ctx: RouteContext, text: string) => isMyselfText(ctx, text),
  },
  {
    name: 'is_myself_ruri',
    returns: 'bool',
    params: [],
    doc: 'Does the (current) Request-URI name this server?',
    fn: (ctx: RouteContext) => {
      const req = ctx.request;
      return req !== undefined && myselfUri(ctx, parsedRuri(ctx) ?? undefined);
    },
  },
  {
    name: 'is_myself_duri',
    returns: 'bool',
    params: [],
    doc: 'Does the destination URI ($du) name this server? False when $du is not set.',
    fn: (ctx: RouteContext) => ctx.request !== undefined && !!ctx.state.dstUri && myselfUri(ctx, parsedDstUri(ctx) ?? undefined),
  },
  {
    name: 'is_myself_nhuri',
    returns: 'bool',
    params: [],
    doc: 'Does the next hop ($du if set, else the Request-URI) name this server?',
    fn: (ctx: RouteContext) => {
      const req = ctx.request;
      return req !== undefined && myselfUri(ctx, nextHopUri(ctx));
    },
  },
  {
    name: 'is_myself_furi',
    returns: 'bool',
    params: [],
    doc: 'Does the From URI name this server?',
    fn: (ctx: RouteContext) => myselfUri(ctx, ctx.msg.from.uri),
  },
  {
    name: 'is_myself_turi',
    returns: 'bool',
    params: [],
    doc: 'Does the To URI name this server?',
    fn: (ctx: RouteContext) => myselfUri(ctx, ctx.msg.to.uri),
  },
  {
    name: 'is_myself_suri',
    returns: 'bool',
    params: [],
    doc: 'Does the source (IP, port, protocol) of the message match a listen socket of this server?',
    fn: (ctx: RouteContext) => ctx.services.myself.isMyself(ctx.info.remote.address, ctx.info.remote.port, ctx.info.proto),
  },
  {
    name: 'is_myself_srcip',
    returns: 'bool',
    params: [],
    doc: 'Is the source IP of the message an address of this server?',
    fn: (ctx: RouteContext) => ctx.services.myself.isMyself(ctx.info.remote.address),
  },
  ...flagExports(),
  ...uriExports,
  {
    name: 'force_rport',
    returns: 'bool',
    params: [],
    doc: 'Reply to the source port (as if the top Via had rport, RFC 3581); a forwarded request gets received=/rport= on that Via.',
    fn: (ctx: RouteContext) => {
      ctx.state.forceRport = true;
      return true;
    },
  },
  {
    name: 'add_local_rport',
    returns: 'bool',
    params: [],
    doc: 'Add ;rport to the Via this server adds when it forwards the request (RFC 3581).',
    fn: (ctx: RouteContext) => {
      ctx.state.localRport = true;
      return true;
    },
  },
  ...methodExports,
  ...forwardExports,
  {
    name: 'set_advertised_address',
    returns: 'int',
    params: ['str'],
    paramNames: ['addr'],
    doc: 'Use this host or IP in the Via (and Record-Route) of this message instead of the socket address. 1 ok, -1 invalid.',
    fn: (ctx: RouteContext, addr: string) => {
      const h = validHost(addr.trim());
      if (!h) {
        ctx.logger.error(`KSR.set_advertised_address: invalid address ${JSON.stringify(addr)}`);
        return -1;
      }
      ctx.state.advertisedAddress = unbracket(h);
      return 1;
    },
  },
  {
    name: 'set_advertised_port',
    returns: 'int',
    params: ['str'],
    paramNames: ['port'],
    doc: 'Use this port (1..65535, as a string) in the Via (and Record-Route) of this message. 1 ok, -1 invalid.',
    fn: (ctx: RouteContext, port: string) => {
      const p = port.trim();
      const n = /^\d{1,5}$/.test(p) ? Number(p) : 0;
      if (n < 1 || n > 65535) {
        ctx.logger.error(`KSR.set_advertised_port: invalid port ${JSON.stringify(port)}`);
        return -1;
      }
      ctx.state.advertisedPort = String(n);
      return 1;
    },
  },
  {
    name: 'add_tcp_alias',
    returns: 'int',
    params: ['int'],
    paramNames: ['port'],
    doc: 'Accepted and ignored: TCP connection aliases are not supported yet (returns 1).',
    fn: (ctx: RouteContext, port: number) => {
      ctx.logger.debug(`KSR.add_tcp_alias(${port}): TCP connection aliases are not supported yet; ignored`);
      return 1;
    },
  },
  {
    name: 'add_tcp_alias_via',
    returns: 'int',
    params: [],
    doc: 'Accepted and ignored: TCP connection aliases are not supported yet (returns 1).',
    fn: (ctx: RouteContext) => {
      ctx.logger.debug('KSR.add_tcp_alias_via(): TCP connection aliases are not supported yet; ignored');
      return 1;
    },
  },
  ...transportExports(),
  {
    name: 'get_debug',
    returns: 'int',
    params: [],
    doc: "The current log level as Kamailio's debug number (-3..4; 2 = info, 3 = debug).",
    fn: (ctx: RouteContext) => ctx.services.debugLevel(),
  },
  {
    name: 'route',
    returns: 'int',
    params: ['str'],
    paramNames: ['name'],
    doc: 'Kamailio runs a native route[name] block here; ksr has no native route blocks, so this logs an error and returns -1 (call a script function instead).',
    fn: (ctx: RouteContext, name: string) => {
      ctx.logger.error(`KSR.route(${JSON.stringify(name)}): ksr has no native route blocks; call a function of the script instead`);
      return -1;
    },
  },
];
