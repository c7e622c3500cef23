/**
 * engine-python isolation and limits: the Pyodide bridge (js, pyodide.ffi, run_js) cannot be
 * imported by any route, the host filesystem, shell, network and native code are out of reach,
 * a script cannot end or signal the server, and the route deadline stops runaway loops (also
 * loops that swallow the interrupt with `except BaseException`) while the server keeps serving.
 */
import { existsSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { PythonEngine } from '../src/index.js';
import { makeHarness, type Harness } from './support.js';

let h: Harness;
let e: PythonEngine;
const canary = path.join(tmpdir(), `ksr-python-canary-${process.pid}`);

const ATTEMPTS = `import KSR, sys, os

def attempt(label, code):
    try:
        exec(code, {})
        out = "OPEN"
    except BaseException as ex:
        out = "blocked " + type(ex).__name__
    KSR.test.record(label + ": " + out)

def escapes():
    attempt("import js", "import js")
    attempt("from js import", "from js import process")
    attempt("import pyodide_js", "import pyodide_js")
    attempt("pyodide.ffi", "from pyodide.ffi import to_js")
    attempt("pyodide.code.run_js", "import pyodide.code; pyodide.code.run_js('1')")
    attempt("_pyodide_core", "import _pyodide_core")
    attempt("__import__", "__import__('js')")
    attempt("builtins.__import__", "import builtins; builtins.__import__('js')")
    attempt("importlib.import_module", "import importlib; importlib.import_module('js')")
    attempt("importlib pyodide", "import importlib; importlib.import_module('pyodide.ffi')")
    attempt("find_spec", "import importlib.util; s = importlib.util.find_spec('js'); assert s is not None; importlib.util.module_from_spec(s)")
    attempt("sys.modules", "import sys; m = [k for k in sys.modules if k.split('.')[0] in ('js', 'pyodide', '_pyodide', 'pyodide_js', '_pyodide_core')]; assert m, 'none'")
    attempt("meta_path", "import sys; f = [x for x in sys.meta_path if 'JsFinder' in type(x).__name__]; assert f, 'none'")
    attempt("ctypes", "import ctypes")
    attempt("socket", "import socket; s = socket.socket(); s.connect(('127.0.0.1', 9))")
    attempt("dns", "import socket; socket.getaddrinfo('localhost', 80)")
    attempt("asyncio socket", "import asyncio, asyncio.base_events; s = asyncio.base_events.socket.socket(); s.connect(('127.0.0.1', 9))")
    attempt("socket, real import", "import builtins; s = builtins.__import__('socket').socket(); s.connect(('127.0.0.1', 9))")
    attempt("signal", "import signal; signal.signal(signal.SIGINT, signal.SIG_IGN)")
    attempt("signal, real import", "import builtins; s = builtins.__import__('signal'); s.signal(s.SIGINT, s.SIG_IGN)")
    attempt("raise_signal, real import", "import builtins; builtins.__import__('signal').raise_signal(15)")
    attempt("raise_signal", "import signal; signal.raise_signal(15)")
    attempt("ksr function JS attribute", "import KSR; KSR.x.exit.constructor")
    attempt("open /etc/passwd", "open('/etc/passwd').read()")
    attempt("open script", "import os; open(" + repr(__file__) + ").read()")
    attempt("os.system", "import os; assert os.system('touch ${'${canary}'}') == 0")
    attempt("posix.system", "import posix; assert posix.system('touch ${'${canary}'}') == 0")
    attempt("os.popen", "import os; os.popen('id').read()")
    attempt("os.kill", "import os; os.kill(os.getpid(), 15)")
    attempt("subprocess", "import subprocess; subprocess.run(['id'])")
    KSR.test.record("root: " + ",".join(sorted(os.listdir("/"))))

def exit_server():
    KSR.test.record("before")
    os._exit(3)

def ksr_request_route():
    KSR.test.record("served")

def spin():
    KSR.test.record("spin")
    while True:
        pass

def spin_ksr():
    while True:
        KSR.test.nothing()

def swallow():
    n = 0
    while True:
        try:
            while True:
                n += 1
        except BaseException:
            pass

def swallow_nested():
    def inner():
        try:
            while True:
                pass
        except BaseException:
            inner()
    while True:
        try:
            inner()
        except BaseException:
            pass

def sleepy():
    import time
    time.sleep(5)

def recurse():
    def f(n):
        return f(n + 1)
    f(0)

def recurse_c():
    # recursion through C code: each level costs native stack, hence the clamped limit
    sys.setrecursionlimit(100000)
    class A:
        def __getattr__(self, name):
            return getattr(self, name + "x")
    A().y

def crash():
    # a native stack overflow Pyodide cannot survive
    x = []
    for i in range(100000):
        x = [x]
    repr(x)
`.replaceAll('${canary}', canary);

beforeAll(async () => {
  h = makeHarness();
  h.write('attempts.py', ATTEMPTS);
  e = await h.load('script', 'attempts.py', { route_time_limit: 100 });
}, 60_000);
afterAll(() => {
  e?.dispose();
  h?.cleanup();
  rmSync(canary, { force: true });
});

const recorded = (fn: () => void): string[] => {
  h.recorded.length = 0;
  fn();
  return h.recorded.splice(0);
};

describe('isolation', () => {
  it('the Pyodide bridge, host files, shell, network, native code and process control are out of reach', () => {
    const out = recorded(() => expect(h.route(e, 'escapes').kind).toBe('ok'));
    if (process.env['KSR_DEBUG']) console.log(out.join('\n'));
    const open = out.filter((l) => l.includes(': OPEN'));
    expect(open).toEqual([]);
    expect(out.find((l) => l.startsWith('import js'))).toBe('import js: blocked ModuleNotFoundError');
    expect(out.find((l) => l.startsWith('pyodide.ffi'))).toBe('pyodide.ffi: blocked ModuleNotFoundError');
    expect(out.find((l) => l.startsWith('open /etc/passwd'))).toBe('open /etc/passwd: blocked FileNotFoundError');
    expect(out.find((l) => l.startsWith('os.system'))).toBe('os.system: blocked PermissionError');
    expect(out.find((l) => l.startsWith('ksr function JS attribute'))).toBe('ksr function JS attribute: blocked AttributeError');
    // below Python: even with the real import, no socket, no SIGINT handler change, no signals
    expect(out.find((l) => l.startsWith('socket, real import'))).toBe('socket, real import: blocked PermissionError');
    expect(out.find((l) => l.startsWith('signal, real import'))).toBe('signal, real import: blocked ValueError');
    expect(out.find((l) => l.startsWith('raise_signal, real import'))).toBe('raise_signal, real import: blocked PermissionError');
    // only Pyodide's in-memory filesystem: no host folders
    const root = out.find((l) => l.startsWith('root: '))!.slice(6).split(',');
    for (const hostDir of ['etc', 'usr', 'var', 'work', 'root', 'bin']) expect(root).not.toContain(hostDir);
    expect(existsSync(canary)).toBe(false);
    expect(out).toHaveLength(31);
  });

  it('os._exit() ends the route, not the server', () => {
    const code = process.exitCode;
    expect(recorded(() => expect(h.route(e, 'exit_server').kind).toBe('exit'))).toEqual(['before']);
    expect(process.exitCode).toBe(code);
    expect(recorded(() => expect(h.route(e).kind).toBe('ok'))).toEqual(['served']);
  });
});

describe('route_time_limit', () => {
  const stopped = (func: string, maxMs = 1500): void => {
    const t0 = performance.now();
    const r = h.route(e, func);
    const ms = performance.now() - t0;
    expect(r.kind, func).toBe('error');
    const err = r.result.kind === 'error' ? r.result.error : undefined;
    expect(err?.message).toBe('the route ran longer than route_time_limit (100 ms) and was stopped');
    expect(err?.func).toBe(func);
    expect(ms, `${func} stopped after ${ms.toFixed(0)} ms`).toBeGreaterThanOrEqual(95);
    expect(ms, `${func} stopped after ${ms.toFixed(0)} ms`).toBeLessThan(maxMs);
    // the interpreter keeps serving
    expect(recorded(() => expect(h.route(e).kind).toBe('ok'))).toEqual(['served']);
  };

  it('stops an infinite loop at its line', () => {
    stopped('spin');
    const err = h.route(e, 'spin').result;
    expect(err.kind === 'error' && err.error.file).toBe(e.scriptPath);
    expect(err.kind === 'error' && err.error.line).toBeGreaterThan(40);
  });

  it('stops a loop that calls KSR functions', () => stopped('spin_ksr'));

  it('stops loops that swallow the interrupt with except BaseException (sticky stop)', () => {
    stopped('swallow');
    stopped('swallow_nested');
  });

  it('stops a long time.sleep()', () => stopped('sleepy'));

  it('deep recursion is a RecursionError (also through C, the limit is clamped); the interpreter stays usable', () => {
    for (const f of ['recurse', 'recurse_c']) {
      const r = h.route(e, f);
      expect(r.kind, f).toBe('error');
      expect(r.result.kind === 'error' && r.result.error.message, f).toMatch(/^RecursionError/);
      expect(recorded(() => expect(h.route(e).kind).toBe('ok'))).toEqual(['served']);
    }
  });

  it('a script whose loading never ends is refused', async () => {
    h.write('loadspin.py', 'import KSR\nwhile True:\n    pass\n');
    const t0 = performance.now();
    const err = await h.load('script', 'loadspin.py', { route_time_limit: 20 }).then(
      () => undefined,
      (x: unknown) => x as Error,
    );
    expect(err?.message).toMatch(/loadspin\.py:3: running the script took longer than 1000 ms/);
    expect(performance.now() - t0).toBeLessThan(5000);
    expect(recorded(() => expect(h.route(e).kind).toBe('ok'))).toEqual(['served']);
  });
});

describe('crash recovery', () => {
  it('an interpreter that dies is replaced in the background; the script serves again', async () => {
    const before = e.stats();
    const code = process.exitCode;
    const r = h.route(e, 'crash');
    expect(r.kind).toBe('error');
    expect(r.result.kind === 'error' && r.result.error.message).toMatch(/^the Python interpreter failed/);
    expect(h.route(e).result).toMatchObject({ kind: 'error', error: { message: expect.stringMatching(/being restarted/) } });
    await e.settled();
    expect(recorded(() => expect(h.route(e).kind).toBe('ok'))).toEqual(['served']);
    const after = e.stats();
    expect(after.restarts).toBe(1);
    expect(after.startupMs).not.toBe(before.startupMs);
    expect(process.exitCode).toBe(code);
  }, 60_000);
});
