import { readFileSync, readdirSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

// The dependency rules of docs/architecture.md, checked on the real import graph.

const root = resolve(dirname(fileURLToPath(import.meta.url)), '../../..');

function tsFiles(dir: string): string[] {
  let out: string[] = [];
  let entries: string[];
  try {
    entries = readdirSync(dir);
  } catch {
    return out;
  }
  for (const name of entries) {
    const p = join(dir, name);
    if (name === 'node_modules') continue;
    if (statSync(p).isDirectory()) out = out.concat(tsFiles(p));
    else if (/\.(ts|mts)$/.test(name) && !name.endsWith('.d.ts')) out.push(p);
  }
  return out;
}

function imports(file: string): string[] {
  // comments may quote import lines (usage examples); only code counts
  const text = readFileSync(file, 'utf8')
    .replace(/\/\*[\s\S]*?\*\//g, '')
    .replace(/^\s*\/\/.*$/gm, '');
  const specs: string[] = [];
  const re = /(?:^|[\s;])(?:import|export)\s[^'"]*?from\s*['"]([^'"]+)['"]|import\(\s*['"]([^'"]+)['"]\s*\)|^import\s+['"]([^'"]+)['"]/gm;
  for (let m = re.exec(text); m; m = re.exec(text)) specs.push((m[1] ?? m[2] ?? m[3])!);
  return specs;
}

function violations(srcDir: string, check: (file: string, spec: string) => string | undefined): string[] {
  const out: string[] = [];
  for (const f of tsFiles(srcDir)) {
    for (const spec of imports(f)) {
      const why = check(f, spec);
      if (why) out.push(`${relative(root, f)} imports '${spec}': ${why}`);
    }
  }
  return out;
}

const ENGINE_OR_MODULE = /^@ksr\/(modules|engine-[a-z]+)(\/|$)/;

describe('dependency rules', () => {
  it('the import scanner sees imports (self-check)', () => {
    const specs = imports(join(root, 'packages/core/src/server/server.ts'));
    expect(specs).toContain('../sip/index.js');
    expect(specs).toContain('../transport/index.js');
  });

  it('core/src/sip imports nothing of ours and no I/O', () => {
    const sipDir = join(root, 'packages/core/src/sip');
    expect(tsFiles(sipDir).length).toBeGreaterThan(0);
    const v = violations(sipDir, (file, spec) => {
      if (spec.startsWith('.')) {
        const target = resolve(dirname(file), spec);
        return target.startsWith(sipDir) ? undefined : 'leaves src/sip';
      }
      return spec === 'node:crypto' || spec === 'node:buffer' ? undefined : 'only node:crypto / node:buffer allowed';
    });
    expect(v).toEqual([]);
  });

  it('core/src/transport does not import the parser', () => {
    const v = violations(join(root, 'packages/core/src/transport'), (file, spec) =>
      spec.startsWith('.') && resolve(dirname(file), spec).includes('/src/sip') ? 'transport frames streams itself' : undefined,
    );
    expect(v).toEqual([]);
  });

  it('core never imports a module or an engine', () => {
    const v = violations(join(root, 'packages/core/src'), (_f, spec) => (ENGINE_OR_MODULE.test(spec) ? 'core is below modules and engines' : undefined));
    expect(v).toEqual([]);
  });

  for (const pkg of ['modules', 'engine-lua', 'engine-js', 'engine-python', 'engine-testkit']) {
    it(`${pkg} uses only core's public entry points and no sibling`, () => {
      const pkgDir = join(root, 'packages', pkg);
      const v = violations(join(pkgDir, 'src'), (file, spec) => {
        if (spec.startsWith('.')) return resolve(dirname(file), spec).startsWith(pkgDir) ? undefined : 'reaches outside its package';
        if (spec.startsWith('@ksr/')) {
          if (spec === '@ksr/core' || spec === '@ksr/core/sip') return undefined;
          return 'only @ksr/core public entry points';
        }
        return undefined;
      });
      expect(v).toEqual([]);
    });
  }
});
