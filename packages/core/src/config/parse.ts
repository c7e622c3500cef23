/**
 * The global-section parser: turns preprocessed lines into a KsrConfig.
 *
 * Statements (newline or `;` ends a statement, except inside parentheses and
 * strings):
 *   name = value                 core parameter (dotted names allowed)
 *   loadmodule "x.so"            also loadmodule("x"), loadmodule("x", "opts"), loadmodulex
 *   loadpath "dir" / mpath="dir" accepted, ignored (ksr modules are built in)
 *   modparam("mod", "param", value)   also modparamx; "a|b" names several modules
 *   cfgengine "lua"
 *   request_route { ... }, route[NAME] { ... }, reply_route, onreply_route[X],
 *   failure_route[X], branch_route[X], onsend_route, event_route[a:b]
 *                                native route blocks, kept as text
 */

import { isIP, isIPv6 } from 'node:net';
import { ConfigError, type SourceLocation } from '../errors.js';
import { lookupGlobal, type GlobalType } from './globals.js';
import { readQuoted } from './lex.js';
import { moduleNameFromPath, type ModuleCatalogue } from './modules.js';
import { preprocess, type ConfigWarning, type PreprocessResult } from './preprocess.js';

export interface ConfigValue {
  value: string | number | boolean;
  loc: SourceLocation;
}

export type ListenProto = 'udp' | 'tcp' | 'tls' | 'sctp' | 'ws' | 'wss' | 'any';

export interface ListenSpec {
  /** `any` when no protocol was written (listen on every enabled transport). */
  proto: ListenProto;
  /** IP address (IPv6 without brackets), host name, interface name or `*`. */
  address: string;
  /** Undefined when not written; the consumer applies `port=` / 5060. */
  port?: number;
  advertise?: { address: string; port?: number };
  name?: string;
  loc: SourceLocation;
}

export interface AliasSpec {
  proto?: string;
  host: string;
  port?: number;
  loc: SourceLocation;
}

export interface ModParam {
  module: string;
  param: string;
  value: string | number;
  loc: SourceLocation;
}

export type CfgEngineName = 'lua' | 'python' | 'python3s' | 'jsdt' | 'native';

export type RouteKind =
  | 'request_route'
  | 'route'
  | 'reply_route'
  | 'onreply_route'
  | 'failure_route'
  | 'branch_route'
  | 'onsend_route'
  | 'event_route';

export interface RouteBlock {
  kind: RouteKind;
  name?: string;
  /** Text between the braces (comments removed, defines expanded). */
  body: string;
  loc: SourceLocation;
}

export interface KsrConfig {
  file: string;
  defines: Map<string, string | null>;
  /** Core parameters by canonical name (aliases such as `uid` are stored as `user`); last assignment wins. listen/alias are not here. */
  globals: Map<string, ConfigValue>;
  listen: ListenSpec[];
  aliases: AliasSpec[];
  modules: Array<{ name: string; loc: SourceLocation }>;
  modparams: ModParam[];
  cfgengine?: { name: CfgEngineName; loc: SourceLocation };
  routeBlocks: RouteBlock[];
  warnings: ConfigWarning[];
  /** Every file read (main file first, then includes in reading order). */
  files: string[];
}

export interface LoadConfigOptions {
  /** Initial defines (`-A`); see parseDefineArg. */
  defines?: Record<string, string | null>;
  /** When given, loadmodule/modparam lines are checked against it. */
  modules?: ModuleCatalogue;
  readFile?: (p: string) => string;
  /** Environment for #!defenv (default process.env). */
  env?: Record<string, string | undefined>;
}

/** Read, preprocess and parse a config file. Throws ConfigError naming file:line. */
export function loadConfig(path: string, opts: LoadConfigOptions = {}): KsrConfig {
  const pre = preprocess(path, {
    ...(opts.defines ? { defines: opts.defines } : {}),
    ...(opts.readFile ? { readFile: opts.readFile } : {}),
    ...(opts.env ? { env: opts.env } : {}),
  });
  return parsePreprocessed(path, pre, opts.modules ? { modules: opts.modules } : {});
}

/** Parse the output of preprocess(). */
export function parsePreprocessed(
  file: string,
  pre: PreprocessResult,
  opts: { modules?: ModuleCatalogue } = {},
): KsrConfig {
  const cfg: KsrConfig = {
    file,
    defines: pre.defines,
    globals: new Map(),
    listen: [],
    aliases: [],
    modules: [],
    modparams: [],
    routeBlocks: [],
    warnings: [...pre.warnings],
    files: pre.files,
  };
  new Parser(pre, cfg, opts.modules).parse();
  return cfg;
}

// ---------------------------------------------------------------------------

const ROUTE_KINDS = new Set<string>([
  'request_route',
  'route',
  'reply_route',
  'onreply_route',
  'failure_route',
  'branch_route',
  'onsend_route',
  'event_route',
]);
const ROUTE_NAME_REQUIRED = new Set<string>(['failure_route', 'branch_route', 'event_route']);
const ROUTE_NAME_FORBIDDEN = new Set<string>(['request_route', 'reply_route', 'onsend_route']);

const ENGINES: Record<string, CfgEngineName> = {
  lua: 'lua',
  python: 'python',
  python3: 'python',
  python3s: 'python3s',
  jsdt: 'jsdt',
  js: 'jsdt',
  native: 'native',
};

const YES = new Set(['yes', 'true', 'on', 'enable']);
const NO = new Set(['no', 'false', 'off', 'disable']);

type Scalar =
  | { kind: 'string'; value: string; raw: string }
  | { kind: 'number'; value: number; raw: string }
  | { kind: 'bool'; value: boolean; raw: string }
  | { kind: 'word'; value: string; raw: string };

/** Kamailio number syntax: decimal, 0x hex, 0 octal, [01]+b binary; optional sign. */
export function parseNumber(text: string): number | undefined {
  const m = /^([+-]?)(0x[0-9a-fA-F]+|[01]+b|0[0-7]+|0|[1-9][0-9]*)$/.exec(text);
  if (!m) return undefined;
  const body = m[2]!;
  let n: number;
  if (body.startsWith('0x')) n = parseInt(body.slice(2), 16);
  else if (body.endsWith('b')) n = parseInt(body.slice(0, -1), 2);
  else if (body.length > 1 && body.startsWith('0')) n = parseInt(body.slice(1), 8);
  else n = parseInt(body, 10);
  return m[1] === '-' ? -n : n;
}

/** Parse one value: string(s), number, boolean word, or a bare word. */
function parseScalar(raw: string): Scalar {
  const t = raw.trim();
  if (t[0] === '"' || t[0] === "'") {
    const s = readStrings(t, 0);
    if (s && s.end === t.length) return { kind: 'string', value: s.value, raw: t };
    return { kind: 'word', value: t, raw: t };
  }
  const n = parseNumber(t);
  if (n !== undefined) return { kind: 'number', value: n, raw: t };
  if (YES.has(t)) return { kind: 'bool', value: true, raw: t };
  if (NO.has(t)) return { kind: 'bool', value: false, raw: t };
  return { kind: 'word', value: t, raw: t };
}

/**
 * Read a string literal at `pos`, plus the double-quoted literals that follow
 * it (Kamailio concatenates `"a" "b"`). Returns undefined when unterminated.
 */
function readStrings(text: string, pos: number): { value: string; end: number } | undefined {
  const first = readQuoted(text, pos);
  if (first.end < 0) return undefined;
  let value = first.value;
  let end = first.end;
  if (text[pos] === '"') {
    for (;;) {
      let j = end;
      while (j < text.length && /\s/.test(text[j]!)) j++;
      if (text[j] !== '"') break;
      const next = readQuoted(text, j);
      if (next.end < 0) return undefined;
      value += next.value;
      end = next.end;
    }
  }
  return { value, end };
}

function describe(s: Scalar): string {
  switch (s.kind) {
    case 'string':
      return `the string ${JSON.stringify(s.value)}`;
    case 'number':
      return `the number ${s.raw}`;
    default:
      return `'${s.raw}'`;
  }
}

class Parser {
  private readonly src: string;
  private pos = 0;
  private readonly starts: number[] = [];
  private readonly locs: SourceLocation[] = [];
  private readonly loaded = new Set<string>();
  private readonly paramSeen = new Set<string>();

  constructor(
    pre: PreprocessResult,
    private readonly cfg: KsrConfig,
    private readonly catalogue: ModuleCatalogue | undefined,
  ) {
    let offset = 0;
    const parts: string[] = [];
    for (const l of pre.lines) {
      this.starts.push(offset);
      this.locs.push(l.loc);
      parts.push(l.text);
      offset += l.text.length + 1;
    }
    this.src = parts.join('\n');
  }

  // -- position helpers -------------------------------------------------------

  private locAt(pos: number): SourceLocation {
    let lo = 0;
    let hi = this.starts.length - 1;
    if (hi < 0) return { file: this.cfg.file, line: 1 };
    while (lo < hi) {
      const mid = (lo + hi + 1) >> 1;
      if (this.starts[mid]! <= pos) lo = mid;
      else hi = mid - 1;
    }
    const base = this.locs[lo]!;
    // a logical line spans several physical lines when a string does
    let extra = 0;
    for (let i = this.starts[lo]!; i < pos && i < this.src.length; i++) if (this.src[i] === '\n') extra++;
    return { file: base.file, line: base.line + extra };
  }

  private error(reason: string, loc: SourceLocation): ConfigError {
    return new ConfigError(reason, loc);
  }

  private eof(): boolean {
    return this.pos >= this.src.length;
  }

  private skipWs(newlines: boolean): void {
    while (this.pos < this.src.length) {
      const c = this.src[this.pos]!;
      if (c === ' ' || c === '\t' || c === '\r' || c === '\f' || c === '\v' || (newlines && c === '\n')) this.pos++;
      else break;
    }
  }

  private snippet(pos = this.pos): string {
    const rest = this.src.slice(pos);
    const m = /^[^\s]{1,30}/.exec(rest);
    return m ? m[0] : rest.slice(0, 1) === '\n' ? 'end of line' : 'end of file';
  }

  private readName(): string | undefined {
    const re = /[A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z_][A-Za-z0-9_]*)*/y;
    re.lastIndex = this.pos;
    const m = re.exec(this.src);
    if (!m) return undefined;
    this.pos = re.lastIndex;
    return m[0];
  }

  private expectChar(ch: string, what: string): void {
    if (this.src[this.pos] !== ch) {
      throw this.error(`expected '${ch}' ${what}, found '${this.snippet()}'`, this.locAt(this.pos));
    }
    this.pos++;
  }

  private expectString(what: string): string {
    const loc = this.locAt(this.pos);
    const c = this.src[this.pos];
    if (c !== '"' && c !== "'") {
      throw this.error(`${what} must be a quoted string, found '${this.snippet()}'`, loc);
    }
    const s = readStrings(this.src, this.pos);
    if (!s) throw this.error('unterminated string', loc);
    this.pos = s.end;
    return s.value;
  }

  /** After a statement: optional `;`, then end of line. */
  private endStatement(what: string): void {
    this.skipWs(false);
    if (this.src[this.pos] === ';') {
      this.pos++;
      return;
    }
    if (this.eof() || this.src[this.pos] === '\n') return;
    throw this.error(`unexpected '${this.snippet()}' after ${what}`, this.locAt(this.pos));
  }

  // -- statements -------------------------------------------------------------

  parse(): void {
    for (;;) {
      this.skipWs(true);
      if (this.eof()) break;
      if (this.src[this.pos] === ';') {
        this.pos++;
        continue;
      }
      const loc = this.locAt(this.pos);
      const word = this.readName();
      if (word === undefined) {
        throw this.error(`syntax error: unexpected '${this.snippet()}'`, loc);
      }
      this.statement(word, loc);
    }
  }

  private statement(word: string, loc: SourceLocation): void {
    switch (word) {
      case 'loadmodule':
      case 'loadmodulex':
        return this.loadModule(word, loc);
      case 'modparam':
      case 'modparamx':
        return this.modparam(word, loc);
      case 'cfgengine': {
        this.skipWs(false);
        const name = this.expectString('cfgengine name');
        this.endStatement('cfgengine');
        return this.setEngine(name, loc);
      }
      case 'include_file':
      case 'import_file':
        throw this.error(`${word} must be at the start of a line`, loc);
    }
    if (ROUTE_KINDS.has(word)) return this.routeBlock(word as RouteKind, loc);

    this.skipWs(false);
    if ((word === 'loadpath' || word === 'mpath') && (this.src[this.pos] === '"' || this.src[this.pos] === "'")) {
      const dir = this.expectString(word);
      this.endStatement(word);
      this.cfg.globals.set('mpath', { value: dir, loc });
      return;
    }
    if (this.src[this.pos] !== '=') {
      if (this.src[this.pos] === '(' || this.src[this.pos] === '{') {
        throw this.error(`syntax error: unexpected '${word}${this.src[this.pos]}' in the global section`, loc);
      }
      throw this.error(`syntax error: expected '=' after '${word}', found '${this.snippet()}'`, loc);
    }
    this.pos++;
    this.skipWs(false);
    const raw = this.readRawValue(loc);
    if (raw.trim() === '') throw this.error(`missing value for '${word}'`, loc);
    if (raw.trimStart().startsWith('{')) {
      throw this.error(`block values ('${word} = { ... }') are not supported by ksr`, loc);
    }
    this.assign(word, raw.trim(), loc);
  }

  /** The rest of an assignment: up to `;` or end of line outside quotes/brackets. Consumes the `;`. */
  private readRawValue(loc: SourceLocation): string {
    const start = this.pos;
    let depth = 0;
    while (this.pos < this.src.length) {
      const c = this.src[this.pos]!;
      if (c === '"' || c === "'") {
        const r = readQuoted(this.src, this.pos);
        if (r.end < 0) throw this.error('unterminated string', loc);
        this.pos = r.end;
        continue;
      }
      if (c === '(' || c === '[') depth++;
      else if ((c === ')' || c === ']') && depth > 0) depth--;
      else if (depth === 0 && (c === ';' || c === '\n')) break;
      this.pos++;
    }
    const raw = this.src.slice(start, this.pos);
    if (this.src[this.pos] === ';') this.pos++;
    return raw;
  }

  private loadModule(word: string, loc: SourceLocation): void {
    this.skipWs(false);
    let spec: string;
    if (this.src[this.pos] === '(') {
      this.pos++;
      this.skipWs(true);
      spec = this.expectString(`${word} argument`);
      this.skipWs(true);
      if (this.src[this.pos] === ',') {
        this.pos++;
        this.skipWs(true);
        this.expectString(`${word} options`);
        this.skipWs(true);
      }
      this.expectChar(')', `to close ${word}(`);
    } else {
      spec = this.expectString(`${word} argument`);
    }
    this.endStatement(word);

    const name = moduleNameFromPath(spec);
    if (name === '') throw this.error(`${word}: empty module name`, loc);
    if (this.catalogue && !this.catalogue.get(name)) {
      throw this.error(`unknown module '${name}'`, loc);
    }
    if (this.loaded.has(name)) {
      this.cfg.warnings.push({
        message: `module '${name}' is loaded more than once (ignored; Kamailio refuses this)`,
        loc,
      });
      return;
    }
    this.loaded.add(name);
    this.cfg.modules.push({ name, loc });
  }

  private modparam(word: string, loc: SourceLocation): void {
    this.skipWs(false);
    this.expectChar('(', `after ${word}`);
    this.skipWs(true);
    const mod = this.expectString(`${word} module name`);
    this.skipWs(true);
    this.expectChar(',', `after the module name in ${word}`);
    this.skipWs(true);
    const param = this.expectString(`${word} parameter name`);
    this.skipWs(true);
    this.expectChar(',', `after the parameter name in ${word}`);
    this.skipWs(true);
    const value = this.modparamValue(word);
    this.skipWs(true);
    this.expectChar(')', `to close ${word}(`);
    this.endStatement(`${word}(...)`);

    if (mod === '') throw this.error(`${word}: empty module name`, loc);
    if (param === '') throw this.error(`${word}: empty parameter name`, loc);

    for (const m of this.resolveModules(mod, loc)) {
      const schema = this.catalogue?.get(m);
      if (this.catalogue && schema) {
        const spec = Object.hasOwn(schema.params, param) ? schema.params[param] : undefined;
        if (!spec) throw this.error(`module '${m}' has no parameter '${param}'`, loc);
        if (spec.type === 'int' && typeof value !== 'number') {
          throw this.error(
            `parameter '${param}' of module '${m}' expects an integer, got the string ${JSON.stringify(value)} (write it without quotes)`,
            loc,
          );
        }
        if (spec.type === 'str' && typeof value !== 'string') {
          throw this.error(
            `parameter '${param}' of module '${m}' expects a string, got the number ${value} (put it in quotes)`,
            loc,
          );
        }
        const problem = spec.check?.(value);
        if (problem !== undefined) throw this.error(`modparam ${m}.${param}: ${problem}`, loc);
        const key = `${m}\0${param}`;
        if (!spec.multi && this.paramSeen.has(key)) {
          this.cfg.warnings.push({ message: `modparam ${m}.${param} is set more than once; the last value wins`, loc });
        }
        this.paramSeen.add(key);
      }
      this.cfg.modparams.push({ module: m, param, value, loc });
    }
  }

  private modparamValue(word: string): string | number {
    const loc = this.locAt(this.pos);
    const c = this.src[this.pos];
    if (c === '"' || c === "'") return this.expectString(`${word} value`);
    const m = /[^\s,)]+/y;
    m.lastIndex = this.pos;
    const tok = m.exec(this.src)?.[0];
    if (tok === undefined) throw this.error(`${word}: missing value`, loc);
    this.pos += tok.length;
    const n = parseNumber(tok);
    if (n !== undefined) return n;
    if (YES.has(tok)) return 1;
    if (NO.has(tok)) return 0;
    if (/^[A-Za-z_][A-Za-z0-9_]*$/.test(tok)) {
      throw this.error(
        `${word} value '${tok}' is neither a quoted string nor an integer (a define that is not defined?)`,
        loc,
      );
    }
    throw this.error(`${word} value '${tok}' is neither a quoted string nor an integer`, loc);
  }

  /** `"tm"`, `"acc|acc_db"` (names) or a regular expression over loaded module names. */
  private resolveModules(spec: string, loc: SourceLocation): string[] {
    if (/^[A-Za-z0-9_]+(?:\|[A-Za-z0-9_]+)*$/.test(spec)) {
      const names = spec.split('|');
      const found = names.filter((n) => this.loaded.has(n));
      if (found.length === 0) {
        throw this.error(
          names.length === 1
            ? `modparam for module '${spec}' which is not loaded (loadmodule must come first)`
            : `modparam for modules '${spec}': none of them is loaded`,
          loc,
        );
      }
      for (const n of names) {
        if (!this.loaded.has(n)) {
          this.cfg.warnings.push({ message: `modparam for '${spec}': module '${n}' is not loaded`, loc });
        }
      }
      return [...new Set(found)];
    }
    let re: RegExp;
    try {
      re = new RegExp(`^(?:${spec})$`);
    } catch {
      throw this.error(`modparam: invalid module name or pattern '${spec}'`, loc);
    }
    const found = [...this.loaded].filter((n) => re.test(n));
    if (found.length === 0) throw this.error(`modparam: no loaded module matches '${spec}'`, loc);
    return found;
  }

  private setEngine(name: string, loc: SourceLocation): void {
    const engine = ENGINES[name];
    if (!engine) {
      throw this.error(`unknown cfgengine '${name}' (known: lua, python, python3s, jsdt/js, native)`, loc);
    }
    if (this.cfg.cfgengine) {
      this.cfg.warnings.push({ message: `cfgengine is set more than once; the last one ('${name}') wins`, loc });
    }
    this.cfg.cfgengine = { name: engine, loc };
  }

  private routeBlock(kind: RouteKind, loc: SourceLocation): void {
    this.skipWs(true);
    let name: string | undefined;
    if (this.src[this.pos] === '[') {
      const close = this.findClose('[', ']', loc);
      let raw = this.src.slice(this.pos + 1, close).trim();
      const q = raw[0];
      if ((q === '"' || q === "'") && raw.length >= 2 && raw.endsWith(q)) raw = raw.slice(1, -1);
      if (raw === '') throw this.error(`${kind}[] needs a name`, loc);
      name = raw;
      this.pos = close + 1;
      this.skipWs(true);
    }
    if (name === undefined && ROUTE_NAME_REQUIRED.has(kind)) throw this.error(`${kind} needs a name: ${kind}[NAME]`, loc);
    if (name !== undefined && ROUTE_NAME_FORBIDDEN.has(kind)) throw this.error(`${kind} does not take a name`, loc);
    if (this.src[this.pos] !== '{') {
      throw this.error(`expected '{' after ${kind}${name !== undefined ? `[${name}]` : ''}, found '${this.snippet()}'`, loc);
    }
    const close = this.findClose('{', '}', loc);
    const body = this.src.slice(this.pos + 1, close);
    this.pos = close + 1;
    const dup = this.cfg.routeBlocks.find((b) => b.kind === kind && b.name === name);
    if (dup) {
      this.cfg.warnings.push({
        message: `${kind}${name !== undefined ? `[${name}]` : ''} is defined again (first at ${dup.loc.file}:${dup.loc.line})`,
        loc,
      });
    }
    this.cfg.routeBlocks.push({ kind, ...(name !== undefined ? { name } : {}), body, loc });
  }

  /** Index of the bracket closing the one at this.pos (strings are skipped). */
  private findClose(open: string, close: string, loc: SourceLocation): number {
    let depth = 0;
    for (let i = this.pos; i < this.src.length; i++) {
      const c = this.src[i];
      if (c === '"' || c === "'") {
        const r = readQuoted(this.src, i);
        if (r.end < 0) throw this.error(`unterminated string in block starting here`, this.locAt(i));
        i = r.end - 1;
      } else if (c === open) depth++;
      else if (c === close) {
        depth--;
        if (depth === 0) return i;
      }
    }
    throw this.error(`'${open}' is never closed (missing '${close}')`, loc);
  }

  // -- global assignments ----------------------------------------------------

  private assign(name: string, raw: string, loc: SourceLocation): void {
    if (name === 'listen') return this.listen(raw, loc);
    if (name === 'alias') return this.alias(raw, loc);

    const known = lookupGlobal(name);
    let text = raw;
    if (!known && name.includes('.')) {
      // custom cfg variable: `group.var = value descr "text"`
      const m = /^(.*?)\s+(?:description|descr|desc)\s+("(?:[^"\\]|\\.)*"|'[^']*')$/s.exec(text);
      if (m) text = m[1]!;
    }
    if (text.startsWith('=')) throw this.error(`syntax error: unexpected '=' in the value of '${name}'`, loc);
    const scalar = parseScalar(text);
    if (scalar.kind === 'word' && /\s/.test(scalar.raw)) {
      // Kamailio takes one token here; whatever follows is a mistake
      const strings = /^["']/.test(scalar.raw) ? readStrings(scalar.raw, 0) : undefined;
      const rest = strings ? scalar.raw.slice(strings.end) : scalar.raw.replace(/^\S+/, '');
      const junk = rest.trim().split(/\s+/)[0];
      throw this.error(`syntax error: unexpected '${junk}' in the value of '${name}'`, loc);
    }
    if (known) {
      const value = this.coerce(scalar, known.spec.type, name, loc);
      this.cfg.globals.set(known.name, { value, loc });
      if (!known.spec.implemented) {
        this.cfg.warnings.push({ message: `parameter ${name} is accepted but has no effect in ksr`, loc });
      }
      // "none" (or empty) turns the onsend route off, which is what ksr does: it runs no onsend route yet
      if (known.name === 'kemi.onsend_route_callback' && value !== 'none' && value !== '') {
        this.cfg.warnings.push({ message: `parameter ${name}="${String(value)}": ksr runs no onsend_route yet, the function is not called`, loc });
      }
      return;
    }
    this.cfg.globals.set(name, { value: this.coerce(scalar, 'any', name, loc), loc });
    this.cfg.warnings.push({
      message: `unknown parameter ${name} is accepted but has no effect in ksr (Kamailio rejects names no module defines)`,
      loc,
    });
  }

  private coerce(s: Scalar, type: GlobalType, name: string, loc: SourceLocation): string | number | boolean {
    switch (type) {
      case 'int':
        if (s.kind === 'number') return s.value;
        if (s.kind === 'bool') return s.value ? 1 : 0;
        throw this.error(`parameter ${name} expects an integer, got ${describe(s)}`, loc);
      case 'bool':
        if (s.kind === 'bool') return s.value;
        if (s.kind === 'number') return s.value !== 0;
        throw this.error(`parameter ${name} expects yes/no (or a number), got ${describe(s)}`, loc);
      case 'str':
        return s.kind === 'string' ? s.value : s.raw;
      case 'any':
        return s.value;
    }
  }

  /** Split a listen/alias value into items (whitespace or comma separated; quotes and brackets kept together). */
  private items(raw: string, loc: SourceLocation): string[] {
    const out: string[] = [];
    let i = 0;
    while (i < raw.length) {
      while (i < raw.length && /[\s,]/.test(raw[i]!)) i++;
      if (i >= raw.length) break;
      const start = i;
      let depth = 0;
      while (i < raw.length) {
        const c = raw[i]!;
        if (c === '"' || c === "'") {
          const r = readQuoted(raw, i);
          if (r.end < 0) throw this.error('unterminated string', loc);
          i = r.end;
          continue;
        }
        if (c === '[' || c === '(') depth++;
        else if (c === ']' || c === ')') depth--;
        else if (depth <= 0 && /[\s,]/.test(c)) break;
        i++;
      }
      out.push(raw.slice(start, i));
    }
    return out;
  }

  private listen(raw: string, loc: SourceLocation): void {
    const items = this.items(raw, loc);
    const addrs: Array<{ proto: ListenProto; host: string; port?: number }> = [];
    let advertise: { address: string; port?: number } | undefined;
    let name: string | undefined;
    for (let k = 0; k < items.length; k++) {
      const it = items[k]!;
      if (it === 'advertise' || it === 'ADVERTISE' || it === 'name' || it === 'NAME') {
        const next = items[++k];
        if (next === undefined) throw this.error(`listen: '${it}' needs a value`, loc);
        if (it.toLowerCase() === 'advertise') {
          const a = this.hostPort(next, loc, 'listen advertise', false);
          advertise = { address: a.host, ...(a.port !== undefined ? { port: a.port } : {}) };
        } else {
          const r = next[0] === '"' || next[0] === "'" ? readQuoted(next, 0) : { value: next, end: next.length };
          if (r.end !== next.length || r.value === '') throw this.error(`listen: invalid name ${next}`, loc);
          name = r.value;
        }
        continue;
      }
      if (it === 'virtual') {
        this.cfg.warnings.push({ message: `listen option 'virtual' is ignored by ksr`, loc });
        continue;
      }
      if (advertise !== undefined || name !== undefined) {
        throw this.error(`listen: unexpected '${it}' after advertise/name`, loc);
      }
      const a = this.hostPort(it, loc, 'listen', true);
      addrs.push({ proto: (a.proto ?? 'any') as ListenProto, host: a.host, ...(a.port !== undefined ? { port: a.port } : {}) });
    }
    if (addrs.length === 0) throw this.error('listen needs an address, e.g. listen=udp:127.0.0.1:5060', loc);
    for (const a of addrs) {
      this.cfg.listen.push({
        proto: a.proto,
        address: a.host,
        ...(a.port !== undefined ? { port: a.port } : {}),
        ...(advertise ? { advertise: { ...advertise } } : {}),
        ...(name !== undefined ? { name } : {}),
        loc,
      });
    }
  }

  private alias(raw: string, loc: SourceLocation): void {
    const items = this.items(raw, loc);
    if (items.length === 0) throw this.error('alias needs a host name', loc);
    for (const it of items) {
      const a = this.hostPort(it, loc, 'alias', true);
      this.cfg.aliases.push({
        ...(a.proto !== undefined ? { proto: a.proto } : {}),
        host: a.host,
        ...(a.port !== undefined ? { port: a.port } : {}),
        loc,
      });
    }
  }

  /** `[proto:]host[:port]` where host is IPv4, [IPv6], a name, "quoted" or `*`. */
  private hostPort(
    item: string,
    loc: SourceLocation,
    what: string,
    allowProto: boolean,
  ): { proto?: string; host: string; port?: number } {
    let rest = item;
    let proto: string | undefined;
    const pm = /^(udp|tcp|tls|sctp|ws|wss|any):/i.exec(rest);
    if (pm) {
      if (!allowProto) throw this.error(`${what}: no protocol allowed in '${item}'`, loc);
      proto = pm[1]!.toLowerCase();
      rest = rest.slice(pm[0].length);
    }
    let host: string;
    let after: string;
    if (rest.startsWith('[')) {
      const close = rest.indexOf(']');
      if (close < 0) throw this.error(`${what}: missing ']' in '${item}'`, loc);
      host = rest.slice(1, close);
      if (!isIPv6(host)) throw this.error(`${what}: '${host}' is not an IPv6 address`, loc);
      after = rest.slice(close + 1);
    } else if (rest.startsWith('"') || rest.startsWith("'")) {
      const r = readQuoted(rest, 0);
      if (r.end < 0) throw this.error('unterminated string', loc);
      host = r.value;
      after = rest.slice(r.end);
    } else if (rest.startsWith('(')) {
      throw this.error(`${what}: multihomed address lists '(a,b)' are not supported by ksr`, loc);
    } else if (isIPv6(rest)) {
      host = rest;
      after = '';
      if (/:[0-9]{1,5}$/.test(rest) && !rest.endsWith('::')) {
        this.cfg.warnings.push({
          message: `${what}: '${rest}' is read as an IPv6 address without port; write [address]:port to give a port`,
          loc,
        });
      }
    } else {
      const colon = rest.indexOf(':');
      host = colon < 0 ? rest : rest.slice(0, colon);
      after = colon < 0 ? '' : rest.slice(colon);
    }
    if (host === '') throw this.error(`${what}: missing address in '${item}'`, loc);
    if (host !== '*' && isIP(host) === 0 && !/^[A-Za-z0-9_]([A-Za-z0-9_.-]*[A-Za-z0-9_])?$/.test(host)) {
      throw this.error(`${what}: invalid address '${host}' in '${item}' (write IPv6 addresses in brackets: [::1]:5060)`, loc);
    }
    let port: number | undefined;
    if (after !== '') {
      const portText = after.startsWith(':') ? after.slice(1) : undefined;
      if (portText === undefined || !/^[0-9]+$/.test(portText)) {
        throw this.error(`${what}: invalid port in '${item}'`, loc);
      }
      port = Number(portText);
      if (port < 1 || port > 65535) throw this.error(`${what}: port ${portText} out of range in '${item}'`, loc);
    }
    return { ...(proto !== undefined ? { proto } : {}), host, ...(port !== undefined ? { port } : {}) };
  }
}
