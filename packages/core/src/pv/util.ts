/**
 * Helpers shared by the pseudo-variable classes and KSR.kx: message parts (current R-URI,
 * destination URI, source URI, …), index resolution, value conversion, error logs.
 */
import type { RouteContext } from '../routing/context.js';
import { parseUri, type NameAddr, type SipRequest, type SipUri } from '../sip/index.js';
import type { PvIndex, PvValue } from './types.js';

/** Log a run-time pseudo-variable error (bad dynamic index, value that cannot be stored, …). */
export function pvError(ctx: RouteContext, name: string, why: string): void {
  ctx.logger.error({ mod: 'pv' }, `${name}: ${why}`);
}

/** Kamailio's str2sint: optional sign and digits, nothing else. Undefined when not a number. */
export function strToInt(s: string): number | undefined {
  if (!/^[+-]?\d+$/.test(s)) return undefined;
  const n = Number(s);
  if (!Number.isSafeInteger(n)) return undefined;
  return n === 0 ? 0 : n;
}

/** An integer from a value: integers as they are, integer strings parsed; undefined otherwise. */
export function toInt(v: PvValue): number | undefined {
  if (typeof v === 'number') return Number.isInteger(v) ? v : undefined;
  if (typeof v === 'string') return strToInt(v.trim());
  return undefined;
}

/**
 * Resolve an index at run time: a number (negative counts from the end), 'all', or undefined
 * (logged) when a dynamic index does not hold an integer.
 */
export function resolveIndex(ctx: RouteContext, name: string, idx: PvIndex): number | 'all' | undefined {
  if (idx.kind === 'int') return idx.n;
  if (idx.kind === 'all') return 'all';
  const n = toInt(idx.pv.get(ctx));
  if (n === undefined) pvError(ctx, name, `index ${idx.pv.name} does not hold an integer`);
  return n;
}

/** Element `i` of a list; negative `i` counts from the end. */
export function pick<T>(list: readonly T[], i: number): T | undefined {
  return i >= 0 ? list[i] : list[list.length + i];
}

/** The list position of index `i` (negative from the end), or -1 when out of range. */
export function position(length: number, i: number): number {
  const p = i >= 0 ? i : length + i;
  return p >= 0 && p < length ? p : -1;
}

/** '' and undefined → null. */
export function nonEmpty(s: string | undefined): string | null {
  return s === undefined || s.length === 0 ? null : s;
}

// ------------------------------------------------------------------ URIs

const parsedNewRuri = new WeakMap<SipRequest, { text: string; uri: SipUri }>();
const parsedDstUri = new WeakMap<object, { text: string; uri: SipUri | null }>();

/** The current Request-URI text (after seturi/$ru = …), null for replies. */
export function ruriText(ctx: RouteContext): string | null {
  const req = ctx.request;
  if (!req) return null;
  return req.newRequestUri ?? req.uri;
}

/** The current Request-URI, parsed; null for replies. */
export function currentRuri(ctx: RouteContext): SipUri | null {
  const req = ctx.request;
  if (!req) return null;
  const text = req.newRequestUri;
  if (text === undefined) return req.ruri;
  const hit = parsedNewRuri.get(req);
  if (hit && hit.text === text) return hit.uri;
  const uri = parseUri(text); // setRequestUri validated it
  parsedNewRuri.set(req, { text, uri });
  return uri;
}

/** The Request-URI as received; null for replies. */
export function originalRuri(ctx: RouteContext): SipUri | null {
  return ctx.request?.ruri ?? null;
}

/** The destination URI ($du) parsed; null when unset or unparsable. */
export function dstUri(ctx: RouteContext): SipUri | null {
  const text = ctx.state.dstUri;
  if (text === undefined || text.length === 0) return null;
  const hit = parsedDstUri.get(ctx.state);
  if (hit && hit.text === text) return hit.uri;
  let uri: SipUri | null;
  try {
    uri = parseUri(text);
  } catch {
    uri = null;
  }
  parsedDstUri.set(ctx.state, { text, uri });
  return uri;
}

/** The next hop: $du when set, else the current R-URI (text). Null for replies without $du. */
export function nextHopText(ctx: RouteContext): string | null {
  const du = ctx.state.dstUri;
  if (du !== undefined && du.length > 0) return du;
  return ruriText(ctx);
}

/**
 * The port of a URI. When the URI has none: 5061 for sips, 5060 otherwise (Kamailio answers
 * 5060 for both); null for URIs without a host (tel:, urn:, …).
 */
export function uriPort(uri: SipUri): number | null {
  if (uri.port !== undefined) return uri.port;
  if (uri.scheme === 'sips') return 5061;
  if (uri.scheme === 'sip') return 5060;
  return null;
}

/** The transport of a URI: its `transport` parameter (lowercase), else "tls" for sips and "udp" for sip. */
export function uriTransport(uri: SipUri): string | null {
  const t = uri.params.get('transport');
  if (typeof t === 'string' && t.length > 0) return t.toLowerCase();
  if (uri.scheme === 'sips') return 'tls';
  if (uri.scheme === 'sip') return 'udp';
  return null;
}

/** The user part of a URI, null when empty. */
export function uriUser(uri: SipUri | null): string | null {
  return uri ? nonEmpty(uri.user) : null;
}

/** The host part of a URI (IPv6 with brackets), null when empty. */
export function uriHost(uri: SipUri | null): string | null {
  return uri ? nonEmpty(uri.host) : null;
}

/** `[addr]` for IPv6, the address otherwise. */
export function bracketHost(address: string, family: 4 | 6): string {
  return family === 6 && !address.startsWith('[') ? `[${address}]` : address;
}

/**
 * A socket as a SIP URI: `sip:host:port`, with `;transport=proto` when not UDP or when `always`
 * (Kamailio's $su / $sut and $Ru / $Rut).
 */
export function socketUri(ep: { address: string; port: number; family: 4 | 6 }, proto: string, always: boolean): string {
  const base = `sip:${bracketHost(ep.address, ep.family)}:${ep.port}`;
  return always || proto !== 'udp' ? `${base};transport=${proto}` : base;
}

/** Kamailio's protocol ids: udp 1, tcp 2 (tls 3, sctp 4, ws 5, wss 6). */
export function protoId(proto: string): number {
  switch (proto) {
    case 'udp':
      return 1;
    case 'tcp':
      return 2;
    case 'tls':
      return 3;
    case 'sctp':
      return 4;
    case 'ws':
      return 5;
    case 'wss':
      return 6;
    default:
      return 7;
  }
}

/** The Contact URI of the first contact; null when absent or `*`. */
export function firstContactUri(ctx: RouteContext): string | null {
  const c = ctx.msg.contact;
  if (c.star) return null;
  return c.contacts[0]?.uri.raw ?? null;
}

/**
 * The display name of a From/To/… value as written in the message: with its quotes when quoted
 * (`"Alice"`), as Kamailio's $fn / $tn give it. Null when there is none.
 */
export function displayAsWritten(na: NameAddr): string | null {
  if (na.displayName === undefined) return null;
  const raw = na.raw;
  if (raw.charCodeAt(0) !== 34) return nonEmpty(na.displayName);
  let i = 1;
  while (i < raw.length) {
    const c = raw.charCodeAt(i);
    if (c === 92) i += 2;
    else if (c === 34) return raw.slice(0, i + 1);
    else i++;
  }
  return nonEmpty(na.displayName);
}

/** Body as a string; null when the message has no body. */
export function bodyText(ctx: RouteContext): string | null {
  const b = ctx.msg.body;
  return b.length === 0 ? null : b.toString('utf8');
}

/** The SIP method: the request method, or the CSeq method of a reply. */
export function methodOf(ctx: RouteContext): string {
  const req = ctx.request;
  return req ? req.method : ctx.msg.cseq.method;
}
