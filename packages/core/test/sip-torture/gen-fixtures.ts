/**
 * Regenerates test/fixtures/torture/{valid,invalid,application}/*.sip from
 * test/fixtures/torture/rfc4475-messages.txt (RFC 4475 notation, see rfc4475-format.ts).
 *
 *   npx tsx packages/core/test/sip-torture/gen-fixtures.ts
 *
 * torture.test.ts checks that the committed .sip files are exactly this decoding.
 */
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseTortureSource } from './rfc4475-format.js';

const here = dirname(fileURLToPath(import.meta.url));
const root = join(here, '..', 'fixtures', 'torture');
const messages = parseTortureSource(readFileSync(join(root, 'rfc4475-messages.txt'), 'utf8'));
for (const m of messages) {
  mkdirSync(join(root, m.cls), { recursive: true });
  writeFileSync(join(root, m.cls, `${m.name}.sip`), m.bytes);
}
console.log(`wrote ${messages.length} messages`);
