/**
 * Generate the KSR reference and editor stubs from the KEMI registry:
 *   docs/kemi-api.md, docs/stubs/KSR.d.ts, docs/stubs/KSR.pyi, docs/stubs/KSR.lua
 *
 *   npx tsx scripts/gen-kemi.ts           write the files
 *   npx tsx scripts/gen-kemi.ts --check   exit 1 when a file is missing or stale (CI)
 */
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { renderKemiDocs } from '../packages/core/src/kemi/introspect.js';
import { registryForDocs } from './kemi-registry.js';

const ROOT = fileURLToPath(new URL('..', import.meta.url));

function readOrUndefined(path: string): string | undefined {
  try {
    return readFileSync(path, 'utf8');
  } catch {
    return undefined;
  }
}

async function main(argv: string[]): Promise<number> {
  const unknown = argv.filter((a) => a !== '--check');
  if (unknown.length > 0) {
    process.stderr.write(`gen-kemi: unknown argument ${unknown[0]}\nusage: npx tsx scripts/gen-kemi.ts [--check]\n`);
    return 2;
  }
  const check = argv.includes('--check');
  const reg = await registryForDocs();
  const files = renderKemiDocs(reg);
  const stale: string[] = [];
  for (const f of files) {
    const abs = join(ROOT, f.path);
    if (readOrUndefined(abs) === f.text) continue;
    stale.push(f.path);
    if (!check) {
      mkdirSync(dirname(abs), { recursive: true });
      writeFileSync(abs, f.text);
    }
  }
  if (check) {
    if (stale.length > 0) {
      process.stderr.write(`gen-kemi: out of date: ${stale.join(', ')}\nrun: npx tsx scripts/gen-kemi.ts\n`);
      return 1;
    }
    process.stdout.write(`gen-kemi: ${files.length} files up to date (${reg.exports.length} functions)\n`);
    return 0;
  }
  process.stdout.write(
    stale.length > 0 ? `gen-kemi: wrote ${stale.join(', ')} (${reg.exports.length} functions)\n` : `gen-kemi: ${files.length} files already up to date\n`,
  );
  return 0;
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (err: unknown) => {
    process.stderr.write(`gen-kemi: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
    process.exit(2);
  },
);
