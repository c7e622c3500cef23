/**
 * URI parsing (RFC 3261 §19.1, §25.1; tel: per RFC 3966, leniently) and
 * comparison (§19.1.4).
 */
import {
  C_ALNUM,
  C_DIGIT,
  C_HEX,
  C_HNV,
  C_PARAM,
  C_PASSWORD,
  C_SCHEME,
  C_TELNUM,
  C_TOKEN,
  C_USER,
  is,
  isEscapedRun,
  parseDecimal,
  pctDecode,
} from './chars.js';
import { SipParseError, quote } from './errors.js';
import { formatParams } from './params.js';

export type HostType = 'ipv4' | 'ipv6' | 'hostname' | 'none';

export interface SipUri {
  /** Lowercase: `sip`, `sips`, `tel` or any other scheme. */
  scheme: string;
  /** As written (escapes kept). For `tel:` the telephone number. */
  user?: string;
  password?: string;
  /** Lowercase is NOT applied; IPv6 keeps brackets (`[2001:db8::1]`); `''` for tel/other. */
  host: string;
  hostType: HostType;
  port?: number;
  /** Lowercase names; values as written; `null` for flag params. */
  params: Map<string, string | null>;
  /** `?h=v&...` headers, names and values as written. */
  headers: Map<string, string>;
  /** Text the URI was parsed from. */
  raw: string;
  /** Everything after `scheme:` for schemes other than sip/sips/tel. */
  opaque?: string;
  /** Re-render from the fields (so edits to the fields show up). */
  toString(): string;
}

class Uri implements SipUri {
  scheme: string;
  user?: string;
  password?: string;
  host = '';
  hostType: HostType = 'none';
  port?: number;
  params = new Map<string, string | null>();
  headers = new Map<string, string>();
  raw: string;
  opaque?: string;

  constructor(scheme: string, raw: string) {
    this.scheme = scheme;
    this.raw = raw;
  }

  toString(): string {
    let out = `${this.scheme}:`;
    if (this.scheme !== 'sip' && this.scheme !== 'sips' && this.scheme !== 'tel') {
      return out + (this.opaque ?? '');
    }
    if (this.scheme === 'tel') {
      out += this.user ?? '';
    } else {
      if (this.user !== undefined) {
        out += this.user;
        if (this.password !== undefined) out += `:${this.password}`;
        out += '@';
      }
      out += this.host;
      if (this.port !== undefined) out += `:${this.port}`;
    }
    out += formatParams(this.params);
    let sep = '?';
    for (const [k, v] of this.headers) {
      out += `${sep}${k}=${v}`;
      sep = '&';
    }
    return out;
  }
}

function fail(text: string, why: string): never {
  throw new SipParseError(`invalid URI ${quote(text)}: ${why}`);
}

/** Parse a SIP/SIPS/tel/absolute URI. Throws SipParseError. */
export function parseUri(text: string): SipUri {
  if (typeof text !== 'string' || text.length === 0) fail(String(text), 'empty');
  const n = text.length;
  // scheme = ALPHA *( ALPHA / DIGIT / "+" / "-" / "." )
  const c0 = text.charCodeAt(0);
  if (!((c0 >= 65 && c0 <= 90) || (c0 >= 97 && c0 <= 122))) fail(text, 'missing scheme');
  let i = 1;
  while (i < n && is(text.charCodeAt(i), C_SCHEME)) i++;
  if (i >= n || text.charCodeAt(i) !== 58 /* : */) fail(text, 'missing scheme');
  const scheme = text.slice(0, i).toLowerCase();
  const uri = new Uri(scheme, text);
  i++;
  if (scheme === 'sip' || scheme === 'sips') parseSipRest(uri, text, i);
  else if (scheme === 'tel') parseTelRest(uri, text, i);
  else parseOpaque(uri, text, i);
  return uri;
}

function parseSipRest(uri: Uri, s: string, i: number): void {
  const n = s.length;
  // userinfo: '@' cannot appear anywhere else unescaped, but the user part
  // may contain ';' '?' '/' ',' (RFC 4475 semiuri/intmeth), so look for '@' first.
  const at = s.indexOf('@', i);
  if (at !== -1) {
    let colon = s.indexOf(':', i);
    if (colon > at) colon = -1;
    const userEnd = colon === -1 ? at : colon;
    if (!isEscapedRun(s, i, userEnd, C_USER)) fail(s, 'bad user part');
    uri.user = s.slice(i, userEnd);
    if (colon !== -1) {
      if (!isEscapedRun(s, colon + 1, at, C_PASSWORD, true)) fail(s, 'bad password');
      uri.password = s.slice(colon + 1, at);
    }
    i = at + 1;
  }
  // host
  if (i >= n) fail(s, 'missing host');
  if (s.charCodeAt(i) === 91 /* [ */) {
    const close = s.indexOf(']', i);
    if (close === -1) fail(s, 'unterminated IPv6 reference');
    if (!isIPv6(s.slice(i + 1, close))) fail(s, 'bad IPv6 address');
    uri.host = s.slice(i, close + 1);
    uri.hostType = 'ipv6';
    i = close + 1;
  } else {
    const hs = i;
    while (i < n) {
      const c = s.charCodeAt(i);
      if (is(c, C_ALNUM) || c === 45 || c === 46) i++;
      else break;
    }
    if (i === hs) fail(s, 'missing host');
    const host = s.slice(hs, i);
    const t = hostKind(host);
    if (t === undefined) fail(s, `bad host ${quote(host)}`);
    uri.host = host;
    uri.hostType = t;
  }
  // port
  if (i < n && s.charCodeAt(i) === 58) {
    const ps = ++i;
    while (i < n && is(s.charCodeAt(i), C_DIGIT)) i++;
    const port = parseDecimal(s, ps, i, 65535);
    if (port < 0) fail(s, 'bad port');
    uri.port = port;
  }
  // uri-parameters
  while (i < n && s.charCodeAt(i) === 59) {
    const ns = ++i;
    while (i < n && s.charCodeAt(i) !== 59 && s.charCodeAt(i) !== 61 && s.charCodeAt(i) !== 63) i++;
    if (!isEscapedRun(s, ns, i, C_PARAM)) fail(s, `bad parameter name ${quote(s.slice(ns, i))}`);
    const name = s.slice(ns, i).toLowerCase();
    let value: string | null = null;
    if (i < n && s.charCodeAt(i) === 61) {
      const vs = ++i;
      while (i < n && s.charCodeAt(i) !== 59 && s.charCodeAt(i) !== 63) i++;
      if (!isEscapedRun(s, vs, i, C_PARAM)) fail(s, `bad value of parameter ${quote(name)}`);
      value = s.slice(vs, i);
    }
    if (!uri.params.has(name)) uri.params.set(name, value);
  }
  // headers
  if (i < n && s.charCodeAt(i) === 63) {
    i++;
    for (;;) {
      const ns = i;
      while (i < n && s.charCodeAt(i) !== 61 && s.charCodeAt(i) !== 38) i++;
      if (!isEscapedRun(s, ns, i, C_HNV)) fail(s, 'bad header name');
      const name = s.slice(ns, i);
      let value = '';
      if (i < n && s.charCodeAt(i) === 61) {
        const vs = ++i;
        while (i < n && s.charCodeAt(i) !== 38) i++;
        if (!isEscapedRun(s, vs, i, C_HNV, true)) fail(s, `bad value of header ${quote(name)}`);
        value = s.slice(vs, i);
      }
      if (!uri.headers.has(name)) uri.headers.set(name, value);
      if (i >= n) break;
      i++; // '&'
    }
  }
  if (i !== n) fail(s, `unexpected character ${quote(s[i]!)}`);
}

function parseTelRest(uri: Uri, s: string, i: number): void {
  const n = s.length;
  const ns = i;
  while (i < n && is(s.charCodeAt(i), C_TELNUM)) i++;
  if (i === ns) fail(s, 'bad telephone number');
  uri.user = s.slice(ns, i);
  while (i < n && s.charCodeAt(i) === 59) {
    const ps = ++i;
    while (i < n && (is(s.charCodeAt(i), C_TOKEN) || s.charCodeAt(i) === 37)) i++;
    if (!isEscapedRun(s, ps, i, C_TOKEN)) fail(s, 'bad parameter name');
    const name = s.slice(ps, i).toLowerCase();
    let value: string | null = null;
    if (i < n && s.charCodeAt(i) === 61) {
      const vs = ++i;
      while (i < n && s.charCodeAt(i) !== 59) i++;
      if (!isEscapedRun(s, vs, i, C_PARAM | C_TOKEN)) fail(s, `bad value of parameter ${quote(name)}`);
      value = s.slice(vs, i);
    }
    if (!uri.params.has(name)) uri.params.set(name, value);
  }
  if (i !== n) fail(s, `unexpected character ${quote(s[i]!)}`);
}

function parseOpaque(uri: Uri, s: string, i: number): void {
  if (i >= s.length) fail(s, 'empty after scheme');
  for (let j = i; j < s.length; j++) {
    const c = s.charCodeAt(j);
    // no CTL, SP, DEL, '"', '<', '>', and nothing non-ASCII
    if (c <= 32 || c >= 127 || c === 34 || c === 60 || c === 62) fail(s, `invalid character at ${j}`);
  }
  uri.opaque = s.slice(i);
}

/** Classify a host (without brackets); undefined when invalid. */
export function hostKind(host: string): 'ipv4' | 'hostname' | undefined {
  if (host.length === 0 || host.length > 255) return undefined;
  // toplabel: last label ignoring one trailing dot
  const end = host.charCodeAt(host.length - 1) === 46 ? host.length - 1 : host.length;
  const lastDot = host.lastIndexOf('.', end - 1);
  const topFirst = host.charCodeAt(lastDot + 1);
  if (topFirst >= 48 && topFirst <= 57) return isIPv4(host) ? 'ipv4' : undefined;
  return isHostname(host) ? 'hostname' : undefined;
}

function isHostname(h: string): boolean {
  let labelStart = 0;
  const n = h.length;
  for (let i = 0; i <= n; i++) {
    const c = i < n ? h.charCodeAt(i) : 46;
    if (c === 46) {
      const len = i - labelStart;
      if (len === 0) return i === n && n > 0 && labelStart === n; // only a single trailing dot
      if (len > 63) return false;
      if (h.charCodeAt(labelStart) === 45 || h.charCodeAt(i - 1) === 45) return false;
      labelStart = i + 1;
    } else if (!(is(c, C_ALNUM) || c === 45)) return false;
  }
  return true;
}

export function isIPv4(s: string): boolean {
  let parts = 0;
  let i = 0;
  const n = s.length;
  while (parts < 4) {
    const st = i;
    while (i < n && is(s.charCodeAt(i), C_DIGIT)) i++;
    const len = i - st;
    if (len < 1 || len > 3) return false;
    if (parseDecimal(s, st, i, 255) < 0) return false;
    parts++;
    if (parts < 4) {
      if (i >= n || s.charCodeAt(i) !== 46) return false;
      i++;
    }
  }
  return i === n;
}

/** Validate an IPv6 address (no brackets, no zone id). */
export function isIPv6(s: string): boolean {
  if (s.length < 2 || s.length > 45) return false;
  const dbl = s.indexOf('::');
  if (dbl !== -1 && s.indexOf('::', dbl + 1) !== -1) return false;
  let head: string[];
  let tail: string[];
  if (dbl === -1) {
    head = s.split(':');
    tail = [];
  } else {
    head = dbl === 0 ? [] : s.slice(0, dbl).split(':');
    const rest = s.slice(dbl + 2);
    tail = rest === '' ? [] : rest.split(':');
  }
  const all = head.concat(tail);
  const lastIsEnd = dbl === -1 || tail.length > 0;
  let groups = 0;
  for (let k = 0; k < all.length; k++) {
    const g = all[k]!;
    if (k === all.length - 1 && lastIsEnd && g.indexOf('.') !== -1) {
      if (!isIPv4(g)) return false;
      groups += 2;
      continue;
    }
    if (g.length < 1 || g.length > 4) return false;
    for (let j = 0; j < g.length; j++) if (!is(g.charCodeAt(j), C_HEX)) return false;
    groups++;
  }
  return dbl === -1 ? groups === 8 : groups <= 7;
}

// ---------------------------------------------------------------------------
// comparison (RFC 3261 §19.1.4)

const MUST_MATCH_PARAMS = ['user', 'ttl', 'method', 'maddr', 'transport'];

function decodedParams(m: Map<string, string | null>): Map<string, string | null> {
  const out = new Map<string, string | null>();
  for (const [k, v] of m) {
    const dk = pctDecode(k).toLowerCase();
    if (!out.has(dk)) out.set(dk, v === null ? null : pctDecode(v).toLowerCase());
  }
  return out;
}

function decodedHeaders(m: Map<string, string>): Map<string, string> {
  const out = new Map<string, string>();
  for (const [k, v] of m) {
    const dk = pctDecode(k).toLowerCase();
    if (!out.has(dk)) out.set(dk, pctDecode(v));
  }
  return out;
}

function toUri(u: SipUri | string): SipUri | undefined {
  if (typeof u !== 'string') return u;
  try {
    return parseUri(u);
  } catch {
    return undefined;
  }
}

/**
 * URI equivalence per RFC 3261 §19.1.4 for sip/sips; tel: compares the number
 * without visual separators plus params; other schemes compare the unescaped
 * opaque part. Strings that do not parse are never equal to anything.
 */
export function uriEquals(a: SipUri | string, b: SipUri | string): boolean {
  const ua = toUri(a);
  const ub = toUri(b);
  if (!ua || !ub) return false;
  const scheme = ua.scheme.toLowerCase();
  if (scheme !== ub.scheme.toLowerCase()) return false;
  if (scheme === 'sip' || scheme === 'sips') {
    if ((ua.user === undefined) !== (ub.user === undefined)) return false;
    if (ua.user !== undefined && pctDecode(ua.user) !== pctDecode(ub.user!)) return false;
    if ((ua.password === undefined) !== (ub.password === undefined)) return false;
    if (ua.password !== undefined && pctDecode(ua.password) !== pctDecode(ub.password!)) return false;
    if (ua.host.toLowerCase() !== ub.host.toLowerCase()) return false;
    if (ua.port !== ub.port) return false;
    const pa = decodedParams(ua.params);
    const pb = decodedParams(ub.params);
    for (const k of MUST_MATCH_PARAMS) {
      if (pa.has(k) !== pb.has(k)) return false;
    }
    for (const [k, v] of pa) {
      if (pb.has(k) && pb.get(k) !== v) return false;
    }
    const ha = decodedHeaders(ua.headers);
    const hb = decodedHeaders(ub.headers);
    if (ha.size !== hb.size) return false;
    for (const [k, v] of ha) if (hb.get(k) !== v) return false;
    return true;
  }
  if (scheme === 'tel') {
    const norm = (u: SipUri) => (u.user ?? '').replace(/[-.()]/g, '').toLowerCase();
    if (norm(ua) !== norm(ub)) return false;
    const pa = decodedParams(ua.params);
    const pb = decodedParams(ub.params);
    if (pa.size !== pb.size) return false;
    for (const [k, v] of pa) if (!pb.has(k) || pb.get(k) !== v) return false;
    return true;
  }
  return pctDecode(ua.opaque ?? ua.raw.slice(ua.raw.indexOf(':') + 1)) ===
    pctDecode(ub.opaque ?? ub.raw.slice(ub.raw.indexOf(':') + 1));
}
