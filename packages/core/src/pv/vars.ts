/**
 * Variable classes: $var / $vz / $vn (per worker), $shv (shared), $avp and $xavp (per message,
 * in MessageState), and $cnt(...) which counts $avp / $xavp values.
 *
 * Semantics follow Kamailio's pseudo-variables cookbook:
 *  - $var(x): never null. Unset reads 0; `= $null` stores 0. Persists in the worker across messages.
 *    $vz(x) is the same variable ($vz is Kamailio's alias); $vn(x) is a separate per-worker
 *    variable that can hold null (unset reads null).
 *  - $shv(x): shared by all workers; unset reads 0; `= $null` stores 0.
 *  - $avp(x) / $avp(s:x): a stack, newest first. `= v` pushes; `= $null` removes the newest value.
 *    $(avp(x)[n]) reads the n-th value (negative from the oldest end); `$(avp(x)[n]) = $null`
 *    removes it and `= v` replaces it (false when absent). $(avp(x)[*]) reads all values joined
 *    with ','; `= $null` removes all; `= v` replaces all with v. `$avp(i:5)` is the integer-named
 *    AVP 5 (a separate name from the string "5").
 *  - $xavp(root=>field): a stack of records (newest first), each a map of field → values
 *    (newest first). Reading: `$xavp(a)` / `$xavp(a[i])` is the record's own value,
 *    `$xavp(a=>b)` / `$xavp(a[i]=>b[j])` a field value; the indexes default to 0.
 *    Writing without a root index creates a new record on top ($xavp(a=>b) = v pushes a record
 *    {b: v}); with a root index it changes that record: `$xavp(a[0]=>b) = v` adds v as the
 *    newest value of field b, `$xavp(a[0]=>b[j]) = v` replaces value j. `= $null` removes:
 *    `$xavp(a)` / `$xavp(a[*])` all records, `$xavp(a[i])` record i, `$xavp(a=>b)` field b of the
 *    newest record, `$xavp(a[*]=>b)` field b of every record, `$xavp(a[i]=>b[j])` value j.
 *    A record's own value ($xavp(a) = v) is kept under the field name "" (XAVP_VALUE).
 */
import type { RouteContext, ScriptValue, WorkerVars, XavpRecord } from '../routing/context.js';
import type { PvRegistry } from './registry.js';
import { PvNameError, type PvAccessor, type PvIndex, type PvSpec, type PvValue } from './types.js';
import { pick, position, pvError, resolveIndex } from './util.js';

/** The field name under which an XAVP record keeps its own value (`$xavp(a) = v`). */
export const XAVP_VALUE = '';

const VAR_NAME = /^[^\s$()[\]{}]+$/;

function checkName(spec: PvSpec, what: string): string {
  const p = spec.param ?? '';
  if (!VAR_NAME.test(p)) {
    throw new PvNameError(spec.text, p.includes('$') ? `dynamic ${what} names are not supported` : `bad ${what} name ${JSON.stringify(p)}`);
  }
  return p;
}

// ------------------------------------------------------------------ $var, $vz, $vn

const vnStores = new WeakMap<WorkerVars, Map<string, ScriptValue>>();

function vnStore(ctx: RouteContext): Map<string, ScriptValue> {
  let m = vnStores.get(ctx.services.vars);
  if (!m) {
    m = new Map();
    vnStores.set(ctx.services.vars, m);
  }
  return m;
}

function varClass(spec: PvSpec): PvAccessor {
  const name = checkName(spec, 'variable');
  return {
    name: spec.text,
    get: (ctx) => ctx.services.vars.get(name) ?? 0,
    set: (ctx, v) => {
      ctx.services.vars.set(name, v ?? 0);
      return true;
    },
  };
}

function vnClass(spec: PvSpec): PvAccessor {
  const name = checkName(spec, 'variable');
  return {
    name: spec.text,
    get: (ctx) => vnStore(ctx).get(name) ?? null,
    set: (ctx, v) => {
      if (v === null) vnStore(ctx).delete(name);
      else vnStore(ctx).set(name, v);
      return true;
    },
  };
}

function shvClass(spec: PvSpec): PvAccessor {
  const name = checkName(spec, 'shared variable');
  return {
    name: spec.text,
    get: (ctx) => ctx.services.shv.get(name) ?? 0,
    set: (ctx, v) => {
      ctx.services.shv.set(name, v ?? 0);
      return true;
    },
  };
}

// ------------------------------------------------------------------ $avp

function avpKey(spec: PvSpec): string {
  const raw = checkName(spec, 'AVP');
  if (raw.startsWith('s:')) {
    const n = raw.slice(2);
    if (n.length === 0) throw new PvNameError(spec.text, 'empty AVP name');
    return n;
  }
  if (raw.startsWith('i:')) {
    if (!/^i:\d+$/.test(raw)) throw new PvNameError(spec.text, `bad integer AVP id ${JSON.stringify(raw.slice(2))}`);
    return `i:${Number(raw.slice(2))}`;
  }
  return raw;
}

function avpClass(spec: PvSpec): PvAccessor {
  const key = avpKey(spec);
  const index = spec.index;
  const text = spec.text;
  return {
    name: text,
    get(ctx) {
      const list = ctx.state.avps.get(key);
      if (!list || list.length === 0) return null;
      if (!index) return list[0] ?? null;
      const i = resolveIndex(ctx, text, index);
      if (i === undefined) return null;
      if (i === 'all') return list.join(',');
      return pick(list, i) ?? null;
    },
    set(ctx, v) {
      const avps = ctx.state.avps;
      const list = avps.get(key);
      const i = index ? resolveIndex(ctx, text, index) : 0;
      if (i === undefined) return false;
      if (i === 'all') {
        if (v === null) avps.delete(key);
        else avps.set(key, [v]);
        return true;
      }
      if (!index) {
        if (v === null) {
          if (list && list.length > 0) list.shift();
          if (list && list.length === 0) avps.delete(key);
        } else if (list) list.unshift(v);
        else avps.set(key, [v]);
        return true;
      }
      const p = list ? position(list.length, i) : -1;
      if (!list || p === -1) {
        if (v === null) return true; // nothing to remove
        pvError(ctx, text, `no value at index ${i}`);
        return false;
      }
      if (v === null) {
        list.splice(p, 1);
        if (list.length === 0) avps.delete(key);
      } else list[p] = v;
      return true;
    },
    count(ctx) {
      return ctx.state.avps.get(key)?.length ?? 0;
    },
  };
}

// ------------------------------------------------------------------ $xavp

interface XavpPart {
  name: string;
  index: PvIndex | undefined;
}

const XAVP_NAME = /^[A-Za-z0-9_.\-:]+$/;

function parseXavpPart(reg: PvRegistry, spec: PvSpec, s: string): XavpPart {
  const b = s.indexOf('[');
  const name = b === -1 ? s : s.slice(0, b);
  if (!XAVP_NAME.test(name)) {
    throw new PvNameError(spec.text, s.includes('$') ? 'dynamic XAVP names are not supported' : `bad XAVP name ${JSON.stringify(name)}`);
  }
  if (b === -1) return { name, index: undefined };
  if (!s.endsWith(']')) throw new PvNameError(spec.text, `bad XAVP index in ${JSON.stringify(s)}`);
  return { name, index: reg.parseIndex(spec.text, s.slice(b + 1, -1)) };
}

function xavpClass(reg: PvRegistry, spec: PvSpec): PvAccessor {
  const param = spec.param ?? '';
  const arrow = param.indexOf('=>');
  const root = parseXavpPart(reg, spec, arrow === -1 ? param : param.slice(0, arrow));
  const field = arrow === -1 ? undefined : parseXavpPart(reg, spec, param.slice(arrow + 2));
  const fieldName = field ? field.name : XAVP_VALUE;
  const text = spec.text;

  const idx = (ctx: RouteContext, i: PvIndex | undefined): number | 'all' | undefined => (i ? resolveIndex(ctx, text, i) : undefined);

  return {
    name: text,
    get(ctx) {
      const records = ctx.state.xavps.get(root.name);
      if (!records || records.length === 0) return null;
      const ri = idx(ctx, root.index) ?? 0;
      const fi = idx(ctx, field?.index) ?? 0;
      if (ri === 'all' || fi === 'all') {
        pvError(ctx, text, '[*] cannot be read');
        return null;
      }
      const rec = pick(records, ri);
      const values = rec?.get(fieldName);
      return values ? (pick(values, fi) ?? null) : null;
    },
    set(ctx, v) {
      const xavps = ctx.state.xavps;
      const records = xavps.get(root.name);
      let ri = root.index ? idx(ctx, root.index) : undefined;
      const fi = field?.index ? idx(ctx, field.index) : undefined;
      if ((root.index && ri === undefined) || (field?.index && fi === undefined)) return false;
      // removing a field without a record index works on the newest record
      if (ri === undefined && field && v === null) ri = 0;
      // no record index: push a new record, or ($null) remove them all
      if (ri === undefined || ri === 'all') {
        if (v === null) {
          if (!field) xavps.delete(root.name);
          else if (records) {
            for (const r of records) r.delete(fieldName);
          }
          return true;
        }
        if (ri === 'all') {
          pvError(ctx, text, '[*] can only be assigned $null');
          return false;
        }
        if (fi !== undefined) {
          pvError(ctx, text, 'a field index needs a record index');
          return false;
        }
        const rec: XavpRecord = new Map([[fieldName, [v]]]);
        if (records) records.unshift(rec);
        else xavps.set(root.name, [rec]);
        return true;
      }
      const rp = records ? position(records.length, ri) : -1;
      if (!records || rp === -1) {
        if (v === null) return true;
        pvError(ctx, text, `no ${root.name} record at index ${ri}`);
        return false;
      }
      if (!field && v === null) {
        records.splice(rp, 1);
        if (records.length === 0) xavps.delete(root.name);
        return true;
      }
      const rec = records[rp]!;
      const values = rec.get(fieldName);
      if (fi === undefined || fi === 'all') {
        if (v === null) rec.delete(fieldName);
        else if (fi === 'all') {
          pvError(ctx, text, '[*] can only be assigned $null');
          return false;
        } else if (!field) rec.set(fieldName, [v]); // the record's own value is replaced
        else if (values) values.unshift(v);
        else rec.set(fieldName, [v]);
        return true;
      }
      const fp = values ? position(values.length, fi) : -1;
      if (!values || fp === -1) {
        if (v === null) return true;
        pvError(ctx, text, `no ${fieldName} value at index ${fi}`);
        return false;
      }
      if (v === null) {
        values.splice(fp, 1);
        if (values.length === 0) rec.delete(fieldName);
      } else values[fp] = v;
      return true;
    },
    count(ctx) {
      const records = ctx.state.xavps.get(root.name) ?? [];
      const ri = root.index ? resolveIndex(ctx, text, root.index) : 'all';
      if (ri === undefined) return 0;
      const chosen = ri === 'all' ? records : position(records.length, ri) === -1 ? [] : [pick(records, ri)!];
      if (!field) return chosen.length;
      const fi = field.index ? resolveIndex(ctx, text, field.index) : 'all';
      if (fi === undefined) return 0;
      let n = 0;
      for (const r of chosen) {
        const values = r.get(fieldName) ?? [];
        n += fi === 'all' ? values.length : position(values.length, fi) === -1 ? 0 : 1;
      }
      return n;
    },
  };
}

// ------------------------------------------------------------------ $cnt

function cntClass(spec: PvSpec, compile: (name: string) => PvAccessor): PvAccessor {
  const param = spec.param ?? '';
  if (!param.startsWith('$')) throw new PvNameError(spec.text, '$cnt needs a pseudo-variable: $cnt($avp(x))');
  let inner: PvAccessor;
  try {
    inner = compile(param);
  } catch (e) {
    if (e instanceof PvNameError) throw new PvNameError(spec.text, e.reason);
    throw e;
  }
  const count = inner.count;
  if (!count) throw new PvNameError(spec.text, `$cnt cannot count ${param} (only $avp and $xavp)`);
  return { name: spec.text, get: (ctx) => count.call(inner, ctx) };
}

/** Register the variable classes. */
export function registerVarPvs(reg: PvRegistry): void {
  reg.register('var', varClass, { param: 'required' });
  reg.register('vz', varClass, { param: 'required' });
  reg.register('vn', vnClass, { param: 'required' });
  reg.register('shv', shvClass, { param: 'required' });
  reg.register('avp', avpClass, { param: 'required', index: true });
  reg.register('xavp', (spec) => xavpClass(reg, spec), { param: 'required' });
  reg.register('cnt', cntClass, { param: 'required' });
}

/** For tests and modules: a value as Kamailio would print it in a $_s() format (null → "<null>"). */
export function printValue(v: PvValue): string {
  return v === null ? '<null>' : String(v);
}
