import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import ts from 'typescript';
import { describe, expect, it } from 'vitest';
import { registryForDocs } from '../../../../scripts/kemi-registry.js';
import {
  GENERATED_BY,
  KEMI_DOC_PATHS,
  kemiPrototype,
  paramNamesOf,
  renderDts,
  renderKemiDocs,
  renderKemiMarkdown,
  renderLuaDefs,
  renderPyi,
} from '../../src/kemi/introspect.js';
import { KemiRegistry } from '../../src/kemi/registry.js';
import type { KemiExportDef } from '../../src/kemi/types.js';

const fn = (): number => 1;

/** A small registry: core, modules registered out of alphabetical order, names that are reserved words. */
function fakeRegistry() {
  const reg = new KemiRegistry();
  const d = (x: Omit<KemiExportDef, 'fn'>): KemiExportDef => ({ ...x, fn });
  reg.addModule('sl', [d({ name: 'send_reply', returns: 'int', params: ['int', 'str'], paramNames: ['code', 'reason'], doc: 'Send a stateless reply.' })]);
  reg.addModule('', [
    d({ name: 'is_INVITE', returns: 'bool', params: [], doc: 'Is the request an INVITE?' }),
    d({ name: 'setflag', returns: 'bool', params: ['int'], paramNames: ['flag'] }),
  ]);
  reg.addModule('hdr', [d({ name: 'getw', returns: 'xval', params: ['str'], paramNames: ['hname'], doc: 'First header body named hname\n("<<null>>" when absent, `<x>` kept). */ """' })]);
  reg.addModule('pv', [d({ name: 'setl', returns: 'bool', params: ['str', 'long'], paramNames: ['name', 'bad name'] })]);
  reg.addModule('kw', [d({ name: 'end', returns: 'none', params: ['str', 'str', 'int'], paramNames: ['function', 'in', 'class'], doc: 'Reserved words "' })]);
  return reg.freeze();
}

const HEADER_MD = `<!-- ${GENERATED_BY} -->`;

describe('kemiPrototype and paramNamesOf', () => {
  const reg = fakeRegistry();
  it("writes Kamailio's prototype style, void for none", () => {
    expect(kemiPrototype(reg.find('sl', 'send_reply')!)).toBe('int KSR.sl.send_reply(int code, str reason);');
    expect(kemiPrototype(reg.find('', 'is_INVITE')!)).toBe('bool KSR.is_INVITE();');
    expect(kemiPrototype(reg.find('kw', 'end')!)).toBe('void KSR.kw.end(str function, str in, int class);');
  });
  it('names parameters from paramNames, p<N> where missing, unusable or repeated', () => {
    expect(paramNamesOf({ params: ['str', 'long'], paramNames: ['name', 'bad name'] })).toEqual(['name', 'p2']);
    expect(paramNamesOf({ params: ['str', 'str', 'str'] })).toEqual(['p1', 'p2', 'p3']);
    expect(paramNamesOf({ params: ['str', 'str', 'int'], paramNames: ['a'] })).toEqual(['a', 'p2', 'p3']);
    expect(paramNamesOf({ params: ['str', 'str'], paramNames: ['a', 'a'] })).toEqual(['a', 'p2']);
  });
});

describe('renderKemiMarkdown', () => {
  const md = renderKemiMarkdown(fakeRegistry());
  it('starts with the generated-by header and lists the modules, core first then by name', () => {
    expect(md.split('\n')[0]).toBe(HEADER_MD);
    expect(md).toContain('The functions routing scripts call as `KSR.*`: 6 functions in 5 modules, generated from the export registry.');
    expect(md).toContain(
      [
        '| module | reached as | functions |',
        '|---|---|---|',
        '| [core](#core) | `KSR.<name>` | 2 |',
        '| [hdr](#hdr) | `KSR.hdr.<name>` | 1 |',
        '| [kw](#kw) | `KSR.kw.<name>` | 1 |',
        '| [pv](#pv) | `KSR.pv.<name>` | 1 |',
        '| [sl](#sl) | `KSR.sl.<name>` | 1 |',
      ].join('\n'),
    );
    const headings = [...md.matchAll(/^## (.*)$/gm)].map((m) => m[1]);
    expect(headings).toEqual(['Modules', 'core', 'hdr', 'kw', 'pv', 'sl']);
  });
  it('writes each function as a heading, a prototype block and its doc line', () => {
    expect(md).toContain(
      [
        '## core',
        '',
        'Core functions, reached as `KSR.<name>`.',
        '',
        '#### KSR.is_INVITE()',
        '',
        '```c',
        'bool KSR.is_INVITE();',
        '```',
        '',
        'Is the request an INVITE?',
        '',
        '#### KSR.setflag()',
        '',
        '```c',
        'bool KSR.setflag(int flag);',
        '```',
        '',
        '## hdr',
      ].join('\n'),
    );
    expect(md).toContain(['#### KSR.sl.send_reply()', '', '```c', 'int KSR.sl.send_reply(int code, str reason);', '```', '', 'Send a stateless reply.', ''].join('\n'));
  });
  it('puts the doc on one line and escapes < outside code spans', () => {
    expect(md).toContain('\nFirst header body named hname ("\\<\\<null>>" when absent, `<x>` kept). */ """\n');
  });
  it('ends with exactly one newline', () => {
    expect(md.endsWith('Send a stateless reply.\n')).toBe(true);
  });
});

describe('renderDts', () => {
  const dts = renderDts(fakeRegistry());
  it('declares a global KSR with nested module objects', () => {
    expect(dts).toBe(
      [
        `// ${GENERATED_BY}`,
        '//',
        '// The KSR object ksr binds into JavaScript routing scripts. Add this file to the editor project',
        '// (jsconfig.json "include") or start the script with /// <reference path="KSR.d.ts" />.',
        '// Submodules other than the core ones exist only when their module is loaded: test `if (KSR.tm)`.',
        '',
        'declare const KSR: {',
        '  /** Is the request an INVITE? */',
        '  is_INVITE(): boolean;',
        '  setflag(flag: number): boolean;',
        '  /** KSR.hdr */',
        '  readonly hdr: {',
        '    /** First header body named hname ("<<null>>" when absent, `<x>` kept). *\\/ """ */',
        '    getw(hname: string): string | number | null;',
        '  };',
        '  /** KSR.kw */',
        '  readonly kw: {',
        '    /** Reserved words " */',
        '    end(function_: string, in_: string, class_: number): void;',
        '  };',
        '  /** KSR.pv */',
        '  readonly pv: {',
        '    setl(name: string, p2: number): boolean;',
        '  };',
        '  /** KSR.sl */',
        '  readonly sl: {',
        '    /** Send a stateless reply. */',
        '    send_reply(code: number, reason: string): number;',
        '  };',
        '};',
        '',
      ].join('\n'),
    );
  });
  it('type-checks, and a script using it type-checks', () => {
    const use = [
      'const a: number = KSR.sl.send_reply(404, "Not Found");',
      'const b: boolean = KSR.is_INVITE();',
      'const c: string | number | null = KSR.hdr.getw("From");',
      'KSR.kw.end("a", "b", 1);',
      '// @ts-expect-error: str parameter',
      'KSR.sl.send_reply(404, 5);',
      'export { a, b, c };',
    ].join('\n');
    expect(typeCheck({ 'KSR.d.ts': dts, 'use.ts': use })).toEqual([]);
  });
});

describe('renderPyi', () => {
  const pyi = renderPyi(fakeRegistry());
  it('declares core functions at module level and submodules as classes of static methods', () => {
    expect(pyi).toBe(
      [
        `# ${GENERATED_BY}`,
        '"""The KSR module ksr binds into Python routing scripts (``import KSR``).',
        '',
        'Submodules are attributes of KSR (``KSR.hdr.get("From")``). Submodules other than the core ones',
        'exist only when their module is loaded: test with ``hasattr(KSR, "tm")``.',
        '"""',
        '',
        'def is_INVITE() -> bool:',
        '    """Is the request an INVITE?"""',
        '',
        'def setflag(flag: int) -> bool: ...',
        '',
        '',
        'class hdr:',
        '    """KSR.hdr"""',
        '',
        '    @staticmethod',
        '    def getw(hname: str) -> str | int | None:',
        '        """First header body named hname ("<<null>>" when absent, `<x>` kept). */ \\""\\""""',
        '',
        '',
        'class kw:',
        '    """KSR.kw"""',
        '',
        '    @staticmethod',
        '    def end(function: str, in_: str, class_: int) -> None:',
        '        """Reserved words \\""""',
        '',
        '',
        'class pv:',
        '    """KSR.pv"""',
        '',
        '    @staticmethod',
        '    def setl(name: str, p2: int) -> bool: ...',
        '',
        '',
        'class sl:',
        '    """KSR.sl"""',
        '',
        '    @staticmethod',
        '    def send_reply(code: int, reason: str) -> int:',
        '        """Send a stateless reply."""',
        '',
      ].join('\n'),
    );
  });
  it('leaves out names that are Python keywords, with a comment', () => {
    const reg = new KemiRegistry();
    reg.addModule('m', [{ name: 'import', returns: 'int', params: [], fn }]);
    expect(renderPyi(reg.freeze())).toContain('    # KSR.m.import cannot be declared here: "import" is a Python keyword (use getattr)');
  });
  it.skipIf(!hasPython())('is valid Python', () => {
    expect(pythonSyntaxErrors(pyi)).toBe('');
  });
});

describe('renderLuaDefs', () => {
  const lua = renderLuaDefs(fakeRegistry());
  it('writes LuaLS annotations: ---@meta, ---@class per table, ---@param and ---@return per function', () => {
    expect(lua.split('\n').slice(0, 2)).toEqual([`-- ${GENERATED_BY}`, '---@meta']);
    expect(lua).toContain(['---@class KSR', 'KSR = {}', '', '---Is the request an INVITE?', '---@return boolean', 'function KSR.is_INVITE() end', ''].join('\n'));
    expect(lua).toContain(['---@param flag integer', '---@return boolean', 'function KSR.setflag(flag) end', ''].join('\n'));
    expect(lua).toContain(
      [
        '---@class KSR.hdr',
        'KSR.hdr = {}',
        '',
        '---First header body named hname ("<<null>>" when absent, `<x>` kept). */ """',
        '---@param hname string',
        '---@return string|integer|nil',
        'function KSR.hdr.getw(hname) end',
        '',
      ].join('\n'),
    );
    expect(lua).toContain(['---@param name string', '---@param p2 integer', '---@return boolean', 'function KSR.pv.setl(name, p2) end'].join('\n'));
    expect(lua).toContain(
      ['---Send a stateless reply.', '---@param code integer', '---@param reason string', '---@return integer', 'function KSR.sl.send_reply(code, reason) end', ''].join('\n'),
    );
  });
  it('writes no @return for void functions, and quotes Lua keywords', () => {
    expect(lua).toContain(
      ['---Reserved words "', '---@param function_ string', '---@param in_ string', '---@param class integer', 'KSR.kw["end"] = function(function_, in_, class) end', ''].join('\n'),
    );
  });
});

describe('renderKemiDocs', () => {
  it('renders the four files, each starting with the generated-by header', () => {
    const files = renderKemiDocs(fakeRegistry());
    expect(files.map((f) => f.path)).toEqual(['docs/kemi-api.md', 'docs/stubs/KSR.d.ts', 'docs/stubs/KSR.pyi', 'docs/stubs/KSR.lua']);
    for (const f of files) expect(f.text.split('\n')[0]).toContain(GENERATED_BY);
  });
  it('is deterministic', () => {
    expect(renderKemiDocs(fakeRegistry())).toEqual(renderKemiDocs(fakeRegistry()));
  });
});

describe('the committed reference and stubs', () => {
  it('are up to date with the registry (run: npx tsx scripts/gen-kemi.ts)', async () => {
    const files = renderKemiDocs(await registryForDocs());
    const stale: string[] = [];
    for (const f of files) {
      let committed: string | undefined;
      try {
        committed = readFileSync(new URL(`../../../../${f.path}`, import.meta.url), 'utf8');
      } catch {
        committed = undefined;
      }
      if (committed !== f.text) stale.push(f.path);
    }
    expect(stale, `stale generated files: ${stale.join(', ')} — run: npx tsx scripts/gen-kemi.ts`).toEqual([]);
  });

  it('the real stubs are valid (d.ts type-checks, .pyi parses)', async () => {
    const reg = await registryForDocs();
    expect(reg.find('x', 'exit')).toBeDefined();
    expect(typeCheck({ 'KSR.d.ts': renderDts(reg), 'use.ts': 'KSR.x.exit();\nexport {};\n' })).toEqual([]);
    if (hasPython()) expect(pythonSyntaxErrors(renderPyi(reg))).toBe('');
  });

  it('lists every export of the registry once', async () => {
    const reg = await registryForDocs();
    const md = renderKemiMarkdown(reg);
    const headings = [...md.matchAll(/^#### (KSR\..*)\(\)$/gm)].map((m) => m[1]);
    expect(headings.sort()).toEqual(reg.exports.map((e) => e.qualified).sort());
    expect(KEMI_DOC_PATHS.markdown).toBe('docs/kemi-api.md');
  });
});

// ---------------------------------------------------------------------------------------------

/** Type-check in-memory files with the TypeScript compiler; returns the diagnostics as text. */
function typeCheck(files: Record<string, string>): string[] {
  const options: ts.CompilerOptions = { strict: true, noEmit: true, target: ts.ScriptTarget.ES2022, lib: ['lib.es2022.d.ts'], types: [], module: ts.ModuleKind.ESNext };
  const host = ts.createCompilerHost(options);
  const read = host.readFile.bind(host);
  const getSource = host.getSourceFile.bind(host);
  host.fileExists = (f) => f in files || ts.sys.fileExists(f);
  host.readFile = (f) => files[f] ?? read(f);
  host.getSourceFile = (f, lang, ...rest) => (f in files ? ts.createSourceFile(f, files[f]!, lang) : getSource(f, lang, ...rest));
  const program = ts.createProgram(Object.keys(files), options, host);
  return ts.getPreEmitDiagnostics(program).map((d) => `${d.file?.fileName ?? ''}: ${ts.flattenDiagnosticMessageText(d.messageText, '\n')}`);
}

let pythonChecked: boolean | undefined;
function hasPython(): boolean {
  pythonChecked ??= spawnSync('python3', ['-c', 'import sys; sys.exit(0 if sys.version_info >= (3, 8) else 1)']).status === 0;
  return pythonChecked;
}

function pythonSyntaxErrors(src: string): string {
  const r = spawnSync('python3', ['-c', 'import ast, sys; ast.parse(sys.stdin.read())'], { input: src, encoding: 'utf8' });
  return r.status === 0 ? '' : r.stderr;
}
