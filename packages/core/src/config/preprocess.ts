/**
 * The config preprocessor: `#!define` & co, `#!ifdef` regions, `#!subst`,
 * `include_file`/`import_file`, comments and define expansion.
 *
 * Output is a list of logical source lines, each with the file and line it
 * came from (across includes), with comments removed, defines expanded and
 * substitutions applied, plus the final define table. The parser works on
 * those lines only.
 *
 * Semantics follow Kamailio's config lexer (see README.md in this folder for
 * the list of differences):
 *  - a define is expanded wherever an identifier token ([A-Za-z_][A-Za-z0-9_]*)
 *    equal to its name appears outside strings, comments and pseudo-variables
 *    (`$var(x)`, `$(...)`); the value is expanded again (nested defines),
 *    a define without a value expands to nothing;
 *  - strings are never searched for define names; `#!subst`/`#!substdef`
 *    rules are applied to the content of every string literal instead;
 *  - `#!define` of a name that is already defined (also by `-A`) is an error,
 *    `#!trydef` keeps the old value, `#!redefine` replaces it.
 */

import { readFileSync } from 'node:fs';
import * as path from 'node:path';
import { ConfigError, type SourceLocation } from '../errors.js';
import {
  IDENT_RE,
  isIdentChar,
  isIdentStart,
  quoteString,
  readQuoted,
  stripLineComment,
  unescapeDoubleQuoted,
  unquoteWhole,
} from './lex.js';
import { moduleNameFromPath } from './modules.js';
import { applySubst, parseSubst, type SubstRule } from './subst.js';

export interface SourceLine {
  /** Logical line text: comments removed, defines expanded. May contain `\n` inside a multi-line string. */
  text: string;
  /** Where the logical line starts. */
  loc: SourceLocation;
}

export interface ConfigWarning {
  message: string;
  loc: SourceLocation;
}

export interface PreprocessOptions {
  /** Initial defines, like `-A NAME[=value]` (value is raw config text, e.g. `"\"/abs/route.lua\""`). */
  defines?: Record<string, string | null>;
  /** Reads a file as text; throws when it cannot. Default: fs.readFileSync(p, 'utf8'). */
  readFile?: (p: string) => string;
  /** Environment for `#!defenv`; default process.env. */
  env?: Record<string, string | undefined>;
  /** Maximum include nesting (default 32). */
  maxIncludeDepth?: number;
}

export interface PreprocessResult {
  lines: SourceLine[];
  defines: Map<string, string | null>;
  warnings: ConfigWarning[];
  /** Every file read, main file first. */
  files: string[];
}

export const DEFAULT_MAX_INCLUDE_DEPTH = 32;
const MAX_EXPANSION_DEPTH = 64;

/**
 * Split a `-A` command-line argument: `NAME` or `NAME=value`.
 * The value is kept verbatim (quotes included), as Kamailio does.
 */
export function parseDefineArg(arg: string): { name: string; value: string | null } {
  const eq = arg.indexOf('=');
  const name = (eq < 0 ? arg : arg.slice(0, eq)).trim();
  if (!IDENT_RE.test(name)) {
    throw new ConfigError(`invalid define '${arg}': the name must match [A-Za-z_][A-Za-z0-9_]*`);
  }
  if (eq < 0) return { name, value: null };
  const value = arg.slice(eq + 1).trim();
  return { name, value: value === '' ? null : value };
}

export function preprocess(file: string, opts: PreprocessOptions = {}): PreprocessResult {
  return new Preprocessor(opts).run(file);
}

// ---------------------------------------------------------------------------

interface ScanState {
  out: string;
  /** Nesting depth of block comments (Kamailio nests them). */
  blockDepth: number;
  blockLoc?: SourceLocation;
  /** Open string quote, if inside a string literal. */
  quote: '"' | "'" | null;
  strStart: number;
  strLoc?: SourceLocation;
}

interface IfFrame {
  /** The branch currently taken at this level is active. */
  active: boolean;
  elseSeen: boolean;
  loc: SourceLocation;
  text: string;
}

const MARKERS = new Set(['KAMAILIO', 'KSR', 'SER', 'OPENSER', 'MAXCOMPAT', 'ALL']);

const DIRECTIVES = new Set([
  'define',
  'def',
  'trydef',
  'trydefine',
  'redefine',
  'redef',
  'undef',
  'ifdef',
  'ifndef',
  'ifexp',
  'else',
  'endif',
  'subst',
  'substdef',
  'substdefs',
  'defenv',
  'defenvs',
  'trydefenv',
  'trydefenvs',
  'defexp',
  'defexps',
  'include_file',
  'import_file',
]);

function newState(): ScanState {
  return { out: '', blockDepth: 0, quote: null, strStart: 0 };
}

class Preprocessor {
  private readonly defines = new Map<string, string | null>();
  private readonly substRules: SubstRule[] = [];
  private readonly ifStack: IfFrame[] = [];
  private readonly lines: SourceLine[] = [];
  private readonly warnings: ConfigWarning[] = [];
  private readonly files: string[] = [];
  /** Absolute paths of the files being read, outermost first. */
  private readonly fileStack: string[] = [];
  private readonly readFile: (p: string) => string;
  private readonly env: Record<string, string | undefined>;
  private readonly maxDepth: number;

  constructor(private readonly opts: PreprocessOptions) {
    this.readFile = opts.readFile ?? ((p) => readFileSync(p, 'utf8'));
    this.env = opts.env ?? process.env;
    this.maxDepth = opts.maxIncludeDepth ?? DEFAULT_MAX_INCLUDE_DEPTH;
  }

  run(file: string): PreprocessResult {
    for (const [name, value] of Object.entries(this.opts.defines ?? {})) {
      if (!IDENT_RE.test(name)) {
        throw new ConfigError(`invalid define name '${name}': it must match [A-Za-z_][A-Za-z0-9_]*`);
      }
      this.defines.set(name, value === null || value.trim() === '' ? null : value.trim());
    }
    let text: string;
    try {
      text = this.readFile(file);
    } catch (err) {
      throw new ConfigError(`cannot read config file '${file}': ${(err as Error).message}`, undefined, {
        cause: err,
      });
    }
    this.processFile(file, text);
    const open = this.ifStack.at(-1);
    if (open) {
      throw new ConfigError(`'${open.text}' has no matching #!endif`, open.loc);
    }
    return { lines: this.lines, defines: this.defines, warnings: this.warnings, files: this.files };
  }

  private skipping(): boolean {
    return this.ifStack.some((f) => !f.active);
  }

  private processFile(file: string, text: string): void {
    this.files.push(file);
    this.fileStack.push(path.resolve(file));
    if (text.charCodeAt(0) === 0xfeff) text = text.slice(1);
    const physical = text.split('\n').map((l) => (l.endsWith('\r') ? l.slice(0, -1) : l));

    const st = newState();
    let startLoc: SourceLocation | undefined;
    let continued = false;

    for (let i = 0; i < physical.length; i++) {
      const raw = physical[i]!;
      const loc: SourceLocation = { file, line: i + 1 };
      const atStart = st.out === '' && st.blockDepth === 0 && st.quote === null && !continued;

      if (atStart) {
        const trimmed = raw.trimStart();
        const dm = /^(#!|!!)([A-Za-z_]+)(.*)$/.exec(trimmed);
        if (dm) {
          const prefix = dm[1]!;
          const word = dm[2]!;
          if (MARKERS.has(word) && dm[3]!.trim() === '') continue;
          if (DIRECTIVES.has(word)) {
            // the handlers reject junk right after the word (`#!endif;`, `#!ifdef(X)`)
            i = this.directive(word, dm[3]!, trimmed, physical, i, loc);
            continue;
          }
          if (prefix === '#!') {
            // Kamailio reads an unknown `#!word` as a line comment.
            if (!this.skipping()) {
              this.warnings.push({
                message: `unknown preprocessor directive '#!${word}' ignored (read as a comment)`,
                loc,
              });
            }
            continue;
          }
          // `!!word` that is not a directive: ordinary text (e.g. `!!cond`).
        }
        if (this.skipping()) continue;
        const inc = /^(include_file|import_file)(?=[\s"']|$)(.*)$/.exec(trimmed);
        if (inc) {
          this.include(inc[1] as 'include_file' | 'import_file', inc[2]!, file, loc);
          continue;
        }
      } else if (this.skipping()) {
        // cannot happen: skipping only changes at directives, which start a logical line
        continue;
      }

      if (!startLoc) startLoc = loc;
      continued = false;
      this.scan(raw, st, loc, []);

      if (st.quote !== null) {
        st.out += '\n'; // string continues on the next line
        continue;
      }
      if (st.blockDepth === 0 && st.out.trimEnd().endsWith('\\')) {
        // backslash-newline outside strings joins the next line
        st.out = st.out.trimEnd().slice(0, -1);
        continued = true;
        continue;
      }
      this.emit(st, startLoc);
      startLoc = undefined;
    }

    if (st.quote !== null) {
      throw new ConfigError('unterminated string', st.strLoc);
    }
    if (st.blockDepth > 0) {
      throw new ConfigError('unterminated /* comment', st.blockLoc);
    }
    if (startLoc) this.emit(st, startLoc);
    this.fileStack.pop();
  }

  private emit(st: ScanState, loc: SourceLocation): void {
    const text = st.out;
    st.out = '';
    if (text.trim() === '') return;
    this.lines.push({ text, loc });
    // Kamailio defines MOD_<name> for every loaded module.
    for (const m of text.matchAll(/\bloadmodulex?\s*\(?\s*(["'])([^"']+)\1/g)) {
      const name = `MOD_${moduleNameFromPath(m[2]!)}`;
      if (IDENT_RE.test(name) && !this.defines.has(name)) this.defines.set(name, null);
    }
  }

  // -- lexical scan of active text ------------------------------------------

  /**
   * Scan `text`, appending the result to `st.out`: strips comments, expands
   * defines, applies substitutions to completed strings. `expanding` holds the
   * define names being expanded (to detect recursion).
   */
  private scan(text: string, st: ScanState, loc: SourceLocation, expanding: string[]): void {
    let i = 0;
    const n = text.length;
    while (i < n) {
      const c = text[i]!;
      if (st.blockDepth > 0) {
        if (c === '/' && text[i + 1] === '*') {
          st.blockDepth++;
          i += 2;
        } else if (c === '*' && text[i + 1] === '/') {
          st.blockDepth--;
          i += 2;
          if (st.blockDepth === 0) st.out += ' ';
        } else i++;
        continue;
      }
      if (st.quote !== null) {
        if (st.quote === '"' && c === '\\' && i + 1 < n) {
          st.out += c + text[i + 1];
          i += 2;
          continue;
        }
        st.out += c;
        i++;
        if (c === st.quote) {
          st.quote = null;
          this.finishString(st);
        }
        continue;
      }
      if (c === '"' || c === "'") {
        st.quote = c;
        st.strStart = st.out.length;
        st.strLoc = loc;
        st.out += c;
        i++;
        continue;
      }
      if (c === '#') return;
      if (c === '/' && text[i + 1] === '/') return;
      if (c === '/' && text[i + 1] === '*') {
        st.blockDepth = 1;
        st.blockLoc = loc;
        i += 2;
        continue;
      }
      if (c === '$') {
        i = this.copyPseudoVariable(text, i, st);
        continue;
      }
      if (c === '@' && isIdentStart(text[i + 1])) {
        // select (`@ruri.user`): not a place for define names
        let j = i + 1;
        while (j < n && (isIdentChar(text[j]) || text[j] === '.')) j++;
        st.out += text.slice(i, j);
        i = j;
        continue;
      }
      if (isIdentChar(c)) {
        let j = i + 1;
        while (j < n && isIdentChar(text[j])) j++;
        const word = text.slice(i, j);
        i = j;
        if (isIdentStart(word[0]) && this.defines.has(word)) {
          this.expand(word, st, loc, expanding);
        } else {
          st.out += word;
        }
        continue;
      }
      st.out += c;
      i++;
    }
  }

  private expand(name: string, st: ScanState, loc: SourceLocation, expanding: string[]): void {
    const value = this.defines.get(name);
    if (value === null || value === undefined || value === '') return;
    if (expanding.includes(name)) {
      throw new ConfigError(`define '${name}' expands to itself (${[...expanding, name].join(' -> ')})`, loc);
    }
    if (expanding.length >= MAX_EXPANSION_DEPTH) {
      throw new ConfigError(`define expansion nested too deeply at '${name}'`, loc);
    }
    const sub = newState();
    this.scan(value, sub, loc, [...expanding, name]);
    if (sub.quote !== null) {
      throw new ConfigError(`the value of define '${name}' has an unterminated string`, loc);
    }
    st.out += sub.out;
  }

  /** Copy `$name`, `$name(...)`, `$(...)` verbatim (balanced parentheses). */
  private copyPseudoVariable(text: string, i: number, st: ScanState): number {
    let j = i + 1;
    while (j < text.length && (isIdentChar(text[j]) || text[j] === '.')) j++;
    if (text[j] === '(') {
      let depth = 0;
      for (; j < text.length; j++) {
        if (text[j] === '(') depth++;
        else if (text[j] === ')') {
          depth--;
          if (depth === 0) {
            j++;
            break;
          }
        }
      }
    }
    st.out += text.slice(i, j);
    return j;
  }

  private finishString(st: ScanState): void {
    if (this.substRules.length === 0) return;
    const lit = st.out.slice(st.strStart);
    const quote = lit[0];
    const body = lit.slice(1, -1);
    const value = quote === '"' ? unescapeDoubleQuoted(body) : body;
    const result = this.applySubsts(value);
    if (result !== value) st.out = st.out.slice(0, st.strStart) + quoteString(result);
  }

  private applySubsts(value: string): string {
    let v = value;
    for (const rule of this.substRules) v = applySubst(rule, v);
    return v;
  }

  // -- directives -------------------------------------------------------------

  /** Handle one directive line; returns the index of the last physical line consumed. */
  private directive(
    word: string,
    rest: string,
    full: string,
    physical: string[],
    i: number,
    loc: SourceLocation,
  ): number {
    const head = full.trimEnd();
    switch (word) {
      case 'ifdef':
      case 'ifndef': {
        const name = this.directiveName(word, rest, loc, this.skipping());
        const defined = name !== undefined && this.defines.has(name);
        this.ifStack.push({ active: word === 'ifdef' ? defined : !defined, elseSeen: false, loc, text: head });
        return i;
      }
      case 'ifexp':
        if (!this.skipping()) {
          throw new ConfigError('#!ifexp is not supported by ksr (use #!ifdef/#!ifndef)', loc);
        }
        this.ifStack.push({ active: true, elseSeen: false, loc, text: head });
        return i;
      case 'else': {
        this.noArgs(word, rest, loc);
        const top = this.ifStack.at(-1);
        if (!top) throw new ConfigError('#!else without #!ifdef/#!ifndef', loc);
        if (top.elseSeen) throw new ConfigError(`second #!else for '${top.text}' (line ${top.loc.line})`, loc);
        top.elseSeen = true;
        top.active = !top.active;
        return i;
      }
      case 'endif': {
        this.noArgs(word, rest, loc);
        if (!this.ifStack.pop()) throw new ConfigError('#!endif without #!ifdef/#!ifndef', loc);
        return i;
      }
    }

    // Everything below only acts outside skipped regions.
    if (this.skipping()) return i;

    switch (word) {
      case 'define':
      case 'def':
      case 'trydef':
      case 'trydefine':
      case 'redefine':
      case 'redef': {
        let value = rest;
        // a trailing backslash continues the value on the next line
        while (/\\\s*$/.test(value) && i + 1 < physical.length) {
          value = value.replace(/\\\s*$/, '') + physical[++i]!;
        }
        const m = /^\s*([A-Za-z_][A-Za-z0-9_]*)(.*)$/s.exec(value);
        if (!m) throw new ConfigError(`#!${word} expects a name`, loc);
        const name = m[1]!;
        const after = m[2]!;
        if (after !== '' && !/^\s/.test(after)) {
          throw new ConfigError(
            `invalid character '${after[0]}' after define name '${name}' (write '#!${word} ${name} value')`,
            loc,
          );
        }
        const v = stripLineComment(after).trim();
        const val = v === '' ? null : v;
        const kind = word.startsWith('try') ? 'try' : word.startsWith('re') ? 're' : 'def';
        if (this.defines.has(name)) {
          if (kind === 'try') return i;
          if (kind === 'def') {
            throw new ConfigError(
              `'${name}' is already defined (use #!redefine to change it or #!trydef to keep it)`,
              loc,
            );
          }
        }
        this.defines.set(name, val);
        return i;
      }
      case 'undef': {
        const name = this.directiveName(word, rest, loc, false);
        if (name !== undefined) this.defines.delete(name);
        return i;
      }
      case 'subst':
      case 'substdef':
      case 'substdefs': {
        const arg = unquoteWhole(stripLineComment(rest));
        if (arg === undefined) {
          throw new ConfigError(`#!${word} expects a quoted expression like "/regex/replacement/flags"`, loc);
        }
        const rule = parseSubst(arg);
        if (typeof rule === 'string') throw new ConfigError(rule, loc);
        if (word !== 'subst') {
          if (this.defines.has(rule.pattern)) {
            throw new ConfigError(`'${rule.pattern}' is already defined (#!${word})`, loc);
          }
          this.defines.set(rule.pattern, word === 'substdefs' ? `"${rule.replacement}"` : rule.replacement);
        }
        this.substRules.push(rule);
        return i;
      }
      case 'defenv':
      case 'defenvs':
      case 'trydefenv':
      case 'trydefenvs': {
        const arg = stripLineComment(rest).trim();
        const m = /^([A-Za-z_][A-Za-z0-9_]*)(?:=(\S+))?$/.exec(arg);
        if (!m) throw new ConfigError(`#!${word} expects NAME or NAME=ENVVAR`, loc);
        const name = m[1]!;
        const envName = m[2] ?? name;
        const value = this.env[envName];
        if (value === undefined) {
          if (word.startsWith('try')) return i;
          throw new ConfigError(`#!${word}: environment variable '${envName}' is not set`, loc);
        }
        if (this.defines.has(name)) throw new ConfigError(`'${name}' is already defined (#!${word})`, loc);
        this.defines.set(name, word.endsWith('s') ? `"${value}"` : value);
        return i;
      }
      case 'defexp':
      case 'defexps':
        throw new ConfigError(`#!${word} is not supported by ksr`, loc);
      case 'include_file':
      case 'import_file':
        this.include(word, rest, loc.file, loc);
        return i;
    }
    return i;
  }

  /** The identifier argument of #!ifdef/#!ifndef/#!undef (a trailing comment is allowed). */
  private directiveName(word: string, rest: string, loc: SourceLocation, lenient: boolean): string | undefined {
    const arg = stripLineComment(rest).trim();
    if (IDENT_RE.test(arg)) return arg;
    if (lenient) return undefined;
    if (arg === '') throw new ConfigError(`#!${word} expects a name`, loc);
    throw new ConfigError(`#!${word}: invalid name '${arg}'`, loc);
  }

  private noArgs(word: string, rest: string, loc: SourceLocation): void {
    if (stripLineComment(rest).trim() !== '') {
      throw new ConfigError(`unexpected text after #!${word}: '${rest.trim()}'`, loc);
    }
  }

  // -- includes ---------------------------------------------------------------

  private include(kind: 'include_file' | 'import_file', rest: string, from: string, loc: SourceLocation): void {
    let arg = stripLineComment(rest).trim();
    if (arg.endsWith(';')) arg = arg.slice(0, -1).trim();
    let target = unquoteWhole(arg);
    if (target === undefined) {
      throw new ConfigError(`${kind} expects a quoted file name, e.g. ${kind} "extra.cfg"`, loc);
    }
    target = this.applySubsts(target);
    if (target === '') throw new ConfigError(`${kind}: empty file name`, loc);

    const candidates = path.isAbsolute(target) ? [target] : [path.join(path.dirname(from), target), target];
    let found: { file: string; text: string } | undefined;
    let lastErr: unknown;
    for (const cand of [...new Set(candidates)]) {
      const abs = path.resolve(cand);
      if (this.fileStack.includes(abs)) {
        const chain = [...this.fileStack.slice(this.fileStack.indexOf(abs)), abs].join(' -> ');
        throw new ConfigError(`${kind} "${target}": recursive include (${chain})`, loc);
      }
      try {
        found = { file: cand, text: this.readFile(cand) };
        break;
      } catch (err) {
        lastErr = err;
      }
    }
    if (!found) {
      if (kind === 'import_file') return;
      throw new ConfigError(
        `cannot open included file "${target}": ${(lastErr as Error | undefined)?.message ?? 'not found'}`,
        loc,
        { cause: lastErr },
      );
    }
    if (this.fileStack.length > this.maxDepth) {
      throw new ConfigError(`${kind} "${target}": includes nested deeper than ${this.maxDepth} levels`, loc);
    }
    this.processFile(found.file, found.text);
  }
}
