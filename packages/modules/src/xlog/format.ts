/**
 * xlog formats: text with pseudo-variables (`time $Tf r-uri $ru via $(hdr(Via)[0])`), compiled
 * once per distinct format into literal pieces and PV accessors of the core registry, and kept in
 * a bounded LRU so scripts that log with a fixed format pay the parse once.
 *
 * `$$` is a literal `$`; a `$` that cannot start a pseudo-variable name (a digit, a space, the end
 * of the text) is kept as written. A name that looks like a pseudo-variable but is not a valid
 * one (an unknown class, a bad parameter) makes the whole format invalid, as in Kamailio.
 */
import { PvNameError, parsePvAt, printValue, type PvAccessor, type PvRegistry, type RouteContext } from '@ksr/core';

export type FormatPart = string | PvAccessor;

export interface CompiledFormat {
  readonly parts: readonly FormatPart[];
  /** True when the format has no pseudo-variables (rendering is the text itself). */
  readonly literal: boolean;
}

function canStartPv(c: number): boolean {
  // a name starts with a letter or '_'; '(' opens the $(name...) form
  return (c >= 65 && c <= 90) || (c >= 97 && c <= 122) || c === 95 || c === 40;
}

/** Compile a format (uncached). A PvNameError names the first invalid pseudo-variable. */
export function compileFormat(fmt: string, pv: PvRegistry): CompiledFormat | PvNameError {
  const parts: FormatPart[] = [];
  let lit = '';
  let i = 0;
  while (i < fmt.length) {
    const d = fmt.indexOf('$', i);
    if (d === -1) {
      lit += fmt.slice(i);
      break;
    }
    lit += fmt.slice(i, d);
    const next = fmt.charCodeAt(d + 1);
    if (next === 36) {
      lit += '$';
      i = d + 2;
      continue;
    }
    if (!canStartPv(next)) {
      lit += '$';
      i = d + 1;
      continue;
    }
    let end: number;
    try {
      end = parsePvAt(fmt, d).end;
    } catch (e) {
      if (e instanceof PvNameError) return new PvNameError(fmt, e.reason);
      throw e;
    }
    const acc = pv.lookup(fmt.slice(d, end));
    if (acc instanceof PvNameError) return acc;
    if (lit) parts.push(lit);
    lit = '';
    parts.push(acc);
    i = end;
  }
  if (lit) parts.push(lit);
  return { parts, literal: parts.every((p) => typeof p === 'string') };
}

export function renderFormat(f: CompiledFormat, ctx: RouteContext): string {
  let out = '';
  for (const p of f.parts) out += typeof p === 'string' ? p : printValue(p.get(ctx));
  return out;
}

/** compileFormat behind an LRU of `limit` formats (invalid formats are cached too). */
export class FormatCache {
  private readonly map = new Map<string, CompiledFormat | PvNameError>();

  constructor(
    private readonly pv: PvRegistry,
    readonly limit = 512,
  ) {}

  get(fmt: string): CompiledFormat | PvNameError {
    // without '$' there is nothing to compile (and nothing worth a cache slot)
    if (!fmt.includes('$')) return { parts: fmt ? [fmt] : [], literal: true };
    const hit = this.map.get(fmt);
    if (hit !== undefined) {
      this.map.delete(fmt);
      this.map.set(fmt, hit);
      return hit;
    }
    const c = compileFormat(fmt, this.pv);
    if (this.map.size >= this.limit) {
      const oldest = this.map.keys().next();
      if (!oldest.done) this.map.delete(oldest.value);
    }
    this.map.set(fmt, c);
    return c;
  }

  get size(): number {
    return this.map.size;
  }
}
