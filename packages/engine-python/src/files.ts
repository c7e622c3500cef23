/**
 * The script folder as a generation sees it. Python never touches the host filesystem: at load,
 * the main script and the folder's Python modules are read on the host and copied into Pyodide's
 * in-memory filesystem under /ksr/g<id>/ (one directory per generation, removed when the
 * generation is disposed). The generation's importer serves `import helper` from there, so a
 * reload re-imports the sibling modules as they are on disk at that moment.
 *
 * What is copied: `*.py` files of the script's folder, and packages (subfolders with an
 * `__init__.py`, recursively). Hidden entries, `__pycache__` and names that are not Python
 * identifiers are skipped; at most MAX_FILES files and MAX_TOTAL_BYTES bytes.
 */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';

export const MAX_FILES = 500;
export const MAX_TOTAL_BYTES = 16 * 1024 * 1024;
export const MAX_DEPTH = 8;
export const VFS_ROOT = '/ksr';

const IDENT = /^[A-Za-z_][A-Za-z0-9_]*$/;

export interface ScriptFile {
  /** Dotted module name (pkg.mod), or the stem for the main script. */
  module: string;
  /** Host path (what tracebacks and __file__ show). */
  hostPath: string;
  /** Path inside the generation's directory of Pyodide's filesystem. */
  rel: string;
  isPackage: boolean;
  data: Uint8Array;
}

export interface ScriptSnapshot {
  main: ScriptFile;
  /** Importable modules (main script excluded). */
  modules: ScriptFile[];
  /** Some modules were left out (MAX_FILES / MAX_TOTAL_BYTES). */
  truncated: boolean;
}

/** The directory of generation `gid` in Pyodide's filesystem. */
export function vfsDirOf(gid: number): string {
  return `${VFS_ROOT}/g${gid}`;
}

/**
 * Read the main script and the importable modules next to it (kept in memory: a rebuild after a
 * fatal interpreter error loads exactly what was loaded before). Throws when the script cannot be
 * read.
 */
export function snapshotScript(scriptPath: string): ScriptSnapshot {
  const root = path.dirname(scriptPath);
  const mainData = readFileSync(scriptPath);
  const main: ScriptFile = {
    module: path.basename(scriptPath).replace(/\.py$/, ''),
    hostPath: scriptPath,
    rel: `__main__/${path.basename(scriptPath)}`,
    isPackage: false,
    data: mainData,
  };
  const modules: ScriptFile[] = [];
  let total = mainData.byteLength;
  let truncated = false;
  const add = (file: ScriptFile): boolean => {
    if (modules.length >= MAX_FILES || total + file.data.byteLength > MAX_TOTAL_BYTES) {
      truncated = true;
      return false;
    }
    total += file.data.byteLength;
    modules.push(file);
    return true;
  };
  const walk = (dir: string, prefix: string[], depth: number): void => {
    let entries: string[];
    try {
      entries = readdirSync(dir).sort();
    } catch {
      return;
    }
    for (const name of entries) {
      if (name.startsWith('.') || name === '__pycache__') continue;
      const full = path.join(dir, name);
      if (full === scriptPath) continue;
      let st;
      try {
        st = statSync(full);
      } catch {
        continue;
      }
      if (st.isFile() && name.endsWith('.py')) {
        const stem = name.slice(0, -3);
        if (stem === '__init__' || !IDENT.test(stem)) continue;
        const rel = [...prefix, name].join('/');
        if (!add({ module: [...prefix, stem].join('.'), hostPath: full, rel, isPackage: false, data: readFileSync(full) })) return;
      } else if (st.isDirectory() && depth < MAX_DEPTH && IDENT.test(name)) {
        const init = path.join(full, '__init__.py');
        let initData: Buffer;
        try {
          initData = readFileSync(init);
        } catch {
          continue; // not a package
        }
        const rel = [...prefix, name, '__init__.py'].join('/');
        if (!add({ module: [...prefix, name].join('.'), hostPath: init, rel, isPackage: true, data: initData })) return;
        walk(full, [...prefix, name], depth + 1);
      }
    }
  };
  walk(root, [], 0);
  return { main, modules, truncated };
}

interface EmFS {
  mkdirTree(p: string): void;
  writeFile(p: string, data: Uint8Array): void;
  readdir(p: string): string[];
  stat(p: string): { mode: number };
  isDir(mode: number): boolean;
  unlink(p: string): void;
  rmdir(p: string): void;
}

/** Write a snapshot into Pyodide's filesystem under `dir`. */
export function writeSnapshot(fs: unknown, snap: ScriptSnapshot, dir: string): void {
  const FS = fs as EmFS;
  for (const f of [snap.main, ...snap.modules]) {
    const p = `${dir}/${f.rel}`;
    FS.mkdirTree(path.posix.dirname(p));
    FS.writeFile(p, f.data);
  }
}

/** Remove a generation's directory from Pyodide's filesystem. */
export function removeTree(fs: unknown, dir: string): void {
  const FS = fs as EmFS;
  let names: string[];
  try {
    names = FS.readdir(dir);
  } catch {
    return;
  }
  for (const n of names) {
    if (n === '.' || n === '..') continue;
    const p = `${dir}/${n}`;
    try {
      if (FS.isDir(FS.stat(p).mode)) removeTree(fs, p);
      else FS.unlink(p);
    } catch {
      // already gone
    }
  }
  try {
    FS.rmdir(dir);
  } catch {
    // already gone
  }
}
