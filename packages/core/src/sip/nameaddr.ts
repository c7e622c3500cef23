/**
 * name-addr / addr-spec with header parameters (From, To, Contact, Route,
 * Record-Route, ... — RFC 3261 §20.10, §25.1).
 */
import { C_TOKEN, is, scanQuoted, skipWs, trimWs, unquote } from './chars.js';
import { SipParseError, quote } from './errors.js';
import { parseHeaderParams } from './params.js';
import { parseUri, type SipUri } from './uri.js';

export interface NameAddr {
  /** Display name: quoted form unquoted and unescaped; token form as written. */
  displayName?: string;
  uri: SipUri;
  /** Header parameters (after `>`, or after a bare addr-spec): lowercase names, values as written. */
  params: Map<string, string | null>;
  /** Value of the `tag` header parameter, if present with a value. */
  tag?: string;
  /** The text this was parsed from (SP/HTAB trimmed). */
  raw: string;
}

function fail(text: string, why: string): never {
  throw new SipParseError(`invalid name-addr ${quote(text)}: ${why}`);
}

/**
 * Parse `"display" <uri>;params`, `token words <uri>;params`, `<uri>;params`
 * or a bare addr-spec `sip:u@h;params` (whose `;params` belong to the header,
 * not to the URI; a bare addr-spec containing `?` or `,` is rejected because
 * RFC 3261 §20 requires `<>` then).
 */
export function parseNameAddr(text: string): NameAddr {
  return parse(text, false);
}

/**
 * A Route / Record-Route element (`route-param = name-addr *( SEMI rr-param )`).
 * Leniently also accepts a bare URI, but then — unlike the addr-spec rule of
 * From/To/Contact — everything up to the first whitespace is the URI, so a
 * bare `sip:proxy;lr` keeps `lr` as a URI parameter (loose routing, §16.4).
 */
export function parseRouteParam(text: string): NameAddr {
  return parse(text, true);
}

function parse(text: string, route: boolean): NameAddr {
  const s = trimWs(text);
  const n = s.length;
  if (n === 0) fail(text, 'empty');
  let i = 0;
  let displayName: string | undefined;
  const c = s.charCodeAt(0);
  if (c === 34 /* " */) {
    const e = scanQuoted(s, 0);
    if (e < 0) fail(s, 'unterminated quoted display name');
    displayName = unquote(s.slice(0, e));
    i = skipWs(s, e);
    if (i >= n || s.charCodeAt(i) !== 60) fail(s, "expected '<' after the display name");
  } else if (c !== 60 /* < */) {
    // *(token LWS) "<" is a display name; anything else is an addr-spec
    let j = 0;
    let lastEnd = 0;
    for (;;) {
      const ts = j;
      while (j < n && is(s.charCodeAt(j), C_TOKEN)) j++;
      if (j === ts) break;
      lastEnd = j;
      j = skipWs(s, j);
    }
    if (j < n && s.charCodeAt(j) === 60 && lastEnd > 0) {
      displayName = s.slice(0, lastEnd);
      i = j;
    }
  }

  let uriText: string;
  let after: number;
  if (s.charCodeAt(i) === 60) {
    const close = s.indexOf('>', i + 1);
    if (close === -1) fail(s, "missing '>'");
    uriText = s.slice(i + 1, close);
    after = close + 1;
  } else {
    let j = i;
    while (j < n) {
      const ch = s.charCodeAt(j);
      if ((ch === 59 && !route) || ch === 32 || ch === 9) break;
      j++;
    }
    uriText = s.slice(i, j);
    if ((!route && uriText.indexOf('?') !== -1) || uriText.indexOf(',') !== -1 || uriText.indexOf('<') !== -1 || uriText.indexOf('>') !== -1) {
      fail(s, "an addr-spec containing '?', ',' or '<>' must be enclosed in <>");
    }
    after = j;
  }
  const uri = parseUri(uriText);
  const params = new Map<string, string | null>();
  parseHeaderParams(s, after, params, 'name-addr');
  const na: NameAddr = { uri, params, raw: s };
  if (displayName !== undefined) na.displayName = displayName;
  const tag = params.get('tag');
  if (typeof tag === 'string') na.tag = tag;
  return na;
}
