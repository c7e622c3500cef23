/**
 * KSR.hdr: header edits and lookups (Kamailio's `_sr_kemi_hdr`, module "hdr").
 *
 * Edits are lumps, as in Kamailio: append/insert/remove record changes that are applied when the
 * message is serialized (forwarded, relayed). They are NOT visible to the lookups: get, get_idx,
 * is_present and match_content read the message as it was received, so
 *   KSR.hdr.append("X-A: 1\r\n"); KSR.hdr.get("X-A")   -- null
 *   KSR.hdr.remove("X-B");        KSR.hdr.get("X-B")   -- still the received value
 *
 * Header text arguments are complete header lines, "Name: value\r\n", possibly several in one
 * string; a missing final CRLF is tolerated. Text with a line that has no "Name:" (or a name
 * that is not a token, or control characters in a value) is refused as a whole (-1, nothing
 * changed). Header names match case-insensitively and compact forms are the same header
 * ("v" is "Via", "Via" also finds "v:" lines).
 *
 * Differences from Kamailio:
 *  - the anchored edits (append_after, insert_before) and remove() look at the header list as
 *    already edited in this route (a header added by append can be removed again; Kamailio's
 *    lumps only see received headers);
 *  - match_content "ne" is a plain case-insensitive inequality (Kamailio treats two values of the
 *    same length as not different); "re" is not implemented, as in Kamailio (false + error log);
 *  - rmappend/rminsert check the new header text before removing anything.
 */
import { canonicalHeaderName } from '../../sip/index.js';
import type { RouteContext } from '../../routing/context.js';
import type { KemiExportDef, KemiXval } from '../types.js';
import { getterVariants } from '../variants.js';

type Def = KemiExportDef<RouteContext>;

const TOKEN = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;
/** Control characters other than HTAB (CR and LF included: no header injection). */
const BAD_VALUE = /[\x00-\x08\x0a-\x1f\x7f]/;

/**
 * Split header text ("A: 1\r\nB: 2\r\n") into [name, value] pairs. Continuation lines (starting
 * with SP/HTAB) are joined to the previous value with one space. Returns a problem description
 * instead when the text is not a list of header lines.
 */
export function parseHeaderText(text: string): Array<[string, string]> | string {
  if (text.length === 0) return 'empty header text';
  const lines = text.split(/\r?\n/);
  if (lines[lines.length - 1] === '') lines.pop();
  const out: Array<[string, string]> = [];
  for (const line of lines) {
    if (line.length === 0) return 'empty line inside the header text';
    const c = line.charCodeAt(0);
    if (c === 32 || c === 9) {
      const last = out[out.length - 1];
      if (!last) return 'continuation line before the first header';
      last[1] = last[1].length > 0 ? `${last[1]} ${line.trim()}` : line.trim();
      continue;
    }
    const colon = line.indexOf(':');
    if (colon === -1) return `no "Name:" in ${JSON.stringify(line)}`;
    const name = line.slice(0, colon).replace(/[ \t]+$/, '');
    if (!TOKEN.test(name)) return `invalid header name ${JSON.stringify(name)}`;
    out.push([name, line.slice(colon + 1).trim()]);
  }
  if (out.length === 0) return 'no header in the text';
  for (const [name, value] of out) {
    if (BAD_VALUE.test(value)) return `control character in the value of ${name}`;
  }
  return out;
}

/** Parse header text for an export, logging the problem; undefined when refused. */
function headerLines(ctx: RouteContext, fname: string, text: string): Array<[string, string]> | undefined {
  const r = parseHeaderText(text);
  if (typeof r === 'string') {
    ctx.logger.error(`KSR.hdr.${fname}: ${r}`);
    return undefined;
  }
  return r;
}

/** A header name argument: a token (surrounding blanks ignored); undefined with an error log when invalid. */
function headerName(ctx: RouteContext, fname: string, hname: string): string | undefined {
  const n = hname.trim();
  if (TOKEN.test(n)) return n;
  ctx.logger.error(`KSR.hdr.${fname}: invalid header name ${JSON.stringify(hname)}`);
  return undefined;
}

/** Run a lump edit; the lump API throws only on invalid input, which headerLines already refused. */
function edit(ctx: RouteContext, fname: string, f: () => void): number {
  try {
    f();
    return 1;
  } catch (err) {
    ctx.logger.error(`KSR.hdr.${fname}: ${err instanceof Error ? err.message : String(err)}`);
    return -1;
  }
}

function append(ctx: RouteContext, lines: Array<[string, string]>): void {
  for (const [n, v] of lines) ctx.msg.appendHeader(n, v);
}

function insert(ctx: RouteContext, lines: Array<[string, string]>): void {
  // insertHeader puts each call first: go backwards so the block keeps its order
  for (let i = lines.length - 1; i >= 0; i--) ctx.msg.insertHeader(lines[i]![0], lines[i]![1]);
}

/** Values of the received header fields named `name` (compact forms included), in order. */
function receivedValues(ctx: RouteContext, name: string): string[] {
  const key = canonicalHeaderName(name);
  const out: string[] = [];
  for (const h of ctx.msg.headers) if (h.key === key) out.push(h.value);
  return out;
}

/**
 * Body of the idx-th received header field named `hname` (negative: from the end); undefined
 * when there is none. Fields, not comma-separated values: "Via: a, b" is one field.
 */
function headerAt(ctx: RouteContext, fname: string, hname: string, idx: number): KemiXval | undefined {
  const n = headerName(ctx, fname, hname);
  if (n === undefined) return undefined;
  const values = receivedValues(ctx, n);
  return idx >= 0 ? values[idx] : values[values.length + idx];
}

type MatchOp = 'eq' | 'ne' | 'sw' | 'in';

function matches(op: MatchOp, value: string, want: string): boolean {
  const v = value.toLowerCase();
  switch (op) {
    case 'eq':
      return v === want;
    case 'ne':
      return v !== want;
    case 'sw':
      return v.startsWith(want);
    case 'in':
      return v.includes(want);
  }
}

/**
 * match_content(hname, op, value, which): compare the (trimmed) bodies of the received header
 * fields named hname with value, case-insensitively. op: "eq" equal, "ne" not equal, "sw" starts
 * with, "in" contains ("re" is not implemented). which, by its first letter: "f" the first field
 * decides, "l" the last field decides, "a" all fields must match, "o" at least one must match.
 * False when there is no such header or an argument is invalid.
 */
function matchContent(ctx: RouteContext, hname: string, op: string, value: string, which: string): boolean {
  const n = headerName(ctx, 'match_content', hname);
  if (n === undefined) return false;
  const o = op.trim().toLowerCase();
  if (o === 're') {
    ctx.logger.error('KSR.hdr.match_content: operator "re" is not implemented');
    return false;
  }
  if (o !== 'eq' && o !== 'ne' && o !== 'sw' && o !== 'in') {
    ctx.logger.error(`KSR.hdr.match_content: invalid operator ${JSON.stringify(op)} (eq, ne, sw, in)`);
    return false;
  }
  const w = which.trim().charAt(0).toLowerCase();
  if (w !== 'f' && w !== 'l' && w !== 'a' && w !== 'o') {
    ctx.logger.error(`KSR.hdr.match_content: invalid header index ${JSON.stringify(which)} (f, l, a, o)`);
    return false;
  }
  const values = receivedValues(ctx, n);
  if (values.length === 0) return false;
  const want = value.toLowerCase();
  const test = (v: string): boolean => matches(o, v.trim(), want);
  switch (w) {
    case 'f':
      return test(values[0]!);
    case 'l':
      return test(values[values.length - 1]!);
    case 'a':
      return values.every(test);
    default:
      return values.some(test);
  }
}

export const hdrExports: readonly KemiExportDef<RouteContext>[] = [
  {
    name: 'append',
    returns: 'int',
    params: ['str'],
    paramNames: ['hdrtext'],
    doc: 'Add header lines ("Name: value\\r\\n") after the last header. Not visible to hdr.get in this route. 1 ok, -1 error.',
    fn: (ctx: RouteContext, text: string) => {
      const lines = headerLines(ctx, 'append', text);
      return lines ? edit(ctx, 'append', () => append(ctx, lines)) : -1;
    },
  },
  {
    name: 'append_after',
    returns: 'int',
    params: ['str', 'str'],
    paramNames: ['hdrtext', 'hname'],
    doc: 'Add header lines right after the first header named hname (after the last header when there is none). 1 ok, -1 error.',
    fn: (ctx: RouteContext, text: string, hname: string) => {
      const lines = headerLines(ctx, 'append_after', text);
      const anchor = headerName(ctx, 'append_after', hname);
      if (!lines || anchor === undefined) return -1;
      return edit(ctx, 'append_after', () => {
        // appendHeaderAfter puts each call right after the anchor: go backwards to keep the order
        for (let i = lines.length - 1; i >= 0; i--) {
          if (!ctx.msg.appendHeaderAfter(anchor, lines[i]![0], lines[i]![1])) {
            append(ctx, lines); // no such header: after the last one, as Kamailio does
            return;
          }
        }
      });
    },
  },
  {
    name: 'insert',
    returns: 'int',
    params: ['str'],
    paramNames: ['hdrtext'],
    doc: 'Add header lines before the first header. 1 ok, -1 error.',
    fn: (ctx: RouteContext, text: string) => {
      const lines = headerLines(ctx, 'insert', text);
      return lines ? edit(ctx, 'insert', () => insert(ctx, lines)) : -1;
    },
  },
  {
    name: 'insert_before',
    returns: 'int',
    params: ['str', 'str'],
    paramNames: ['hdrtext', 'hname'],
    doc: 'Add header lines right before the first header named hname (before the first header when there is none). 1 ok, -1 error.',
    fn: (ctx: RouteContext, text: string, hname: string) => {
      const lines = headerLines(ctx, 'insert_before', text);
      const anchor = headerName(ctx, 'insert_before', hname);
      if (!lines || anchor === undefined) return -1;
      return edit(ctx, 'insert_before', () => {
        for (const [n, v] of lines) {
          if (!ctx.msg.insertHeaderBefore(anchor, n, v)) {
            insert(ctx, lines); // no such header: before the first one, as Kamailio does
            return;
          }
        }
      });
    },
  },
  {
    name: 'remove',
    returns: 'int',
    params: ['str'],
    paramNames: ['hname'],
    doc: 'Remove every header named hname (compact forms included). 1 (also when there was none), -1 for an invalid name.',
    fn: (ctx: RouteContext, hname: string) => {
      const n = headerName(ctx, 'remove', hname);
      if (n === undefined) return -1;
      return edit(ctx, 'remove', () => void ctx.msg.removeHeader(n));
    },
  },
  {
    name: 'rmappend',
    returns: 'int',
    params: ['str', 'str'],
    paramNames: ['hrm', 'hdrtext'],
    doc: 'Remove the headers named hrm, then append the header lines. 1 ok, -1 error (nothing changed).',
    fn: (ctx: RouteContext, hrm: string, text: string) => {
      const n = headerName(ctx, 'rmappend', hrm);
      const lines = headerLines(ctx, 'rmappend', text);
      if (n === undefined || !lines) return -1;
      return edit(ctx, 'rmappend', () => {
        ctx.msg.removeHeader(n);
        append(ctx, lines);
      });
    },
  },
  {
    name: 'rminsert',
    returns: 'int',
    params: ['str', 'str'],
    paramNames: ['hrm', 'hdrtext'],
    doc: 'Remove the headers named hrm, then insert the header lines before the first header. 1 ok, -1 error (nothing changed).',
    fn: (ctx: RouteContext, hrm: string, text: string) => {
      const n = headerName(ctx, 'rminsert', hrm);
      const lines = headerLines(ctx, 'rminsert', text);
      if (n === undefined || !lines) return -1;
      return edit(ctx, 'rminsert', () => {
        ctx.msg.removeHeader(n);
        insert(ctx, lines);
      });
    },
  },
  {
    name: 'is_present',
    returns: 'int',
    params: ['str'],
    paramNames: ['hname'],
    doc: 'Does the received message have a header named hname? 1 yes, -1 no.',
    fn: (ctx: RouteContext, hname: string) => {
      const n = headerName(ctx, 'is_present', hname);
      if (n === undefined) return -1;
      return ctx.msg.hasHeader(n) ? 1 : -1;
    },
  },
  {
    name: 'append_to_reply',
    returns: 'int',
    params: ['str'],
    paramNames: ['hdrtext'],
    doc: 'Add header lines to the replies this server generates for the request (sl_send_reply, t_reply). 1 ok, -1 error.',
    fn: (ctx: RouteContext, text: string) => {
      const lines = headerLines(ctx, 'append_to_reply', text);
      if (!lines) return -1;
      ctx.state.replyHeaders.push(...lines);
      return 1;
    },
  },
  ...getterVariants<RouteContext>(
    { null: 'get', empty: 'gete', print: 'getw' },
    ['str'],
    (ctx: RouteContext, hname: string) => headerAt(ctx, 'get', hname, 0),
    'Body of the first received header named hname; edits of this route are not visible',
    ['hname'],
  ),
  ...getterVariants<RouteContext>(
    { null: 'get_idx', empty: 'gete_idx', print: 'getw_idx' },
    ['str', 'int'],
    (ctx: RouteContext, hname: string, idx: number) => headerAt(ctx, 'get_idx', hname, idx),
    'Body of the idx-th received header named hname (0 first, -1 last)',
    ['hname', 'idx'],
  ),
  {
    name: 'match_content',
    returns: 'bool',
    params: ['str', 'str', 'str', 'str'],
    paramNames: ['hname', 'op', 'value', 'hidx'],
    doc: 'Compare received header bodies case-insensitively: op eq|ne|sw|in; hidx f(irst)|l(ast)|a(ll)|o(ne).',
    fn: (ctx: RouteContext, hname: string, op: string, value: string, which: string) => matchContent(ctx, hname, op, value, which),
  },
];
