/**
 * The core pseudo-variable classes: the message ($ru, $fu, $hdr(...), …), the transport ($si,
 * $Rp, …), auth credentials ($au, …), time ($Ts, $time(...)), the config ($def, $env) and the
 * route ($rc). Values are strings, integers where Kamailio gives integers, and null when absent.
 *
 * Headers are read from the message as received: edits made with KSR.hdr.* are not visible until
 * the message is sent (as with Kamailio's lumps). The R-URI is the exception, as in Kamailio: $ru
 * and its parts show the value set by $ru = … / KSR.seturi(); $ou and its parts the original.
 *
 * $T_branch_idx and $T_reply_code are placeholders until the tm module exists: both read 0 and tm
 * replaces them (register with { replace: true }).
 */
import process from 'node:process';
import type { RouteContext } from '../routing/context.js';
import { SipParseError, canonicalHeaderName, parseNameAddr, parseUri, type NameAddr, type SipUri } from '../sip/index.js';
import { requestCredentials } from './auth.js';
import { parsePvAt } from './parser.js';
import type { PvRegistry } from './registry.js';
import { PvNameError, type PvAccessor, type PvFactory, type PvSpec, type PvValue } from './types.js';
import {
  bodyText,
  bracketHost,
  currentRuri,
  displayAsWritten,
  dstUri,
  firstContactUri,
  methodOf,
  nextHopText,
  nonEmpty,
  originalRuri,
  pick,
  protoId,
  pvError,
  resolveIndex,
  ruriText,
  socketUri,
  strToInt,
  toInt,
  uriHost,
  uriPort,
  uriTransport,
  uriUser,
} from './util.js';
import { printValue } from './vars.js';

type Getter = (ctx: RouteContext) => PvValue;
type Setter = (ctx: RouteContext, v: PvValue, name: string) => boolean;

/** A class without parameter. */
function fixed(get: Getter, set?: Setter): PvFactory {
  return (spec) => {
    const name = spec.text;
    return set ? { name, get, set: (ctx, v) => set(ctx, v, name) } : { name, get };
  };
}

/** A class whose parameter picks one of a fixed set of keys. */
function keyed(keys: Record<string, Getter>): PvFactory {
  return (spec) => {
    const get = Object.prototype.hasOwnProperty.call(keys, spec.param ?? '') ? keys[spec.param!] : undefined;
    if (!get) throw new PvNameError(spec.text, `unknown key ${JSON.stringify(spec.param)} (expected ${Object.keys(keys).join(', ')})`);
    return { name: spec.text, get };
  };
}

// ------------------------------------------------------------------ R-URI setters

function setRuri(ctx: RouteContext, text: string, name: string): boolean {
  const req = ctx.request;
  if (!req) {
    pvError(ctx, name, 'a reply has no Request-URI');
    return false;
  }
  try {
    req.setRequestUri(text);
    return true;
  } catch (e) {
    pvError(ctx, name, e instanceof Error ? e.message : String(e));
    return false;
  }
}

/** Change one part of the current R-URI and set the result. */
function rewriteRuri(ctx: RouteContext, name: string, edit: (u: SipUri) => string | undefined): boolean {
  const text = ruriText(ctx);
  if (text === null) {
    pvError(ctx, name, 'a reply has no Request-URI');
    return false;
  }
  let u: SipUri;
  try {
    u = parseUri(text); // a fresh, mutable copy
  } catch (e) {
    pvError(ctx, name, (e as Error).message);
    return false;
  }
  if (u.scheme !== 'sip' && u.scheme !== 'sips' && !(u.scheme === 'tel' && name === '$rU')) {
    pvError(ctx, name, `cannot change a part of a ${u.scheme}: URI`);
    return false;
  }
  const problem = edit(u);
  if (problem) {
    pvError(ctx, name, problem);
    return false;
  }
  return setRuri(ctx, u.toString(), name);
}

const setRuriAll: Setter = (ctx, v, name) => {
  if (v === null || v === '') {
    pvError(ctx, name, 'the Request-URI cannot be removed');
    return false;
  }
  return setRuri(ctx, String(v), name);
};

const setRuriUser: Setter = (ctx, v, name) =>
  rewriteRuri(ctx, name, (u) => {
    if (v === null || v === '') {
      if (u.scheme === 'tel') return 'a tel: URI needs a number';
      delete u.user;
      delete u.password;
    } else u.user = String(v);
    return undefined;
  });

const setRuriHost: Setter = (ctx, v, name) =>
  rewriteRuri(ctx, name, (u) => {
    if (v === null || v === '') return 'the host cannot be removed';
    u.host = String(v);
    return undefined;
  });

const setRuriPort: Setter = (ctx, v, name) =>
  rewriteRuri(ctx, name, (u) => {
    if (v === null || v === '') {
      delete u.port;
      return undefined;
    }
    const n = toInt(v);
    if (n === undefined || n < 0 || n > 65535) return `bad port ${JSON.stringify(v)}`;
    u.port = n;
    return undefined;
  });

const setDstUri: Setter = (ctx, v, name) => {
  if (v === null || v === '') {
    ctx.state.dstUri = undefined;
    return true;
  }
  const text = String(v);
  try {
    const u = parseUri(text);
    if (u.scheme !== 'sip' && u.scheme !== 'sips') throw new SipParseError(`not a SIP URI: ${text}`);
  } catch (e) {
    pvError(ctx, name, (e as Error).message);
    return false;
  }
  ctx.state.dstUri = text;
  return true;
};

function flagSetter(apply: (ctx: RouteContext, n: number) => void): Setter {
  return (ctx, v, name) => {
    const n = v === null ? 0 : toInt(v);
    if (n === undefined) {
      pvError(ctx, name, `not an integer: ${JSON.stringify(v)}`);
      return false;
    }
    apply(ctx, n >>> 0);
    return true;
  };
}

// ------------------------------------------------------------------ headers

const HEADER_NAME = /^[A-Za-z0-9\-.!%*_+`'~]+$/;

function headerKey(spec: PvSpec, allowStar: boolean): string {
  const p = spec.param ?? '';
  if (p === '*' && allowStar) return '*';
  if (!HEADER_NAME.test(p) || p === '*') {
    throw new PvNameError(spec.text, p.includes('$') ? 'dynamic header names are not supported' : `bad header name ${JSON.stringify(p)}`);
  }
  return canonicalHeaderName(p);
}

/** $hdr(name) and $(hdr(name)[i]): header field values (whole fields); '*' matches any header. */
const hdrClass: PvFactory = (spec) => {
  const key = headerKey(spec, true);
  const { index, text } = spec;
  return {
    name: text,
    get(ctx) {
      const all = ctx.msg.headers;
      if (!index) {
        for (const h of all) if (key === '*' || h.key === key) return h.value;
        return null;
      }
      const values = key === '*' ? all.map((h) => h.value) : all.filter((h) => h.key === key).map((h) => h.value);
      const i = resolveIndex(ctx, text, index);
      if (i === undefined || values.length === 0) return null;
      if (i === 'all') return values.join(',');
      return pick(values, i) ?? null;
    },
  };
};

/** $hfl(name): like $hdr, but list headers (Via, Contact, Route, …) are split into their bodies. */
const hflClass: PvFactory = (spec) => {
  const key = headerKey(spec, false);
  const { index, text } = spec;
  return {
    name: text,
    get(ctx) {
      const values = ctx.msg.headerValues(key);
      if (values.length === 0) return null;
      if (!index) return values[0] ?? null;
      const i = resolveIndex(ctx, text, index);
      if (i === undefined) return null;
      if (i === 'all') return values.join(',');
      return pick(values, i) ?? null;
    },
  };
};

const hdrcClass: PvFactory = (spec) => {
  const key = headerKey(spec, true);
  return { name: spec.text, get: (ctx) => (key === '*' ? ctx.msg.headers.length : ctx.msg.headers.filter((h) => h.key === key).length) };
};

const hflcClass: PvFactory = (spec) => {
  const key = headerKey(spec, false);
  return { name: spec.text, get: (ctx) => ctx.msg.headerValues(key).length };
};

/** The first name-addr of a header (P-Asserted-Identity, Diversion, …); null when absent or unparsable. */
function nameAddrOf(ctx: RouteContext, header: string): NameAddr | null {
  const v = ctx.msg.headerValues(header)[0];
  if (v === undefined) return null;
  try {
    return parseNameAddr(v);
  } catch {
    return null;
  }
}

function nameAddrParam(ctx: RouteContext, header: string, param: string): string | null {
  const na = nameAddrOf(ctx, header);
  const v = na?.params.get(param);
  return typeof v === 'string' ? v.replace(/^"(.*)"$/, '$1') : null;
}

// ------------------------------------------------------------------ time

const DAYS = ['Sun', 'Mon', 'Tue', 'Wed', 'Thu', 'Fri', 'Sat'];
const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];
const pad2 = (n: number): string => String(n).padStart(2, '0');

/** ctime(3) format without the newline: "Thu Nov 24 18:22:48 1986" (local time). */
export function ctimeString(d: Date): string {
  return `${DAYS[d.getDay()]} ${MONTHS[d.getMonth()]} ${String(d.getDate()).padStart(2, ' ')} ${pad2(d.getHours())}:${pad2(d.getMinutes())}:${pad2(d.getSeconds())} ${d.getFullYear()}`;
}

const TIME_KEY = Symbol('pv.time');

/** The time of the route run, taken once at the first use ($Ts, $Tf, $TV(s), $TV(u)). */
function cachedNow(ctx: RouteContext): number {
  let t = ctx.getData<number>(TIME_KEY);
  if (t === undefined) {
    t = Date.now();
    ctx.setData(TIME_KEY, t);
  }
  return t;
}

const BOOT_SECONDS = Math.floor(Date.now() / 1000 - process.uptime());

// wall-clock microseconds from the monotonic clock ($TV(sn), $TV(un), $TV(Sn)): one anchor taken at load time
const HR_ORIGIN_US = Number(process.hrtime.bigint() / 1000n);
const HR_EPOCH_US = Date.now() * 1000;

function isDst(d: Date): boolean {
  const jan = new Date(d.getFullYear(), 0, 1).getTimezoneOffset();
  const jul = new Date(d.getFullYear(), 6, 1).getTimezoneOffset();
  return Math.max(jan, jul) !== d.getTimezoneOffset() && jan !== jul;
}

function brokenDown(utc: boolean): Record<string, Getter> {
  const at = (): Date => new Date();
  const dayOfYear = (d: Date): number => {
    const start = utc ? Date.UTC(d.getUTCFullYear(), 0, 1) : new Date(d.getFullYear(), 0, 1).getTime();
    const today = utc ? Date.UTC(d.getUTCFullYear(), d.getUTCMonth(), d.getUTCDate()) : new Date(d.getFullYear(), d.getMonth(), d.getDate()).getTime();
    return Math.round((today - start) / 86_400_000) + 1;
  };
  return {
    sec: () => (utc ? at().getUTCSeconds() : at().getSeconds()),
    min: () => (utc ? at().getUTCMinutes() : at().getMinutes()),
    hour: () => (utc ? at().getUTCHours() : at().getHours()),
    mday: () => (utc ? at().getUTCDate() : at().getDate()),
    mon: () => (utc ? at().getUTCMonth() : at().getMonth()) + 1,
    year: () => (utc ? at().getUTCFullYear() : at().getFullYear()),
    wday: () => (utc ? at().getUTCDay() : at().getDay()) + 1,
    yday: () => dayOfYear(at()),
    isdst: () => (utc ? 0 : isDst(at()) ? 1 : 0),
  };
}

// ------------------------------------------------------------------ $_s(format)

/** A compiled format: literal text and pseudo-variables, in order. */
export type PvFormat = ReadonlyArray<string | PvAccessor>;

/**
 * Compile text holding pseudo-variables (`$$` is a literal '$'). A bad name is a PvNameError on
 * `spec`, its reason prefixed with "in the <what>: ".
 */
export function compilePvFormat(spec: PvSpec, fmt: string, compile: (name: string) => PvAccessor, what: string): PvFormat {
  const parts: Array<string | PvAccessor> = [];
  let lit = '';
  let i = 0;
  while (i < fmt.length) {
    if (fmt.charCodeAt(i) !== 36) {
      lit += fmt[i];
      i++;
      continue;
    }
    if (fmt.charCodeAt(i + 1) === 36) {
      lit += '$';
      i += 2;
      continue;
    }
    let end: number;
    let inner: PvAccessor;
    try {
      end = parsePvAt(fmt, i).end;
      inner = compile(fmt.slice(i, end));
    } catch (e) {
      if (e instanceof PvNameError) throw new PvNameError(spec.text, `in the ${what}: ${e.reason}`);
      throw e;
    }
    if (lit) parts.push(lit);
    lit = '';
    parts.push(inner);
    i = end;
  }
  if (lit) parts.push(lit);
  return parts;
}

/** The text of a compiled format for this message (null values print "<null>"). */
export function renderPvFormat(ctx: RouteContext, parts: PvFormat): string {
  if (parts.length === 1 && typeof parts[0] === 'string') return parts[0];
  let out = '';
  for (const p of parts) out += typeof p === 'string' ? p : printValue(p.get(ctx));
  return out;
}

/** $_s(format): the format with every pseudo-variable replaced by its value ($$ is '$', null prints "<null>"). */
const formatClass: PvFactory = (spec, compile) => {
  const parts = compilePvFormat(spec, spec.param ?? '', compile, 'format');
  return { name: spec.text, get: (ctx) => renderPvFormat(ctx, parts) };
};

// ------------------------------------------------------------------ registration

/** Register the core classes (message, transport, auth, time, config, route). */
export function registerCorePvs(reg: PvRegistry): void {
  const r = (name: string, f: PvFactory, opts?: Parameters<PvRegistry['register']>[2]): void => reg.register(name, f, opts);
  const from = (ctx: RouteContext): NameAddr => ctx.msg.from;
  const to = (ctx: RouteContext): NameAddr => ctx.msg.to;

  // --- constants
  r('null', fixed(() => null));
  const escapes: Record<string, string> = { Eb: '\\', En: '\n', Er: '\r', Et: '\t', Es: ' ', Ec: ',', Eq: '"', Ek: "'", Ei: ':', Ej: ';', Ev: '`' };
  for (const [n, v] of Object.entries(escapes)) r(n, fixed(() => v));

  // --- Request-URI (current) and original R-URI
  r('ru', fixed(ruriText, setRuriAll));
  r('rU', fixed((ctx) => uriUser(currentRuri(ctx)), setRuriUser));
  r('rd', fixed((ctx) => uriHost(currentRuri(ctx)), setRuriHost));
  r('rp', fixed((ctx) => {
    const u = currentRuri(ctx);
    return u ? uriPort(u) : null;
  }, setRuriPort));
  r('rP', fixed((ctx) => {
    const u = currentRuri(ctx);
    return u ? uriTransport(u) : null;
  }));
  r('rz', fixed((ctx) => currentRuri(ctx)?.scheme ?? null));
  r('rUl', fixed((ctx) => currentRuri(ctx)?.user?.length ?? 0));
  r('ou', fixed((ctx) => ctx.request?.uri ?? null));
  r('oU', fixed((ctx) => uriUser(originalRuri(ctx))));
  r('od', fixed((ctx) => uriHost(originalRuri(ctx))));
  r('op', fixed((ctx) => {
    const u = originalRuri(ctx);
    return u ? uriPort(u) : null;
  }));
  r('oP', fixed((ctx) => {
    const u = originalRuri(ctx);
    return u ? uriTransport(u) : null;
  }));
  r('oUl', fixed((ctx) => originalRuri(ctx)?.user?.length ?? 0));

  // --- destination URI and next hop
  r('du', fixed((ctx) => nonEmpty(ctx.state.dstUri), setDstUri));
  r('dd', fixed((ctx) => uriHost(dstUri(ctx))));
  r('dp', fixed((ctx) => {
    const u = dstUri(ctx);
    return u ? uriPort(u) : null;
  }));
  r('dP', fixed((ctx) => {
    const u = dstUri(ctx);
    return u ? uriTransport(u) : null;
  }));
  r('nh', (spec) => {
    const key = spec.param;
    if (key !== 'u' && key !== 'U' && key !== 'd' && key !== 'p' && key !== 'P') throw new PvNameError(spec.text, 'the key must be u, U, d, p or P');
    return {
      name: spec.text,
      get(ctx) {
        if (!ctx.request) {
          // replies go to the second Via
          const via = ctx.msg.via[1];
          if (!via) return null;
          const port = via.rport ?? via.port ?? 5060;
          const proto = via.transport.toLowerCase();
          switch (key) {
            case 'u':
              return `sip:${via.host}:${port}${proto === 'udp' ? '' : `;transport=${proto}`}`;
            case 'U':
              return null;
            case 'd':
              return via.host;
            case 'p':
              return port;
            case 'P':
              return proto;
          }
        }
        const text = nextHopText(ctx);
        if (text === null) return null;
        if (key === 'u') return text;
        let u: SipUri;
        try {
          u = parseUri(text);
        } catch {
          return null;
        }
        if (key === 'U') return uriUser(u);
        if (key === 'd') return uriHost(u);
        if (key === 'p') return uriPort(u);
        return uriTransport(u);
      },
    };
  }, { param: 'required' });

  // --- From / To
  r('fu', fixed((ctx) => from(ctx).uri.raw));
  r('fU', fixed((ctx) => uriUser(from(ctx).uri)));
  r('fd', fixed((ctx) => uriHost(from(ctx).uri)));
  r('fn', fixed((ctx) => displayAsWritten(from(ctx))));
  r('ft', fixed((ctx) => nonEmpty(from(ctx).tag)));
  r('fUl', fixed((ctx) => from(ctx).uri.user?.length ?? 0));
  r('tu', fixed((ctx) => to(ctx).uri.raw));
  r('tU', fixed((ctx) => uriUser(to(ctx).uri)));
  r('td', fixed((ctx) => uriHost(to(ctx).uri)));
  r('tn', fixed((ctx) => displayAsWritten(to(ctx))));
  r('tt', fixed((ctx) => nonEmpty(to(ctx).tag)));
  r('tUl', fixed((ctx) => to(ctx).uri.user?.length ?? 0));
  r('tts', fixed((ctx) => (to(ctx).tag ? 1 : 0)));

  // --- other headers
  r('ci', fixed((ctx) => ctx.msg.callId));
  r('cs', fixed((ctx) => ctx.msg.cseq.seq));
  r('csb', fixed((ctx) => `${ctx.msg.cseq.seq} ${ctx.msg.cseq.method}`));
  r('ct', fixed((ctx) => ctx.msg.header('contact') ?? null));
  r('ctu', fixed(firstContactUri));
  r('cts', fixed((ctx) => (ctx.msg.contact.star ? 1 : 0)));
  r('cT', fixed((ctx) => ctx.msg.contentType ?? null));
  r('cl', fixed((ctx) => ctx.msg.contentLength ?? null));
  r('ua', fixed((ctx) => ctx.msg.header('user-agent') ?? null));
  r('ai', fixed((ctx) => nameAddrOf(ctx, 'p-asserted-identity')?.uri.raw ?? null));
  r('pu', fixed((ctx) => nameAddrOf(ctx, 'p-preferred-identity')?.uri.raw ?? null));
  r('pU', fixed((ctx) => uriUser(nameAddrOf(ctx, 'p-preferred-identity')?.uri ?? null)));
  r('pd', fixed((ctx) => uriHost(nameAddrOf(ctx, 'p-preferred-identity')?.uri ?? null)));
  r('pn', fixed((ctx) => {
    const na = nameAddrOf(ctx, 'p-preferred-identity');
    return na ? displayAsWritten(na) : null;
  }));
  r('re', fixed((ctx) => nameAddrOf(ctx, 'remote-party-id')?.uri.raw ?? null));
  r('rt', fixed((ctx) => nameAddrOf(ctx, 'refer-to')?.uri.raw ?? null));
  r('di', fixed((ctx) => nameAddrOf(ctx, 'diversion')?.uri.raw ?? null));
  r('dir', fixed((ctx) => nameAddrParam(ctx, 'diversion', 'reason')));
  r('dip', fixed((ctx) => nameAddrParam(ctx, 'diversion', 'privacy')));
  r('dic', fixed((ctx) => nameAddrParam(ctx, 'diversion', 'counter')));
  r('route_uri', fixed((ctx) => ctx.msg.route[0]?.uri.raw ?? null));
  r('hdr', hdrClass, { param: 'required', index: true });
  r('hdrc', hdrcClass, { param: 'required' });
  r('hfl', hflClass, { param: 'required', index: true });
  r('hflc', hflcClass, { param: 'required' });
  r('expires', (spec) => {
    const key = spec.param;
    if (key !== 'min' && key !== 'max') throw new PvNameError(spec.text, 'the key must be min or max');
    return {
      name: spec.text,
      get(ctx) {
        const values: number[] = [];
        for (const c of ctx.msg.contact.contacts) {
          const e = c.params.get('expires');
          const n = typeof e === 'string' ? strToInt(e) : undefined;
          if (n !== undefined && n >= 0) values.push(n);
        }
        if (values.length === 0) {
          try {
            const e = ctx.msg.expires;
            if (e !== undefined) values.push(e);
          } catch {
            return null;
          }
        }
        if (values.length === 0) return null;
        return key === 'min' ? Math.min(...values) : Math.max(...values);
      },
    };
  }, { param: 'required' });

  // --- first line, message, body
  r('rm', fixed(methodOf));
  r('rs', fixed((ctx) => ctx.response?.status ?? null));
  r('rr', fixed((ctx) => ctx.response?.reason ?? null));
  r('rv', fixed((ctx) => ctx.msg.version ?? null));
  r('mt', fixed((ctx) => (ctx.request ? 1 : 2)));
  r('mb', fixed((ctx) => ctx.msg.raw.toString('utf8')));
  r('mbu', fixed((ctx) => ctx.msg.serialize().toString('utf8')));
  r('ml', fixed((ctx) => ctx.msg.raw.length));
  r('rb', fixed(bodyText));
  r('bs', fixed((ctx) => ctx.msg.body.length));
  r('msg', keyed({
    len: (ctx) => ctx.msg.raw.length,
    buf: (ctx) => ctx.msg.raw.toString('utf8'),
    body: bodyText,
    body_len: (ctx) => ctx.msg.body.length,
    fline: (ctx) => firstLine(ctx).trim(),
    hdrs: (ctx) => {
      const raw = ctx.msg.raw;
      const head = raw.subarray(0, raw.length - ctx.msg.body.length).toString('utf8');
      return head.slice(firstLine(ctx).length).trim();
    },
    fpart: (ctx) => ctx.msg.raw.subarray(0, ctx.msg.raw.length - ctx.msg.body.length).toString('utf8'),
    lpart: (ctx) => ctx.msg.raw.toString('utf8').slice(firstLine(ctx).length),
  }), { param: 'required' });

  // --- transport
  r('si', fixed((ctx) => ctx.info.remote.address));
  r('siz', fixed((ctx) => bracketHost(ctx.info.remote.address, ctx.info.remote.family)));
  r('sp', fixed((ctx) => ctx.info.remote.port));
  r('su', fixed((ctx) => socketUri(ctx.info.remote, ctx.info.proto, false)));
  r('sut', fixed((ctx) => socketUri(ctx.info.remote, ctx.info.proto, true)));
  r('sas', fixed((ctx) => `${ctx.info.proto}:${bracketHost(ctx.info.remote.address, ctx.info.remote.family)}:${ctx.info.remote.port}`));
  r('Ri', fixed((ctx) => ctx.info.local.address));
  r('Rp', fixed((ctx) => ctx.info.local.port));
  r('Ru', fixed((ctx) => socketUri(ctx.info.local, ctx.info.proto, false)));
  r('Rut', fixed((ctx) => socketUri(ctx.info.local, ctx.info.proto, true)));
  r('pr', fixed((ctx) => ctx.info.proto));
  r('proto', fixed((ctx) => ctx.info.proto));
  r('prid', fixed((ctx) => protoId(ctx.info.proto)));
  r('conid', fixed((ctx) => ctx.info.connectionId ?? null));

  // --- auth
  const cred = (f: (c: NonNullable<ReturnType<typeof requestCredentials>>) => string | undefined): Getter => (ctx) => {
    const c = requestCredentials(ctx);
    return c ? nonEmpty(f(c)) : null;
  };
  r('au', fixed(cred((c) => c.user)));
  r('ad', fixed(cred((c) => c.domain)));
  r('aU', fixed(cred((c) => c.username)));
  r('ar', fixed(cred((c) => c.params.get('realm'))));
  r('adu', fixed(cred((c) => c.params.get('uri'))));
  r('aa', fixed(cred((c) => c.params.get('algorithm'))));
  r('Au', fixed((ctx) => {
    const c = requestCredentials(ctx);
    if (c?.user) return c.params.get('realm') ? `${c.user}@${c.params.get('realm')}` : c.user;
    return from(ctx).uri.raw;
  }));
  r('AU', fixed((ctx) => {
    const c = requestCredentials(ctx);
    return c?.user ? c.user : uriUser(from(ctx).uri);
  }));

  // --- flags and route state
  r('mf', fixed((ctx) => ctx.state.flags >>> 0, flagSetter((ctx, n) => (ctx.state.flags = n))));
  r('bf', fixed((ctx) => (ctx.state.branchFlags[0] ?? 0) >>> 0, flagSetter((ctx, n) => (ctx.state.branchFlags[0] = n))));
  r('sf', fixed((ctx) => ctx.scriptFlags >>> 0));
  r('rc', fixed((ctx) => ctx.lastReturn));
  r('retcode', fixed((ctx) => ctx.lastReturn));
  r('T_branch_idx', fixed(() => 0));
  r('T_reply_code', fixed(() => 0));

  // --- process, time
  r('pp', fixed(() => process.pid));
  r('Ts', fixed((ctx) => Math.floor(cachedNow(ctx) / 1000)));
  r('TS', fixed(() => Math.floor(Date.now() / 1000)));
  r('Tf', fixed((ctx) => ctimeString(new Date(cachedNow(ctx)))));
  r('TF', fixed(() => ctimeString(new Date())));
  r('Tb', fixed(() => BOOT_SECONDS));
  r('TV', (spec, compile) => {
    const nowUs = (): number => Number(process.hrtime.bigint() / 1000n) - HR_ORIGIN_US + HR_EPOCH_US;
    const keys: Record<string, Getter> = {
      s: (ctx) => Math.floor(cachedNow(ctx) / 1000),
      u: (ctx) => (cachedNow(ctx) % 1000) * 1000,
      sn: () => Math.floor(nowUs() / 1e6),
      un: () => nowUs() % 1e6,
      Sn: () => {
        const us = nowUs();
        return `${Math.floor(us / 1e6)}.${String(us % 1e6).padStart(6, '0')}`;
      },
    };
    return keyed(keys)(spec, compile);
  }, { param: 'required' });
  r('time', keyed(brokenDown(false)), { param: 'required' });
  r('utime', keyed(brokenDown(true)), { param: 'required' });

  // --- config and environment
  const constName = (spec: PvSpec): string => {
    const p = spec.param ?? '';
    if (!/^[^\s$()]+$/.test(p)) throw new PvNameError(spec.text, `bad name ${JSON.stringify(p)}`);
    return p;
  };
  r('def', (spec) => {
    const n = constName(spec);
    return {
      name: spec.text,
      get: (ctx) => {
        if (!ctx.services.defines.has(n)) return null;
        return ctx.services.defines.get(n) ?? '';
      },
    };
  }, { param: 'required' });
  r('defn', (spec) => {
    const n = constName(spec);
    return {
      name: spec.text,
      get: (ctx) => {
        if (!ctx.services.defines.has(n)) return null;
        return strToInt((ctx.services.defines.get(n) ?? '').trim()) ?? 0;
      },
    };
  }, { param: 'required' });
  r('env', (spec) => {
    const n = constName(spec);
    return { name: spec.text, get: () => process.env[n] ?? null };
  }, { param: 'required' });
  r('envn', (spec) => {
    const n = constName(spec);
    return {
      name: spec.text,
      get: () => {
        const v = process.env[n];
        return v === undefined ? null : (strToInt(v.trim()) ?? 0);
      },
    };
  }, { param: 'required' });

  r('_s', formatClass, { param: 'required' });
}

function firstLine(ctx: RouteContext): string {
  const raw = ctx.msg.raw;
  let i = raw.indexOf(10);
  if (i === -1) i = raw.length;
  else i++;
  return raw.subarray(0, i).toString('utf8');
}
