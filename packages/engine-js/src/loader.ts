/**
 * The sandboxed module loader: `import` / `import()` may only reach files inside the folder of the
 * main script (subfolders included). Specifiers must be relative ("./x.js", "../lib/y.js" as long
 * as the result stays inside the folder) or absolute paths inside it; bare specifiers ("lodash",
 * "node:fs") are refused, and so is anything whose real path (symlinks resolved) leaves the folder.
 *
 * Sources are read synchronously (QuickJS's sync build loads modules synchronously) and kept, so
 * that rebuilding the interpreter after a crash re-evaluates exactly what was loaded before.
 */
import { readFileSync, realpathSync, statSync } from 'node:fs';
import path from 'node:path';

/** A single module file larger than this is refused. */
export const MAX_MODULE_BYTES = 8 * 1024 * 1024;

/**
 * A normalised name that carries a refusal. QuickJS asks the loader for the normalised name next;
 * the loader turns it into the error. (Failing in the normaliser itself is unsafe in this
 * quickjs-emscripten version: the C side does not check for a NULL name.)
 */
const REJECT_PREFIX = '\u0001ksr-rejected:';

export type LoadResult = { source: string } | { error: string };

export class ScriptFiles {
  /** Absolute, normalised folder of the main script. */
  readonly root: string;
  private readonly realRoot: string;
  private readonly sources = new Map<string, string>();

  constructor(
    mainScript: string,
    /** modparam mode: 0 refuses every import. */
    private readonly allowImports: boolean,
  ) {
    this.root = path.dirname(mainScript);
    this.realRoot = safeRealpath(this.root) ?? this.root;
  }

  /** Read a file of the script (the main script included), remembering its source. */
  read(file: string): string {
    const cached = this.sources.get(file);
    if (cached !== undefined) return cached;
    const size = statSync(file).size;
    if (size > MAX_MODULE_BYTES) throw new Error(`${file} is larger than ${MAX_MODULE_BYTES} bytes`);
    const src = readFileSync(file, 'utf8');
    this.sources.set(file, src);
    return src;
  }

  /** Files read so far (for tests and diagnostics). */
  get loaded(): string[] {
    return [...this.sources.keys()];
  }

  private inside(p: string, root: string): boolean {
    const rel = path.relative(root, p);
    return rel !== '' && !rel.startsWith('..') && !path.isAbsolute(rel);
  }

  /** QuickJS module-name normaliser: `base` is the importing module's name (its absolute path). */
  normalize(base: string, requested: string): string {
    const from = base.startsWith(REJECT_PREFIX) ? this.root : base;
    if (!this.allowImports) {
      return `${REJECT_PREFIX}import '${requested}' in ${from}: module loading is disabled (modparam app_jsdt mode 0)`;
    }
    if (!(requested.startsWith('./') || requested.startsWith('../') || requested.startsWith('/'))) {
      return `${REJECT_PREFIX}import '${requested}' in ${from}: only files of the script folder can be imported ('./name.js'); bare specifiers are not supported`;
    }
    const baseDir = path.isAbsolute(from) ? path.dirname(from) : this.root;
    const resolved = path.resolve(baseDir, requested);
    if (!this.inside(resolved, this.root)) {
      return `${REJECT_PREFIX}import '${requested}' in ${from}: ${resolved} is outside the script folder ${this.root}`;
    }
    return resolved;
  }

  /** QuickJS module loader: the source of a normalised module name, or why it cannot be loaded. */
  load(name: string): LoadResult {
    if (name.startsWith(REJECT_PREFIX)) return { error: name.slice(REJECT_PREFIX.length) };
    if (!path.isAbsolute(name) || !this.inside(name, this.root)) {
      return { error: `cannot import ${name}: outside the script folder ${this.root}` };
    }
    const cached = this.sources.get(name);
    if (cached !== undefined) return { source: cached };
    const real = safeRealpath(name);
    if (real === undefined) return { error: `cannot import ${name}: no such file` };
    if (!this.inside(real, this.realRoot)) {
      return { error: `cannot import ${name}: it resolves to ${real}, outside the script folder ${this.realRoot}` };
    }
    try {
      return { source: this.read(name) };
    } catch (err) {
      return { error: `cannot import ${name}: ${(err as Error).message}` };
    }
  }
}

function safeRealpath(p: string): string | undefined {
  try {
    return realpathSync(p);
  } catch {
    return undefined;
  }
}

/**
 * Is this source an ES module? `.mjs` always is; otherwise a line that starts with an import or
 * export statement makes it one. Everything else is a classic script, evaluated like Kamailio's
 * app_jsdt does: its top-level `function ksr_request_route()` becomes a global.
 * (QuickJS's own JS_DetectModule only looks at the first statement.)
 */
export function looksLikeModule(file: string, source: string): boolean {
  if (file.endsWith('.mjs')) return true;
  if (file.endsWith('.cjs')) return false;
  return /^[ \t]*(?:import[ \t]*(?:["'{*]|[A-Za-z_$][\w$]*[ \t]*(?:,|from\b))|export[ \t]+(?:\{|\*|default\b|function\b|async[ \t]+function\b|class\b|const\b|let\b|var\b))/m.test(source);
}
