/**
 * Regular expressions for textops/textopsx: a bounded cache of compiled JavaScript RegExps and
 * the sed-like substitution expressions of subst()/subst_*() ('/re/repl/flags').
 *
 * The dialect (documented in README.md):
 *  - Patterns are JavaScript regular expressions (not POSIX ERE) without the `u` flag. Kamailio
 *    compiles search/replace patterns with REG_ICASE|REG_NEWLINE; the twin here is the `i` and `m`
 *    flags: case-insensitive, `^`/`$` at every line start/end, `.` never matches CR or LF.
 *  - Message text is matched byte by byte: the bytes are decoded as latin1, so one character is
 *    one byte (like Kamailio's C regex in the C locale). Non-ASCII UTF-8 is seen as its bytes.
 *    Replacement text is written as UTF-8.
 *  - Scripts own their patterns. JavaScript has no regex timeout: a catastrophic pattern
 *    (`(a+)+$`) blocks the worker for as long as it runs. Patterns are compiled once and cached
 *    (LRU, bounded); invalid ones fail with an error log and -1, never an exception.
 */
import { parsePvAt, type PvAccessor, type PvRegistry, PvNameError, type RouteContext } from '@ksr/core';

/** Longest pattern / substitution expression accepted. */
export const MAX_PATTERN_LENGTH = 8192;

/** A bounded LRU of compiled patterns; a failed compilation is cached as its error message. */
export class LruCache<V> {
  private readonly map = new Map<string, V>();
  constructor(readonly limit: number) {}

  get(key: string): V | undefined {
    const v = this.map.get(key);
    if (v !== undefined) {
      this.map.delete(key);
      this.map.set(key, v);
    }
    return v;
  }

  set(key: string, value: V): void {
    if (this.map.has(key)) this.map.delete(key);
    else if (this.map.size >= this.limit) {
      const oldest = this.map.keys().next().value;
      if (oldest !== undefined) this.map.delete(oldest);
    }
    this.map.set(key, value);
  }

  get size(): number {
    return this.map.size;
  }
}

/** Compiled patterns (always with the `g` flag: callers reset lastIndex). Errors are strings. */
export class RegexCache {
  private readonly cache: LruCache<RegExp | string>;
  constructor(limit = 512) {
    this.cache = new LruCache(limit);
  }

  get size(): number {
    return this.cache.size;
  }

  /** The compiled pattern, or a description of why it is invalid. */
  compile(pattern: string, flags: string): RegExp | string {
    const key = `${flags}\0${pattern}`;
    const hit = this.cache.get(key);
    if (hit !== undefined) return hit;
    let out: RegExp | string;
    if (pattern.length > MAX_PATTERN_LENGTH) out = `pattern longer than ${MAX_PATTERN_LENGTH} characters`;
    else {
      try {
        out = new RegExp(pattern, flags.includes('g') ? flags : `${flags}g`);
      } catch (err) {
        out = err instanceof Error ? err.message : String(err);
      }
    }
    this.cache.set(key, out);
    return out;
  }
}

/** One match: offsets into the searched text, and the groups (undefined when not taking part). */
export interface Match {
  start: number;
  end: number;
  groups: Array<string | undefined>;
}

/** Matches of `re` in `text`: the first only, or all (an empty match moves on by one). */
export function findMatches(re: RegExp, text: string, all: boolean): Match[] {
  const out: Match[] = [];
  re.lastIndex = 0;
  for (;;) {
    const m = re.exec(text);
    if (!m) break;
    out.push({ start: m.index, end: m.index + m[0].length, groups: Array.from(m) });
    if (!all) break;
    if (m[0].length === 0) re.lastIndex = m.index + 1;
    if (re.lastIndex > text.length) break;
  }
  re.lastIndex = 0;
  return out;
}

/** Test without collecting. */
export function testRegex(re: RegExp, text: string): boolean {
  re.lastIndex = 0;
  const ok = re.test(text);
  re.lastIndex = 0;
  return ok;
}

// ------------------------------------------------------------------------------ substitutions

/** A piece of a replacement. */
export type ReplPart =
  | { kind: 'text'; bytes: Buffer }
  | { kind: 'group'; n: number }
  | { kind: 'pv'; pv: PvAccessor }
  | { kind: 'ruri' };

export interface SubstExpr {
  readonly re: RegExp;
  readonly repl: readonly ReplPart[];
  readonly global: boolean;
}

const FLAG_CHARS = new Set(['i', 'g', 's']);

function groupCount(source: string, flags: string): number {
  return (new RegExp(`${source}|`, flags.replace('g', '')).exec('')?.length ?? 1) - 1;
}

/**
 * Parse `/re/repl/flags`. The first character is the delimiter (any character but a letter, a
 * digit, a backslash or a blank); a delimiter inside re or repl is written `\<delim>`. Flags: `i`
 * ignore case, `g` every match, `s` `.` matches CR/LF too and `^`/`$` mean the start/end of the
 * text (without `s`: line by line, Kamailio's REG_NEWLINE). In repl: `\0`…`\9` the whole match
 * and groups, `\\` a backslash, `\n` `\r` `\t`, `\u` the Request-URI, `\$` a dollar sign, and
 * pseudo-variables (`$rU`, `$(hdr(X)[1])`, `$var(x)`) evaluated when the substitution runs.
 * Returns the expression or a description of the problem.
 */
export function parseSubst(expr: string, pv: PvRegistry | undefined, cache: RegexCache): SubstExpr | string {
  if (expr.length > MAX_PATTERN_LENGTH) return `expression longer than ${MAX_PATTERN_LENGTH} characters`;
  if (expr.length < 3) return 'expression too short (expected /re/repl/flags)';
  const delim = expr[0]!;
  if (/[A-Za-z0-9\\\s]/.test(delim)) return `invalid delimiter ${JSON.stringify(delim)}`;
  // split on unescaped delimiters
  const parts: string[] = [];
  let cur = '';
  let i = 1;
  for (; i < expr.length; i++) {
    const c = expr[i]!;
    if (c === '\\' && i + 1 < expr.length) {
      cur += c + expr[i + 1]!;
      i++;
      continue;
    }
    if (c === delim) {
      parts.push(cur);
      cur = '';
      if (parts.length === 2) {
        i++;
        break;
      }
      continue;
    }
    cur += c;
  }
  if (parts.length < 2) return `missing delimiter ${JSON.stringify(delim)} (expected ${delim}re${delim}repl${delim}flags)`;
  const flagText = expr.slice(i);
  for (const f of flagText) if (!FLAG_CHARS.has(f)) return `unknown flag ${JSON.stringify(f)} (i, g, s)`;
  const [reText, replText] = parts as [string, string];
  if (reText.length === 0) return 'empty regular expression';
  const flags = `${flagText.includes('i') ? 'i' : ''}${flagText.includes('s') ? 's' : 'm'}`;
  const re = cache.compile(reText, flags);
  if (typeof re === 'string') return `invalid regular expression ${JSON.stringify(reText)}: ${re}`;
  const ngroups = groupCount(reText, flags);
  const repl = parseReplacement(replText, delim, ngroups, pv);
  if (typeof repl === 'string') return repl;
  return { re, repl, global: flagText.includes('g') };
}

function parseReplacement(text: string, delim: string, ngroups: number, pv: PvRegistry | undefined): ReplPart[] | string {
  const out: ReplPart[] = [];
  let lit = '';
  const flush = (): void => {
    if (lit.length > 0) out.push({ kind: 'text', bytes: Buffer.from(lit, 'utf8') });
    lit = '';
  };
  for (let i = 0; i < text.length; i++) {
    const c = text[i]!;
    if (c === '\\') {
      const n = text[i + 1];
      i++;
      if (n === undefined) return 'replacement ends with a backslash';
      if (n >= '0' && n <= '9') {
        const g = n.charCodeAt(0) - 48;
        if (g > ngroups) return `\\${g} refers to a group the regular expression does not have (${ngroups})`;
        flush();
        out.push({ kind: 'group', n: g });
      } else if (n === '\\') lit += '\\';
      else if (n === 'n') lit += '\n';
      else if (n === 'r') lit += '\r';
      else if (n === 't') lit += '\t';
      else if (n === '$') lit += '$';
      else if (n === delim) lit += delim;
      else if (n === 'u') {
        flush();
        out.push({ kind: 'ruri' });
      } else return `unknown escape \\${n} in the replacement`;
      continue;
    }
    if (c === '$') {
      const next = text[i + 1];
      if (next === undefined || !/[A-Za-z_(]/.test(next)) {
        lit += '$';
        continue;
      }
      if (!pv) return 'pseudo-variables are not available here';
      let end: number;
      try {
        end = parsePvAt(text, i).end;
      } catch (err) {
        return err instanceof Error ? err.message : String(err);
      }
      const name = text.slice(i, end);
      const acc = pv.lookup(name);
      if (acc instanceof PvNameError) return acc.message;
      flush();
      out.push({ kind: 'pv', pv: acc });
      i = end - 1;
      continue;
    }
    lit += c;
  }
  flush();
  return out;
}

/** The Request-URI as it is now (for `\u`). */
function ruriText(ctx: RouteContext): string {
  const req = ctx.request;
  return req ? (req.newRequestUri ?? req.uri) : '';
}

/** The bytes that replace one match. `text` is the latin1 text the match was found in. */
export function renderReplacement(ctx: RouteContext, repl: readonly ReplPart[], m: Match): Buffer {
  const out: Buffer[] = [];
  for (const p of repl) {
    switch (p.kind) {
      case 'text':
        out.push(p.bytes);
        break;
      case 'group': {
        const g = m.groups[p.n];
        if (g) out.push(Buffer.from(g, 'latin1'));
        break;
      }
      case 'pv': {
        const v = p.pv.get(ctx);
        if (v !== null) out.push(Buffer.from(String(v), 'utf8'));
        break;
      }
      case 'ruri':
        out.push(Buffer.from(ruriText(ctx), 'utf8'));
        break;
    }
  }
  return out.length === 1 ? out[0]! : Buffer.concat(out);
}

/** An edit of a text: replace [start, end) (offsets in the latin1 text) with bytes. */
export interface TextEdit {
  start: number;
  end: number;
  data: Buffer;
}

/** The edits a substitution makes in `text` (latin1). Empty when nothing matched. */
export function substEdits(ctx: RouteContext, se: SubstExpr, text: string): TextEdit[] {
  return findMatches(se.re, text, se.global).map((m) => ({ start: m.start, end: m.end, data: renderReplacement(ctx, se.repl, m) }));
}

/** Apply sorted, non-overlapping edits to a latin1 text; the result as bytes. */
export function applyEdits(text: string, edits: readonly TextEdit[]): Buffer {
  const out: Buffer[] = [];
  let pos = 0;
  for (const e of edits) {
    if (e.start > pos) out.push(Buffer.from(text.slice(pos, e.start), 'latin1'));
    out.push(e.data);
    pos = e.end;
  }
  if (pos < text.length) out.push(Buffer.from(text.slice(pos), 'latin1'));
  return Buffer.concat(out);
}

/** Run a substitution on a script string (UTF-8 bytes in, UTF-8 string out); undefined when nothing matched. */
export function substString(ctx: RouteContext, se: SubstExpr, s: string): string | undefined {
  const text = Buffer.from(s, 'utf8').toString('latin1');
  const edits = substEdits(ctx, se, text);
  if (edits.length === 0) return undefined;
  return applyEdits(text, edits).toString('utf8');
}

/** A script string as the latin1 text patterns see (its UTF-8 bytes). */
export function bytesText(s: string): string {
  return Buffer.from(s, 'utf8').toString('latin1');
}
