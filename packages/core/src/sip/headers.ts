import { trimWs } from './chars.js';

/**
 * Header names: canonical (lowercase, compact forms expanded) keys and the set
 * of headers whose values are comma-separated lists.
 */

const COMPACT: Readonly<Record<string, string>> = {
  i: 'call-id',
  m: 'contact',
  e: 'content-encoding',
  l: 'content-length',
  c: 'content-type',
  f: 'from',
  s: 'subject',
  k: 'supported',
  t: 'to',
  v: 'via',
  o: 'event',
  u: 'allow-events',
  r: 'refer-to',
  b: 'referred-by',
  x: 'session-expires',
  y: 'identity',
  a: 'accept-contact',
  j: 'reject-contact',
  d: 'request-disposition',
  n: 'identity-info',
};

/**
 * Lowercase full header name: `'v'` -> `'via'`, `'Call-ID'`/`'i'` -> `'call-id'`.
 * Unknown names are just lowercased.
 */
export function canonicalHeaderName(name: string): string {
  const lower = name.toLowerCase();
  if (lower.length === 1) return COMPACT[lower] ?? lower;
  return lower;
}

/**
 * Headers whose grammar is a comma-separated list (`#element`), split by
 * `headerValues()`. Authorization-style headers (commas inside challenge
 * params), Date (comma in the date) and other single-valued ones are not here.
 */
export const LIST_HEADERS: ReadonlySet<string> = new Set([
  'via',
  'contact',
  'route',
  'record-route',
  'path',
  'service-route',
  'allow',
  'allow-events',
  'supported',
  'require',
  'proxy-require',
  'unsupported',
  'accept',
  'accept-encoding',
  'accept-language',
  'accept-contact',
  'reject-contact',
  'request-disposition',
  'alert-info',
  'call-info',
  'error-info',
  'content-encoding',
  'content-language',
  'in-reply-to',
  'warning',
  'reason',
  'history-info',
  'p-asserted-identity',
  'p-preferred-identity',
  'p-associated-uri',
  'security-client',
  'security-server',
  'security-verify',
]);

/** True when `headerValues(name)` splits this header's values on commas. */
export function isListHeader(name: string): boolean {
  return LIST_HEADERS.has(canonicalHeaderName(name));
}

/**
 * Index of the first comma of `s` (from `from`) that is outside quoted
 * strings and `<...>`; -1 when none. Unterminated quotes/brackets swallow the
 * rest of the string (the element parsers then reject it).
 */
export function nextTopLevelComma(s: string, from: number): number {
  let inAngle = false;
  for (let i = from; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (inAngle) {
      if (c === 62) inAngle = false;
      continue;
    }
    if (c === 34) {
      // skip quoted string
      i++;
      while (i < s.length) {
        const d = s.charCodeAt(i);
        if (d === 92) i += 2;
        else if (d === 34) break;
        else i++;
      }
      continue;
    }
    if (c === 60) inAngle = true;
    else if (c === 44) return i;
  }
  return -1;
}

/**
 * Split a list header value on top-level commas. Elements are SP/HTAB
 * trimmed; empty elements are kept (callers decide whether they are errors).
 */
export function splitTopLevel(s: string): string[] {
  const out: string[] = [];
  let start = 0;
  for (;;) {
    const comma = nextTopLevelComma(s, start);
    if (comma === -1) {
      out.push(trimWs(s.slice(start)));
      return out;
    }
    out.push(trimWs(s.slice(start, comma)));
    start = comma + 1;
  }
}

