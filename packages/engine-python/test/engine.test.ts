/**
 * engine-python: binding of every type, None for null, exit/drop/SystemExit/`return -255`, load
 * and runtime errors with file:line, missing functions, both styles (msg object, init functions),
 * imports of the script folder, and reload in place. One Pyodide for the whole file.
 */
import { ErrorCodes, KsrError, ScriptHost } from '@ksr/core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makeHarness, type Harness } from './support.js';

let h: Harness;
beforeAll(async () => {
  h = makeHarness();
  // the first load starts Pyodide (seconds)
  h.write('warmup.py', 'def ksr_request_route():\n    pass\n');
  (await h.load('script', 'warmup.py')).dispose();
}, 60_000);
afterAll(() => h?.cleanup());

const recorded = (fn: () => void): string[] => {
  h.recorded.length = 0;
  fn();
  return h.recorded.splice(0);
};

async function loadError(style: 'class' | 'script', rel: string, params?: Record<string, string | number>): Promise<KsrError> {
  const err = await h.load(style, rel, params).then(
    (e) => {
      e.dispose();
      return undefined;
    },
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(KsrError);
  expect((err as KsrError).code).toBe(ErrorCodes.SCRIPT_LOAD);
  return err as KsrError;
}

describe('KSR binding', () => {
  it('binds every parameter and return type; JS null and none arrive as None', async () => {
    h.write(
      'bind.py',
      `import KSR

def show(v):
    return "None" if v is None else "%s:%r" % (type(v).__name__, v)

def ksr_request_route():
    r = KSR.test.record
    r(show(KSR.test.echo_s("h\\u00e9llo \\U0001F600 \\"q\\" \\n")))
    r(show(KSR.test.echo_i(-7)))
    r(show(KSR.test.echo_i("42")))
    r(show(KSR.test.echo_i(2147483647)))
    r(show(KSR.test.echo_l(2 ** 40)))
    r(show(KSR.test.get_null()))
    r(show(KSR.test.nothing()))
    r(show(KSR.test.yes()))
    r(show(KSR.test.no()))
    r(show(KSR.test.neg()))
    r(show(KSR.test.zero()))
    r(show(KSR.test.half()))
    r(show(KSR.test.six("a", 1, "b", 2, "c", 3)))
    r(show(len(KSR.test.big(100000))))
    r(show(KSR.is_method("INVITE")))
    r(show(KSR.pv.get("$rm")))
    r(show(KSR.pv.get("$ru")))
    r(show(KSR.hdr.get("X-Test")))
    r(show(KSR.hdr.get("X-Missing")))
    r(show(KSR.hdr.gete("X-Missing")))
    r(show(KSR.hdr.getw("X-Missing")))
`,
    );
    const e = await h.load('script', 'bind.py');
    try {
      const out = recorded(() => expect(h.route(e).kind).toBe('ok'));
      expect(out).toEqual([
        `str:'h\u00e9llo \u{1F600} "q" \\n'`,
        'int:-7',
        'int:42',
        'int:2147483647',
        'int:1099511627776',
        'None',
        'None',
        'bool:True',
        'bool:False',
        'int:-1',
        'int:0',
        'float:0.5',
        "str:'string:a,number:1,string:b,number:2,string:c,number:3'",
        'int:100000',
        'bool:True',
        "str:'INVITE'",
        "str:'sip:bob@ksr.test'",
        "str:'hello'",
        'None',
        "str:''",
        "str:'<<null>>'",
      ]);
      expect(h.errors()).toEqual([]);
    } finally {
      e.dispose();
    }
  });

  it('KSR is a module of modules built once: core at the root, plain Python functions, absent names absent', async () => {
    h.write(
      'shape.py',
      `import KSR
from KSR import pv as pv_alias

def ksr_request_route():
    r = KSR.test.record
    r("%s %s" % (type(KSR).__name__, type(KSR.pv).__name__))
    r(str(KSR.test.echo_s is KSR.test.echo_s))
    r(str(pv_alias is KSR.pv))
    r(str(hasattr(KSR, "pv") and hasattr(KSR, "x") and hasattr(KSR, "is_method")))
    r(str(hasattr(KSR, "nosuchmodule") or hasattr(KSR.pv, "nosuchfunction")))
    r(type(KSR.x.exit).__name__ + " " + KSR.test.echo_s.__qualname__)
    r(str(hasattr(KSR.x.exit, "constructor")))
    r(KSRVERSION)
    try:
        __import__("KSR.pv")
    except ImportError:
        r("no KSR submodule import")
`,
    );
    const e = await h.load('script', 'shape.py');
    try {
      expect(recorded(() => h.route(e))).toEqual([
        'module module',
        'True',
        'True',
        'True',
        'False',
        'function KSR.test.echo_s',
        'False',
        '9.9.9-test',
        'no KSR submodule import',
      ]);
    } finally {
      e.dispose();
    }
  });

  it('bad arguments (Python objects, None, bool for int, arity, kwargs) give the failure value and a log line with file:line', async () => {
    const file = h.write(
      'badargs.py',
      `import KSR

def ksr_request_route():
    r = KSR.test.record
    r(repr(KSR.test.echo_s([1, 2])))
    r(repr(KSR.test.echo_s({"a": 1})))
    r(repr(KSR.test.echo_s(None)))
    r(repr(KSR.test.echo_i(True)))
    r(repr(KSR.test.echo_i(1.5)))
    r(repr(KSR.test.echo_i()))
    r(repr(KSR.test.echo_l(2 ** 60)))
    r(repr(KSR.test.fails()))
    try:
        KSR.test.echo_s(s="x")
    except TypeError:
        r("kwargs refused")
`,
    );
    const e = await h.load('script', 'badargs.py');
    try {
      const mark = h.logs.length;
      expect(recorded(() => expect(h.route(e).kind).toBe('ok'))).toEqual(['None', 'None', 'None', '-1', '-1', '-1', 'None', '-1', 'kwargs refused']);
      const errs = h.logs.slice(mark).filter((l) => l.level >= 50).map((l) => l.msg);
      expect(errs).toHaveLength(8);
      expect(errs[0]).toContain('KSR.test.echo_s: argument 1: expected string, got object');
      expect(errs[0]).toContain(`${file}:5`);
      expect(errs[3]).toContain('expected 32-bit integer, got boolean');
      expect(errs[7]).toContain('KSR.test.fails failed: module failure');
    } finally {
      e.dispose();
    }
  });
});

describe('exit, drop, SystemExit and return codes', () => {
  let e: Awaited<ReturnType<Harness['load']>>;
  beforeAll(async () => {
    h.write(
      'exit.py',
      `import KSR, sys, os
r = KSR.test.record

def ksr_request_route():
    r("a"); KSR.x.exit(); r("b")

def r_drop():
    r("a"); KSR.x.drop(); r("b")

def r_sys_exit():
    r("a"); sys.exit(); r("b")

def r_system_exit():
    r("a"); raise SystemExit(3)

def r_exit_builtin():
    r("a"); exit(); r("b")

def r_os_exit():
    r("a"); os._exit(1); r("b")

def r_ret():
    r("ret")
    return -255

def r_except_exception():
    try:
        KSR.x.exit()
    except Exception:
        r("caught by except Exception")
    r("after")

seen = []

def r_swallowed():
    try:
        KSR.x.exit()
    except BaseException as ex:
        seen.append(type(ex).__name__ + ":" + str(ex.__context__) + ":" + str(ex.__cause__))
    return 1

def r_seen():
    r(seen.pop())

def r_event(evname):
    r("event " + evname)
`,
    );
    e = await h.load('script', 'exit.py');
  });
  afterAll(() => e?.dispose());

  it('KSR.x.exit() and KSR.x.drop() end the route', () => {
    expect(recorded(() => expect(h.route(e)).toMatchObject({ kind: 'exit', dropped: false }))).toEqual(['a']);
    expect(recorded(() => expect(h.route(e, 'r_drop')).toMatchObject({ kind: 'exit', dropped: true }))).toEqual(['a']);
  });

  it('sys.exit(), SystemExit, exit() and os._exit() end the route, never the server', () => {
    const code = process.exitCode;
    for (const f of ['r_sys_exit', 'r_system_exit', 'r_exit_builtin', 'r_os_exit']) {
      expect(recorded(() => expect(h.route(e, f).kind, f).toBe('exit'))).toEqual(['a']);
    }
    expect(process.exitCode).toBe(code);
    expect(h.route(e, 'r_ret').kind).toBe('ok');
  });

  it('return -255 is harmless: the return value does not matter', () => {
    h.replies.length = 0;
    expect(recorded(() => expect(h.route(e, 'r_ret')).toMatchObject({ kind: 'ok', dropped: false }))).toEqual(['ret']);
    expect(h.replies).toEqual([]);
  });

  it('the exit is not an Exception; once swallowed, the route still reports exit and carries no JS object', () => {
    expect(recorded(() => expect(h.route(e, 'r_except_exception').kind).toBe('exit'))).toEqual([]);
    expect(recorded(() => expect(h.route(e, 'r_swallowed').kind).toBe('exit'))).toEqual([]);
    expect(recorded(() => expect(h.route(e, 'r_seen').kind).toBe('ok'))).toEqual(['KsrExit:None:None']);
  });

  it('event routes get the event name', () => {
    expect(recorded(() => expect(h.route(e, 'r_event', ['tm:local-request']).kind).toBe('ok'))).toEqual(['event tm:local-request']);
  });
});

describe('errors', () => {
  it('a syntax error rejects the load with file:line', async () => {
    const file = h.write('syntax.py', 'import KSR\n\ndef ksr_request_route(:\n    pass\n');
    const err = await loadError('script', 'syntax.py');
    expect(err.message).toContain(`${file}:3: SyntaxError`);
  });

  it('an error in the top-level code or in an imported module rejects the load at its line', async () => {
    const top = h.write('top.py', 'import KSR\nx = 1\n\nraise ValueError("boom")\n');
    expect((await loadError('script', 'top.py')).message).toBe(`${top}:4: ValueError: boom`);
    const lib = h.write('badlib.py', 'X = 1\nY = 1 +\n');
    h.write('usebad.py', 'import badlib\n\ndef ksr_request_route():\n    pass\n');
    expect((await loadError('script', 'usebad.py')).message).toContain(`${lib}:2: SyntaxError`);
  });

  it('a runtime error is reported at the script line (also in a helper module), with the function and a traceback; 500 is sent', async () => {
    const lib = h.write('helper_err.py', 'def divide(a, b):\n    return a / b\n');
    const main = h.write('rt.py', 'import KSR\nimport helper_err\n\ndef ksr_request_route():\n    KSR.test.record("before")\n    helper_err.divide(1, 0)\n');
    const e = await h.load('script', 'rt.py');
    try {
      h.replies.length = 0;
      const r = h.route(e);
      expect(r.kind).toBe('error');
      const err = r.result.kind === 'error' ? r.result.error : undefined;
      expect(err).toMatchObject({ file: lib, line: 2, func: 'ksr_request_route', message: 'ZeroDivisionError: division by zero' });
      expect(err?.stack).toContain(`File "${main}", line 6, in ksr_request_route`);
      expect(err?.stack).toContain(`File "${lib}", line 2, in divide`);
      expect(err?.stack).toContain('return a / b');
      expect(err?.stack).not.toContain('<ksr-runtime>');
      expect(h.errors().at(-1)).toContain(`script error: ${lib}:2 in ksr_request_route: ZeroDivisionError: division by zero (Call-ID call-1@192.0.2.10)`);
      await new Promise((r) => setImmediate(r));
      expect(h.replies).toEqual([{ status: 500, reason: 'Server Internal Error' }]);
    } finally {
      e.dispose();
    }
  });

  it('a missing route function is "missing"; a missing required function is refused at load (both styles)', async () => {
    h.write('noreq.py', 'import KSR\n\ndef other():\n    pass\n');
    expect((await loadError('script', 'noreq.py')).message).toContain('function ksr_request_route is not defined');
    h.write('noinit.py', 'import KSR\n\ndef ksr_request_route():\n    pass\n');
    expect((await loadError('class', 'noinit.py')).message).toContain('mod_init() is not defined');
    h.write('noneinit.py', 'def mod_init():\n    return None\n');
    expect((await loadError('class', 'noneinit.py')).message).toContain('mod_init() returned None');
    h.write('nomethod.py', 'class H:\n    def other(self, msg):\n        pass\n\ndef mod_init():\n    return H()\n');
    expect((await loadError('class', 'nomethod.py')).message).toContain('has no method ksr_request_route(self, msg)');
    h.write('childfail.py', 'class H:\n    def ksr_request_route(self, msg):\n        pass\n    def child_init(self, rank):\n        return -1\n\ndef mod_init():\n    return H()\n');
    expect((await loadError('class', 'childfail.py')).message).toContain('H.child_init(1) returned -1');
    const e = await h.load('script', 'warmup.py');
    try {
      expect(h.route(e, 'no_such_function').kind).toBe('missing');
      expect(e.hasFunction('ksr_request_route')).toBe(true);
      expect(e.hasFunction('KSR')).toBe(false);
      expect(e.hasFunction('nope')).toBe(false);
    } finally {
      e.dispose();
    }
  });

  it('a bad KSR call in the top-level code is logged with its line', async () => {
    const f = h.write('loadcall.py', 'import KSR\n\nKSR.test.echo_i("abc")\n\ndef ksr_request_route():\n    pass\n');
    const mark = h.logs.length;
    (await h.load('script', 'loadcall.py')).dispose();
    expect(h.logs.slice(mark).filter((l) => l.level >= 50).map((l) => l.msg)).toEqual([expect.stringContaining(`(at ${f}:3)`)]);
  });

  it('a script that does not exist or cannot be read is refused', async () => {
    expect((await loadError('script', 'does-not-exist.py')).message).toContain('cannot read the script');
  });
});

describe('class style (app_python3)', () => {
  it('mod_init() returns the handler; child_init(rank); methods get msg (and the event name)', async () => {
    h.write(
      'cls.py',
      `import KSR

class Handler:
    def __init__(self):
        KSR.test.record("mod_init")

    def child_init(self, rank):
        KSR.test.record("child_init %d" % rank)
        return 0

    def ksr_request_route(self, msg):
        r = KSR.test.record
        r("%s %s %s" % (msg.Type, msg.Method, msg.RURI))
        r("%r %r" % (msg.src_address, msg.dst_address))
        r("%r %r" % (msg.getHeader("X-Test"), msg.getHeader("X-None")))
        msg.rewrite_ruri("sip:carol@ksr.test")
        r(KSR.pv.get("$ru"))
        try:
            msg.Status
        except TypeError as e:
            r("Status: " + str(e))
        return -255

    def ksr_reply_route(self, msg):
        KSR.test.record("%s %s" % (msg.Type, msg.Status))

    def on_event(self, msg, evname):
        KSR.test.record("event " + evname)

def my_init():
    return Handler()
`,
    );
    h.recorded.length = 0;
    const e = await h.load('class', 'cls.py', { mod_init_function: 'my_init' });
    try {
      expect(h.recorded.splice(0)).toEqual(['mod_init', 'child_init 1']);
      expect(recorded(() => expect(h.route(e).kind).toBe('ok'))).toEqual([
        'SIP_REQUEST INVITE sip:bob@ksr.test',
        "('192.0.2.10', 5070) ('127.0.0.1', 5060)",
        "'hello' None",
        'sip:carol@ksr.test',
        'Status: Not a non-reply message',
      ]);
      expect(recorded(() => expect(h.route(e, 'ksr_reply_route', [], h.ctx('reply')).kind).toBe('ok'))).toEqual(['SIP_REPLY 200']);
      expect(recorded(() => h.route(e, 'on_event', ['htable:mod-init']))).toEqual(['event htable:mod-init']);
      expect(e.hasFunction('on_event')).toBe(true);
      expect(e.hasFunction('child_init')).toBe(true);
      expect(e.hasFunction('__init__')).toBe(false);
      expect(e.hasFunction('my_init')).toBe(false);
    } finally {
      e.dispose();
    }
  });

  it('script style: script_init() and script_child_init(rank) run at load', async () => {
    h.write(
      'sinit.py',
      'import KSR\n\ndef script_init():\n    KSR.test.record("script_init")\n\ndef script_child_init(rank):\n    KSR.test.record("script_child_init %d" % rank)\n\ndef ksr_request_route():\n    pass\n',
    );
    h.recorded.length = 0;
    const e = await h.load('script', 'sinit.py');
    e.dispose();
    expect(h.recorded.splice(0)).toEqual(['script_init', 'script_child_init 1']);
  });
});

describe('imports from the script folder', () => {
  it('imports modules and packages next to the script (relative imports too); stdlib works', async () => {
    h.write('imp/pkg/__init__.py', 'from . import util\nNAME = "pkg"\n');
    h.write('imp/pkg/util.py', 'def twice(x):\n    return x * 2\n');
    h.write('imp/pkg/sub.py', 'from .util import twice\nfrom pkg import NAME\nVALUE = twice(21)\n');
    h.write('imp/plain.py', 'import KSR\nKSR.test.record("plain imported")\nVALUE = "plain"\n');
    h.write(
      'imp/main.py',
      `import KSR, json, re, collections
import plain
import pkg.sub
from pkg import util as u

def ksr_request_route():
    import plain as again
    KSR.test.record("%s %s %d %d %s" % (plain.VALUE, pkg.NAME, pkg.sub.VALUE, u.twice(2), again is plain))
    KSR.test.record(json.dumps({"a": re.sub("x", "y", "xx")}))
`,
    );
    h.recorded.length = 0;
    const e = await h.load('script', 'imp/main.py');
    try {
      expect(h.recorded.splice(0)).toEqual(['plain imported']);
      expect(recorded(() => expect(h.route(e).kind).toBe('ok'))).toEqual(['plain pkg 42 4 True', '{"a": "yy"}']);
    } finally {
      e.dispose();
    }
  });
});

describe('reload in place', () => {
  it('a reload runs the new script in a fresh namespace of the same interpreter and re-imports sibling modules', async () => {
    h.write('rl/helper.py', 'import KSR\nKSR.test.record("helper v1 imported")\nVALUE = 1\n');
    h.write('rl/main.py', 'import KSR\nimport helper\ncounter = 0\n\ndef ksr_request_route():\n    global counter\n    counter += 1\n    KSR.test.record("v1 %d %d" % (helper.VALUE, counter))\n\ndef only_in_v1():\n    pass\n');
    const host = new ScriptHost(h.descriptor('script'), h.loadOptions('script', 'rl/main.py'));
    h.recorded.length = 0;
    await host.start();
    try {
      const first = host.current as import('../src/index.js').PythonEngine;
      const before = first.stats();
      expect(h.recorded.splice(0)).toEqual(['helper v1 imported']);
      expect(recorded(() => host.run(h.runtime, h.ctx(), 'ksr_request_route'))).toEqual(['v1 1 1']);
      expect(recorded(() => host.run(h.runtime, h.ctx(), 'ksr_request_route'))).toEqual(['v1 1 2']);
      // a broken reload keeps the running generation
      h.write('rl/main.py', 'def ksr_request_route(:\n');
      const bad = await host.reload();
      expect(bad.ok).toBe(false);
      expect(recorded(() => host.run(h.runtime, h.ctx(), 'ksr_request_route'))).toEqual(['v1 1 3']);
      // a good one: new code, new helper, fresh globals, v1's functions gone
      h.write('rl/helper.py', 'import KSR\nKSR.test.record("helper v2 imported")\nVALUE = 2\n');
      h.write('rl/main.py', 'import KSR\nimport helper\ncounter = 100\n\ndef ksr_request_route():\n    global counter\n    counter += 1\n    KSR.test.record("v2 %d %d" % (helper.VALUE, counter))\n');
      const good = await host.reload();
      expect(good).toMatchObject({ ok: true, generation: 2 });
      expect(h.recorded.splice(0)).toEqual(['helper v2 imported']);
      expect(recorded(() => host.run(h.runtime, h.ctx(), 'ksr_request_route'))).toEqual(['v2 2 101']);
      expect(host.run(h.runtime, h.ctx(), 'only_in_v1').kind).toBe('missing');
      const after = (host.current as import('../src/index.js').PythonEngine).stats();
      // same interpreter (started once), the old generation is gone
      expect(after.startupMs).toBe(before.startupMs);
      expect(after.generations).toHaveLength(before.generations.length);
      expect(after.generations).not.toEqual(before.generations);
      expect(good.ok && good.ms).toBeLessThan(2000);
    } finally {
      host.dispose();
    }
  });
});

describe('print and nested runs', () => {
  it('print() goes to the log; a nested run (a KSR export running another function) keeps its own exit', async () => {
    h.write(
      'nest.py',
      'import KSR\n\ndef ksr_request_route():\n    print("hello from python")\n    KSR.test.record("outer " + KSR.test.run_nested("inner"))\n    KSR.test.record("outer after")\n\ndef inner():\n    KSR.test.record("inner")\n    KSR.x.exit()\n',
    );
    const e = await h.load('script', 'nest.py');
    try {
      h.nested = (ctx, name) => h.runtime.run(e, ctx, name).kind;
      const mark = h.logs.length;
      expect(recorded(() => expect(h.route(e).kind).toBe('ok'))).toEqual(['inner', 'outer exit', 'outer after']);
      expect(h.logs.slice(mark).some((l) => l.msg === 'python stdout: hello from python')).toBe(true);
    } finally {
      h.nested = undefined;
      e.dispose();
    }
  });
});
