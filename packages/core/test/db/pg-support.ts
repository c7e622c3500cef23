/**
 * PostgreSQL for tests: KSR_TEST_PG_URL (default postgres://ksr:ksr@127.0.0.1:5432/ksr_test, what
 * scripts/test-postgres.sh creates). Tests that need it call `requirePg()` first: it FAILS with a
 * clear message when the server cannot be reached (never a silent skip). Each test gets its own
 * schema (`?schema=`), dropped with `dropPgSchema`.
 */
import { maskDbUrl, openDb } from '../../src/db/index.js';

export const PG_URL = process.env.KSR_TEST_PG_URL ?? 'postgres://ksr:ksr@127.0.0.1:5432/ksr_test';

let checked: string | undefined;

export function requirePg(): void {
  if (checked === 'ok') return;
  try {
    const db = openDb(PG_URL, { timeoutMs: 5000 });
    try {
      db.exec('SELECT 1');
    } finally {
      db.close();
    }
    checked = 'ok';
  } catch (err) {
    throw new Error(
      `PostgreSQL is required for this test and cannot be reached at ${maskDbUrl(PG_URL)}: ${(err as Error).message}. ` +
        'Start it with scripts/test-postgres.sh (what .ci/run does) or point KSR_TEST_PG_URL at a server.',
    );
  }
}

let n = 0;
/** A db_url for a fresh schema of its own (created on first use with createSchema). */
export function pgSchemaUrl(prefix: string): string {
  const schema = `${prefix}_${process.pid}_${Date.now().toString(36)}_${++n}`.toLowerCase().replace(/[^a-z0-9_]/g, '_');
  return `${PG_URL}${PG_URL.includes('?') ? '&' : '?'}schema=${schema}`;
}

export function dropPgSchema(url: string): void {
  const schema = /[?&]schema=([A-Za-z0-9_]+)/.exec(url)?.[1];
  if (!schema) return;
  const db = openDb(PG_URL, { timeoutMs: 10000 });
  try {
    db.exec(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
  } finally {
    db.close();
  }
}
