/**
 * Header values and parameters for the *_hf_value functions of textopsx.
 *
 * A header field may hold a comma-separated list of values (commas inside quotes and <> do not
 * count); a value may carry `;name=value` parameters. `HFNAME[IDX].PARAM` addresses them: IDX
 * counts the values of every field of that name in order, 1 the first, -1 the last, `*` all;
 * PARAM is a parameter name.
 */
import { sip } from '@ksr/core';
import type { HeaderLine } from '../textops/hdrlist.js';

export interface HfExp {
  name: string;
  /** undefined: not given; 'all': `*`; else 1-based (negative from the end). */
  idx: number | 'all' | undefined;
  param: string | undefined;
}

const TOKEN = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;

/** Parse `NAME[IDX].PARAM`; a string describes the problem. */
export function parseHfExp(text: string): HfExp | string {
  const m = /^\s*([^\s[.]+)\s*(?:\[\s*([^\]]*?)\s*\])?\s*(?:\.\s*([^\s]+))?\s*$/.exec(text);
  if (!m) return `invalid header expression ${JSON.stringify(text)} (NAME[IDX].PARAM)`;
  const name = m[1]!;
  if (!TOKEN.test(name)) return `invalid header name ${JSON.stringify(name)}`;
  let idx: HfExp['idx'];
  if (m[2] !== undefined) {
    if (m[2] === '*') idx = 'all';
    else if (/^[+-]?\d{1,6}$/.test(m[2]) && Number(m[2]) !== 0) idx = Number(m[2]);
    else return `invalid index [${m[2]}] (1 the first, -1 the last, * all)`;
  }
  const param = m[3];
  if (param !== undefined && !TOKEN.test(param)) return `invalid parameter name ${JSON.stringify(param)}`;
  return { name, idx, param };
}

/** A value's main part and its parameters (names as written). */
export interface Value {
  main: string;
  params: Array<[string, string | null]>;
}

/** Split at `;` outside quotes and <>. */
function splitSemis(s: string): string[] {
  const out: string[] = [];
  let depth = 0;
  let q = false;
  let start = 0;
  for (let i = 0; i < s.length; i++) {
    const c = s[i];
    if (q) {
      if (c === '\\') i++;
      else if (c === '"') q = false;
    } else if (c === '"') q = true;
    else if (c === '<') depth++;
    else if (c === '>') depth = Math.max(0, depth - 1);
    else if (c === ';' && depth === 0) {
      out.push(s.slice(start, i));
      start = i + 1;
    }
  }
  out.push(s.slice(start));
  return out;
}

export function parseValue(v: string): Value {
  const [main, ...rest] = splitSemis(v);
  return {
    main: main!.trim(),
    params: rest
      .map((p) => p.trim())
      .filter((p) => p.length > 0)
      .map((p): [string, string | null] => {
        const eq = p.indexOf('=');
        return eq === -1 ? [p, null] : [p.slice(0, eq).trim(), p.slice(eq + 1).trim()];
      }),
  };
}

export function renderValue(v: Value): string {
  return [v.main, ...v.params.map(([k, x]) => (x === null ? k : `${k}=${x}`))].join(';');
}

/** The header list with each field's values split. */
export interface Fields {
  lines: HeaderLine[];
  /** Per field: its values (only for fields of the addressed name). */
  values: Map<number, string[]>;
  /** [field index, value index] of every value of the name, in order. */
  refs: Array<[number, number]>;
}

export function fieldsOf(lines: HeaderLine[], name: string): Fields {
  const key = sip.canonicalHeaderName(name);
  const values = new Map<number, string[]>();
  const refs: Array<[number, number]> = [];
  lines.forEach((l, i) => {
    if (sip.canonicalHeaderName(l.name) !== key) return;
    const vs = sip.splitTopLevel(l.value).filter((v) => v.length > 0);
    values.set(i, vs);
    vs.forEach((_, j) => refs.push([i, j]));
  });
  return { lines, values, refs };
}

/** The values addressed by an index (undefined idx = the first). */
export function pick(f: Fields, idx: HfExp['idx']): Array<[number, number]> {
  if (idx === 'all') return [...f.refs];
  const i = idx === undefined ? 0 : idx > 0 ? idx - 1 : f.refs.length + idx;
  const r = f.refs[i];
  return r ? [r] : [];
}

/** The header lines after value edits: fields whose values all went are removed. */
export function rebuild(f: Fields): HeaderLine[] {
  const out: HeaderLine[] = [];
  f.lines.forEach((l, i) => {
    const vs = f.values.get(i);
    if (!vs) out.push(l);
    else if (vs.length > 0) out.push({ name: l.name, value: vs.join(', ') });
  });
  return out;
}

/** Case-insensitive comparison of two values' main parts. */
export function sameValue(a: string, b: string): boolean {
  return a.trim().toLowerCase() === b.trim().toLowerCase();
}

// --------------------------------------------------------------------------- shell patterns

/**
 * fnmatch(3)-style pattern → RegExp: `*` any run, `?` one character, `[...]` a class (`!` or `^`
 * negates, ranges allowed), `\x` the character x. Not FNM_PATHNAME: `*` also matches `/`.
 */
export function globToRegExp(glob: string, ignoreCase: boolean): RegExp {
  let re = '';
  for (let i = 0; i < glob.length; i++) {
    const c = glob[i]!;
    if (c === '*') re += '[\\s\\S]*';
    else if (c === '?') re += '[\\s\\S]';
    else if (c === '\\' && i + 1 < glob.length) re += escapeRe(glob[++i]!);
    else if (c === '[') {
      let j = i + 1;
      let neg = false;
      if (glob[j] === '!' || glob[j] === '^') {
        neg = true;
        j++;
      }
      let body = '';
      if (glob[j] === ']') {
        body += '\\]';
        j++;
      }
      while (j < glob.length && glob[j] !== ']') {
        const d = glob[j]!;
        if (d === '\\' && j + 1 < glob.length) {
          body += escapeClass(glob[j + 1]!);
          j += 2;
        } else if (d === '-' && body.length > 0 && j + 1 < glob.length && glob[j + 1] !== ']') {
          body += '-';
          j++;
        } else {
          body += escapeClass(d);
          j++;
        }
      }
      if (j >= glob.length) re += '\\['; // no closing bracket: a literal '['
      else {
        re += `[${neg ? '^' : ''}${body}]`;
        i = j;
      }
    } else re += escapeRe(c);
  }
  return new RegExp(`^${re}$`, ignoreCase ? 'i' : '');
}

function escapeRe(c: string): string {
  return /[\\^$.*+?()[\]{}|/]/.test(c) ? `\\${c}` : c;
}

function escapeClass(c: string): string {
  return /[\\\]^-]/.test(c) ? `\\${c}` : c;
}
