/**
 * `#!subst "/regex/replacement/flags"` expressions.
 *
 * The first character is the separator (any character but a backslash); an
 * escaped separator (`\/`) does not end a part. The regular expression is a
 * POSIX extended one in Kamailio; JavaScript regular expressions accept the
 * common subset, and POSIX bracket classes such as `[[:digit:]]` are
 * translated. In the replacement `\0`..`\9` insert the whole match / a group
 * and `\\` a backslash. Flags: `g` (all matches), `i` (ignore case),
 * `s` (treat newlines as line boundaries).
 */

export interface SubstRule {
  /** The expression as written (decoded string value). */
  expr: string;
  /** Regular-expression part, raw (what `#!substdef` uses as the define name). */
  pattern: string;
  /** Replacement part, raw (what `#!substdef` uses as the define value). */
  replacement: string;
  regex: RegExp;
  global: boolean;
  parts: Array<string | number>;
  groups: number;
}

const POSIX_CLASSES: Record<string, string> = {
  alpha: 'A-Za-z',
  digit: '0-9',
  alnum: 'A-Za-z0-9',
  upper: 'A-Z',
  lower: 'a-z',
  space: ' \\t\\r\\n\\v\\f',
  blank: ' \\t',
  xdigit: '0-9A-Fa-f',
  punct: '!-\\/:-@\\[-`{-~',
  cntrl: '\\x00-\\x1f\\x7f',
  print: '\\x20-\\x7e',
  graph: '\\x21-\\x7e',
  word: 'A-Za-z0-9_',
};

const REGEX_META = new Set(['.', '*', '+', '?', '(', ')', '[', ']', '{', '}', '|', '^', '$']);

function splitParts(expr: string, sep: string): string[] | undefined {
  const parts: string[] = [];
  let start = 1;
  for (let i = 1; i < expr.length && parts.length < 2; i++) {
    if (expr[i] === sep && expr[i - 1] !== '\\') {
      parts.push(expr.slice(start, i));
      start = i + 1;
    }
  }
  if (parts.length < 2) return undefined;
  parts.push(expr.slice(start));
  return parts;
}

/** Parse a subst expression; returns an error text instead of throwing. */
export function parseSubst(expr: string): SubstRule | string {
  const sep = expr[0];
  if (sep === undefined) return 'empty subst expression';
  if (sep === '\\' || /\s/.test(sep)) return `invalid separator '${sep}' in subst expression`;
  const parts = splitParts(expr, sep);
  if (!parts) return `subst expression '${expr}' must look like ${sep}regex${sep}replacement${sep}flags`;
  const [pattern, replacement, flags] = parts as [string, string, string];
  if (pattern === '') return `empty regular expression in subst expression '${expr}'`;

  let jsFlags = '';
  let global = false;
  for (const f of flags) {
    if (f === 'g') global = true;
    else if (f === 'i') jsFlags += jsFlags.includes('i') ? '' : 'i';
    else if (f === 's') jsFlags += jsFlags.includes('m') ? '' : 'm';
    else return `unknown flag '${f}' in subst expression '${expr}' (known: g, i, s)`;
  }
  if (global) jsFlags += 'g';

  let source = pattern;
  if (!REGEX_META.has(sep)) source = source.split('\\' + sep).join(sep);
  source = source.replace(/\[:([a-z]+):\]/g, (whole, name: string) => POSIX_CLASSES[name] ?? whole);
  let regex: RegExp;
  try {
    regex = new RegExp(source, jsFlags);
  } catch (err) {
    return `bad regular expression in subst expression '${expr}': ${(err as Error).message}`;
  }

  const out: Array<string | number> = [];
  let lit = '';
  for (let i = 0; i < replacement.length; i++) {
    const c = replacement[i]!;
    if (c === '\\' && i + 1 < replacement.length) {
      const n = replacement[i + 1]!;
      i++;
      if (/[0-9]/.test(n)) {
        if (lit) out.push(lit);
        lit = '';
        out.push(Number(n));
      } else if (n === 'n') lit += '\n';
      else if (n === 'r') lit += '\r';
      else if (n === 't') lit += '\t';
      else lit += n; // \\ -> \, \<sep> -> <sep>, others: the character itself
      continue;
    }
    lit += c;
  }
  if (lit) out.push(lit);

  const groups = (new RegExp(source + '|').exec('') ?? ['']).length - 1;
  for (const p of out) {
    if (typeof p === 'number' && p > groups) {
      return `subst expression '${expr}' refers to group \\${p} but the regex has ${groups} group(s)`;
    }
  }
  return { expr, pattern, replacement, regex, global, parts: out, groups };
}

/** Apply one rule; returns the input unchanged when nothing matches. */
export function applySubst(rule: SubstRule, input: string): string {
  rule.regex.lastIndex = 0;
  return input.replace(rule.regex, (...args: unknown[]) => {
    // args: match, g1..gN, offset, string[, groups]
    let out = '';
    for (const p of rule.parts) {
      if (typeof p === 'string') out += p;
      else {
        const g = args[p];
        out += typeof g === 'string' ? g : '';
      }
    }
    return out;
  });
}
