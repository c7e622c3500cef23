/**
 * Via header values (RFC 3261 §20.42, §25.1; rport from RFC 3581).
 */
import { C_ALNUM, C_DIGIT, C_TOKEN, is, isToken, parseDecimal, skipWs } from './chars.js';
import { SipParseError, quote } from './errors.js';
import { splitTopLevel } from './headers.js';
import { parseHeaderParams } from './params.js';
import { hostKind, isIPv6 } from './uri.js';

export interface Via {
  /** `name/version` as written without whitespace, normally `SIP/2.0`. */
  protocol: string;
  /** Uppercase: UDP, TCP, TLS, SCTP, WS, WSS, or any other token. */
  transport: string;
  /** sent-by host; IPv6 keeps its brackets. */
  host: string;
  port?: number;
  /** All params, lowercase names, values as written (`null`: flag). */
  params: Map<string, string | null>;
  branch?: string;
  received?: string;
  /** `null`: rport present without a value (RFC 3581 request form). */
  rport?: number | null;
  maddr?: string;
  ttl?: number;
  /** The via-parm text (trimmed). */
  raw: string;
}

function fail(text: string, why: string): never {
  throw new SipParseError(`invalid Via ${quote(text)}: ${why}`);
}

/** Parse one Via header value, which may hold several comma-separated via-parms. */
export function parseVia(text: string): Via[] {
  const parts = splitTopLevel(text);
  const out: Via[] = [];
  for (const p of parts) {
    if (p.length === 0) fail(text, 'empty element');
    out.push(parseViaParm(p));
  }
  return out;
}

function readToken(s: string, i: number): number {
  while (i < s.length && is(s.charCodeAt(i), C_TOKEN)) i++;
  return i;
}

function parseViaParm(s: string): Via {
  const n = s.length;
  // sent-protocol = protocol-name SLASH protocol-version SLASH transport
  let i = readToken(s, 0);
  if (i === 0) fail(s, 'missing protocol name');
  const pname = s.slice(0, i);
  i = skipWs(s, i);
  if (s.charCodeAt(i) !== 47) fail(s, "expected '/' after protocol name");
  i = skipWs(s, i + 1);
  let st = i;
  i = readToken(s, i);
  if (i === st) fail(s, 'missing protocol version');
  const pver = s.slice(st, i);
  i = skipWs(s, i);
  if (s.charCodeAt(i) !== 47) fail(s, "expected '/' after protocol version");
  i = skipWs(s, i + 1);
  st = i;
  i = readToken(s, i);
  if (i === st) fail(s, 'missing transport');
  const transport = s.slice(st, i).toUpperCase();
  const afterT = i;
  i = skipWs(s, i);
  if (i === afterT) fail(s, 'missing whitespace before sent-by');
  // sent-by = host [ COLON port ]
  let host: string;
  if (s.charCodeAt(i) === 91) {
    const close = s.indexOf(']', i);
    if (close === -1 || !isIPv6(s.slice(i + 1, close))) fail(s, 'bad IPv6 sent-by');
    host = s.slice(i, close + 1);
    i = close + 1;
  } else {
    st = i;
    while (i < n) {
      const c = s.charCodeAt(i);
      if (is(c, C_ALNUM) || c === 45 || c === 46) i++;
      else break;
    }
    host = s.slice(st, i);
    if (hostKind(host) === undefined) fail(s, `bad sent-by host ${quote(host)}`);
  }
  let port: number | undefined;
  let j = skipWs(s, i);
  if (s.charCodeAt(j) === 58) {
    j = skipWs(s, j + 1);
    st = j;
    while (j < n && is(s.charCodeAt(j), C_DIGIT)) j++;
    const p = parseDecimal(s, st, j, 65535);
    if (p < 0) fail(s, 'bad sent-by port');
    port = p;
    i = j;
  }
  const params = new Map<string, string | null>();
  parseHeaderParams(s, i, params, 'Via');

  const via: Via = { protocol: `${pname}/${pver}`, transport, host, params, raw: s };
  if (port !== undefined) via.port = port;
  if (params.size > 0) {
    const branch = params.get('branch');
    if (branch !== undefined) {
      if (branch === null || !isToken(branch)) fail(s, 'bad branch');
      via.branch = branch;
    }
    const received = params.get('received');
    if (received !== undefined) {
      if (received === null) fail(s, 'received without value');
      via.received = received;
    }
    const rport = params.get('rport');
    if (rport !== undefined) {
      if (rport === null) via.rport = null;
      else {
        const v = parseDecimal(rport, 0, rport.length, 65535);
        if (v < 0) fail(s, 'bad rport');
        via.rport = v;
      }
    }
    const maddr = params.get('maddr');
    if (maddr !== undefined) {
      if (maddr === null) fail(s, 'maddr without value');
      via.maddr = maddr;
    }
    const ttl = params.get('ttl');
    if (ttl !== undefined) {
      const v = ttl === null ? -1 : parseDecimal(ttl, 0, ttl.length, 255);
      if (v < 0) fail(s, 'bad ttl (0..255)');
      via.ttl = v;
    }
  }
  return via;
}
