/**
 * ASCII character classes of the RFC 3261 grammar as bit flags, plus small
 * scanning helpers shared by the parsers. `is()` answers false for anything
 * outside ASCII (including NaN from charCodeAt past the end), so callers
 * never need a separate bounds check.
 */

export const C_TOKEN = 1; //       alphanum - . ! % * _ + ` ' ~
export const C_UNRESERVED = 2; //  alphanum - _ . ! ~ * ' ( )
export const C_USER = 4; //        unreserved & = + $ , ; ? /      (escapes handled separately)
export const C_PASSWORD = 8; //    unreserved & = + $ ,
export const C_PARAM = 16; //      unreserved [ ] / : & + $        (uri-parameter chars)
export const C_HNV = 32; //        unreserved [ ] / ? : + $        (uri-header chars)
export const C_HEX = 64;
export const C_DIGIT = 128;
export const C_ALNUM = 256;
export const C_VALUE = 512; //     token [ ] :                     (unquoted gen-value: token / host)
export const C_SCHEME = 1024; //   alphanum + - .
export const C_TELNUM = 2048; //   hex digits * # + - . ( )  and 'p'/'w' pauses are hex-ish letters too

const TABLE = new Uint16Array(128);

function add(chars: string, flag: number): void {
  for (let i = 0; i < chars.length; i++) TABLE[chars.charCodeAt(i)]! |= flag;
}

const ALPHA = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz';
const DIGIT = '0123456789';
const ALNUM = ALPHA + DIGIT;
const UNRESERVED = ALNUM + "-_.!~*'()";

add(ALNUM + "-.!%*_+`'~", C_TOKEN);
add(UNRESERVED, C_UNRESERVED);
add(UNRESERVED + '&=+$,;?/', C_USER);
add(UNRESERVED + '&=+$,', C_PASSWORD);
add(UNRESERVED + '[]/:&+$', C_PARAM);
add(UNRESERVED + '[]/?:+$', C_HNV);
add(DIGIT + 'ABCDEFabcdef', C_HEX);
add(DIGIT, C_DIGIT);
add(ALNUM, C_ALNUM);
add(ALNUM + "-.!%*_+`'~" + '[]:', C_VALUE);
add(ALNUM + '+-.', C_SCHEME);
add(DIGIT + 'ABCDEFabcdef' + '*#+-.()pPwW', C_TELNUM);

/** True when code unit `c` belongs to class `cls`. */
export function is(c: number, cls: number): boolean {
  // explicit range check: out-of-bounds typed-array reads are a slow path in V8
  return c < 128 && (TABLE[c]! & cls) !== 0;
}

export function isToken(s: string): boolean {
  if (s.length === 0) return false;
  for (let i = 0; i < s.length; i++) if (!is(s.charCodeAt(i), C_TOKEN)) return false;
  return true;
}

/** SP or HTAB. */
export function isWs(c: number): boolean {
  return c === 32 || c === 9;
}

/** Index of the first non SP/HTAB at or after i. */
export function skipWs(s: string, i: number): number {
  while (i < s.length) {
    const c = s.charCodeAt(i);
    if (c !== 32 && c !== 9) break;
    i++;
  }
  return i;
}

/** Trim SP/HTAB only (String#trim would also eat NBSP and line terminators). */
export function trimWs(s: string): string {
  let a = 0;
  let b = s.length;
  while (a < b && isWs(s.charCodeAt(a))) a++;
  while (b > a && isWs(s.charCodeAt(b - 1))) b--;
  return a === 0 && b === s.length ? s : s.slice(a, b);
}

/**
 * Parse `s[start,end)` as 1*DIGIT. Returns the value, -1 when empty or not all
 * digits, -2 when larger than `max` (checked digit by digit, so huge inputs
 * never lose precision or loop long after overflowing).
 */
export function parseDecimal(s: string, start: number, end: number, max: number): number {
  if (end <= start) return -1;
  let v = 0;
  let over = false;
  for (let i = start; i < end; i++) {
    const d = s.charCodeAt(i) - 48;
    if (d < 0 || d > 9) return -1;
    if (!over) {
      v = v * 10 + d;
      if (v > max) over = true;
    }
  }
  return over ? -2 : v;
}

/**
 * Given s[i] === '"', return the index just after the closing quote, or -1
 * when the quoted string is unterminated. Backslash escapes one character.
 */
export function scanQuoted(s: string, i: number): number {
  i++;
  while (i < s.length) {
    const c = s.charCodeAt(i);
    if (c === 92) {
      if (i + 1 >= s.length) return -1;
      i += 2;
      continue;
    }
    if (c === 34) return i + 1;
    i++;
  }
  return -1;
}

/** Remove the surrounding quotes and backslash escapes of a quoted-string. */
export function unquote(q: string): string {
  const inner = q.slice(1, -1);
  if (inner.indexOf('\\') === -1) return inner;
  let out = '';
  for (let i = 0; i < inner.length; i++) {
    const c = inner[i]!;
    if (c === '\\' && i + 1 < inner.length) {
      out += inner[i + 1];
      i++;
    } else out += c;
  }
  return out;
}

/**
 * Validate `s[start,end)` as 1*(cls / escaped). Returns false on an empty
 * run, a character outside the class, or a malformed `%XX` escape.
 */
export function isEscapedRun(s: string, start: number, end: number, cls: number, allowEmpty = false): boolean {
  if (end <= start) return allowEmpty;
  for (let i = start; i < end; i++) {
    const c = s.charCodeAt(i);
    if (c === 37) {
      if (i + 2 >= end) return false;
      if (!is(s.charCodeAt(i + 1), C_HEX) || !is(s.charCodeAt(i + 2), C_HEX)) return false;
      i += 2;
      continue;
    }
    if (!is(c, cls)) return false;
  }
  return true;
}

/** Decode `%XX` escapes to the byte's code unit (for comparisons only). */
export function pctDecode(s: string): string {
  if (s.indexOf('%') === -1) return s;
  let out = '';
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c === 37 && i + 2 < s.length && is(s.charCodeAt(i + 1), C_HEX) && is(s.charCodeAt(i + 2), C_HEX)) {
      out += String.fromCharCode(parseInt(s.slice(i + 1, i + 3), 16));
      i += 2;
    } else out += s[i];
  }
  return out;
}

/** True when the string contains a char outside 0x00..0x7f. */
const NON_ASCII = /[^\x00-\x7f]/;
export function hasNonAscii(s: string): boolean {
  return NON_ASCII.test(s);
}

/** Any control character other than HTAB (CR and LF included). */
// eslint-disable-next-line no-control-regex
export const CTL = /[\x00-\x08\x0a-\x1f\x7f]/;

/**
 * True when `v` holds a control character (other than HTAB) that is not the
 * second character of a quoted-pair inside a quoted string (RFC 3261 §25.1:
 * TEXT-UTF8char and qdtext exclude CTLs; only quoted-pair may carry them).
 */
export function hasBareControl(v: string): boolean {
  if (!CTL.test(v)) return false;
  let inQ = false;
  for (let i = 0; i < v.length; i++) {
    const c = v.charCodeAt(i);
    if (inQ) {
      if (c === 92) {
        const d = v.charCodeAt(i + 1);
        if (d === 13 || d === 10) return true; // quoted-pair excludes CR and LF
        i++;
        continue;
      }
      if (c === 34) {
        inQ = false;
        continue;
      }
    } else if (c === 34) {
      inQ = true;
      continue;
    }
    if ((c < 32 && c !== 9) || c === 127) return true;
  }
  return false;
}
