/**
 * The syntax of pseudo-variable names, as in Kamailio's config language:
 *
 *   $name                      $ru, $T_branch_idx, $retcode
 *   $name(param)               $hdr(Via), $var(x), $avp(s:x), $xavp(a[0]=>b), $sht(t=>k)
 *   $(name)                    $(ru)
 *   $(name(param)[index])      $(hdr(Via)[1]), $(avp(x)[-1]), $(avp(x)[*]), $(hdr(Via)[$var(i)])
 *
 * Class names are letters, digits and '_' (not starting with a digit), matched greedily. The
 * parameter runs to the matching ')' (nested parentheses are balanced). An index is an integer
 * (negative counts from the end), '*' (all) or a pseudo-variable. Transformations
 * (`$(ru{s.len})`) are recognised and rejected: ksr does not implement them.
 *
 * This file only knows the syntax; which classes exist and what their parameters mean is the
 * registry's business.
 */
import { PvNameError } from './types.js';

export type RawIndex = { kind: 'int'; n: number } | { kind: 'all' } | { kind: 'pv'; text: string };

export interface ParsedPv {
  cls: string;
  param: string | undefined;
  index: RawIndex | undefined;
  /** Offset just after the name. */
  end: number;
}

function isNameStart(c: number): boolean {
  return (c >= 65 && c <= 90) || (c >= 97 && c <= 122) || c === 95;
}

function isNameChar(c: number): boolean {
  return isNameStart(c) || (c >= 48 && c <= 57);
}

/** Offset of the ')' that closes the '(' just before `from`; -1 when unbalanced. */
function closeParen(s: string, from: number): number {
  let depth = 1;
  for (let i = from; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c === 40) depth++;
    else if (c === 41 && --depth === 0) return i;
  }
  return -1;
}

/** Parse the text of an index (between '[' and ']'). */
export function parseIndexText(whole: string, t: string): RawIndex {
  if (t === '*') return { kind: 'all' };
  if (/^[+-]?\d{1,9}$/.test(t)) {
    const n = Number(t);
    return { kind: 'int', n: n === 0 ? 0 : n };
  }
  if (t.startsWith('$') && t.length > 1) return { kind: 'pv', text: t };
  throw new PvNameError(whole, `bad index [${t}] (expected an integer, '*' or a pseudo-variable)`);
}

/**
 * Parse the pseudo-variable that starts at `pos` (where `text[pos]` is '$'). Returns the parts
 * and where the name ends; the caller decides whether anything may follow. Throws PvNameError.
 */
export function parsePvAt(text: string, pos: number): ParsedPv {
  const fail = (why: string): never => {
    throw new PvNameError(text, why);
  };
  if (text.charCodeAt(pos) !== 36) fail("a pseudo-variable starts with '$'");
  let i = pos + 1;
  const wrapped = text.charCodeAt(i) === 40; // $( ... )
  if (wrapped) i++;
  const ns = i;
  if (i >= text.length || !isNameStart(text.charCodeAt(i))) fail(i >= text.length ? 'missing name' : `bad name start ${JSON.stringify(text[i])}`);
  while (i < text.length && isNameChar(text.charCodeAt(i))) i++;
  const cls = text.slice(ns, i);
  let param: string | undefined;
  if (text.charCodeAt(i) === 40) {
    const close = closeParen(text, i + 1);
    if (close === -1) fail(`unbalanced parentheses after $${cls}`);
    param = text.slice(i + 1, close);
    i = close + 1;
  }
  let index: RawIndex | undefined;
  if (wrapped) {
    if (text.charCodeAt(i) === 91) {
      const close = text.indexOf(']', i + 1);
      if (close === -1) fail("missing ']'");
      // a dynamic index may itself hold brackets: $(hdr(X)[$(avp(i)[0])])
      let end = close;
      if (text.charCodeAt(i + 1) === 36) {
        const inner = parsePvAt(text, i + 1);
        end = inner.end;
        if (text.charCodeAt(end) !== 93) fail("missing ']'");
      }
      index = parseIndexText(text, text.slice(i + 1, end));
      i = end + 1;
    }
    if (text.charCodeAt(i) === 123) fail('transformations ({...}) are not supported');
    if (text.charCodeAt(i) !== 41) fail(i >= text.length ? "missing ')'" : `unexpected ${JSON.stringify(text[i])} in $(...)`);
    i++;
  }
  return { cls, param, index, end: i };
}

/** Parse a whole name: exactly one pseudo-variable, nothing before or after. */
export function parsePvName(text: string): ParsedPv {
  if (text.length === 0) throw new PvNameError(text, 'empty name');
  const p = parsePvAt(text, 0);
  if (p.end !== text.length) {
    const rest = text.slice(p.end);
    const hint = rest.startsWith('[') ? ` (an index needs the $(${p.cls}(...)[n]) form)` : '';
    throw new PvNameError(text, `unexpected ${JSON.stringify(rest.length > 20 ? `${rest.slice(0, 20)}…` : rest)} after the name${hint}`);
  }
  return p;
}
