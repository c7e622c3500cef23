#!/usr/bin/env node
// Runs the whole vitest suite and ends with one plain line "N passed, N failed, N skipped",
// so that a CI log says at a glance how many tests ran. Exits with vitest's own exit code.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const dir = mkdtempSync(join(tmpdir(), 'ksr-vitest-'));
const out = join(dir, 'results.json');
const r = spawnSync(
  process.execPath,
  ['node_modules/vitest/vitest.mjs', 'run', '--reporter=default', '--reporter=json', `--outputFile.json=${out}`, ...process.argv.slice(2)],
  { stdio: 'inherit' },
);
let summary = 'no results: vitest did not write its report';
try {
  const res = JSON.parse(readFileSync(out, 'utf8'));
  const skipped = (res.numPendingTests ?? 0) + (res.numTodoTests ?? 0);
  summary = `${res.numPassedTests} passed, ${res.numFailedTests} failed, ${skipped} skipped`;
} catch {
  // keep the "no results" line
}
rmSync(dir, { recursive: true, force: true });
process.stdout.write(`\ntests: ${summary}\n`);
process.exit(r.status ?? 1);
