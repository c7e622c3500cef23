/**
 * Positional header edits on top of the message's lump API.
 *
 * The SIP message API edits headers by name (replace/remove the first or the n-th field of a
 * name, insert before/after the first field of a name, append, insert at the top). textops and
 * textopsx need "replace this field", "insert after that field": setHeaderList() takes the
 * header list the caller wants and turns the difference with the current list into the fewest
 * lump calls it can:
 *  - fields that change value in place (the first field of their name) → replaceHeader;
 *  - removed fields → removeHeader(name, n);
 *  - new fields → append / insert at the top / insert next to a neighbour that is the first of
 *    its name;
 *  - anything else → the fields from that position to the end are removed and appended again
 *    (they are then rendered `Name: value` instead of being copied byte for byte).
 *
 * (This goes away once SipMessage offers positional edits; see the module README.)
 */
import { sip, type SipRequest, type SipResponse } from '@ksr/core';

type HeaderField = sip.HeaderField;

export type SipMsg = SipRequest | SipResponse;

/** A header field as the caller wants it. */
export interface HeaderLine {
  name: string;
  value: string;
}

const TOKEN = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;
/** Control characters other than HTAB (CR and LF included). */
const BAD_VALUE = /[\x00-\x08\x0a-\x1f\x7f]/;

/** Why these lines cannot be headers, or undefined when they can. */
export function checkLines(lines: readonly HeaderLine[]): string | undefined {
  for (const l of lines) {
    if (!TOKEN.test(l.name)) return `invalid header name ${JSON.stringify(l.name)}`;
    if (BAD_VALUE.test(l.value)) return `control character in the value of ${l.name}`;
  }
  return undefined;
}

const key = (name: string): string => sip.canonicalHeaderName(name);

const sameField = (a: HeaderLine, b: HeaderLine): boolean => a.name === b.name && a.value === b.value;

/** Is list[i] the first field of its name? */
function firstOfName(list: readonly HeaderField[], i: number): boolean {
  const k = list[i]!.key;
  for (let j = 0; j < i; j++) if (list[j]!.key === k) return false;
  return true;
}

/** How many fields of the same name come before list[i]. */
function occurrence(list: readonly HeaderField[], i: number): number {
  const k = list[i]!.key;
  let n = 0;
  for (let j = 0; j < i; j++) if (list[j]!.key === k) n++;
  return n;
}

/** Remove list[from..to) (from the end, so the occurrence numbers of earlier fields hold). */
function removeRange(msg: SipMsg, list: readonly HeaderField[], from: number, to: number): void {
  for (let i = to - 1; i >= from; i--) msg.removeHeader(list[i]!.key, occurrence(list, i));
}

/** Insert `lines` so that they start at position p of the current list. */
function insertAt(msg: SipMsg, p: number, lines: readonly HeaderLine[]): void {
  if (lines.length === 0) return;
  const list = msg.currentHeaders();
  if (p >= list.length) {
    for (const l of lines) msg.appendHeader(l.name, l.value);
    return;
  }
  if (p === 0) {
    for (let i = lines.length - 1; i >= 0; i--) msg.insertHeader(lines[i]!.name, lines[i]!.value);
    return;
  }
  // after list[p-1], when it is the first of its name (the latest call lands closest to it)
  if (firstOfName(list, p - 1)) {
    const anchor = list[p - 1]!.name;
    for (let i = lines.length - 1; i >= 0; i--) msg.appendHeaderAfter(anchor, lines[i]!.name, lines[i]!.value);
    return;
  }
  // before list[p], when it is the first of its name and none of the new fields shares it
  const next = list[p]!;
  if (firstOfName(list, p) && !lines.some((l) => key(l.name) === next.key)) {
    for (const l of lines) msg.insertHeaderBefore(next.name, l.name, l.value);
    return;
  }
  // no anchor: take the tail off and put it back after the new fields
  const tail = list.slice(p).map((f) => ({ name: f.name, value: f.value }));
  removeRange(msg, list, p, list.length);
  for (const l of [...lines, ...tail]) msg.appendHeader(l.name, l.value);
}

/**
 * Make the current header list of `msg` equal to `desired` (names as given, values trimmed).
 * Throws TypeError for an invalid name or value (check with checkLines first).
 */
export function setHeaderList(msg: SipMsg, desired: readonly HeaderLine[]): void {
  const want = desired.map((d) => ({ name: d.name, value: d.value.trim() }));
  const err = checkLines(want);
  if (err) throw new TypeError(err);
  const cur = msg.currentHeaders();
  let p = 0;
  while (p < cur.length && p < want.length && sameField(cur[p]!, want[p]!)) p++;
  let s = 0;
  while (s < cur.length - p && s < want.length - p && sameField(cur[cur.length - 1 - s]!, want[want.length - 1 - s]!)) s++;
  const curEnd = cur.length - s;
  const wantMid = want.slice(p, want.length - s);
  if (curEnd === p && wantMid.length === 0) return;
  // in-place value changes of fields that are the first of their name
  if (curEnd - p === wantMid.length) {
    let inPlace = true;
    for (let i = p; i < curEnd; i++) {
      const c = cur[i]!;
      const w = wantMid[i - p]!;
      if (c.name !== w.name || !firstOfName(cur, i)) {
        inPlace = false;
        break;
      }
    }
    if (inPlace) {
      for (let i = p; i < curEnd; i++) if (cur[i]!.value !== wantMid[i - p]!.value) msg.replaceHeader(cur[i]!.name, wantMid[i - p]!.value);
      return;
    }
  }
  removeRange(msg, cur, p, curEnd);
  insertAt(msg, p, wantMid);
}

/** The current header list as plain lines. */
export function currentLines(msg: SipMsg): HeaderLine[] {
  return msg.currentHeaders().map((h) => ({ name: h.name, value: h.value }));
}

/**
 * The body as it will be sent: the received body, or the one a setBody() edit put in place
 * (read back from the serialized message).
 */
export function currentBody(msg: SipMsg): Buffer {
  if (!msg.modified) return msg.body;
  const out = msg.serialize();
  // the header section ends at the first empty line (LF followed by CRLF or LF)
  let i = out.indexOf(10);
  while (i !== -1 && i + 1 < out.length) {
    if (out[i + 1] === 10) return out.subarray(i + 2);
    if (out[i + 1] === 13 && out[i + 2] === 10) return out.subarray(i + 3);
    i = out.indexOf(10, i + 1);
  }
  return Buffer.alloc(0);
}

/** The current value of the first field of a name (edits included). */
export function currentHeader(msg: SipMsg, name: string): string | undefined {
  const k = key(name);
  return msg.currentHeaders().find((h) => h.key === k)?.value;
}
