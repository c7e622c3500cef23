import { symlinkSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { ErrorCodes } from '@ksr/core';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { JsdtEngine } from '../src/index.js';
import { looksLikeModule } from '../src/loader.js';
import { makeHarness, type Harness } from './support.js';

let h: Harness;
const engines: JsdtEngine[] = [];
async function load(rel: string, params: Record<string, string | number> = {}): Promise<JsdtEngine> {
  const e = await h.load(rel, params);
  engines.push(e);
  return e;
}

beforeEach(() => {
  h = makeHarness();
  h.write('lib/util.js', `export function greet(n) { return "hi " + n; }\nexport const TAG = "util";\n`);
  h.write('lib/deep/more.js', `import { TAG } from "../util.js";\nexport function more() { return TAG + "+more"; }\n`);
});
afterEach(() => {
  for (const e of engines.splice(0)) e.dispose();
  h.cleanup();
});

describe('module loading', () => {
  it('imports files of the script folder (relative, nested, absolute inside)', async () => {
    h.write('main.js', `import { greet } from "./lib/util.js";
import { more } from "./lib/deep/more.js";
import * as again from "${h.dir}/lib/./deep/../util.js";
export function ksr_request_route() { KSR.test.record(greet("bob") + " " + more() + " " + (again.greet === greet)); }
`);
    const e = await load('main.js');
    expect(h.route(e).kind).toBe('ok');
    expect(h.recorded).toEqual(['hi bob util+more true']);
    expect(e.stats().files.map((f) => path.relative(h.dir, f)).sort()).toEqual(['lib/deep/more.js', 'lib/util.js', 'main.js']);
  });

  it('lets a classic (Kamailio-style) script load modules with dynamic import()', async () => {
    h.write('main.js', `var util;
import("./lib/util.js").then(function (m) { util = m; });
function ksr_request_route() { KSR.test.record(util.greet("classic")); }
function lateImport() {
  import("./lib/deep/more.js").then(function (m) { KSR.test.record(m.more()); });
}
function badImport() {
  import("../outside.js").catch(function (e) { KSR.test.record("refused: " + e.message); });
}`);
    const e = await load('main.js');
    expect(h.route(e).kind).toBe('ok');
    expect(h.route(e, 'lateImport').kind).toBe('ok');
    expect(h.route(e, 'badImport').kind).toBe('ok');
    expect(h.recorded[0]).toBe('hi classic');
    expect(h.recorded[1]).toBe('util+more');
    expect(h.recorded[2]).toMatch(/^refused: import '\.\.\/outside\.js' in .*main\.js: .*outside\.js is outside the script folder/);
  });

  it('refuses a path escaping the folder', async () => {
    writeFileSync(path.join(path.dirname(h.dir), `${path.basename(h.dir)}-x.js`), 'export const x = 1;\n');
    h.write('main.js', `import { x } from "../${path.basename(h.dir)}-x.js";\nexport function ksr_request_route() {}\n`);
    await expect(load('main.js')).rejects.toMatchObject({
      code: ErrorCodes.SCRIPT_LOAD,
      message: expect.stringMatching(/is outside the script folder/),
    });
    h.write('main.js', `import "../x.js";\nexport function ksr_request_route() {}\n`);
    await expect(load('main.js')).rejects.toThrow(/import '\.\.\/x\.js' in .*main\.js: .* is outside the script folder/);
    h.write('main.js', `import "/etc/passwd";\nexport function ksr_request_route() {}\n`);
    await expect(load('main.js')).rejects.toThrow(/outside the script folder/);
  });

  it('refuses bare specifiers and node builtins', async () => {
    for (const spec of ['fs', 'node:fs', 'lodash']) {
      h.write('main.js', `import x from "${spec}";\nexport function ksr_request_route() {}\n`);
      await expect(load('main.js')).rejects.toThrow(/bare specifiers are not supported/);
    }
  });

  it('refuses a symlink that leads out of the folder', async () => {
    symlinkSync('/etc/hostname', path.join(h.dir, 'lib', 'link.js'));
    h.write('main.js', `import "./lib/link.js";\nexport function ksr_request_route() {}\n`);
    await expect(load('main.js')).rejects.toThrow(/resolves to \/etc\/hostname, outside the script folder/);
  });

  it('reports a missing module and a syntax error in an imported file with its file:line', async () => {
    h.write('main.js', `import "./lib/nope.js";\nexport function ksr_request_route() {}\n`);
    await expect(load('main.js')).rejects.toThrow(/cannot import .*lib\/nope\.js: no such file/);
    h.write('lib/broken.js', `export const a = 1;\n\nexport const b = ;\n`);
    h.write('main.js', `import { a } from "./lib/broken.js";\nexport function ksr_request_route() {}\n`);
    await expect(load('main.js')).rejects.toThrow(`${h.dir}/lib/broken.js:3: SyntaxError`);
  });

  it('mode 0 disables module loading', async () => {
    h.write('main.js', `import { greet } from "./lib/util.js";\nexport function ksr_request_route() {}\n`);
    await expect(load('main.js', { mode: 0 })).rejects.toThrow(/module loading is disabled \(modparam app_jsdt mode 0\)/);
  });

  it('supports top-level await in a module script', async () => {
    h.write('main.mjs', `const m = await import("./lib/util.js");
export function ksr_request_route() { KSR.test.record(m.greet("tla")); }
`);
    const e = await load('main.mjs');
    expect(h.route(e).kind).toBe('ok');
    expect(h.recorded).toEqual(['hi tla']);
  });
});

describe('looksLikeModule', () => {
  it('detects import/export statements anywhere at line start', () => {
    expect(looksLikeModule('a.js', 'function f() {}\nimport x from "./x.js";')).toBe(true);
    expect(looksLikeModule('a.js', '// c\n  export function ksr_request_route() {}')).toBe(true);
    expect(looksLikeModule('a.js', 'import "./side.js";')).toBe(true);
    expect(looksLikeModule('a.js', 'import * as ns from "./x.js"')).toBe(true);
    expect(looksLikeModule('a.mjs', 'var x;')).toBe(true);
    expect(looksLikeModule('a.js', 'function ksr_request_route() {}\nimport("./x.js");')).toBe(false);
    expect(looksLikeModule('a.js', 'var important = 1;\nexports = 2;')).toBe(false);
    expect(looksLikeModule('a.cjs', 'export const x = 1;')).toBe(false);
  });
});
