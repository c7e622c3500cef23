/**
 * textops: text operations over the SIP message (Kamailio's textops module, KEMI `KSR.textops`):
 * regular-expression search, replace and sed-like substitution over the whole message, the
 * headers, one header or the body; header presence and removal; body helpers (set_body,
 * multipart parts, hold detection); string comparisons.
 *
 * Searches see the message as received; edits are lumps (see msgtext.ts): a later search does
 * not see them, and an edit that overlaps an earlier one is refused. The regular-expression
 * dialect is JavaScript's (regex.ts, README.md). Every function returns -1 with an error log on
 * a bad argument or a bad regular expression; none throws.
 */
import {
  PvNameError,
  defineModule,
  parseHeaderText,
  sip,
  type KemiExportDef,
  type ModuleContext,
  type PvRegistry,
  type RouteContext,
} from '@ksr/core';
import {
  audioHold,
  boundaryOf,
  buildMultipart,
  mimeMatches,
  mimeType,
  newPart,
  parseMultipart,
  partHeader,
  sdpOf,
  type BodyPart,
} from './body.js';
import { currentBody, currentHeader, currentLines, setHeaderList, type SipMsg } from './hdrlist.js';
import { applyRawEdits, layoutOf } from './msgtext.js';
import {
  LruCache,
  RegexCache,
  bytesText,
  findMatches,
  parseSubst,
  substEdits,
  substString,
  testRegex,
  type SubstExpr,
  type TextEdit,
} from './regex.js';

type Def = KemiExportDef<RouteContext>;

const MOD = 'textops';
const TOKEN = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;
/** Kamailio compiles search/replace patterns with REG_ICASE|REG_NEWLINE. */
const SEARCH_FLAGS = 'im';
/** The boundary append_body_part uses when it turns a body into a multipart one. */
export const DEFAULT_BOUNDARY = 'unique-boundary-1';

function fail(ctx: RouteContext, fname: string, why: string): -1 {
  ctx.logger.error(`KSR.${MOD}.${fname}: ${why}`);
  return -1;
}

/** The message as latin1 text (cached with its layout). */
function rawText(msg: SipMsg): string {
  const l = layoutOf(msg);
  return typeof l === 'string' ? msg.raw.toString('latin1') : l.text;
}

function bodyOffset(msg: SipMsg): number {
  return msg.raw.length - msg.body.length;
}

/** A header name argument (blanks around it ignored); undefined with an error log when invalid. */
function headerName(ctx: RouteContext, fname: string, name: string): string | undefined {
  const n = name.trim();
  if (TOKEN.test(n)) return n;
  fail(ctx, fname, `invalid header name ${JSON.stringify(name)}`);
  return undefined;
}

/** Received header fields with this name, as [index into msg.headers]. */
function receivedIndexes(msg: SipMsg, name: string): number[] {
  const key = sip.canonicalHeaderName(name);
  const out: number[] = [];
  msg.headers.forEach((h, i) => {
    if (h.key === key) out.push(i);
  });
  return out;
}

/** Pick fields by an a/f/l flag ('' = all); undefined for an invalid flag. */
function pickByFlag<T>(list: readonly T[], flags: string): T[] | undefined {
  const f = flags.trim().toLowerCase();
  if (f === '' || f === 'a') return [...list];
  if (f === 'f') return list.slice(0, 1);
  if (f === 'l') return list.slice(-1);
  return undefined;
}

/** Values of the received Content-Type (for the received body) / the current one (for body edits). */
function currentContentType(msg: SipMsg): string | undefined {
  return currentHeader(msg, 'content-type');
}

export const textopsModule = defineModule({
  name: MOD,
  params: {},
  create(mctx: ModuleContext) {
    const regexes = new RegexCache(512);
    const substs = new LruCache<SubstExpr | string>(256);
    const pv: PvRegistry = mctx.pv;

    const regex = (ctx: RouteContext, fname: string, pattern: string, flags = SEARCH_FLAGS): RegExp | undefined => {
      if (pattern.length === 0) {
        fail(ctx, fname, 'empty regular expression');
        return undefined;
      }
      const re = regexes.compile(pattern, flags);
      if (typeof re === 'string') {
        fail(ctx, fname, `invalid regular expression ${JSON.stringify(pattern)}: ${re}`);
        return undefined;
      }
      return re;
    };

    const subst = (ctx: RouteContext, fname: string, expr: string): SubstExpr | undefined => {
      let se = substs.get(expr);
      if (se === undefined) {
        se = parseSubst(expr, pv, regexes);
        substs.set(expr, se);
      }
      if (typeof se === 'string') {
        fail(ctx, fname, `invalid substitution ${JSON.stringify(expr)}: ${se}`);
        return undefined;
      }
      return se;
    };

    /** Record edits; 1 when applied, -1 (logged) when refused. */
    const edit = (ctx: RouteContext, fname: string, edits: TextEdit[]): number => {
      if (edits.length === 0) return -1;
      const why = applyRawEdits(ctx, ctx.msg, edits);
      return why === undefined ? 1 : fail(ctx, fname, why);
    };

    const pvWrite = (ctx: RouteContext, fname: string, name: string, value: string): boolean => {
      const acc = pv.lookup(name);
      if (acc instanceof PvNameError) {
        fail(ctx, fname, acc.message);
        return false;
      }
      if (!acc.set) {
        fail(ctx, fname, `${name} is read-only`);
        return false;
      }
      return acc.set(ctx, value);
    };

    // ---------------------------------------------------------------- search / replace / subst

    /** Matches of a search pattern in the whole message, offsets into msg.raw. */
    const wholeMatches = (ctx: RouteContext, fname: string, sre: string, all: boolean) => {
      const re = regex(ctx, fname, sre);
      return re ? findMatches(re, rawText(ctx.msg), all) : undefined;
    };

    const bodyMatches = (ctx: RouteContext, fname: string, sre: string, all: boolean, flags = SEARCH_FLAGS) => {
      const re = regex(ctx, fname, sre, flags);
      if (!re) return undefined;
      const off = bodyOffset(ctx.msg);
      return findMatches(re, ctx.msg.body.toString('latin1'), all).map((m) => ({ ...m, start: m.start + off, end: m.end + off }));
    };

    const replaceWith = (ctx: RouteContext, fname: string, matches: ReturnType<typeof wholeMatches>, txt: string): number => {
      if (!matches) return -1;
      if (matches.length === 0) return -1;
      const data = Buffer.from(txt, 'utf8');
      return edit(
        ctx,
        fname,
        matches.map((m) => ({ start: m.start, end: m.end, data })),
      );
    };

    const appendAfter = (ctx: RouteContext, fname: string, matches: ReturnType<typeof wholeMatches>, txt: string): number => {
      if (!matches || matches.length === 0) return -1;
      const m = matches[0]!;
      return edit(ctx, fname, [{ start: m.end, end: m.end, data: Buffer.from(txt, 'utf8') }]);
    };

    const searchExports: Def[] = [
      {
        name: 'search',
        returns: 'int',
        params: ['str'],
        paramNames: ['sre'],
        doc: 'Does the regular expression match the message as received (start line, headers, body)? Case-insensitive, line by line. 1 yes, -1 no or invalid.',
        fn: (ctx: RouteContext, sre: string) => {
          const re = regex(ctx, 'search', sre);
          return re && testRegex(re, rawText(ctx.msg)) ? 1 : -1;
        },
      },
      {
        name: 'search_body',
        returns: 'int',
        params: ['str'],
        paramNames: ['sre'],
        doc: 'Does the regular expression match the received body? 1 yes, -1 no or invalid.',
        fn: (ctx: RouteContext, sre: string) => {
          const re = regex(ctx, 'search_body', sre);
          return re && testRegex(re, ctx.msg.body.toString('latin1')) ? 1 : -1;
        },
      },
      {
        name: 'search_hf',
        returns: 'int',
        params: ['str', 'str', 'str'],
        paramNames: ['hname', 'sre', 'flags'],
        doc: 'Does the regular expression match the body of a received header: flags a (any field, also ""), f (the first), l (the last)? 1 yes, -1 no.',
        fn: (ctx: RouteContext, hname: string, sre: string, flags: string) => {
          const n = headerName(ctx, 'search_hf', hname);
          if (n === undefined) return -1;
          const re = regex(ctx, 'search_hf', sre);
          if (!re) return -1;
          const picked = pickByFlag(receivedIndexes(ctx.msg, n), flags);
          if (!picked) return fail(ctx, 'search_hf', `invalid flags ${JSON.stringify(flags)} (a, f or l)`);
          return picked.some((i) => testRegex(re, bytesText(ctx.msg.headers[i]!.value))) ? 1 : -1;
        },
      },
      {
        name: 'search_str',
        returns: 'int',
        params: ['str', 'str'],
        paramNames: ['stext', 'sre'],
        doc: 'Does the regular expression match the string? 1 yes, -1 no or invalid.',
        fn: (ctx: RouteContext, stext: string, sre: string) => {
          const re = regex(ctx, 'search_str', sre);
          return re && testRegex(re, bytesText(stext)) ? 1 : -1;
        },
      },
      {
        name: 'search_append',
        returns: 'int',
        params: ['str', 'str'],
        paramNames: ['ematch', 'val'],
        doc: 'Add val after the first match in the received message. 1 done, -1 no match or refused.',
        fn: (ctx: RouteContext, sre: string, val: string) => appendAfter(ctx, 'search_append', wholeMatches(ctx, 'search_append', sre, false), val),
      },
      {
        name: 'search_append_body',
        returns: 'int',
        params: ['str', 'str'],
        paramNames: ['ematch', 'val'],
        doc: 'Add val after the first match in the received body. 1 done, -1 no match or refused.',
        fn: (ctx: RouteContext, sre: string, val: string) =>
          appendAfter(ctx, 'search_append_body', bodyMatches(ctx, 'search_append_body', sre, false), val),
      },
      {
        name: 'replace',
        returns: 'int',
        params: ['str', 'str'],
        paramNames: ['sre', 'sval'],
        doc: 'Replace the first match in the received message with sval (plain text). 1 done, -1 no match or refused.',
        fn: (ctx: RouteContext, sre: string, sval: string) => replaceWith(ctx, 'replace', wholeMatches(ctx, 'replace', sre, false), sval),
      },
      {
        name: 'replace_all',
        returns: 'int',
        params: ['str', 'str'],
        paramNames: ['sre', 'sval'],
        doc: 'Replace every match in the received message with sval. 1 done, -1 no match or refused.',
        fn: (ctx: RouteContext, sre: string, sval: string) => replaceWith(ctx, 'replace_all', wholeMatches(ctx, 'replace_all', sre, true), sval),
      },
      {
        name: 'replace_body',
        returns: 'int',
        params: ['str', 'str'],
        paramNames: ['sre', 'sval'],
        doc: 'Replace the first match in the received body. 1 done, -1 no match or refused.',
        fn: (ctx: RouteContext, sre: string, sval: string) => replaceWith(ctx, 'replace_body', bodyMatches(ctx, 'replace_body', sre, false), sval),
      },
      {
        name: 'replace_body_all',
        returns: 'int',
        params: ['str', 'str'],
        paramNames: ['sre', 'sval'],
        doc: 'Replace every match in the received body (matching line by line). 1 done, -1 no match or refused.',
        fn: (ctx: RouteContext, sre: string, sval: string) =>
          replaceWith(ctx, 'replace_body_all', bodyMatches(ctx, 'replace_body_all', sre, true), sval),
      },
      {
        name: 'replace_body_atonce',
        returns: 'int',
        params: ['str', 'str'],
        paramNames: ['sre', 'sval'],
        doc: 'Replace every match in the received body, matching over the whole body (. matches line ends, ^/$ are the body start/end). 1 done, -1 no match.',
        fn: (ctx: RouteContext, sre: string, sval: string) =>
          replaceWith(ctx, 'replace_body_atonce', bodyMatches(ctx, 'replace_body_atonce', sre, true, 'is'), sval),
      },
      {
        name: 'replace_hdrs',
        returns: 'int',
        params: ['str', 'str'],
        paramNames: ['sre', 'sval'],
        doc: 'Replace every match inside the received header fields (each field matched on its own). 1 done, -1 no match or refused.',
        fn: (ctx: RouteContext, sre: string, sval: string) => {
          const re = regex(ctx, 'replace_hdrs', sre);
          if (!re) return -1;
          const l = layoutOf(ctx.msg);
          if (typeof l === 'string') return fail(ctx, 'replace_hdrs', l);
          const data = Buffer.from(sval, 'utf8');
          const edits: TextEdit[] = [];
          for (const r of l.headers) {
            for (const m of findMatches(re, l.text.slice(r.start, r.end), true)) edits.push({ start: r.start + m.start, end: r.start + m.end, data });
          }
          return edits.length === 0 ? -1 : edit(ctx, 'replace_hdrs', edits);
        },
      },
      {
        name: 'subst',
        returns: 'int',
        params: ['str'],
        paramNames: ['subst'],
        doc: "sed-like '/re/repl/flags' over the received message (flags i, g, s; \\1 groups, pseudo-variables). 1 done, -1 no match or invalid.",
        fn: (ctx: RouteContext, expr: string) => {
          const se = subst(ctx, 'subst', expr);
          return se ? edit(ctx, 'subst', substEdits(ctx, se, rawText(ctx.msg))) : -1;
        },
      },
      {
        name: 'subst_body',
        returns: 'int',
        params: ['str'],
        paramNames: ['subst'],
        doc: "sed-like '/re/repl/flags' over the received body. 1 done, -1 no match or invalid.",
        fn: (ctx: RouteContext, expr: string) => {
          const se = subst(ctx, 'subst_body', expr);
          if (!se) return -1;
          const off = bodyOffset(ctx.msg);
          const edits = substEdits(ctx, se, ctx.msg.body.toString('latin1')).map((e) => ({ ...e, start: e.start + off, end: e.end + off }));
          return edit(ctx, 'subst_body', edits);
        },
      },
      {
        name: 'subst_hf',
        returns: 'int',
        params: ['str', 'str', 'str'],
        paramNames: ['hname', 'subst', 'flags'],
        doc: "sed-like '/re/repl/flags' over the body of received header fields: flags a (all), f (first), l (last). 1 done, -1 no match or invalid.",
        fn: (ctx: RouteContext, hname: string, expr: string, flags: string) => {
          const n = headerName(ctx, 'subst_hf', hname);
          if (n === undefined) return -1;
          const se = subst(ctx, 'subst_hf', expr);
          if (!se) return -1;
          const picked = pickByFlag(receivedIndexes(ctx.msg, n), flags);
          if (!picked) return fail(ctx, 'subst_hf', `invalid flags ${JSON.stringify(flags)} (a, f or l)`);
          const l = layoutOf(ctx.msg);
          if (typeof l === 'string') return fail(ctx, 'subst_hf', l);
          const edits: TextEdit[] = [];
          for (const i of picked) {
            const r = l.headers[i]!;
            const h = ctx.msg.headers[i]!;
            const text = l.text.slice(r.start, r.end);
            const firstEol = text.indexOf('\n');
            if (firstEol !== text.length - 1) {
              // folded field: substitute in the unfolded value and rewrite the whole field
              const v = substString(ctx, se, h.value);
              if (v !== undefined) edits.push({ start: r.start, end: r.end, data: Buffer.from(`${h.name}: ${v}\r\n`, 'utf8') });
              continue;
            }
            let vs = text.indexOf(':') + 1;
            while (vs < text.length && (text[vs] === ' ' || text[vs] === '\t')) vs++;
            let ve = text.length - 1;
            if (text[ve - 1] === '\r') ve--;
            while (ve > vs && (text[ve - 1] === ' ' || text[ve - 1] === '\t')) ve--;
            for (const e of substEdits(ctx, se, text.slice(vs, ve))) edits.push({ start: r.start + vs + e.start, end: r.start + vs + e.end, data: e.data });
          }
          return edit(ctx, 'subst_hf', edits);
        },
      },
      {
        name: 'subst_uri',
        returns: 'int',
        params: ['str'],
        paramNames: ['subst'],
        doc: "sed-like '/re/repl/flags' over the (current) Request-URI. 1 done, -1 no match, invalid result or a reply.",
        fn: (ctx: RouteContext, expr: string) => {
          const req = ctx.request;
          if (!req) return fail(ctx, 'subst_uri', 'the message is a reply');
          const se = subst(ctx, 'subst_uri', expr);
          if (!se) return -1;
          const out = substString(ctx, se, req.newRequestUri ?? req.uri);
          if (out === undefined) return -1;
          try {
            req.setRequestUri(out);
            return 1;
          } catch (err) {
            return fail(ctx, 'subst_uri', `invalid Request-URI ${JSON.stringify(out)}: ${(err as Error).message}`);
          }
        },
      },
      {
        name: 'subst_user',
        returns: 'int',
        params: ['str'],
        paramNames: ['subst'],
        doc: "sed-like '/re/repl/flags' over the user part of the (current) Request-URI (\"\" when it has none). 1 done, -1 no match or invalid.",
        fn: (ctx: RouteContext, expr: string) => {
          const req = ctx.request;
          if (!req) return fail(ctx, 'subst_user', 'the message is a reply');
          const se = subst(ctx, 'subst_user', expr);
          if (!se) return -1;
          let u;
          try {
            u = sip.parseUri(req.newRequestUri ?? req.uri);
          } catch (err) {
            return fail(ctx, 'subst_user', (err as Error).message);
          }
          if (u.scheme !== 'sip' && u.scheme !== 'sips' && u.scheme !== 'tel') return fail(ctx, 'subst_user', `no user part in a ${u.scheme}: URI`);
          const out = substString(ctx, se, u.user ?? '');
          if (out === undefined) return -1;
          if (out === '') {
            if (u.scheme === 'tel') return fail(ctx, 'subst_user', 'a tel: URI needs a number');
            u.user = undefined;
            u.password = undefined;
          } else u.user = out;
          try {
            req.setRequestUri(u.toString());
            return 1;
          } catch (err) {
            return fail(ctx, 'subst_user', `invalid Request-URI ${JSON.stringify(u.toString())}: ${(err as Error).message}`);
          }
        },
      },
      {
        name: 'subst_v',
        returns: 'int',
        params: ['str', 'str', 'str'],
        paramNames: ['itext', 'subex', 'opv'],
        doc: "Apply '/re/repl/flags' to itext and store the result in the pseudo-variable opv. 1 done, -1 no match (opv untouched) or invalid.",
        fn: (ctx: RouteContext, itext: string, expr: string, opv: string) => {
          const se = subst(ctx, 'subst_v', expr);
          if (!se) return -1;
          const out = substString(ctx, se, itext);
          if (out === undefined) return -1;
          return pvWrite(ctx, 'subst_v', opv, out) ? 1 : -1;
        },
      },
    ];

    // ---------------------------------------------------------------- headers

    /** Remove the current fields for which `drop` is true; the count, or -1 when none. */
    const removeWhere = (ctx: RouteContext, fname: string, drop: (name: string) => boolean): number => {
      const cur = currentLines(ctx.msg);
      const keep = cur.filter((h) => !drop(h.name));
      const n = cur.length - keep.length;
      if (n === 0) return -1;
      try {
        setHeaderList(ctx.msg, keep);
      } catch (err) {
        return fail(ctx, fname, (err as Error).message);
      }
      return n;
    };

    const addHeaders = (ctx: RouteContext, fname: string, text: string, where: 'append' | 'insert'): number => {
      const lines = parseHeaderText(text);
      if (typeof lines === 'string') return fail(ctx, fname, lines);
      try {
        if (where === 'append') for (const [n, v] of lines) ctx.msg.appendHeader(n, v);
        else for (let i = lines.length - 1; i >= 0; i--) ctx.msg.insertHeader(lines[i]![0], lines[i]![1]);
      } catch (err) {
        return fail(ctx, fname, (err as Error).message);
      }
      return 1;
    };

    const headerExports: Def[] = [
      {
        name: 'is_present_hf',
        returns: 'int',
        params: ['str'],
        paramNames: ['hname'],
        doc: 'Does the received message have a header of this name (compact forms included)? 1 yes, -1 no.',
        fn: (ctx: RouteContext, hname: string) => {
          const n = headerName(ctx, 'is_present_hf', hname);
          return n !== undefined && ctx.msg.hasHeader(n) ? 1 : -1;
        },
      },
      {
        name: 'is_present_hf_re',
        returns: 'int',
        params: ['str'],
        paramNames: ['ematch'],
        doc: 'Does the received message have a header whose name matches the regular expression? 1 yes, -1 no.',
        fn: (ctx: RouteContext, sre: string) => {
          const re = regex(ctx, 'is_present_hf_re', sre);
          return re && ctx.msg.headers.some((h) => testRegex(re, h.name)) ? 1 : -1;
        },
      },
      {
        name: 'remove_hf',
        returns: 'int',
        params: ['str'],
        paramNames: ['hname'],
        doc: 'Remove every header of this name (compact forms included). The number removed, -1 when none.',
        fn: (ctx: RouteContext, hname: string) => {
          const n = headerName(ctx, 'remove_hf', hname);
          if (n === undefined) return -1;
          const removed = ctx.msg.removeHeader(n);
          return removed > 0 ? removed : -1;
        },
      },
      {
        name: 'remove_hf_re',
        returns: 'int',
        params: ['str'],
        paramNames: ['ematch'],
        doc: 'Remove every header whose name matches the regular expression. The number removed, -1 when none.',
        fn: (ctx: RouteContext, sre: string) => {
          const re = regex(ctx, 'remove_hf_re', sre);
          return re ? removeWhere(ctx, 'remove_hf_re', (name) => testRegex(re, name)) : -1;
        },
      },
      {
        name: 'remove_hf_exp',
        returns: 'int',
        params: ['str', 'str'],
        paramNames: ['ematch', 'eskip'],
        doc: 'Remove every header whose name matches ematch but not eskip. The number removed, -1 when none.',
        fn: (ctx: RouteContext, ematch: string, eskip: string) => {
          const m = regex(ctx, 'remove_hf_exp', ematch);
          const s = regex(ctx, 'remove_hf_exp', eskip);
          return m && s ? removeWhere(ctx, 'remove_hf_exp', (name) => testRegex(m, name) && !testRegex(s, name)) : -1;
        },
      },
      {
        name: 'remove_hf_idx',
        returns: 'int',
        params: ['str', 'int'],
        paramNames: ['hname', 'idx'],
        doc: 'Remove the idx-th header of this name (0 the first, -1 the last). 1 done, -1 no such header.',
        fn: (ctx: RouteContext, hname: string, idx: number) => {
          const n = headerName(ctx, 'remove_hf_idx', hname);
          if (n === undefined) return -1;
          const key = sip.canonicalHeaderName(n);
          const count = ctx.msg.currentHeaders().filter((h) => h.key === key).length;
          const i = idx < 0 ? count + idx : idx;
          if (i < 0 || i >= count) return -1;
          return ctx.msg.removeHeader(n, i) > 0 ? 1 : -1;
        },
      },
      {
        name: 'append_hf',
        returns: 'int',
        params: ['str'],
        paramNames: ['txt'],
        doc: 'ksr extension (Kamailio has it in the native config only): add header lines ("Name: value\\r\\n") after the last header. 1 ok, -1 invalid.',
        fn: (ctx: RouteContext, txt: string) => addHeaders(ctx, 'append_hf', txt, 'append'),
      },
      {
        name: 'insert_hf',
        returns: 'int',
        params: ['str'],
        paramNames: ['txt'],
        doc: 'ksr extension: add header lines before the first header. 1 ok, -1 invalid.',
        fn: (ctx: RouteContext, txt: string) => addHeaders(ctx, 'insert_hf', txt, 'insert'),
      },
      {
        name: 'append_urihf',
        returns: 'int',
        params: ['str', 'str'],
        paramNames: ['prefix', 'suffix'],
        doc: 'ksr extension: append the header prefix + received Request-URI + suffix (e.g. "CC-Diversion: ", "\\r\\n"). 1 ok, -1 invalid or a reply.',
        fn: (ctx: RouteContext, prefix: string, suffix: string) => {
          const req = ctx.request;
          if (!req) return fail(ctx, 'append_urihf', 'the message is a reply');
          return addHeaders(ctx, 'append_urihf', `${prefix}${req.uri}${suffix}`, 'append');
        },
      },
      {
        name: 'is_privacy',
        returns: 'int',
        params: ['str'],
        paramNames: ['privacy'],
        doc: 'Does a received Privacy header list this privacy value (id, header, session, user, none, critical)? 1 yes, -1 no.',
        fn: (ctx: RouteContext, privacy: string) => {
          const want = privacy.trim().toLowerCase();
          if (want === '') return fail(ctx, 'is_privacy', 'empty privacy value');
          const values = ctx.msg.headerValues('privacy').flatMap((v) => v.split(/[;,]/).map((x) => x.trim().toLowerCase()));
          return values.includes(want) ? 1 : -1;
        },
      },
    ];

    // ---------------------------------------------------------------- body

    /** The current body as a multipart one, or undefined. */
    const multipartNow = (msg: SipMsg): { ct: string; mp: ReturnType<typeof parseMultipart> } | undefined => {
      const ct = currentContentType(msg);
      const b = boundaryOf(ct);
      if (!ct || !b) return undefined;
      return { ct, mp: parseMultipart(currentBody(msg), b) };
    };

    const appendPart = (ctx: RouteContext, fname: string, content: Buffer, ct: string, cd: string | undefined): number => {
      if (!mimeType(ct)) return fail(ctx, fname, `invalid content type ${JSON.stringify(ct)}`);
      if (/[\r\n]/.test(ct) || (cd !== undefined && /[\r\n]/.test(cd))) return fail(ctx, fname, 'line ends in a part header');
      const part = newPart(content, ct.trim(), cd?.trim() || undefined);
      const msg = ctx.msg;
      try {
        const now = multipartNow(msg);
        if (now && !now.mp) return fail(ctx, fname, 'the multipart body has no part delimited by its boundary');
        if (now?.mp) {
          msg.setBody(buildMultipart(now.mp.boundary, [...now.mp.parts, part]));
          return 1;
        }
        const body = currentBody(msg);
        const oldCt = currentContentType(msg);
        const parts: BodyPart[] = body.length > 0 ? [newPart(body, oldCt ?? 'application/octet-stream'), part] : [part];
        msg.setBody(buildMultipart(DEFAULT_BOUNDARY, parts), `multipart/mixed;boundary="${DEFAULT_BOUNDARY}"`);
        if (currentHeader(msg, 'mime-version') === undefined) msg.appendHeader('Mime-Version', '1.0');
        return 1;
      } catch (err) {
        return fail(ctx, fname, (err as Error).message);
      }
    };

    const hexBytes = (ctx: RouteContext, fname: string, hex: string): Buffer | undefined => {
      const h = hex.replace(/\s+/g, '');
      if (h.length % 2 !== 0 || !/^[0-9a-fA-F]*$/.test(h)) {
        fail(ctx, fname, 'the text is not hexadecimal (pairs of 0-9a-f, blanks allowed)');
        return undefined;
      }
      return Buffer.from(h, 'hex');
    };

    /** The first part of a type in the current body (a non-multipart body of that type is its own part). */
    const findPart = (msg: SipMsg, ctype: string): { part: BodyPart; index: number; mp?: NonNullable<ReturnType<typeof parseMultipart>> } | undefined => {
      const now = multipartNow(msg);
      if (now) {
        if (!now.mp) return undefined;
        const i = now.mp.parts.findIndex((p) => mimeMatches(partHeader(p, 'content-type') ?? 'text/plain', ctype));
        return i === -1 ? undefined : { part: now.mp.parts[i]!, index: i, mp: now.mp };
      }
      const ct = currentContentType(msg);
      const body = currentBody(msg);
      if (body.length === 0 || !mimeMatches(ct, ctype)) return undefined;
      return { part: { headers: [['Content-Type', ct!]], content: body, raw: body }, index: 0 };
    };

    const bodyExports: Def[] = [
      {
        name: 'has_body',
        returns: 'int',
        params: [],
        doc: 'Does the received message have a (non-empty) body? 1 yes, -1 no.',
        fn: (ctx: RouteContext) => (ctx.msg.body.length > 0 ? 1 : -1),
      },
      {
        name: 'has_body_type',
        returns: 'int',
        params: ['str'],
        paramNames: ['ctype'],
        doc: 'Does the received message have a body of this type ("application/sdp"; also a part of a multipart body)? 1 yes, -1 no.',
        fn: (ctx: RouteContext, ctype: string) => {
          if (!mimeType(ctype)) return fail(ctx, 'has_body_type', `invalid content type ${JSON.stringify(ctype)}`);
          const msg = ctx.msg;
          if (msg.body.length === 0) return -1;
          if (mimeMatches(msg.contentType, ctype)) return 1;
          const b = boundaryOf(msg.contentType);
          const mp = b ? parseMultipart(msg.body, b) : undefined;
          return mp?.parts.some((p) => mimeMatches(partHeader(p, 'content-type') ?? 'text/plain', ctype)) ? 1 : -1;
        },
      },
      {
        name: 'set_body',
        returns: 'int',
        params: ['str', 'str'],
        paramNames: ['nb', 'nc'],
        doc: 'Replace the body and its Content-Type (Content-Length follows). 1 ok, -1 invalid content type.',
        fn: (ctx: RouteContext, nb: string, nc: string) => {
          if (!mimeType(nc)) return fail(ctx, 'set_body', `invalid content type ${JSON.stringify(nc)}`);
          try {
            ctx.msg.setBody(nb, nc.trim());
            return 1;
          } catch (err) {
            return fail(ctx, 'set_body', (err as Error).message);
          }
        },
      },
      {
        name: 'set_reply_body',
        returns: 'int',
        params: ['str', 'str'],
        paramNames: ['nb', 'nc'],
        doc: 'Body and Content-Type of the replies this server generates for the request (sl_send_reply, t_reply). 1 ok, -1 invalid or a reply.',
        fn: (ctx: RouteContext, nb: string, nc: string) => {
          if (!ctx.request) return fail(ctx, 'set_reply_body', 'the message is a reply');
          if (!mimeType(nc) || /[\r\n]/.test(nc)) return fail(ctx, 'set_reply_body', `invalid content type ${JSON.stringify(nc)}`);
          ctx.state.replyBody = { body: nb, contentType: nc.trim() };
          return 1;
        },
      },
      {
        name: 'filter_body',
        returns: 'int',
        params: ['str'],
        paramNames: ['content_type'],
        doc: 'Keep only the first part of this type of a multipart body (the body becomes that part; Content-Type is left to the script). 1 ok, -1 no such part.',
        fn: (ctx: RouteContext, ctype: string) => {
          if (!mimeType(ctype)) return fail(ctx, 'filter_body', `invalid content type ${JSON.stringify(ctype)}`);
          const found = findPart(ctx.msg, ctype);
          if (!found) return -1;
          if (!found.mp) return 1;
          try {
            ctx.msg.setBody(found.part.content);
            return 1;
          } catch (err) {
            return fail(ctx, 'filter_body', (err as Error).message);
          }
        },
      },
      {
        name: 'append_body_part',
        returns: 'int',
        params: ['str', 'str'],
        paramNames: ['txt', 'ct'],
        doc: `Add a part to a multipart body (a single body becomes multipart/mixed, boundary "${DEFAULT_BOUNDARY}"). 1 ok, -1 invalid.`,
        fn: (ctx: RouteContext, txt: string, ct: string) => appendPart(ctx, 'append_body_part', Buffer.from(txt, 'utf8'), ct, undefined),
      },
      {
        name: 'append_body_part_cd',
        returns: 'int',
        params: ['str', 'str', 'str'],
        paramNames: ['txt', 'ct', 'cd'],
        doc: 'append_body_part with a Content-Disposition. 1 ok, -1 invalid.',
        fn: (ctx: RouteContext, txt: string, ct: string, cd: string) => appendPart(ctx, 'append_body_part_cd', Buffer.from(txt, 'utf8'), ct, cd),
      },
      {
        name: 'append_body_part_hex',
        returns: 'int',
        params: ['str', 'str'],
        paramNames: ['txt', 'ct'],
        doc: 'append_body_part with the content given in hexadecimal (binary parts). 1 ok, -1 invalid.',
        fn: (ctx: RouteContext, hex: string, ct: string) => {
          const b = hexBytes(ctx, 'append_body_part_hex', hex);
          return b ? appendPart(ctx, 'append_body_part_hex', b, ct, undefined) : -1;
        },
      },
      {
        name: 'append_body_part_hex_cd',
        returns: 'int',
        params: ['str', 'str', 'str'],
        paramNames: ['htxt', 'ct', 'cd'],
        doc: 'append_body_part_hex with a Content-Disposition. 1 ok, -1 invalid.',
        fn: (ctx: RouteContext, hex: string, ct: string, cd: string) => {
          const b = hexBytes(ctx, 'append_body_part_hex_cd', hex);
          return b ? appendPart(ctx, 'append_body_part_hex_cd', b, ct, cd) : -1;
        },
      },
      {
        name: 'remove_body_part',
        returns: 'int',
        params: ['str'],
        paramNames: ['content_type'],
        doc: 'Remove the first part of this type from a multipart body. 1 ok, -1 no such part.',
        fn: (ctx: RouteContext, ctype: string) => {
          if (!mimeType(ctype)) return fail(ctx, 'remove_body_part', `invalid content type ${JSON.stringify(ctype)}`);
          const found = findPart(ctx.msg, ctype);
          if (!found?.mp) return -1;
          const parts = found.mp.parts.filter((_, i) => i !== found.index);
          try {
            ctx.msg.setBody(buildMultipart(found.mp.boundary, parts));
            return 1;
          } catch (err) {
            return fail(ctx, 'remove_body_part', (err as Error).message);
          }
        },
      },
      {
        name: 'get_body_part',
        returns: 'int',
        params: ['str', 'str'],
        paramNames: ['ctype', 'pvname'],
        doc: 'Store the content of the first body part of this type in a pseudo-variable. 1 ok, -1 no such part.',
        fn: (ctx: RouteContext, ctype: string, pvname: string) => {
          if (!mimeType(ctype)) return fail(ctx, 'get_body_part', `invalid content type ${JSON.stringify(ctype)}`);
          const found = findPart(ctx.msg, ctype);
          if (!found) return -1;
          return pvWrite(ctx, 'get_body_part', pvname, found.part.content.toString('utf8')) ? 1 : -1;
        },
      },
      {
        name: 'get_body_part_raw',
        returns: 'int',
        params: ['str', 'str'],
        paramNames: ['ctype', 'pvname'],
        doc: 'Store the first body part of this type, with its delimiter line and headers, in a pseudo-variable. 1 ok, -1 no such part.',
        fn: (ctx: RouteContext, ctype: string, pvname: string) => {
          if (!mimeType(ctype)) return fail(ctx, 'get_body_part_raw', `invalid content type ${JSON.stringify(ctype)}`);
          const found = findPart(ctx.msg, ctype);
          if (!found) return -1;
          return pvWrite(ctx, 'get_body_part_raw', pvname, found.part.raw.toString('utf8')) ? 1 : -1;
        },
      },
      {
        name: 'is_audio_on_hold',
        returns: 'int',
        params: [],
        doc: 'Is an audio stream of the received SDP on hold? 1 RFC 2543 (c= 0.0.0.0), 2 RFC 3264 (sendonly/inactive), -1 no.',
        fn: (ctx: RouteContext) => {
          const sdp = sdpOf(ctx.msg.body, ctx.msg.contentType);
          return sdp === undefined ? -1 : audioHold(sdp);
        },
      },
    ];

    // ---------------------------------------------------------------- strings

    const listItems = (ctx: RouteContext, fname: string, list: string, vsep: string): string[] | undefined => {
      if (vsep.length !== 1) {
        fail(ctx, fname, `the separator must be one character, got ${JSON.stringify(vsep)}`);
        return undefined;
      }
      return list.split(vsep).map((x) => x.trim());
    };

    const stringExports: Def[] = [
      {
        name: 'cmp_str',
        returns: 'int',
        params: ['str', 'str'],
        paramNames: ['s1', 's2'],
        doc: 'Are the strings equal (case-sensitive)? 1 yes, -1 no.',
        fn: (_ctx: RouteContext, a: string, b: string) => (a === b ? 1 : -1),
      },
      {
        name: 'cmp_istr',
        returns: 'int',
        params: ['str', 'str'],
        paramNames: ['s1', 's2'],
        doc: 'Are the strings equal ignoring case? 1 yes, -1 no.',
        fn: (_ctx: RouteContext, a: string, b: string) => (a.toLowerCase() === b.toLowerCase() ? 1 : -1),
      },
      {
        name: 'starts_with',
        returns: 'int',
        params: ['str', 'str'],
        paramNames: ['s1', 's2'],
        doc: 'Does s1 start with s2? 1 yes, -1 no.',
        fn: (_ctx: RouteContext, a: string, b: string) => (a.startsWith(b) ? 1 : -1),
      },
      {
        name: 'ends_with',
        returns: 'int',
        params: ['str', 'str'],
        paramNames: ['vstr', 'vsuffix'],
        doc: 'Does vstr end with vsuffix? 1 yes, -1 no.',
        fn: (_ctx: RouteContext, a: string, b: string) => (a.endsWith(b) ? 1 : -1),
      },
      {
        name: 'str_any_in',
        returns: 'int',
        params: ['str', 'str'],
        paramNames: ['txt', 'clist'],
        doc: 'Does txt contain any of the characters of clist? 1 yes, -1 no.',
        fn: (_ctx: RouteContext, txt: string, clist: string) => ([...clist].some((c) => txt.includes(c)) ? 1 : -1),
      },
      {
        name: 'in_list',
        returns: 'int',
        params: ['str', 'str', 'str'],
        paramNames: ['subject', 'list', 'vsep'],
        doc: 'Is subject one of the items of list (separated by the one-character vsep, blanks around items ignored)? 1 yes, -1 no.',
        fn: (ctx: RouteContext, subject: string, list: string, vsep: string) => {
          const items = listItems(ctx, 'in_list', list, vsep);
          return items?.includes(subject) ? 1 : -1;
        },
      },
      {
        name: 'in_list_prefix',
        returns: 'int',
        params: ['str', 'str', 'str'],
        paramNames: ['subject', 'list', 'vsep'],
        doc: 'Does subject start with one of the (non-empty) items of list? 1 yes, -1 no.',
        fn: (ctx: RouteContext, subject: string, list: string, vsep: string) => {
          const items = listItems(ctx, 'in_list_prefix', list, vsep);
          return items?.some((x) => x.length > 0 && subject.startsWith(x)) ? 1 : -1;
        },
      },
    ];

    return { exports: [...searchExports, ...headerExports, ...bodyExports, ...stringExports] };
  },
});
