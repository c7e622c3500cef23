/**
 * describeEngineConformance: the one vitest suite every script engine runs (the
 * quickjs-emscripten model: one suite, every variant). An engine package writes
 *
 *   describeEngineConformance('lua', luaEngine, { script: fixturePath('conformance.lua') });
 *
 * and gets the same checks as every other engine: binding of KSR (core at the root, modules as
 * members, absent modules absent), every arity/type combination both ways, return types, null
 * modes, the coercion and error policy, exit/drop (also caught, also deep), script errors with
 * file and line, nested runs, missing functions, event arguments, load errors and reload.
 */
import { copyFileSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, dirname, extname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ErrorCodes, KsrError } from '@ksr/core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EXPECTED_ERROR_LOGS, EXPECTED_EVENTS } from './expected.js';
import { CONFORMANCE_CALL_ID, ConformanceHarness, type ConformanceEngine } from './harness.js';

/** The scenarios, by id (for `skip`). */
export const CONFORMANCE_CASES = [
  'load-time',
  'has-function',
  'request',
  'bind',
  'arity',
  'returns',
  'strings',
  'null-modes',
  'coercion',
  'errors',
  'error-location',
  'exit',
  'exit-deep',
  'drop',
  'exit-caught',
  'script-error',
  'runtime-error',
  'error-deep',
  'nested',
  'missing',
  'event-args',
  'return-value',
  'repeat',
  'load-errors',
  'reload',
] as const;
export type ConformanceCase = (typeof CONFORMANCE_CASES)[number];

export interface ConformanceFixtures {
  /** The conformance script: fixturePath('conformance.<ext>'). */
  script: string;
  /** The second version for the reload scenario (default: conformance-reload.<ext> next to `script`). */
  reloadScript?: string;
  /** A script that does not compile, with an `@conf:syntax` marker on the failing line (default: conformance-broken.<ext>). */
  brokenScript?: string;
  /** A valid script without ksr_request_route (default: conformance-norequest.<ext>). */
  noRequestScript?: string;
  /** The engine module's modparams. */
  params?: Readonly<Record<string, ReadonlyArray<string | number>>>;
  /** Scenarios this engine skips, with the reason (shown in the test name). Keep it empty. */
  skip?: Partial<Record<ConformanceCase, string>>;
  /** Time budget per test and for loading (slow interpreters, e.g. Pyodide); default 20 s. */
  timeout?: number;
}

const FIXTURES_DIR = fileURLToPath(new URL('../fixtures/', import.meta.url));

/** Absolute path of a fixture shipped with the testkit (conformance.lua, …). */
export function fixturePath(name: string): string {
  return join(FIXTURES_DIR, name);
}

/** 1-based line of the line carrying `@conf:<name>` (exactly one must). */
export function markerLine(text: string, name: string, file = 'script'): number {
  const re = new RegExp(`@conf:${name.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}(?![\\w-])`);
  const lines = text.split(/\r?\n/);
  const hits = lines.flatMap((l, i) => (re.test(l) ? [i + 1] : []));
  if (hits.length !== 1) throw new Error(`${file}: expected one "@conf:${name}" marker, found ${hits.length}`);
  return hits[0]!;
}

function sibling(script: string, suffix: string): string {
  const ext = extname(script);
  return join(dirname(script), `${basename(script, ext)}-${suffix}${ext}`);
}

export function describeEngineConformance(name: string, engine: ConformanceEngine, fixtures: ConformanceFixtures): void {
  const timeout = fixtures.timeout ?? 20_000;
  const script = fixtures.script;
  const reloadScript = fixtures.reloadScript ?? sibling(script, 'reload');
  const brokenScript = fixtures.brokenScript ?? sibling(script, 'broken');
  const noRequestScript = fixtures.noRequestScript ?? sibling(script, 'norequest');
  const base = basename(script);
  const text = readFileSync(script, 'utf8');
  const lineOf = (marker: string): number => markerLine(text, marker, script);

  const check = (id: ConformanceCase, title: string, fn: () => void | Promise<void>): void => {
    const reason = fixtures.skip?.[id];
    if (reason) it.skip(`${title} [${id}: skipped, ${reason}]`, fn);
    else it(`${title} [${id}]`, fn, timeout);
  };

  describe(`engine conformance: ${name}`, () => {
    let h: ConformanceHarness;
    beforeAll(async () => {
      h = await ConformanceHarness.create(engine, { script, ...(fixtures.params ? { params: fixtures.params } : {}) });
    }, timeout);
    afterAll(() => h?.dispose());

    /** Run and check the result kind, the events and (by default) that nothing was logged as an error. */
    const expectRun = (func: keyof typeof EXPECTED_EVENTS, kind: string, opts: { args?: string[]; dropped?: boolean; errors?: boolean } = {}) => {
      const out = h.run(func, opts.args ?? []);
      expect(out.events, `events of ${func}`).toEqual(EXPECTED_EVENTS[func]);
      expect(out.result, `result of ${func}`).toEqual({ kind, dropped: opts.dropped ?? false });
      if (!opts.errors) expect(out.errors, `errors logged by ${func}`).toEqual([]);
      expect(h.runtime.current).toBeUndefined();
      return out;
    };

    describe('binding', () => {
      check('load-time', 'KSR is bound before the top level of the script runs', () => {
        expect(h.loadEvents).toEqual(EXPECTED_EVENTS.load);
      });
      check('has-function', 'hasFunction: true for functions only', () => {
        const e = h.host.current;
        for (const f of ['ksr_request_route', 'conf_arity', 'conf_event', 'conf_inner']) expect(e.hasFunction(f), f).toBe(true);
        for (const f of ['not_a_function', 'no_such_function', 'KSR', '']) expect(e.hasFunction(f), f).toBe(false);
      });
      check('request', 'runs ksr_request_route', () => {
        expectRun('ksr_request_route', 'ok');
      });
      check('bind', 'core functions at the KSR root, modules as members, absent names absent', () => {
        expectRun('conf_bind', 'ok');
      });
    });

    describe('values across the boundary', () => {
      check('arity', 'every arity 0..6 and parameter type combination: arguments received, arity returned', () => {
        expectRun('conf_arity', 'ok');
      });
      check('returns', 'int (0, negatives, limits), bool, xval (string, number, null) and none returns', () => {
        expectRun('conf_returns', 'ok');
      });
      check('strings', 'strings round-trip: non-ASCII, quotes, escapes, empty, 10000 characters', () => {
        expectRun('conf_strings', 'ok');
      });
      check('null-modes', 'get/gete/getw null modes', () => {
        expectRun('conf_nullmodes', 'ok');
      });
      check('coercion', 'numbers to str, numeric strings to int and long', () => {
        expectRun('conf_coercion', 'ok');
      });
    });

    describe('calling errors', () => {
      check('errors', 'wrong arity and wrong types give the failure value, are logged, and the route continues', () => {
        const out = expectRun('conf_errors', 'ok', { errors: true });
        expect(out.errors).toHaveLength(EXPECTED_ERROR_LOGS.length);
        out.errors.forEach((msg, i) => expect(msg.startsWith(EXPECTED_ERROR_LOGS[i]!), `error ${i + 1}: ${msg}`).toBe(true));
        expect(out.replies).toEqual([]);
      });
      check('error-location', 'a bad call is logged with the script file and line (where())', () => {
        const out = h.run('conf_errors');
        const msg = out.errors.find((m) => m.includes('"abc"'));
        expect(msg).toContain(`${base}:${lineOf('where')}`);
      });
    });

    describe('exit and drop', () => {
      check('exit', 'KSR.x.exit ends the route: kind exit, code after it does not run', () => {
        const out = expectRun('conf_exit', 'exit');
        expect(out.replies).toEqual([]);
      });
      check('exit-deep', 'KSR.x.exit in a nested script function ends the whole route', () => {
        expectRun('conf_exit_deep', 'exit');
      });
      check('drop', 'KSR.x.drop ends the route and marks it dropped', () => {
        expectRun('conf_drop', 'exit', { dropped: true });
      });
      check('exit-caught', 'a script that catches the exit is ended at its next KSR call', () => {
        expectRun('conf_exit_caught', 'exit');
      });
    });

    describe('script errors', () => {
      const scriptError = (func: 'conf_script_error' | 'conf_runtime_error' | 'conf_error_deep', marker: string, text?: string) => {
        const out = expectRun(func, 'error', { errors: true });
        const line = out.errors.find((m) => m.startsWith('script error:'));
        expect(line, 'a "script error" log line').toBeDefined();
        expect(line).toContain(`${base}:${lineOf(marker)}`);
        expect(line).toContain(` in ${func}`);
        expect(line).toContain(`(Call-ID ${CONFORMANCE_CALL_ID})`);
        if (text) expect(line).toContain(text);
        // the request was not answered: the runtime's error outcome replies 500
        expect(out.replies).toEqual([{ status: 500, reason: 'Server Internal Error' }]);
      };
      check('script-error', 'a raised error: kind error, logged with file:line, function and Call-ID; 500 sent', () => {
        scriptError('conf_script_error', 'raise', 'conformance failure');
      });
      check('runtime-error', 'calling a KSR function that does not exist is a script error at that line', () => {
        scriptError('conf_runtime_error', 'nilcall');
      });
      check('error-deep', 'an error in a helper function is reported at the helper line', () => {
        scriptError('conf_error_deep', 'raise-deep', 'deep failure');
      });
    });

    describe('routes', () => {
      check('nested', 'a KSR export running another route function: own flags and exit, outer restored', () => {
        expectRun('conf_nested', 'ok');
      });
      check('missing', 'a missing function (or a non-function global) reports missing', () => {
        for (const f of ['no_such_function', 'not_a_function']) {
          const out = h.run(f);
          expect(out.result, f).toEqual({ kind: 'missing', dropped: false });
          expect(out.events).toEqual([]);
          expect(out.errors).toEqual([]);
        }
      });
      check('event-args', 'route functions receive their string arguments (event name)', () => {
        expectRun('conf_event', 'ok', { args: ['tm:local-request'] });
      });
      check('return-value', "the route function's return value does not matter", () => {
        expectRun('conf_return_value', 'ok');
      });
      check('repeat', 'many runs in one interpreter give the same results', () => {
        for (let i = 0; i < 25; i++) {
          const out = h.run(i % 2 ? 'conf_arity' : 'conf_exit_caught');
          expect(out.events).toEqual(i % 2 ? EXPECTED_EVENTS.conf_arity : EXPECTED_EVENTS.conf_exit_caught);
        }
        expectRun('ksr_request_route', 'ok');
      });
    });

    describe('loading', () => {
      check('load-errors', 'a script that does not compile, or lacks ksr_request_route, is refused with KSR_ERR_SCRIPT_LOAD', async () => {
        const brokenLine = markerLine(readFileSync(brokenScript, 'utf8'), 'syntax', brokenScript);
        const err1 = await h.loadDirect(brokenScript).then(
          () => undefined,
          (e: unknown) => e,
        );
        expect(err1).toBeInstanceOf(KsrError);
        expect((err1 as KsrError).code).toBe(ErrorCodes.SCRIPT_LOAD);
        expect((err1 as KsrError).message).toContain(`${basename(brokenScript)}:${brokenLine}`);
        const err2 = await h.loadDirect(noRequestScript).then(
          () => undefined,
          (e: unknown) => e,
        );
        expect(err2).toBeInstanceOf(KsrError);
        expect((err2 as KsrError).code).toBe(ErrorCodes.SCRIPT_LOAD);
        expect((err2 as KsrError).message).toContain('ksr_request_route');
      });

      check('reload', 'a good reload switches to a fresh interpreter; a bad one keeps the running script', async () => {
        const dir = mkdtempSync(join(tmpdir(), `ksr-conformance-${name}-`));
        const path = join(dir, base);
        copyFileSync(script, path);
        const r = await ConformanceHarness.create(engine, { script: path, ...(fixtures.params ? { params: fixtures.params } : {}) });
        try {
          expect(r.run('conf_version').events).toEqual(['v1']);
          // bad reload: the running script stays
          copyFileSync(brokenScript, path);
          const bad = await r.reload();
          expect(bad.ok).toBe(false);
          expect(!bad.ok && bad.error).toContain(base);
          expect(r.host.generation).toBe(1);
          expect(r.run('conf_version').events).toEqual(['v1']);
          expect(r.loaded[0]!.disposed).toBe(false);
          // good reload: version 2, in a fresh interpreter (v1's functions are gone)
          copyFileSync(reloadScript, path);
          const good = await r.reload();
          expect(good).toMatchObject({ ok: true, generation: 2 });
          expect(r.events.splice(0)).toEqual(['loaded-v2']);
          expect(r.run('conf_version').events).toEqual(['v2']);
          expect(r.run('ksr_request_route').events).toEqual(['request-v2']);
          expect(r.run('conf_arity').result.kind).toBe('missing');
          expect(r.host.current.hasFunction('conf_arity')).toBe(false);
          expect(r.loaded[0]!.disposed).toBe(true);
          // a script without ksr_request_route is refused too
          copyFileSync(noRequestScript, path);
          const missing = await r.reload();
          expect(missing.ok).toBe(false);
          expect(!missing.ok && missing.error).toContain('ksr_request_route');
          expect(r.run('conf_version').events).toEqual(['v2']);
          expect(r.host.generation).toBe(2);
        } finally {
          r.dispose();
          rmSync(dir, { recursive: true, force: true });
        }
        expect(r.loaded.filter((l) => !l.disposed).map((l) => l.engine.scriptPath)).toEqual(
          // interpreters of failed loads were never handed over; every one handed over is freed
          [],
        );
      });
    });
  });
}
