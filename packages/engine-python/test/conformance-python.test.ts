/**
 * The shared conformance suite on the class style (app_python3). The kit's fixtures are script
 * style (module-level functions); for the class style each one is copied with a thin adapter
 * appended (test/fixtures/class-adapter.py): mod_init() returns an object whose methods take
 * (msg, *args) and call the fixture's functions. Appending keeps the fixture's @conf line markers
 * (error lines) where the suite expects them. The broken fixture is copied unchanged.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describeEngineConformance, fixturePath } from '@ksr/engine-testkit';
import { afterAll } from 'vitest';
import { pythonEngine } from '../src/index.js';

const dir = mkdtempSync(path.join(tmpdir(), 'ksr-py-class-conf-'));
const adapter = readFileSync(new URL('./fixtures/class-adapter.py', import.meta.url), 'utf8');
for (const name of ['conformance.py', 'conformance-reload.py', 'conformance-norequest.py', 'conformance-broken.py']) {
  const text = readFileSync(fixturePath(name), 'utf8');
  writeFileSync(path.join(dir, name), name === 'conformance-broken.py' ? text : text + adapter);
}

describeEngineConformance('python', pythonEngine, { script: path.join(dir, 'conformance.py'), timeout: 60_000 });
afterAll(() => rmSync(dir, { recursive: true, force: true }));
