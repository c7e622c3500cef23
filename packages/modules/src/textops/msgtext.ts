/**
 * Text edits over the received bytes of a message, turned into message lumps.
 *
 * Kamailio's textops finds matches in the received buffer and records "lumps" (replace these
 * bytes with those) that are applied when the message is sent; later searches still see the
 * received bytes. ksr does the same: matches are found in `msg.raw` (as latin1 text, one
 * character per byte), and the edits are kept per message. Each time edits are added, the parts
 * of the message they touch are rebuilt from the received bytes plus every edit made so far, and
 * handed to the message API:
 *  - the start line of a request: only its Request-URI may change (setRequestUri);
 *  - a header field (its lines, line end included): the new text must be zero or more complete
 *    header lines, which replace the field at its place in the current header list;
 *  - the body: setBody (Content-Length follows).
 * Edits that overlap an earlier one, cross from one part into another, touch the empty line
 * after the headers or the start line of a reply are refused (-1, nothing changed). So is an
 * edit of a part that something else changed in the meantime (hdr.remove, set_body, seturi,
 * …): the change would be lost. textopsx.msg_apply_changes() makes all changes visible and
 * starts afresh.
 */
import { parseHeaderText, type RouteContext } from '@ksr/core';
import { currentBody, currentLines, setHeaderList, type HeaderLine, type SipMsg } from './hdrlist.js';
import { applyEdits, type TextEdit } from './regex.js';

export type RegionKind = 'start' | 'header' | 'blank' | 'body';

export interface Region {
  readonly kind: RegionKind;
  readonly start: number;
  readonly end: number;
  /** Index into msg.headers for a header region, else -1. */
  readonly index: number;
}

export interface Layout {
  /** msg.raw as latin1 (one character per byte). */
  readonly text: string;
  readonly startLine: Region;
  readonly headers: readonly Region[];
  readonly blank: Region;
  readonly body: Region;
}

const layouts = new WeakMap<SipMsg, Layout | string>();

function computeLayout(msg: SipMsg): Layout | string {
  const text = msg.raw.toString('latin1');
  const nl = text.indexOf('\n');
  if (nl === -1) return 'the message has no line end';
  const startLine: Region = { kind: 'start', start: 0, end: nl + 1, index: -1 };
  const headers: Region[] = [];
  let pos = nl + 1;
  let blank: Region | undefined;
  let cur: { start: number; end: number } | undefined;
  while (pos < text.length) {
    const e = text.indexOf('\n', pos);
    const lineEnd = e === -1 ? text.length : e + 1;
    const line = text.slice(pos, lineEnd);
    if (line === '\r\n' || line === '\n') {
      if (cur) headers.push({ kind: 'header', start: cur.start, end: cur.end, index: headers.length });
      blank = { kind: 'blank', start: pos, end: lineEnd, index: -1 };
      break;
    }
    const c = text.charCodeAt(pos);
    if ((c === 32 || c === 9) && cur) cur.end = lineEnd;
    else {
      if (cur) headers.push({ kind: 'header', start: cur.start, end: cur.end, index: headers.length });
      cur = { start: pos, end: lineEnd };
    }
    pos = lineEnd;
  }
  if (!blank) return 'the message has no end of headers';
  const bodyStart = msg.raw.length - msg.body.length;
  if (headers.length !== msg.headers.length || blank.end !== bodyStart) return 'cannot map the message layout';
  return { text, startLine, headers, blank, body: { kind: 'body', start: bodyStart, end: text.length, index: -1 } };
}

/** Where the parts of the received message are (cached per message). */
export function layoutOf(msg: SipMsg): Layout | string {
  let l = layouts.get(msg);
  if (l === undefined) {
    l = computeLayout(msg);
    layouts.set(msg, l);
  }
  return l;
}

/** The edits recorded so far per message (offsets into msg.raw). */
const recorded = new WeakMap<SipMsg, TextEdit[]>();

/** The edits textops recorded for a message (for tests and textopsx). */
export function recordedEdits(msg: SipMsg): readonly TextEdit[] {
  return recorded.get(msg) ?? [];
}

const overlaps = (a: TextEdit, b: TextEdit): boolean => a.start < b.end && b.start < a.end;

/** The region an edit belongs to (an insertion at a boundary belongs to the part before it). */
function regionOf(l: Layout, e: TextEdit): Region | undefined {
  const all = [l.startLine, ...l.headers, l.blank, l.body];
  if (e.start === e.end) {
    if (e.start === 0) return l.startLine;
    // text added right after the start line goes before the first header field
    if (e.start === l.startLine.end) return l.headers[0] ?? l.blank;
    const r = all.find((x) => x.start < e.start && e.start <= x.end);
    if (r === l.blank && e.start === l.blank.end) return l.body;
    return r ?? (e.start === l.body.start ? l.body : undefined);
  }
  const r = all.find((x) => x.start <= e.start && e.start < x.end);
  return r && e.end <= r.end ? r : undefined;
}

function describe(r: Region): string {
  switch (r.kind) {
    case 'start':
      return 'the start line';
    case 'header':
      return `header field #${r.index + 1}`;
    case 'blank':
      return 'the empty line after the headers';
    case 'body':
      return 'the body';
  }
}

/** Apply the edits that fall in a region to its received text. */
function regionText(l: Layout, r: Region, edits: readonly TextEdit[]): Buffer {
  const rel = edits.filter((e) => regionOf(l, e) === r).map((e) => ({ start: e.start - r.start, end: e.end - r.start, data: e.data }));
  return applyEdits(l.text.slice(r.start, r.end), rel);
}

/** Header lines of a field's new text; a problem description when it is not header lines. */
function headerLinesOf(bytes: Buffer): HeaderLine[] | string {
  if (bytes.length === 0) return [];
  if (bytes[bytes.length - 1] !== 10) return 'the edit removes the line end of the header field';
  const text = bytes.toString('utf8');
  if (/^[\r\n]+$/.test(text)) return 'the edit leaves an empty line among the headers';
  if (/\r?\n\r?\n/.test(text)) return 'the edit puts an empty line among the headers';
  const r = parseHeaderText(text);
  if (typeof r === 'string') return r;
  return r.map(([name, value]) => ({ name, value }));
}

const START_LINE = /^(\S+) (\S+) (SIP\/2\.0)(\r?\n)$/i;

/** The lines a header region should have now (received, or as textops rewrote it). */
function expectedLines(msg: SipMsg, l: Layout, r: Region, edits: readonly TextEdit[]): HeaderLine[] | string {
  if (!edits.some((e) => regionOf(l, e) === r)) {
    const h = msg.headers[r.index]!;
    return [{ name: h.name, value: h.value }];
  }
  return headerLinesOf(regionText(l, r, edits));
}

const sameLine = (a: HeaderLine, b: HeaderLine): boolean => a.name === b.name && a.value === b.value;

/**
 * Record edits (offsets into msg.raw) and apply them through the message API. Returns undefined
 * when done, or why nothing was changed.
 */
export function applyRawEdits(ctx: RouteContext, msg: SipMsg, added: readonly TextEdit[]): string | undefined {
  if (added.length === 0) return undefined;
  const l = layoutOf(msg);
  if (typeof l === 'string') return l;
  const prev = recorded.get(msg) ?? [];
  const fresh = [...added].sort((a, b) => a.start - b.start || a.end - b.end);
  for (let i = 0; i < fresh.length; i++) {
    const e = fresh[i]!;
    if (i > 0 && overlaps(fresh[i - 1]!, e)) return 'two matches overlap';
    if (prev.some((p) => overlaps(p, e))) return 'the text was already changed by an earlier edit (apply the changes first: textopsx.msg_apply_changes)';
  }
  const touched = new Set<Region>();
  for (const e of fresh) {
    const r = regionOf(l, e);
    if (!r) return 'a match spans more than one header field (or the start line, the headers and the body)';
    if (r.kind === 'blank') return `cannot change ${describe(r)}`;
    if (r.kind === 'start' && !ctx.request) return 'cannot change the status line of a reply (use textopsx.change_reply_status)';
    touched.add(r);
  }
  const all = [...prev, ...fresh].sort((a, b) => a.start - b.start || a.end - b.end);

  // compute every change before making any
  let newUri: string | undefined;
  let newBody: Buffer | undefined;
  const headerChanges: Array<{ r: Region; before: HeaderLine[]; after: HeaderLine[] }> = [];
  for (const r of touched) {
    if (r.kind === 'start') {
      const req = ctx.request!;
      const line = regionText(l, r, all).toString('utf8');
      const m = START_LINE.exec(line);
      if (!m || m[1] !== req.method) return 'only the Request-URI of the start line can be changed';
      const before = prev.some((e) => regionOf(l, e) === r) ? START_LINE.exec(regionText(l, r, prev).toString('utf8'))?.[2] : undefined;
      if (req.newRequestUri !== before) return 'the Request-URI was changed by another function in this route';
      newUri = m[2]!;
    } else if (r.kind === 'body') {
      const expected = regionText(l, r, prev);
      if (!currentBody(msg).equals(expected)) return 'the body was changed by another function in this route';
      newBody = regionText(l, r, all);
    } else {
      const before = expectedLines(msg, l, r, prev);
      if (typeof before === 'string') return before;
      const after = headerLinesOf(regionText(l, r, all));
      if (typeof after === 'string') return `${describe(r)}: ${after}`;
      headerChanges.push({ r, before, after });
    }
  }

  let desired: HeaderLine[] | undefined;
  if (headerChanges.length > 0) {
    // where each received field is in the current list (fields others changed are skipped)
    const cur = currentLines(msg);
    const pos = new Map<number, number>();
    let c = 0;
    for (const r of l.headers) {
      const exp = expectedLines(msg, l, r, prev);
      if (typeof exp === 'string') return exp;
      if (exp.length === 0) {
        pos.set(r.index, c);
        continue;
      }
      let found = -1;
      for (let q = c; q + exp.length <= cur.length; q++) {
        if (exp.every((x, k) => sameLine(x, cur[q + k]!))) {
          found = q;
          break;
        }
      }
      if (found >= 0) {
        pos.set(r.index, found);
        c = found + exp.length;
      }
    }
    desired = [...cur];
    for (const hc of [...headerChanges].sort((a, b) => b.r.index - a.r.index)) {
      const at = pos.get(hc.r.index);
      if (at === undefined) return `${describe(hc.r)} (${msg.headers[hc.r.index]!.name}) was changed by another function in this route`;
      desired.splice(at, hc.before.length, ...hc.after);
    }
  }

  try {
    if (newUri !== undefined) ctx.request!.setRequestUri(newUri);
    if (desired) setHeaderList(msg, desired);
    if (newBody !== undefined) msg.setBody(newBody);
  } catch (err) {
    return err instanceof Error ? err.message : String(err);
  }
  recorded.set(msg, all);
  return undefined;
}
