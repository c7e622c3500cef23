/**
 * pv: the loadable part of Kamailio's pv module. Its KEMI functions are bound as KSR.pvx (as in
 * Kamailio: KSR.pv is the core submodule of get/sets/…), its modparams set initial $shv / $var
 * values, and it adds the static branch $sbranch(attr).
 *
 *   modparam("pv", "shvset", "debug=i:1")      modparam("pv", "varset", "gw=s:sip:10.0.0.1")
 *   KSR.pvx.var_seti("n", 1)   ≡   KSR.pv.seti("$var(n)", 1)
 *
 * Storage is core's: $var in the worker's vars (never null: unset reads 0), $shv in the shared
 * vars, $avp / $xavp in the message state (an XAVP record keeps its own value under XAVP_VALUE).
 * Where a function is the same as an assignment to a pseudo-variable, it goes through the
 * pseudo-variable registry (ctx.pv), so naming rules and semantics are those of KSR.pv.
 */
import {
  MAX_BRANCHES,
  PvNameError,
  XAVP_VALUE,
  defineModule,
  getterVariants,
  parsePvAt,
  parseUri,
  type Branch,
  type KemiExportDef,
  type KemiXval,
  type ModuleContext,
  type PvAccessor,
  type PvRegistry,
  type PvValue,
  type RouteContext,
  type ScriptValue,
  type XavpRecord,
} from '@ksr/core';
import type { PvModuleApi } from './api.js';

export type { PvModuleApi } from './api.js';

type Def = KemiExportDef<RouteContext>;

/** Names of $var / $shv, as core's pseudo-variables accept them. */
const VAR_NAME = /^[^\s$()[\]{}]+$/;
/** Names of XAVPs and their fields, as core's $xavp accepts them. */
const XAVP_NAME = /^[A-Za-z0-9_.\-:]+$/;

/** `name=i:123` / `name=s:text` of the shvset and varset modparams. */
export function parseVarSet(text: string): { name: string; value: ScriptValue } {
  const m = /^([^=]+)=([is]):(.*)$/s.exec(text);
  if (!m) throw new Error(`${JSON.stringify(text)}: expected name=i:integer or name=s:string`);
  const name = m[1]!.trim();
  if (!VAR_NAME.test(name)) throw new Error(`${JSON.stringify(text)}: bad variable name ${JSON.stringify(name)}`);
  if (m[2] === 's') return { name, value: m[3]! };
  const v = m[3]!.trim();
  if (!/^[+-]?\d{1,15}$/.test(v)) throw new Error(`${JSON.stringify(text)}: ${JSON.stringify(v)} is not an integer`);
  return { name, value: Number(v) };
}

const checkVarSet = (v: string | number): string | undefined => {
  try {
    parseVarSet(String(v));
    return undefined;
  } catch (e) {
    return (e as Error).message;
  }
};

/** The static branch of $sbranch(...). */
interface StaticBranch {
  uri?: string;
  dstUri?: string;
  path?: string;
  /** ×1000, -1 when not given. */
  q: number;
  socket?: string;
  flags: number;
  ruid?: string;
  instance?: string;
}

const SBRANCH_ATTRS = ['uri', 'dst_uri', 'path', 'q', 'send_socket', 'flags', 'ruid', 'instance', 'count'] as const;
type SbranchAttr = (typeof SBRANCH_ATTRS)[number];

function qText(q: number): string | null {
  if (q < 0) return null;
  const s = (q / 1000).toFixed(3).replace(/0+$/, '');
  return s.endsWith('.') ? `${s}0` : s;
}

/** A q-value: "0.5" or an integer 0..1000 (Kamailio's internal scale); undefined when invalid. */
function parseQ(v: PvValue): number | undefined {
  if (v === null) return -1;
  if (typeof v === 'number') return Number.isInteger(v) && v >= 0 && v <= 1000 ? v : undefined;
  const s = v.trim();
  if (/^(0(\.\d{0,3})?|1(\.0{0,3})?)$/.test(s)) return Math.round(Number(s) * 1000);
  return undefined;
}

/** The listen socket named `proto:address:port` (address of IPv6 in brackets or not); undefined when none. */
function socketIdOf(ctx: RouteContext, text: string): number | undefined {
  const m = /^(udp|tcp|tls|sctp|ws|wss):(\[[^\]]+\]|[^:]+):(\d+)$/i.exec(text.trim());
  if (!m) return undefined;
  const proto = m[1]!.toLowerCase();
  const addr = m[2]!.replace(/^\[|\]$/g, '').toLowerCase();
  const port = Number(m[3]);
  for (const s of ctx.services.sockets()) {
    if (s.proto === proto && s.local.address.toLowerCase() === addr && s.local.port === port) return s.id;
  }
  return undefined;
}

/** Parse `a=1;b="x;y";c` into [name, value] pairs (unquoted values, '' for a name alone). */
function parseParams(text: string, sep: string): Array<[string, string]> | undefined {
  const out: Array<[string, string]> = [];
  let cur = '';
  let quoted = false;
  const flush = (): boolean => {
    const p = cur.trim();
    cur = '';
    if (p === '') return true;
    const eq = p.indexOf('=');
    const name = (eq === -1 ? p : p.slice(0, eq)).trim();
    let value = eq === -1 ? '' : p.slice(eq + 1).trim();
    if (value.length >= 2 && value.startsWith('"') && value.endsWith('"')) value = value.slice(1, -1);
    if (!XAVP_NAME.test(name)) return false;
    out.push([name, value]);
    return true;
  };
  for (const c of text) {
    if (c === '"') quoted = !quoted;
    if (c === sep && !quoted) {
      if (!flush()) return undefined;
    } else cur += c;
  }
  if (quoted || !flush()) return undefined;
  return out;
}

function copyRecord(r: XavpRecord): XavpRecord {
  return new Map([...r].map(([k, v]) => [k, [...v]]));
}

/** A value for printing ($xavp dumps): strings quoted, integers as they are. */
function show(v: ScriptValue): string {
  return typeof v === 'string' ? JSON.stringify(v) : String(v);
}

function buildExports(reg: PvRegistry, sbranch: { current: StaticBranch }): Def[] {
  const err = (ctx: RouteContext, fn: string, why: string): number => {
    ctx.logger.error({ mod: 'pv' }, `KSR.pvx.${fn}: ${why}`);
    return -1;
  };
  const accessor = (ctx: RouteContext, fn: string, name: string): PvAccessor | undefined => {
    const a = reg.lookup(name);
    if (a instanceof PvNameError) {
      err(ctx, fn, a.message);
      return undefined;
    }
    return a;
  };
  const read = (ctx: RouteContext, fn: string, name: string): PvValue => accessor(ctx, fn, name)?.get(ctx) ?? null;
  const write = (ctx: RouteContext, fn: string, name: string, v: PvValue): number => {
    const a = accessor(ctx, fn, name);
    if (!a) return -1;
    if (!a.set) return err(ctx, fn, `${name} is read-only`);
    return a.set(ctx, v) ? 1 : -1;
  };
  const varName = (ctx: RouteContext, fn: string, name: string): boolean => {
    if (VAR_NAME.test(name)) return true;
    err(ctx, fn, `bad variable name ${JSON.stringify(name)}`);
    return false;
  };
  const xname = (ctx: RouteContext, fn: string, ...names: string[]): boolean => {
    for (const n of names) {
      if (!XAVP_NAME.test(n)) {
        err(ctx, fn, `bad XAVP name ${JSON.stringify(n)}`);
        return false;
      }
    }
    return true;
  };
  /** Evaluate a format with pseudo-variables ($$ is '$'); undefined (logged) when a name is invalid. */
  const evaluate = (ctx: RouteContext, fn: string, fmt: string): string | undefined => {
    let out = '';
    let i = 0;
    while (i < fmt.length) {
      const d = fmt.indexOf('$', i);
      if (d === -1) {
        out += fmt.slice(i);
        break;
      }
      out += fmt.slice(i, d);
      if (fmt.charCodeAt(d + 1) === 36) {
        out += '$';
        i = d + 2;
        continue;
      }
      let end: number;
      try {
        end = parsePvAt(fmt, d).end;
      } catch (e) {
        err(ctx, fn, (e as Error).message);
        return undefined;
      }
      const a = accessor(ctx, fn, fmt.slice(d, end));
      if (!a) return undefined;
      const v = a.get(ctx);
      out += v === null ? '<null>' : String(v);
      i = end;
    }
    return out;
  };

  // ---------------------------------------------------------------- $var, $shv
  const varSet = (fn: string, store: 'vars' | 'shv'): Def => ({
    name: fn,
    returns: 'int',
    params: ['str', fn.endsWith('i') ? 'int' : 'str'],
    paramNames: ['vname', fn.endsWith('i') ? 'ival' : 'sval'],
    doc: `Set ${store === 'vars' ? '$var' : '$shv'}(vname) to ${fn.endsWith('i') ? 'an integer' : 'a string'}`,
    fn: (ctx: RouteContext, name: string, v: ScriptValue) => {
      if (!varName(ctx, fn, name)) return -1;
      ctx.services[store].set(name, v);
      return 1;
    },
  });
  const varGet = (fn: string, store: 'vars' | 'shv'): Def => ({
    name: fn,
    returns: 'xval',
    params: ['str'],
    paramNames: ['vname'],
    doc: `Value of ${store === 'vars' ? '$var' : '$shv'}(vname) (0 when never set)`,
    fn: (ctx: RouteContext, name: string): KemiXval => {
      if (!varName(ctx, fn, name)) return null;
      return ctx.services[store].get(name) ?? 0;
    },
  });

  // ---------------------------------------------------------------- $xavp helpers
  const records = (ctx: RouteContext, name: string): XavpRecord[] | undefined => {
    const r = ctx.state.xavps.get(name);
    return r && r.length > 0 ? r : undefined;
  };
  const pushRecord = (ctx: RouteContext, name: string, rec: XavpRecord): void => {
    const list = ctx.state.xavps.get(name);
    if (list) list.unshift(rec);
    else ctx.state.xavps.set(name, [rec]);
  };
  const at = <T>(list: T[], i: number): number => {
    const p = i >= 0 ? i : list.length + i;
    return p >= 0 && p < list.length ? p : -1;
  };
  const childSet = (fn: string): Def => ({
    name: fn,
    returns: 'int',
    params: ['str', 'str', fn.endsWith('i') ? 'int' : 'str'],
    paramNames: ['rname', 'cname', fn.endsWith('i') ? 'ival' : 'sval'],
    doc: `Set $xavp(rname=>cname) to ${fn.endsWith('i') ? 'an integer' : 'a string'}: added to the newest rname record, or in a new one`,
    fn: (ctx: RouteContext, rname: string, cname: string, v: ScriptValue) => {
      if (!xname(ctx, fn, rname, cname)) return -1;
      const list = records(ctx, rname);
      const rec = list?.[0];
      if (rec && !rec.has(XAVP_VALUE)) {
        const values = rec.get(cname);
        if (values) values.unshift(v);
        else rec.set(cname, [v]);
        return 1;
      }
      // Kamailio: a newest record holding a plain value is replaced by a record with the child
      if (rec && list) list.shift();
      pushRecord(ctx, rname, new Map([[cname, [v]]]));
      return 1;
    },
  });
  const explodeInto = (ctx: RouteContext, fn: string, pairs: Array<[string, string]> | undefined, target: string): number => {
    if (!xname(ctx, fn, target)) return -1;
    if (!pairs || pairs.length === 0) return err(ctx, fn, 'no parameters');
    const rec: XavpRecord = new Map();
    // fields are kept newest first (Kamailio's child list): the last parameter is added first
    for (let i = pairs.length - 1; i >= 0; i--) {
      const [n, v] = pairs[i]!;
      const values = rec.get(n);
      if (values) values.push(v);
      else rec.set(n, [v]);
    }
    pushRecord(ctx, target, rec);
    return 1;
  };
  const implode = (fn: string, quote: boolean): Def => ({
    name: fn,
    returns: 'int',
    params: ['str', 'str'],
    paramNames: ['sxname', 'svname'],
    doc: `Serialise the fields of the newest sxname record as "a=1;b=2;"${quote ? ' with quoted values' : ''} into the pseudo-variable svname`,
    fn: (ctx: RouteContext, name: string, pv: string) => {
      if (!xname(ctx, fn, name)) return -1;
      const rec = records(ctx, name)?.[0];
      if (!rec) return err(ctx, fn, `no XAVP ${name}`);
      let out = '';
      for (const [field, values] of [...rec].reverse()) {
        if (field === XAVP_VALUE) continue;
        for (const v of values) {
          const s = String(v);
          out += quote ? `${field}="${s.replace(/(["\\])/g, '\\$1')}";` : s === '' ? `${field};` : `${field}=${s};`;
        }
      }
      return write(ctx, fn, pv, out);
    },
  });

  // ---------------------------------------------------------------- static branch
  const sbGet = (ctx: RouteContext, fn: string): StaticBranch | undefined => {
    const sb = sbranch.current;
    if (!sb.uri) {
      err(ctx, fn, 'the static branch has no uri ($sbranch(uri))');
      return undefined;
    }
    return sb;
  };

  const int = (fn: string, params: Def['params'], paramNames: string[], doc: string, f: (ctx: RouteContext, ...args: never[]) => number): Def => ({
    name: fn,
    returns: 'int',
    params,
    paramNames,
    doc,
    fn: f as (ctx: RouteContext, ...args: unknown[]) => number,
  });

  return [
    varSet('var_seti', 'vars'),
    varSet('var_sets', 'vars'),
    varGet('var_get', 'vars'),
    varSet('shv_seti', 'shv'),
    varSet('shv_sets', 'shv'),
    varGet('shv_get', 'shv'),
    {
      name: 'shvinc_get',
      returns: 'xval',
      params: ['str'],
      paramNames: ['vname'],
      doc: 'Add 1 to the integer $shv(vname) (unset counts as 0) and return the new value; null when it holds a string',
      fn: (ctx: RouteContext, name: string): KemiXval => {
        if (!varName(ctx, 'shvinc_get', name)) return null;
        const cur = ctx.services.shv.get(name) ?? 0;
        if (typeof cur !== 'number') {
          err(ctx, 'shvinc_get', `$shv(${name}) does not hold an integer`);
          return null;
        }
        ctx.services.shv.set(name, cur + 1);
        return cur + 1;
      },
    },

    // $avp
    int('avp_seti', ['str', 'int'], ['xname', 'vn'], 'Add an integer value to $avp(xname)', (ctx: RouteContext, n: string, v: number) => write(ctx, 'avp_seti', `$avp(${n})`, v)),
    int('avp_sets', ['str', 'str'], ['xname', 'vs'], 'Add a string value to $avp(xname)', (ctx: RouteContext, n: string, v: string) => write(ctx, 'avp_sets', `$avp(${n})`, v)),
    ...getterVariants<RouteContext>(
      { null: 'avp_get', empty: 'avp_gete', print: 'avp_getw' },
      ['str'],
      (ctx: RouteContext, n: string) => read(ctx, 'avp_get', `$avp(${n})`),
      'Newest value of $avp(xname)',
      ['xname'],
    ),
    int('avp_rm', ['str'], ['xname'], 'Remove every value of $avp(xname)', (ctx: RouteContext, n: string) => write(ctx, 'avp_rm', `$(avp(${n})[*])`, null)),
    int('avp_is_null', ['str'], ['xname'], '1 when $avp(xname) has no value, else -1', (ctx: RouteContext, n: string) => (read(ctx, 'avp_is_null', `$avp(${n})`) === null ? 1 : -1)),

    // $xavp: root values
    int('xavp_seti', ['str', 'int'], ['rname', 'ival'], 'Add a new rname record holding an integer ($xavp(rname) = ival)', (ctx: RouteContext, n: string, v: number) =>
      xname(ctx, 'xavp_seti', n) ? write(ctx, 'xavp_seti', `$xavp(${n})`, v) : -1,
    ),
    int('xavp_sets', ['str', 'str'], ['rname', 'sval'], 'Add a new rname record holding a string ($xavp(rname) = sval)', (ctx: RouteContext, n: string, v: string) =>
      xname(ctx, 'xavp_sets', n) ? write(ctx, 'xavp_sets', `$xavp(${n})`, v) : -1,
    ),
    ...getterVariants<RouteContext>(
      { null: 'xavp_get', empty: 'xavp_gete', print: 'xavp_getw' },
      ['str'],
      (ctx: RouteContext, n: string) => (xname(ctx, 'xavp_get', n) ? read(ctx, 'xavp_get', `$xavp(${n})`) : null),
      'Value of the newest rname record ($xavp(rname))',
      ['rname'],
    ),
    int('xavp_rm', ['str'], ['rname'], 'Remove every rname record ($xavp(rname) = $null)', (ctx: RouteContext, n: string) =>
      xname(ctx, 'xavp_rm', n) ? write(ctx, 'xavp_rm', `$xavp(${n})`, null) : -1,
    ),
    int('xavp_is_null', ['str'], ['rname'], '1 when there is no rname record or it holds nothing, else -1', (ctx: RouteContext, n: string) => {
      if (!xname(ctx, 'xavp_is_null', n)) return 1;
      const rec = records(ctx, n)?.[0];
      return rec && rec.size > 0 ? -1 : 1;
    }),

    // $xavp: children
    childSet('xavp_child_seti'),
    childSet('xavp_child_sets'),
    ...getterVariants<RouteContext>(
      { null: 'xavp_child_get', empty: 'xavp_child_gete', print: 'xavp_child_getw' },
      ['str', 'str'],
      (ctx: RouteContext, r: string, c: string) => (xname(ctx, 'xavp_child_get', r, c) ? read(ctx, 'xavp_child_get', `$xavp(${r}=>${c})`) : null),
      'Value of $xavp(rname=>cname)',
      ['rname', 'cname'],
    ),
    int('xavp_child_rm', ['str', 'str'], ['rname', 'cname'], 'Remove field cname of the newest rname record ($xavp(rname=>cname) = $null)', (ctx: RouteContext, r: string, c: string) =>
      xname(ctx, 'xavp_child_rm', r, c) ? write(ctx, 'xavp_child_rm', `$xavp(${r}=>${c})`, null) : -1,
    ),
    int('xavp_child_is_null', ['str', 'str'], ['rname', 'cname'], '1 when $xavp(rname=>cname) is null, else -1', (ctx: RouteContext, r: string, c: string) =>
      !xname(ctx, 'xavp_child_is_null', r, c) || read(ctx, 'xavp_child_is_null', `$xavp(${r}=>${c})`) === null ? 1 : -1,
    ),

    // $xavp: whole records
    int('xavp_params_explode', ['str', 'str'], ['sparams', 'sxname'], 'Add a new sxname record with a field per parameter of "a=1;b=2" (string values)', (ctx: RouteContext, s: string, x: string) =>
      explodeInto(ctx, 'xavp_params_explode', parseParams(s, ';'), x),
    ),
    int(
      'xavp_xparams_explode',
      ['str', 'str', 'str'],
      ['sparams', 'sep', 'sxname'],
      'Like xavp_params_explode with another separator character',
      (ctx: RouteContext, s: string, sep: string, x: string) => {
        if (sep.length !== 1 || sep === '"' || sep === '=') return err(ctx, 'xavp_xparams_explode', `bad separator ${JSON.stringify(sep)}`);
        return explodeInto(ctx, 'xavp_xparams_explode', parseParams(s, sep), x);
      },
    ),
    implode('xavp_params_implode', false),
    implode('xavp_params_implode_qval', true),
    int(
      'xavp_slist_explode',
      ['str', 'str', 'str', 'str'],
      ['slist', 'sep', 'mode', 'sxname'],
      'Split slist at any of the sep characters into field v of a new sxname record (mode "t": trim); empty tokens are skipped',
      (ctx: RouteContext, list: string, sep: string, mode: string, x: string) => {
        if (!xname(ctx, 'xavp_slist_explode', x)) return -1;
        if (sep === '') return err(ctx, 'xavp_slist_explode', 'empty separator list');
        const tokens: string[] = [];
        let cur = '';
        const push = (): void => {
          const t = mode.includes('t') ? cur.trim() : cur;
          if (t !== '') tokens.push(t);
          cur = '';
        };
        for (const c of list) {
          if (sep.includes(c)) push();
          else cur += c;
        }
        push();
        if (tokens.length === 0) return err(ctx, 'xavp_slist_explode', 'no tokens');
        pushRecord(ctx, x, new Map([['v', tokens]]));
        return 1;
      },
    ),
    int('xavp_lshift', ['str', 'int'], ['xname', 'idx'], 'Rotate the xname records so that the one at idx (modulo; negative from the end) becomes the first', (ctx: RouteContext, x: string, idx: number) => {
      if (!xname(ctx, 'xavp_lshift', x)) return -1;
      const list = records(ctx, x);
      if (!list) return -1;
      const n = list.length;
      const k = ((idx % n) + n) % n;
      if (k > 0) list.push(...list.splice(0, k));
      return 1;
    }),
    int('xavp_copy', ['str', 'int', 'str'], ['src_name', 'src_idx', 'dst_name'], 'Append a copy of record src_name[src_idx] at the end of the dst_name records', (ctx: RouteContext, s: string, si: number, d: string) => {
      if (!xname(ctx, 'xavp_copy', s, d)) return -1;
      const src = records(ctx, s);
      const p = src ? at(src, si) : -1;
      if (!src || p === -1) return err(ctx, 'xavp_copy', `no ${s} record at index ${si}`);
      const copy = copyRecord(src[p]!);
      const dst = ctx.state.xavps.get(d);
      if (dst) dst.push(copy);
      else ctx.state.xavps.set(d, [copy]);
      return 1;
    }),
    int(
      'xavp_copy_dst',
      ['str', 'int', 'str', 'int'],
      ['src_name', 'src_idx', 'dst_name', 'dst_idx'],
      'Replace record dst_name[dst_idx] with a copy of src_name[src_idx] (-1 when either is absent)',
      (ctx: RouteContext, s: string, si: number, d: string, di: number) => {
        if (!xname(ctx, 'xavp_copy_dst', s, d)) return -1;
        const src = records(ctx, s);
        const sp = src ? at(src, si) : -1;
        const dst = records(ctx, d);
        const dp = dst ? at(dst, di) : -1;
        if (!src || sp === -1 || !dst || dp === -1) return -1;
        dst[dp] = copyRecord(src[sp]!);
        return 1;
      },
    ),
    int('xavp_push_dst', ['str'], ['xname'], 'Set the R-URI, $du and the send socket from fields uri, dsturi and socket of the newest xname record', (ctx: RouteContext, x: string) => {
      const fn = 'xavp_push_dst';
      if (!xname(ctx, fn, x)) return -1;
      const req = ctx.request;
      if (!req) return err(ctx, fn, 'not a request');
      const rec = records(ctx, x)?.[0];
      if (!rec) return err(ctx, fn, `no XAVP ${x}`);
      const field = (f: string): string | undefined => {
        const v = rec.get(f)?.[0];
        return v === undefined ? undefined : String(v);
      };
      const uri = field('uri');
      const dsturi = field('dsturi');
      const socket = field('socket');
      let sockId: number | undefined;
      if (socket !== undefined) {
        sockId = socketIdOf(ctx, socket);
        if (sockId === undefined) return err(ctx, fn, `no listen socket ${JSON.stringify(socket)}`);
      }
      try {
        if (dsturi !== undefined) parseUri(dsturi);
        if (uri !== undefined) req.setRequestUri(uri);
      } catch (e) {
        return err(ctx, fn, (e as Error).message);
      }
      if (dsturi !== undefined) ctx.state.dstUri = dsturi;
      if (sockId !== undefined) ctx.state.sendSocketId = sockId;
      return 1;
    }),

    // $var ↔ $xavp
    int('pv_var_to_xavp', ['str', 'str'], ['varname', 'xname'], 'Replace the xname records with one holding $var(varname) (every $var for "*") as fields', (ctx: RouteContext, v: string, x: string) => {
      const fn = 'pv_var_to_xavp';
      if (!xname(ctx, fn, x)) return -1;
      const rec: XavpRecord = new Map();
      const vars = ctx.services.vars;
      if (v === '*') {
        for (const [n, val] of vars) if (val !== null && XAVP_NAME.test(n)) rec.set(n, [val]);
      } else {
        if (!varName(ctx, fn, v) || !xname(ctx, fn, v)) return -1;
        const val = vars.get(v);
        if (val === undefined || val === null) return err(ctx, fn, `$var(${v}) is not set`);
        rec.set(v, [val]);
      }
      ctx.state.xavps.set(x, [rec]);
      return 1;
    }),
    int('pv_xavp_to_var', ['str'], ['xname'], 'Set $var(field) to each field of the newest xname record', (ctx: RouteContext, x: string) => {
      if (!xname(ctx, 'pv_xavp_to_var', x)) return -1;
      const rec = records(ctx, x)?.[0];
      if (!rec) return err(ctx, 'pv_xavp_to_var', `no XAVP ${x}`);
      for (const [field, values] of rec) {
        if (field !== XAVP_VALUE && values.length > 0 && VAR_NAME.test(field)) ctx.services.vars.set(field, values[0]!);
      }
      return 1;
    }),
    int('pv_xavp_print', [], [], 'Log every XAVP of the message (info level)', (ctx: RouteContext) => {
      for (const [name, list] of ctx.state.xavps) {
        list.forEach((rec, i) => {
          const own = rec.get(XAVP_VALUE);
          const fields = [...rec].filter(([f]) => f !== XAVP_VALUE).map(([f, vs]) => `${f}=[${vs.map(show).join(', ')}]`);
          ctx.logger.info({ mod: 'pv' }, `XAVP ${name}[${i}]${own ? ` = ${own.map(show).join(', ')}` : ''}${fields.length ? ` {${fields.join(', ')}}` : ''}`);
        });
      }
      return 1;
    }),

    // static branch
    int('sbranch_set_ruri', [], [], 'Set the R-URI branch (R-URI, $du, path, flags, send socket) from the static branch $sbranch(...)', (ctx: RouteContext) => {
      const fn = 'sbranch_set_ruri';
      const req = ctx.request;
      if (!req) return err(ctx, fn, 'not a request');
      const sb = sbGet(ctx, fn);
      if (!sb) return -1;
      let sockId: number | undefined;
      if (sb.socket !== undefined) {
        sockId = socketIdOf(ctx, sb.socket);
        if (sockId === undefined) return err(ctx, fn, `no listen socket ${JSON.stringify(sb.socket)}`);
      }
      try {
        req.setRequestUri(sb.uri!);
      } catch (e) {
        return err(ctx, fn, (e as Error).message);
      }
      ctx.state.dstUri = sb.dstUri;
      ctx.state.ruriPath = sb.path;
      ctx.state.branchFlags[0] = sb.flags;
      if (sockId !== undefined) ctx.state.sendSocketId = sockId;
      return 1;
    }),
    int('sbranch_append', [], [], 'Append the static branch $sbranch(...) to the destination set', (ctx: RouteContext) => {
      const fn = 'sbranch_append';
      const sb = sbGet(ctx, fn);
      if (!sb) return -1;
      if (ctx.state.branches.length >= MAX_BRANCHES - 1) return err(ctx, fn, `too many branches (at most ${MAX_BRANCHES})`);
      try {
        parseUri(sb.uri!);
      } catch (e) {
        return err(ctx, fn, (e as Error).message);
      }
      let socketId: number | undefined;
      if (sb.socket !== undefined) {
        socketId = socketIdOf(ctx, sb.socket);
        if (socketId === undefined) return err(ctx, fn, `no listen socket ${JSON.stringify(sb.socket)}`);
      }
      const b: Branch = {
        uri: sb.uri!,
        q: sb.q,
        flags: sb.flags,
        ...(sb.dstUri !== undefined ? { dstUri: sb.dstUri } : {}),
        ...(sb.path !== undefined ? { path: sb.path } : {}),
        ...(socketId !== undefined ? { socketId } : {}),
        ...(sb.ruid !== undefined ? { ruid: sb.ruid } : {}),
        ...(sb.instance !== undefined ? { instance: sb.instance } : {}),
      };
      ctx.state.branches.push(b);
      return 1;
    }),
    int('sbranch_reset', [], [], 'Clear the static branch', () => {
      sbranch.current = { q: -1, flags: 0 };
      return 1;
    }),

    int('evalx', ['str', 'str'], ['dst', 'fmt'], 'Evaluate the pseudo-variables in fmt and store the text in the pseudo-variable dst', (ctx: RouteContext, dst: string, fmt: string) => {
      const v = evaluate(ctx, 'evalx', fmt);
      return v === undefined ? -1 : write(ctx, 'evalx', dst, v);
    }),
  ];
}

/** $sbranch(attr): the static branch (uri, dst_uri, path, q, send_socket, flags, ruid, instance; count read-only). */
function registerSbranch(reg: PvRegistry, sbranch: { current: StaticBranch }): void {
  reg.register(
    'sbranch',
    (spec) => {
      const attr = spec.param as SbranchAttr;
      if (!SBRANCH_ATTRS.includes(attr)) throw new PvNameError(spec.text, `unknown attribute (expected ${SBRANCH_ATTRS.join(', ')})`);
      const textAttr = { uri: 'uri', dst_uri: 'dstUri', path: 'path', send_socket: 'socket', ruid: 'ruid', instance: 'instance' } as const;
      return {
        name: spec.text,
        get() {
          const sb = sbranch.current;
          switch (attr) {
            case 'q':
              return qText(sb.q);
            case 'flags':
              return sb.flags;
            case 'count':
              return sb.uri ? 1 : 0;
            default:
              return sb[textAttr[attr]] ?? null;
          }
        },
        ...(attr === 'count'
          ? {}
          : {
              set(ctx: RouteContext, v: PvValue): boolean {
                const sb = sbranch.current;
                const bad = (why: string): boolean => {
                  ctx.logger.error({ mod: 'pv' }, `${spec.text}: ${why}`);
                  return false;
                };
                if (attr === 'q') {
                  const q = parseQ(v);
                  if (q === undefined) return bad(`bad q value ${JSON.stringify(v)}`);
                  sb.q = q;
                  return true;
                }
                if (attr === 'flags') {
                  if (v === null) sb.flags = 0;
                  else if (typeof v === 'number' && Number.isInteger(v) && v >= 0 && v <= 0xffffffff) sb.flags = v;
                  else if (typeof v === 'string' && /^\d{1,10}$/.test(v) && Number(v) <= 0xffffffff) sb.flags = Number(v);
                  else return bad(`bad flags ${JSON.stringify(v)}`);
                  return true;
                }
                const key = textAttr[attr];
                if (v === null || v === '') delete sb[key];
                else sb[key] = String(v);
                return true;
              },
            }),
      };
    },
    { param: 'required', replace: true },
  );
}

export const pvModule = defineModule({
  name: 'pv',
  kemiName: 'pvx',
  params: {
    shvset: { type: 'str', multi: true, check: checkVarSet },
    varset: { type: 'str', multi: true, check: checkVarSet },
  },
  create(ctx: ModuleContext) {
    for (const v of ctx.params.all('shvset')) {
      const { name, value } = parseVarSet(String(v));
      ctx.shv.set(name, value);
    }
    for (const v of ctx.params.all('varset')) {
      const { name, value } = parseVarSet(String(v));
      ctx.vars.set(name, value);
    }
    const sbranch = { current: { q: -1, flags: 0 } as StaticBranch };
    registerSbranch(ctx.pv, sbranch);
    const shvNames = new Set<string>(ctx.params.all('shvset').map((v) => parseVarSet(String(v)).name));
    const api: PvModuleApi = {
      shvGet: (name) => ctx.shv.get(name) ?? null,
      shvList() {
        const out: Array<{ name: string; value: ScriptValue }> = [];
        for (const name of shvNames) {
          const value = ctx.shv.get(name);
          if (value !== undefined && value !== null) out.push({ name, value });
        }
        return out;
      },
      shvSet(name, value) {
        if (!VAR_NAME.test(name)) return false;
        ctx.shv.set(name, value);
        shvNames.add(name);
        return true;
      },
    };
    return { exports: buildExports(ctx.pv, sbranch), api };
  },
});
