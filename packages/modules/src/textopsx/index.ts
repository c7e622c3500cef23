/**
 * textopsx: more text operations (Kamailio's textopsx module, KEMI `KSR.textopsx`): apply the
 * pending changes so later reads see them (msg_apply_changes), change a reply's status, remove
 * the body, keep only some headers, shell-pattern matching, comma-separated header values and
 * parameters (*_hf_value), and iterators over the header fields and the body lines (with the
 * pseudo-variables $hfitname(i), $hfitbody(i), $blitval(i)).
 *
 * Every function returns -1 with an error log on bad arguments; none throws.
 */
import {
  defineModule,
  parseHeaderText,
  parseMessage,
  sip,
  type KemiExportDef,
  type KemiXval,
  type ModuleContext,
  type PvRegistry,
  type RouteContext,
  type SipRequest,
  type SipResponse,
} from '@ksr/core';
import { currentBody, currentLines, setHeaderList, type HeaderLine, type SipMsg } from '../textops/hdrlist.js';
import { RegexCache, testRegex } from '../textops/regex.js';
import { fieldsOf, globToRegExp, parseHfExp, parseValue, pick, rebuild, renderValue, sameValue, type HfExp } from './hfvalue.js';

type Def = KemiExportDef<RouteContext>;

const MOD = 'textopsx';

function fail(ctx: RouteContext, fname: string, why: string): -1 {
  ctx.logger.error(`KSR.${MOD}.${fname}: ${why}`);
  return -1;
}

/**
 * Put a new message in the route context (msg_apply_changes, change_reply_status, msg_set_buffer).
 *
 * RouteContext.msg is declared readonly: this writes the property anyway (it is a plain field at
 * run time). See README.md for the core change that makes this official and for who must read
 * ctx.msg after the route instead of the message they passed in.
 */
export function replaceMessage(ctx: RouteContext, msg: SipRequest | SipResponse): void {
  ctx.msg = msg;
}

/** Headers keep_hf never removes. */
const ALWAYS_KEPT = new Set(['via', 'from', 'to', 'call-id', 'cseq', 'content-length', 'content-type', 'max-forwards', 'contact', 'route', 'record-route']);

/** Iterators per route run: at most this many of each kind, as in Kamailio. */
const MAX_ITERATORS = 4;

interface HfIter {
  /** Position in the current header list: -1 before the first, length after the last. */
  pos: number;
  /** The field at pos when the iterator got there. */
  field: HeaderLine | undefined;
  /** Fields added after the current one (hf_iterator_append) that next() steps over. */
  skip: number;
  /** The field was removed (hf_iterator_rm): still readable, pos is the field before it. */
  removed: boolean;
}

interface BlLine {
  data: Buffer;
  inserted: boolean;
  removed: boolean;
}

interface BlIter {
  lines: BlLine[];
  pos: number;
  /** The body as this iterator last saw or set it. */
  body: Buffer;
}

interface Iters {
  hf: Map<string, HfIter>;
  bl: Map<string, BlIter>;
}

const ITERS = Symbol('textopsx.iterators');

function iters(ctx: RouteContext): Iters {
  let it = ctx.getData<Iters>(ITERS);
  if (!it) {
    it = { hf: new Map(), bl: new Map() };
    ctx.setData(ITERS, it);
  }
  return it;
}

function splitLines(body: Buffer): BlLine[] {
  const out: BlLine[] = [];
  let s = 0;
  while (s < body.length) {
    const e = body.indexOf(10, s);
    const end = e === -1 ? body.length : e + 1;
    out.push({ data: body.subarray(s, end), inserted: false, removed: false });
    s = end;
  }
  return out;
}

const sameLine = (a: HeaderLine | undefined, b: HeaderLine | undefined): boolean => !!a && !!b && a.name === b.name && a.value === b.value;

/** $hfitname(i), $hfitbody(i), $blitval(i): the iterators' current items (null when none). */
function registerPvs(pv: PvRegistry): void {
  const reg = (cls: string, get: (ctx: RouteContext, name: string) => string | null): void => {
    if (pv.has(cls)) return;
    pv.register(cls, (spec) => ({ name: spec.text, get: (ctx) => get(ctx, spec.param!.trim()) }), { param: 'required' });
  };
  reg('hfitname', (ctx, n) => ctx.getData<Iters>(ITERS)?.hf.get(n)?.field?.name ?? null);
  reg('hfitbody', (ctx, n) => ctx.getData<Iters>(ITERS)?.hf.get(n)?.field?.value ?? null);
  reg('blitval', (ctx, n) => {
    const it = ctx.getData<Iters>(ITERS)?.bl.get(n);
    const line = it?.lines[it.pos];
    return line ? line.data.toString('utf8') : null;
  });
}

export const textopsxModule = defineModule({
  name: MOD,
  params: {},
  create(mctx: ModuleContext) {
    registerPvs(mctx.pv);
    const regexes = new RegexCache(128);

    /** Set the header list; -1 with a log when the message API refuses. */
    const setLines = (ctx: RouteContext, fname: string, lines: HeaderLine[]): number => {
      try {
        setHeaderList(ctx.msg, lines);
        return 1;
      } catch (err) {
        return fail(ctx, fname, (err as Error).message);
      }
    };

    const hfexp = (ctx: RouteContext, fname: string, text: string): HfExp | undefined => {
      const e = parseHfExp(text);
      if (typeof e === 'string') {
        fail(ctx, fname, e);
        return undefined;
      }
      return e;
    };

    const valueArg = (ctx: RouteContext, fname: string, v: string): boolean => {
      if (/[\x00-\x08\x0a-\x1f\x7f]/.test(v)) {
        fail(ctx, fname, 'control characters in the value');
        return false;
      }
      return true;
    };

    // ------------------------------------------------------------------ message

    const applyChanges = (ctx: RouteContext, fname: string, build: (msg: SipMsg) => Buffer): number => {
      if (ctx.routeType !== 'request' && ctx.routeType !== 'reply') {
        return fail(ctx, fname, `not allowed in a ${ctx.routeType} route (request route or core reply route only)`);
      }
      let next: SipRequest | SipResponse;
      try {
        next = parseMessage(build(ctx.msg));
      } catch (err) {
        return fail(ctx, fname, `the new message does not parse: ${(err as Error).message}`);
      }
      if (('method' in next) !== ctx.isRequest) return fail(ctx, fname, 'a request cannot become a reply (or the reverse)');
      replaceMessage(ctx, next);
      return 1;
    };

    const changeStatus = (ctx: RouteContext, fname: string, code: number, reason: string | undefined): number => {
      const res = ctx.response;
      if (!res) return fail(ctx, fname, 'the message is a request');
      if (!Number.isInteger(code) || code < 100 || code > 699) return fail(ctx, fname, `invalid status code ${code} (100..699)`);
      if ((code < 300 || res.status < 300) && Math.floor(code / 100) !== Math.floor(res.status / 100)) {
        return fail(ctx, fname, `cannot change a ${res.status} reply into ${code}: the class of provisional and 2xx replies stays`);
      }
      const r = reason ?? res.reason;
      if (/[\x00-\x08\x0a-\x1f\x7f]/.test(r)) return fail(ctx, fname, 'control characters in the reason phrase');
      const phrase = r.trim() === '' ? sip.reasonPhrase(code) : r.trim();
      const buf = res.serialize();
      const nl = buf.indexOf(10);
      const eol = nl > 0 && buf[nl - 1] === 13 ? '\r\n' : '\n';
      return applyChanges(ctx, fname, () => Buffer.concat([Buffer.from(`SIP/2.0 ${code} ${phrase}${eol}`, 'utf8'), buf.subarray(nl + 1)]));
    };

    const messageExports: Def[] = [
      {
        name: 'msg_apply_changes',
        returns: 'int',
        params: [],
        doc: 'Apply the pending changes (lumps) now: the message is rebuilt and parsed again, so later searches and reads see them. Request route or core reply route. 1 ok, -1 error (old message kept).',
        fn: (ctx: RouteContext) => (ctx.msg.modified ? applyChanges(ctx, 'msg_apply_changes', (m) => m.serialize()) : 1),
      },
      {
        name: 'msg_set_buffer',
        returns: 'int',
        params: ['str'],
        paramNames: ['obuf'],
        doc: 'Replace the whole message with this text (parsed; a request stays a request). 1 ok, -1 error (old message kept).',
        fn: (ctx: RouteContext, obuf: string) => applyChanges(ctx, 'msg_set_buffer', () => Buffer.from(obuf, 'utf8')),
      },
      {
        name: 'change_reply_status',
        returns: 'int',
        params: ['int', 'str'],
        paramNames: ['code', 'reason'],
        doc: 'Change the status code and reason phrase of the reply being routed ("" = the standard phrase); 1xx/2xx keep their class. Applies the pending changes too. 1 ok, -1 error.',
        fn: (ctx: RouteContext, code: number, reason: string) => changeStatus(ctx, 'change_reply_status', code, reason),
      },
      {
        name: 'change_reply_status_code',
        returns: 'int',
        params: ['int'],
        paramNames: ['code'],
        doc: 'Change the status code of the reply being routed (the reason phrase stays). 1 ok, -1 error.',
        fn: (ctx: RouteContext, code: number) => changeStatus(ctx, 'change_reply_status_code', code, undefined),
      },
      {
        name: 'remove_body',
        returns: 'int',
        params: [],
        doc: 'Remove the body (Content-Length: 0; Content-Type goes too). 1 ok.',
        fn: (ctx: RouteContext) => {
          if (currentBody(ctx.msg).length === 0) return 1;
          try {
            ctx.msg.setBody('');
            return 1;
          } catch (err) {
            return fail(ctx, 'remove_body', (err as Error).message);
          }
        },
      },
      {
        name: 'keep_hf',
        returns: 'int',
        params: [],
        doc: 'Remove every header but Via, From, To, Call-ID, CSeq, Content-Length, Content-Type, Max-Forwards, Contact, Route, Record-Route. 1 ok.',
        fn: (ctx: RouteContext) => setLines(ctx, 'keep_hf', currentLines(ctx.msg).filter((l) => ALWAYS_KEPT.has(sip.canonicalHeaderName(l.name)))),
      },
      {
        name: 'keep_hf_re',
        returns: 'int',
        params: ['str'],
        paramNames: ['sre'],
        doc: 'Like keep_hf, also keeping the headers whose name matches the regular expression (case-insensitive). 1 ok, -1 invalid.',
        fn: (ctx: RouteContext, sre: string) => {
          const re = sre.length === 0 ? 'empty regular expression' : regexes.compile(sre, 'i');
          if (typeof re === 'string') return fail(ctx, 'keep_hf_re', `invalid regular expression ${JSON.stringify(sre)}: ${re}`);
          return setLines(
            ctx,
            'keep_hf_re',
            currentLines(ctx.msg).filter((l) => ALWAYS_KEPT.has(sip.canonicalHeaderName(l.name)) || testRegex(re, l.name)),
          );
        },
      },
      {
        name: 'fnmatch',
        returns: 'int',
        params: ['str', 'str'],
        paramNames: ['val', 'match'],
        doc: 'Does val match the shell pattern (* ? [...])? 1 yes, -1 no.',
        fn: (_ctx: RouteContext, val: string, match: string) => (globToRegExp(match, false).test(val) ? 1 : -1),
      },
      {
        name: 'fnmatch_ex',
        returns: 'int',
        params: ['str', 'str', 'str'],
        paramNames: ['val', 'match', 'flags'],
        doc: 'fnmatch with flags: "i" ignores case. 1 yes, -1 no or invalid flags.',
        fn: (ctx: RouteContext, val: string, match: string, flags: string) => {
          const f = flags.trim();
          if (f !== '' && f !== 'i') return fail(ctx, 'fnmatch_ex', `invalid flags ${JSON.stringify(flags)} ("i" or "")`);
          return globToRegExp(match, f === 'i').test(val) ? 1 : -1;
        },
      },
    ];

    // ------------------------------------------------------------------ header values

    const newHeaderAt = (lines: HeaderLine[], at: 'top' | 'end' | number, name: string, value: string): HeaderLine[] => {
      const out = [...lines];
      const l = { name, value };
      if (at === 'top') out.unshift(l);
      else if (at === 'end') out.push(l);
      else out.splice(at, 0, l);
      return out;
    };

    const valueExports: Def[] = [
      {
        name: 'append_hf_value',
        returns: 'int',
        params: ['str', 'str'],
        paramNames: ['hexp', 'val'],
        doc: 'NAME: add a new header NAME: val at the end. NAME[IDX]: add val after the IDX-th value (1 first, -1 last), or a new header when there is none. 1 ok, -1 invalid.',
        fn: (ctx: RouteContext, hexpText: string, val: string) => {
          const e = hfexp(ctx, 'append_hf_value', hexpText);
          if (!e || !valueArg(ctx, 'append_hf_value', val)) return -1;
          if (e.param !== undefined || e.idx === 'all') return fail(ctx, 'append_hf_value', 'takes NAME or NAME[IDX]');
          const f = fieldsOf(currentLines(ctx.msg), e.name);
          const target = e.idx === undefined ? [] : pick(f, e.idx);
          if (target.length === 0) return setLines(ctx, 'append_hf_value', newHeaderAt(f.lines, 'end', e.name, val));
          const [fi, vi] = target[0]!;
          f.values.get(fi)!.splice(vi + 1, 0, val);
          return setLines(ctx, 'append_hf_value', rebuild(f));
        },
      },
      {
        name: 'insert_hf_value',
        returns: 'int',
        params: ['str', 'str'],
        paramNames: ['hexp', 'val'],
        doc: 'NAME: add a new header NAME: val before the first NAME header (at the top when none). NAME[IDX]: add val before the IDX-th value, or a new header when there is none. 1 ok, -1 invalid.',
        fn: (ctx: RouteContext, hexpText: string, val: string) => {
          const e = hfexp(ctx, 'insert_hf_value', hexpText);
          if (!e || !valueArg(ctx, 'insert_hf_value', val)) return -1;
          if (e.param !== undefined || e.idx === 'all') return fail(ctx, 'insert_hf_value', 'takes NAME or NAME[IDX]');
          const f = fieldsOf(currentLines(ctx.msg), e.name);
          const target = e.idx === undefined ? [] : pick(f, e.idx);
          if (target.length === 0) {
            const first = f.refs[0];
            return setLines(ctx, 'insert_hf_value', newHeaderAt(f.lines, first ? first[0] : 'top', e.name, val));
          }
          const [fi, vi] = target[0]!;
          f.values.get(fi)!.splice(vi, 0, val);
          return setLines(ctx, 'insert_hf_value', rebuild(f));
        },
      },
      {
        name: 'remove_hf_value',
        returns: 'int',
        params: ['str'],
        paramNames: ['hexp'],
        doc: 'Remove the addressed value(s) (NAME = NAME[1], NAME[-1], NAME[*]) — a header left empty goes — or, with .PARAM, that parameter of them. 1 ok, -1 nothing addressed or invalid.',
        fn: (ctx: RouteContext, hexpText: string) => {
          const e = hfexp(ctx, 'remove_hf_value', hexpText);
          if (!e) return -1;
          const f = fieldsOf(currentLines(ctx.msg), e.name);
          const target = pick(f, e.idx);
          if (target.length === 0) return -1;
          if (e.param === undefined) {
            // remove from the end so the indexes of earlier values hold
            for (const [fi, vi] of [...target].reverse()) f.values.get(fi)!.splice(vi, 1);
          } else {
            const pn = e.param.toLowerCase();
            for (const [fi, vi] of target) {
              const vs = f.values.get(fi)!;
              const v = parseValue(vs[vi]!);
              v.params = v.params.filter(([k]) => k.toLowerCase() !== pn);
              vs[vi] = renderValue(v);
            }
          }
          return setLines(ctx, 'remove_hf_value', rebuild(f));
        },
      },
      {
        name: 'assign_hf_value',
        returns: 'int',
        params: ['str', 'str'],
        paramNames: ['hexp', 'val'],
        doc: 'Set the addressed value(s) (NAME = NAME[1]; NAME[*] all) to val, or with .PARAM set that parameter (added when absent; "" = a parameter without value). 1 ok, -1 nothing addressed or invalid.',
        fn: (ctx: RouteContext, hexpText: string, val: string) => {
          const e = hfexp(ctx, 'assign_hf_value', hexpText);
          if (!e || !valueArg(ctx, 'assign_hf_value', val)) return -1;
          const f = fieldsOf(currentLines(ctx.msg), e.name);
          const target = pick(f, e.idx);
          if (target.length === 0) return -1;
          for (const [fi, vi] of target) {
            const vs = f.values.get(fi)!;
            if (e.param === undefined) {
              vs[vi] = val;
              continue;
            }
            const v = parseValue(vs[vi]!);
            const pn = e.param.toLowerCase();
            const p = v.params.find(([k]) => k.toLowerCase() === pn);
            const nv = val === '' ? null : val;
            if (p) p[1] = nv;
            else v.params.push([e.param, nv]);
            vs[vi] = renderValue(v);
          }
          // an assigned empty value must not make the field disappear
          for (const [fi] of target) if (f.values.get(fi)!.length === 0) f.values.set(fi, ['']);
          return setLines(ctx, 'assign_hf_value', rebuild(f));
        },
      },
      {
        name: 'include_hf_value',
        returns: 'int',
        params: ['str', 'str'],
        paramNames: ['hexp', 'val'],
        doc: 'Add val to the values of header NAME unless there already (case-insensitive), e.g. Supported: path. 1 ok, -1 invalid.',
        fn: (ctx: RouteContext, name: string, val: string) => {
          const e = hfexp(ctx, 'include_hf_value', name);
          if (!e || !valueArg(ctx, 'include_hf_value', val)) return -1;
          if (val.trim() === '') return fail(ctx, 'include_hf_value', 'empty value');
          const f = fieldsOf(currentLines(ctx.msg), e.name);
          if (f.refs.some(([fi, vi]) => sameValue(f.values.get(fi)![vi]!, val))) return 1;
          const last = f.refs.at(-1);
          if (!last) return setLines(ctx, 'include_hf_value', newHeaderAt(f.lines, 'end', e.name, val.trim()));
          f.values.get(last[0])!.push(val.trim());
          return setLines(ctx, 'include_hf_value', rebuild(f));
        },
      },
      {
        name: 'exclude_hf_value',
        returns: 'int',
        params: ['str', 'str'],
        paramNames: ['hexp', 'val'],
        doc: 'Remove val (case-insensitive) from the values of header NAME; a header left empty goes. 1 ok (also when absent), -1 invalid.',
        fn: (ctx: RouteContext, name: string, val: string) => {
          const e = hfexp(ctx, 'exclude_hf_value', name);
          if (!e) return -1;
          const f = fieldsOf(currentLines(ctx.msg), e.name);
          let n = 0;
          for (const [fi, vs] of f.values) {
            const keep = vs.filter((v) => !sameValue(v, val));
            n += vs.length - keep.length;
            f.values.set(fi, keep);
          }
          return n === 0 ? 1 : setLines(ctx, 'exclude_hf_value', rebuild(f));
        },
      },
      {
        name: 'hf_value_exists',
        returns: 'int',
        params: ['str', 'str'],
        paramNames: ['hexp', 'val'],
        doc: 'Is val (case-insensitive) one of the values of header NAME (underscores in NAME count as dashes)? 1 yes, -1 no.',
        fn: (ctx: RouteContext, name: string, val: string) => {
          const e = hfexp(ctx, 'hf_value_exists', name.replace(/_/g, '-'));
          if (!e) return -1;
          const f = fieldsOf(currentLines(ctx.msg), e.name);
          return f.refs.some(([fi, vi]) => sameValue(f.values.get(fi)![vi]!, val)) ? 1 : -1;
        },
      },
    ];

    // ------------------------------------------------------------------ header iterator

    const iterName = (ctx: RouteContext, fname: string, iname: string): string | undefined => {
      const n = iname.trim();
      if (n.length > 0 && n.length <= 64) return n;
      fail(ctx, fname, `invalid iterator name ${JSON.stringify(iname)}`);
      return undefined;
    };

    const hfIter = (ctx: RouteContext, fname: string, iname: string): HfIter | undefined => {
      const n = iterName(ctx, fname, iname);
      if (n === undefined) return undefined;
      const it = iters(ctx).hf.get(n);
      if (!it) fail(ctx, fname, `no header iterator ${JSON.stringify(n)} (hf_iterator_start first)`);
      return it;
    };

    /** The iterator is on a field that is still where it was; the current list, else undefined (logged). */
    const hfHere = (ctx: RouteContext, fname: string, it: HfIter): HeaderLine[] | undefined => {
      const lines = currentLines(ctx.msg);
      if (it.field === undefined || it.removed || it.pos < 0 || it.pos >= lines.length) {
        fail(ctx, fname, 'the iterator is not on a header');
        return undefined;
      }
      if (!sameLine(lines[it.pos], it.field)) {
        fail(ctx, fname, 'the header list changed under the iterator (start it again)');
        return undefined;
      }
      return lines;
    };

    const hfAdd = (ctx: RouteContext, fname: string, iname: string, htext: string, after: boolean): number => {
      const it = hfIter(ctx, fname, iname);
      if (!it) return -1;
      const parsed = parseHeaderText(htext);
      if (typeof parsed === 'string') return fail(ctx, fname, parsed);
      const lines = hfHere(ctx, fname, it);
      if (!lines) return -1;
      const add = parsed.map(([name, value]) => ({ name, value }));
      lines.splice(after ? it.pos + 1 + it.skip : it.pos, 0, ...add);
      if (setLines(ctx, fname, lines) < 0) return -1;
      if (after) it.skip += add.length;
      else it.pos += add.length;
      return 1;
    };

    const hfExports: Def[] = [
      {
        name: 'hf_iterator_start',
        returns: 'int',
        params: ['str'],
        paramNames: ['iname'],
        doc: `Start (or restart) a header iterator named iname, before the first header (up to ${MAX_ITERATORS} at once). 1 ok, -1 too many.`,
        fn: (ctx: RouteContext, iname: string) => {
          const n = iterName(ctx, 'hf_iterator_start', iname);
          if (n === undefined) return -1;
          const m = iters(ctx).hf;
          if (!m.has(n) && m.size >= MAX_ITERATORS) return fail(ctx, 'hf_iterator_start', `too many header iterators (${MAX_ITERATORS})`);
          m.set(n, { pos: -1, field: undefined, skip: 0, removed: false });
          return 1;
        },
      },
      {
        name: 'hf_iterator_next',
        returns: 'int',
        params: ['str'],
        paramNames: ['iname'],
        doc: 'Move to the next header of the current header list. 1 on a header, -1 past the last (or no iterator).',
        fn: (ctx: RouteContext, iname: string) => {
          const it = hfIter(ctx, 'hf_iterator_next', iname);
          if (!it) return -1;
          const lines = currentLines(ctx.msg);
          it.pos = Math.min(it.pos + 1 + it.skip, lines.length);
          it.skip = 0;
          it.removed = false;
          it.field = lines[it.pos];
          return it.field ? 1 : -1;
        },
      },
      {
        name: 'hf_iterator_prev',
        returns: 'int',
        params: ['str'],
        paramNames: ['iname'],
        doc: 'Move to the previous header. 1 on a header, -1 before the first.',
        fn: (ctx: RouteContext, iname: string) => {
          const it = hfIter(ctx, 'hf_iterator_prev', iname);
          if (!it) return -1;
          const lines = currentLines(ctx.msg);
          // after hf_iterator_rm, pos already is the header before the removed one
          it.pos = Math.max(Math.min(it.pos, lines.length) - (it.removed ? 0 : 1), -1);
          it.skip = 0;
          it.removed = false;
          it.field = lines[it.pos];
          return it.field ? 1 : -1;
        },
      },
      {
        name: 'hf_iterator_end',
        returns: 'int',
        params: ['str'],
        paramNames: ['iname'],
        doc: 'Close the header iterator. 1 ok, -1 no such iterator.',
        fn: (ctx: RouteContext, iname: string) => {
          const n = iterName(ctx, 'hf_iterator_end', iname);
          return n !== undefined && iters(ctx).hf.delete(n) ? 1 : -1;
        },
      },
      {
        name: 'hf_iterator_hname',
        returns: 'xval',
        params: ['str'],
        paramNames: ['iname'],
        doc: 'Name of the header the iterator is on (null when none); also $hfitname(iname).',
        fn: (ctx: RouteContext, iname: string): KemiXval => iters(ctx).hf.get(iname.trim())?.field?.name ?? null,
      },
      {
        name: 'hf_iterator_hbody',
        returns: 'xval',
        params: ['str'],
        paramNames: ['iname'],
        doc: 'Body of the header the iterator is on (null when none); also $hfitbody(iname).',
        fn: (ctx: RouteContext, iname: string): KemiXval => iters(ctx).hf.get(iname.trim())?.field?.value ?? null,
      },
      {
        name: 'hf_iterator_rm',
        returns: 'int',
        params: ['str'],
        paramNames: ['iname'],
        doc: 'Remove the header the iterator is on (next() goes on with the one after it). 1 ok, -1 not on a header.',
        fn: (ctx: RouteContext, iname: string) => {
          const it = hfIter(ctx, 'hf_iterator_rm', iname);
          if (!it) return -1;
          const lines = hfHere(ctx, 'hf_iterator_rm', it);
          if (!lines) return -1;
          lines.splice(it.pos, 1);
          if (setLines(ctx, 'hf_iterator_rm', lines) < 0) return -1;
          // the removed header stays readable through $hfitname/$hfitbody until the iterator moves
          it.pos -= 1;
          it.skip = 0;
          it.removed = true;
          return 1;
        },
      },
      {
        name: 'hf_iterator_append',
        returns: 'int',
        params: ['str', 'str'],
        paramNames: ['iname', 'htext'],
        doc: 'Add header lines ("Name: value\\r\\n") after the header the iterator is on (not visited by next()). 1 ok, -1 error.',
        fn: (ctx: RouteContext, iname: string, htext: string) => hfAdd(ctx, 'hf_iterator_append', iname, htext, true),
      },
      {
        name: 'hf_iterator_insert',
        returns: 'int',
        params: ['str', 'str'],
        paramNames: ['iname', 'htext'],
        doc: 'Add header lines before the header the iterator is on. 1 ok, -1 error.',
        fn: (ctx: RouteContext, iname: string, htext: string) => hfAdd(ctx, 'hf_iterator_insert', iname, htext, false),
      },
    ];

    // ------------------------------------------------------------------ body line iterator

    const blIter = (ctx: RouteContext, fname: string, iname: string): BlIter | undefined => {
      const n = iterName(ctx, fname, iname);
      if (n === undefined) return undefined;
      const it = iters(ctx).bl.get(n);
      if (!it) fail(ctx, fname, `no body line iterator ${JSON.stringify(n)} (bl_iterator_start first)`);
      return it;
    };

    /** Write the iterator's lines as the body; -1 when the body changed under it. */
    const blWrite = (ctx: RouteContext, fname: string, it: BlIter): number => {
      if (!currentBody(ctx.msg).equals(it.body)) return fail(ctx, fname, 'the body changed under the iterator (start it again)');
      const body = Buffer.concat(it.lines.filter((l) => !l.removed).map((l) => l.data));
      try {
        ctx.msg.setBody(body);
      } catch (err) {
        return fail(ctx, fname, (err as Error).message);
      }
      it.body = body;
      return 1;
    };

    const blOn = (ctx: RouteContext, fname: string, it: BlIter): boolean => {
      const l = it.lines[it.pos];
      if (!l || l.removed) {
        fail(ctx, fname, 'the iterator is not on a body line');
        return false;
      }
      return true;
    };

    const blExports: Def[] = [
      {
        name: 'bl_iterator_start',
        returns: 'int',
        params: ['str'],
        paramNames: ['iname'],
        doc: `Start (or restart) an iterator over the lines of the current body (up to ${MAX_ITERATORS} at once). 1 ok, -1 too many.`,
        fn: (ctx: RouteContext, iname: string) => {
          const n = iterName(ctx, 'bl_iterator_start', iname);
          if (n === undefined) return -1;
          const m = iters(ctx).bl;
          if (!m.has(n) && m.size >= MAX_ITERATORS) return fail(ctx, 'bl_iterator_start', `too many body line iterators (${MAX_ITERATORS})`);
          const body = currentBody(ctx.msg);
          m.set(n, { lines: splitLines(body), pos: -1, body });
          return 1;
        },
      },
      {
        name: 'bl_iterator_next',
        returns: 'int',
        params: ['str'],
        paramNames: ['iname'],
        doc: 'Move to the next body line (lines added by bl_iterator_append/insert are skipped). 1 on a line, -1 past the last.',
        fn: (ctx: RouteContext, iname: string) => {
          const it = blIter(ctx, 'bl_iterator_next', iname);
          if (!it) return -1;
          let p = it.pos + 1;
          while (p < it.lines.length && it.lines[p]!.inserted) p++;
          it.pos = Math.min(p, it.lines.length);
          return it.pos < it.lines.length ? 1 : -1;
        },
      },
      {
        name: 'bl_iterator_end',
        returns: 'int',
        params: ['str'],
        paramNames: ['iname'],
        doc: 'Close the body line iterator. 1 ok, -1 no such iterator.',
        fn: (ctx: RouteContext, iname: string) => {
          const n = iterName(ctx, 'bl_iterator_end', iname);
          return n !== undefined && iters(ctx).bl.delete(n) ? 1 : -1;
        },
      },
      {
        name: 'bl_iterator_value',
        returns: 'xval',
        params: ['str'],
        paramNames: ['iname'],
        doc: 'The body line the iterator is on, with its line end (null when none); also $blitval(iname).',
        fn: (ctx: RouteContext, iname: string): KemiXval => {
          const it = iters(ctx).bl.get(iname.trim());
          const l = it?.lines[it.pos];
          return l ? l.data.toString('utf8') : null;
        },
      },
      {
        name: 'bl_iterator_rm',
        returns: 'int',
        params: ['str'],
        paramNames: ['iname'],
        doc: 'Remove the body line the iterator is on. 1 ok, -1 not on a line or the body changed.',
        fn: (ctx: RouteContext, iname: string) => {
          const it = blIter(ctx, 'bl_iterator_rm', iname);
          if (!it || !blOn(ctx, 'bl_iterator_rm', it)) return -1;
          it.lines[it.pos]!.removed = true;
          const r = blWrite(ctx, 'bl_iterator_rm', it);
          if (r < 0) it.lines[it.pos]!.removed = false;
          return r;
        },
      },
      {
        name: 'bl_iterator_append',
        returns: 'int',
        params: ['str', 'str'],
        paramNames: ['iname', 'text'],
        doc: 'Add text (give its line end) after the body line the iterator is on. 1 ok, -1 error.',
        fn: (ctx: RouteContext, iname: string, text: string) => {
          const it = blIter(ctx, 'bl_iterator_append', iname);
          if (!it || !blOn(ctx, 'bl_iterator_append', it)) return -1;
          let at = it.pos + 1;
          while (at < it.lines.length && it.lines[at]!.inserted) at++;
          const line = { data: Buffer.from(text, 'utf8'), inserted: true, removed: false };
          it.lines.splice(at, 0, line);
          const r = blWrite(ctx, 'bl_iterator_append', it);
          if (r < 0) it.lines.splice(at, 1);
          return r;
        },
      },
      {
        name: 'bl_iterator_insert',
        returns: 'int',
        params: ['str', 'str'],
        paramNames: ['iname', 'text'],
        doc: 'Add text (give its line end) before the body line the iterator is on. 1 ok, -1 error.',
        fn: (ctx: RouteContext, iname: string, text: string) => {
          const it = blIter(ctx, 'bl_iterator_insert', iname);
          if (!it || !blOn(ctx, 'bl_iterator_insert', it)) return -1;
          const line = { data: Buffer.from(text, 'utf8'), inserted: true, removed: false };
          it.lines.splice(it.pos, 0, line);
          it.pos += 1;
          const r = blWrite(ctx, 'bl_iterator_insert', it);
          if (r < 0) {
            it.pos -= 1;
            it.lines.splice(it.pos, 1);
          }
          return r;
        },
      },
    ];

    return { exports: [...messageExports, ...valueExports, ...hfExports, ...blExports] };
  },
});
