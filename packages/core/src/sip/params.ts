import { C_TOKEN, C_VALUE, is, scanQuoted, skipWs } from './chars.js';
import { SipParseError, quote } from './errors.js';

/**
 * Parse header parameters (`generic-param` list of RFC 3261 §25.1):
 *
 *     *( SWS ";" SWS token [ SWS "=" SWS ( token / host / quoted-string ) ] ) SWS
 *
 * from `s[i]` to the end of `s`. Names are lowercased; values are kept as
 * written (quoted values keep their quotes). The first occurrence of a name
 * wins. Empty names (`;;`) and empty values (`;a=`) are errors.
 */
export function parseHeaderParams(
  s: string,
  i: number,
  params: Map<string, string | null>,
  what: string,
): void {
  // the error context is only built on failure (quote() is not free)
  const ctx = (): string => `invalid ${what} ${quote(s)}`;
  const n = s.length;
  for (;;) {
    i = skipWs(s, i);
    if (i >= n) return;
    if (s.charCodeAt(i) !== 59 /* ; */) {
      throw new SipParseError(`${ctx()}: unexpected text ${quote(s.slice(i))}`);
    }
    i = skipWs(s, i + 1);
    const ns = i;
    while (i < n && is(s.charCodeAt(i), C_TOKEN)) i++;
    if (i === ns) throw new SipParseError(`${ctx()}: empty or invalid parameter at ${quote(s.slice(ns))}`);
    const name = s.slice(ns, i).toLowerCase();
    let value: string | null = null;
    const j = skipWs(s, i);
    if (j < n && s.charCodeAt(j) === 61 /* = */) {
      i = skipWs(s, j + 1);
      const vs = i;
      if (i < n && s.charCodeAt(i) === 34) {
        const e = scanQuoted(s, i);
        if (e < 0) throw new SipParseError(`${ctx()}: unterminated quoted value of parameter ${quote(name)}`);
        i = e;
      } else {
        while (i < n && is(s.charCodeAt(i), C_VALUE)) i++;
        if (i === vs) throw new SipParseError(`${ctx()}: missing or invalid value of parameter ${quote(name)}`);
      }
      value = s.slice(vs, i);
    }
    if (!params.has(name)) params.set(name, value);
  }
}

/** Render a parameter map back to `;a=b;c` form. */
export function formatParams(params: Map<string, string | null>): string {
  let out = '';
  for (const [k, v] of params) out += v === null ? `;${k}` : `;${k}=${v}`;
  return out;
}
