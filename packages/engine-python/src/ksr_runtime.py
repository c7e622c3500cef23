# ksr engine-python runtime: the Python half of @ksr/engine-python.
#
# Executed once per Pyodide instance in a private namespace (never in sys.modules), with the
# file name "<ksr-runtime>". The TypeScript side (src/host.ts, src/engine.ts) holds PyProxies of
# the functions marked "entry point" below and calls nothing else. Entry points never raise:
# failures come back as codes and JSON strings.
#
# One "generation" (class Gen) is one loaded script: its KSR module (built from the frozen
# registry), its own builtins (with an __import__ that serves KSR, the script folder's modules and
# refuses what ksr does not offer), its module namespace, and for the class style the handler
# object returned by mod_init(). A reload is a new generation in the same interpreter.

import builtins
import json
import linecache
import os
import posix
import signal
import sys
import time
import traceback
import types

OWN_FILE = "<ksr-runtime>"
STDLIB_PREFIX = "/lib/python"

# run() result codes (mirrored in src/engine.ts)
R_OK = 0
R_EXIT = 1
R_MISSING = 2
R_ERROR = 3
R_TIMEOUT = 4
R_SYSEXIT = 5

MAX_MESSAGE = 1000
MAX_STACK_FRAMES = 30
# Python frames nest inside the Node thread's JS stack (~1 MB on the main thread): recursion
# through C (a recursive __getattr__, map(f, …) inside f) overflows it, which Pyodide cannot
# survive, from about 300 levels. Pure Python recursion would go deeper; routes never need to.
MAX_RECURSION = 200


class KsrExit(BaseException):
    """Raised by KSR.x.exit() / KSR.x.drop(): ends the route. Not an Exception subclass, so
    `except Exception` does not catch it (like SystemExit)."""


class RouteTimeLimit(BaseException):
    """The route ran past route_time_limit and is being stopped."""


_JsException = None  # pyodide.ffi.JsException, kept privately (setup)
_gens = {}
_depth = 0  # route runs (and loads) in progress, nested ones included
_expired = False  # the watchdog fired for the run in progress: every script frame raises
_quiet = 0  # the runtime itself is formatting an error (stdlib code must not be stopped)
_last_error = None
_mon = sys.monitoring
_TOOL = None
_EVENTS = 0
_real_signal = signal.signal
_real_import = builtins.__import__
_real_sleep = time.sleep
_real_setrecursionlimit = sys.setrecursionlimit
_denied_global = frozenset()
_denied_script = frozenset()


# ------------------------------------------------------------------ deadline (sticky stop)


def _is_ours(filename):
    return filename == OWN_FILE or (_quiet and filename.startswith(STDLIB_PREFIX))


def _mon_stop(code, *_):
    # sys.monitoring callback (JUMP, PY_START, PY_RESUME), enabled only once the deadline passed:
    # raising here stops loops that swallow the first interrupt with `except BaseException`.
    if _expired and not _is_ours(code.co_filename):
        raise RouteTimeLimit("route_time_limit exceeded")


def _on_sigint(signum, frame):
    # The watchdog thread wrote SIGINT into Pyodide's interrupt buffer.
    global _expired
    if _depth == 0:
        return
    _expired = True
    if _TOOL is not None:
        _mon.set_events(_TOOL, _EVENTS)
    if frame is not None and not _is_ours(frame.f_code.co_filename):
        raise RouteTimeLimit("route_time_limit exceeded")


def _end_expiry():
    global _expired
    _expired = False
    if _TOOL is not None:
        _mon.set_events(_TOOL, 0)


def _guarded_signal(signalnum, handler):
    if signalnum == signal.SIGINT:
        raise ValueError("SIGINT is reserved by ksr (route_time_limit)")
    return _real_signal(signalnum, handler)


def _sleep(secs):
    # time.sleep in small steps, so the deadline can stop a sleeping route.
    end = time.monotonic() + secs
    while True:
        left = end - time.monotonic()
        if left <= 0:
            return None
        _real_sleep(0.01 if left > 0.01 else left)


# ------------------------------------------------------------------ sandbox


def _setrecursionlimit(limit):
    # clamped: see MAX_RECURSION
    _real_setrecursionlimit(max(50, min(int(limit), MAX_RECURSION)))


def _denied(what):
    def denied(*args, **kwargs):
        raise PermissionError(f"{what} is not available to ksr scripts")

    denied.__name__ = what.rpartition(".")[2]
    return denied


def _exit_route(status=0):
    raise SystemExit(status)


class _DenyFinder:
    """First entry of sys.meta_path: refuses modules ksr does not offer (the Pyodide bridge,
    ctypes, CPython's test modules)."""

    @staticmethod
    def find_spec(name, path=None, target=None):
        if name.partition(".")[0] in _denied_global:
            raise ModuleNotFoundError(f"module '{name}' is not available to ksr scripts", name=name)
        return None

    @staticmethod
    def invalidate_caches():
        return None


def setup(denied_global_json, denied_script_json):
    """Entry point (once per interpreter): hide Pyodide's JS bridge, refuse unsafe modules,
    neutralise process-level os functions, install the deadline machinery."""
    global _JsException, _TOOL, _EVENTS, _denied_global, _denied_script
    _denied_global = frozenset(json.loads(denied_global_json))
    _denied_script = frozenset(json.loads(denied_script_json)) | _denied_global
    import pyodide.ffi as _ffi

    _JsException = _ffi.JsException
    del _ffi
    # Pyodide's bridge modules: gone from sys.modules, their finder gone from sys.meta_path.
    for name in list(sys.modules):
        if name.partition(".")[0] in _denied_global:
            del sys.modules[name]
    sys.meta_path[:] = [f for f in sys.meta_path if getattr(type(f), "__module__", "").partition(".")[0] not in ("_pyodide", "pyodide")]
    sys.meta_path.insert(0, _DenyFinder)
    sys.path_importer_cache.clear()
    # Process-level functions: a script must never end or signal the server.
    for mod in (os, posix):
        for name in ("system", "kill", "killpg", "abort", "fork", "forkpty", "popen"):
            if hasattr(mod, name):
                setattr(mod, name, _denied(f"os.{name}"))
        if hasattr(mod, "_exit"):
            mod._exit = _exit_route
    for name in ("raise_signal", "pthread_kill", "alarm", "setitimer", "siginterrupt"):
        if hasattr(signal, name):
            setattr(signal, name, _denied(f"signal.{name}"))
    signal.signal = _guarded_signal
    time.sleep = _sleep
    _real_setrecursionlimit(MAX_RECURSION)
    sys.setrecursionlimit = _setrecursionlimit
    # Deadline: SIGINT from the watchdog + sticky sys.monitoring callbacks.
    _real_signal(signal.SIGINT, _on_sigint)
    for tool in (4, 3, 5):
        try:
            _mon.use_tool_id(tool, "ksr")
        except ValueError:
            continue
        _TOOL = tool
        break
    if _TOOL is not None:
        E = _mon.events
        _EVENTS = E.JUMP | E.PY_START | E.PY_RESUME
        for ev in (E.JUMP, E.PY_START, E.PY_RESUME):
            _mon.register_callback(_TOOL, ev, _mon_stop)
    os.environ.pop("_", None)
    os.environ.pop("PYTHONINSPECT", None)
    return json.dumps({"python": sys.version.split()[0], "monitoring_tool": _TOOL})


# ------------------------------------------------------------------ errors


def _script_file(filename):
    return not (filename == OWN_FILE or filename.startswith(STDLIB_PREFIX) or filename.startswith("<"))


def _truncate(s, n=MAX_MESSAGE):
    return s if len(s) <= n else f"{s[:n]}… ({len(s) - n} more characters)"


def _describe(e):
    """What went wrong, as a dict: message, file, line, stack (innermost script frame)."""
    global _quiet
    _quiet += 1
    try:
        try:
            text = str(e)
        except BaseException:
            text = "<exception str() failed>"
        name = type(e).__name__
        info = {"message": _truncate(f"{name}: {text}" if text else name), "type": name}
        if isinstance(e, SyntaxError) and e.filename and _script_file(e.filename):
            info["file"] = e.filename
            if e.lineno:
                info["line"] = e.lineno
            info["message"] = _truncate(f"{name}: {e.msg}")
        frames = traceback.extract_tb(e.__traceback__)
        ours = [f for f in frames if _script_file(f.filename)]
        if "file" not in info and ours:
            info["file"] = ours[-1].filename
            info["line"] = ours[-1].lineno
        lines = ["Traceback (most recent call last):"]
        shown = [f for f in frames if f.filename != OWN_FILE][-MAX_STACK_FRAMES:]
        for f in shown:
            lines.append(f'  File "{f.filename}", line {f.lineno}, in {f.name}')
            if f.line:
                lines.append(f"    {f.line.strip()}")
        lines.append(info["message"])
        info["stack"] = "\n".join(lines)
        return info
    except BaseException as inner:  # never let formatting fail the runtime
        return {"message": f"{type(e).__name__} (could not be described: {type(inner).__name__})"}
    finally:
        _quiet -= 1


def last_error():
    """Entry point: the error of the last failed run/load, as JSON."""
    return json.dumps(_last_error or {"message": "unknown error"})


def where():
    """Entry point (called while a KSR function runs): file:line of the innermost script frame."""
    f = sys._getframe(1)
    while f is not None:
        fn = f.f_code.co_filename
        if _script_file(fn):
            return f"{fn}:{f.f_lineno}"
        f = f.f_back
    return None


# ------------------------------------------------------------------ KSR binding


def _bind(jsf, name, qualified):
    # One Python function per export: calls the export's JS function (its integer id is bound on
    # the JS side). The JS side throws only for KSR.x.exit()/drop(); that becomes KsrExit,
    # raised outside the except block so no JS object is chained to it.
    def ksr_function(*args):
        try:
            return jsf(*args)
        except _JsException:
            pass
        raise KsrExit(f"{qualified}: route exit")

    ksr_function.__name__ = name
    ksr_function.__qualname__ = qualified
    ksr_function.__module__ = "KSR"
    ksr_function.__doc__ = qualified
    return ksr_function


class Msg:
    """The `msg` argument of class-style (app_python3) route methods. A view of the message of
    the route that runs, read through KSR functions (needs KSR.pv / KSR.hdr; None without them)."""

    __slots__ = ("_ksr",)

    def __init__(self, ksr):
        self._ksr = ksr

    def _pv(self, name):
        pv = getattr(self._ksr, "pv", None)
        get = getattr(pv, "get", None)
        return get(name) if get is not None else None

    def _is_reply(self):
        return self._pv("$rs") is not None

    @property
    def Type(self):
        if getattr(self._ksr, "pv", None) is None:
            return None
        return "SIP_REPLY" if self._is_reply() else "SIP_REQUEST"

    @property
    def Method(self):
        if self._is_reply():
            raise TypeError("Not a request message")
        return self._pv("$rm")

    @property
    def Status(self):
        st = self._pv("$rs")
        if st is None:
            raise TypeError("Not a non-reply message")
        return str(st)

    @property
    def RURI(self):
        if self._is_reply():
            raise TypeError("Not a request message")
        return self._pv("$ru")

    @property
    def src_address(self):
        ip, port = self._pv("$si"), self._pv("$sp")
        return None if ip is None else (ip, int(port) if port is not None else 0)

    @property
    def dst_address(self):
        ip, port = self._pv("$Ri"), self._pv("$Rp")
        return None if ip is None else (ip, int(port) if port is not None else 0)

    def getHeader(self, name):
        hdr = getattr(self._ksr, "hdr", None)
        get = getattr(hdr, "get", None)
        return get(name) if get is not None else None

    def rewrite_ruri(self, uri):
        if self._is_reply():
            raise TypeError("Not a request message")
        seturi = getattr(self._ksr, "seturi", None)
        if seturi is None:
            raise NotImplementedError("msg.rewrite_ruri needs KSR.seturi")
        seturi(uri)

    def set_dst_uri(self, uri):
        if self._is_reply():
            raise TypeError("Not a request message")
        setdsturi = getattr(self._ksr, "setdsturi", None)
        if setdsturi is None:
            raise NotImplementedError("msg.set_dst_uri needs KSR.setdsturi")
        setdsturi(uri)

    def call_function(self, *args):
        raise NotImplementedError("msg.call_function is not supported by ksr: call the KSR.<module>.<function> export instead")

    def copy(self):
        raise NotImplementedError("msg.copy is not supported by ksr")

    def __repr__(self):
        return "<ksr msg>"


# ------------------------------------------------------------------ generations


class Gen:
    def __init__(self, gid, style, path, ksr, files, version):
        self.gid = gid
        self.style = style
        self.path = path
        self.ksr = ksr
        self.files = files  # module name -> (virtual path, host path, is package)
        self.tops = frozenset(n.partition(".")[0] for n in files)
        self.modules = {}
        self.builtins = dict(vars(builtins))
        self.builtins["__import__"] = self._import
        self.builtins["KSRVERSION"] = version
        stem = os.path.basename(path)
        stem = stem[:-3] if stem.endswith(".py") else stem
        main = types.ModuleType(stem)
        main.__file__ = path
        main.__builtins__ = self.builtins
        self.main = main
        self.stem = stem
        self.handler = None
        self.msg = Msg(ksr)
        self.linecache_keys = []

    # -- imports

    def _import(self, name, globals=None, locals=None, fromlist=(), level=0):
        if level == 0:
            top = name.partition(".")[0]
            if top == "KSR":
                if name != "KSR":
                    raise ModuleNotFoundError(f"No module named '{name}': KSR modules are attributes (KSR.{name[4:]})", name=name)
                return self.ksr
            if top in _denied_script:
                raise ModuleNotFoundError(f"module '{name}' is not available to ksr scripts", name=name)
            if top in self.tops or top == self.stem:
                return self._import_local(name, fromlist)
            return _real_import(name, globals, locals, fromlist, level)
        pkg = (globals or {}).get("__package__") or ""
        if pkg and pkg.partition(".")[0] in self.tops:
            parts = pkg.split(".")
            if level - 1 >= len(parts):
                raise ImportError("attempted relative import beyond top-level package")
            base = ".".join(parts[: len(parts) - (level - 1)])
            absname = f"{base}.{name}" if name else base
            mod = self._import_local(absname, fromlist or ("__ksr_relative__",))
            return mod
        return _real_import(name, globals, locals, fromlist, level)

    def _import_local(self, name, fromlist):
        parts = name.split(".")
        mod = None
        for i in range(1, len(parts) + 1):
            mod = self._load(".".join(parts[:i]))
        if fromlist:
            for item in fromlist:
                if item == "*" or item == "__ksr_relative__":
                    continue
                sub = f"{name}.{item}"
                if not hasattr(mod, item) and sub in self.files:
                    self._load(sub)
            return mod
        return self._load(parts[0])

    def _load(self, name):
        mod = self.modules.get(name)
        if mod is not None:
            return mod
        if name == self.stem:
            return self.main
        entry = self.files.get(name)
        if entry is None:
            raise ModuleNotFoundError(f"No module named '{name}'", name=name)
        vpath, hpath, is_pkg = entry
        parent, _, leaf = name.rpartition(".")
        mod = types.ModuleType(name)
        mod.__file__ = hpath
        mod.__builtins__ = self.builtins
        mod.__package__ = name if is_pkg else parent
        if is_pkg:
            mod.__path__ = [os.path.dirname(hpath)]
        code = self._compile(vpath, hpath)
        self.modules[name] = mod
        try:
            exec(code, mod.__dict__)
        except BaseException:
            self.modules.pop(name, None)
            raise
        if parent:
            setattr(self._load(parent), leaf, mod)
        return mod

    def _compile(self, vpath, hpath):
        with open(vpath, "rb") as fh:
            src = fh.read()
        try:
            text = src.decode("utf-8")
            linecache.cache[hpath] = (len(text), None, text.splitlines(True), hpath)
            self.linecache_keys.append(hpath)
        except UnicodeDecodeError:
            pass
        return compile(src, hpath, "exec", dont_inherit=True)

    # -- route functions

    def lookup(self, name):
        if not name:
            return None
        if self.style == "class":
            h = self.handler
            if h is None or name.startswith("__"):
                return None
            try:
                f = getattr(h, name, None)
            except Exception:
                return None
        else:
            f = self.main.__dict__.get(name)
            if isinstance(f, types.ModuleType):
                return None
        return f if callable(f) else None

    def drop(self):
        for k in self.linecache_keys:
            linecache.cache.pop(k, None)
        self.modules.clear()
        self.main.__dict__.clear()
        self.handler = None


def gen_create(gid, style, path, version, fns, meta_json, files_json):
    """Entry point: build generation `gid`: KSR from the export table (`fns` is the JS array of
    per-export functions, `meta_json` [[module, name], …] in id order plus the module list)."""
    try:
        meta = json.loads(meta_json)
        files = {k: tuple(v) for k, v in json.loads(files_json).items()}
        ksr = types.ModuleType("KSR", "ksr KEMI functions: KSR.<function>, KSR.<module>.<function>")
        subs = {}
        for module in meta["modules"]:
            if module:
                m = types.ModuleType(f"KSR.{module}")
                subs[module] = m
                setattr(ksr, module, m)
        names = meta["exports"]
        i = 0
        for jsf in fns:
            module, name = names[i]
            i += 1
            target = subs[module] if module else ksr
            setattr(target, name, _bind(jsf, name, f"KSR.{module}.{name}" if module else f"KSR.{name}"))
        del jsf
        if i != len(names):
            return json.dumps({"error": f"export table mismatch ({i} functions, {len(names)} names)"})
        _gens[gid] = Gen(gid, style, path, ksr, files, version)
        return json.dumps({"ok": True})
    except BaseException as e:
        return json.dumps({"error": f"{type(e).__name__}: {e}"})


def _classify(e):
    global _last_error
    if isinstance(e, KsrExit):
        return R_EXIT
    if _expired or isinstance(e, RouteTimeLimit):
        _last_error = _describe(e)
        return R_TIMEOUT
    if isinstance(e, SystemExit):
        return R_SYSEXIT
    _last_error = _describe(e)
    return R_ERROR


def _enter():
    global _depth
    if _depth == 0 and _expired:
        _end_expiry()
    _depth += 1


def _leave():
    global _depth
    _depth -= 1
    if _depth == 0 and _expired:
        _end_expiry()


def gen_load(gid, main_vpath):
    """Entry point: compile and run the script's top level. Returns a run code."""
    global _last_error
    g = _gens[gid]
    _enter()
    try:
        try:
            code = g._compile(main_vpath, g.path)
        except SyntaxError as e:
            _last_error = _describe(e)
            return R_ERROR
        exec(code, g.main.__dict__)
        return R_TIMEOUT if _expired else R_OK
    except BaseException as e:
        return _classify(e)
    finally:
        _leave()


def _fail(message):
    global _last_error
    _last_error = {"message": message}
    return R_ERROR


def gen_init(gid, spec_json):
    """Entry point: mod_init()/child_init(rank) (class style) or script_init()/
    script_child_init(rank) (script style), then check the required route functions."""
    g = _gens[gid]
    spec = json.loads(spec_json)
    rank = spec["rank"]
    _enter()
    try:
        ns = g.main.__dict__
        if g.style == "class":
            name = spec["mod_init"]
            f = ns.get(name)
            if not callable(f):
                return _fail(f"function {name}() is not defined: an app_python3 script must define {name}() returning the handler object")
            h = f()
            if h is None:
                return _fail(f"{name}() returned None: it must return the handler object whose methods are the route functions")
            g.handler = h
            ci = spec["child_init"]
            m = getattr(h, ci, None) if ci else None
            if callable(m):
                r = m(rank)
                if type(r) is int and r < 0:
                    return _fail(f"{type(h).__name__}.{ci}({rank}) returned {r}")
        else:
            for key, args in (("script_init", ()), ("script_child_init", (rank,))):
                name = spec[key]
                f = ns.get(name) if name else None
                if callable(f):
                    r = f(*args)
                    if type(r) is int and r < 0:
                        return _fail(f"{name}({', '.join(map(str, args))}) returned {r}")
        for req in spec["required"]:
            if g.lookup(req) is None:
                if g.style == "class":
                    return _fail(f"function {req} is not defined: the object returned by {spec['mod_init']}() has no method {req}(self, msg)")
                return _fail(f"function {req} is not defined: define it at the top level of the script")
        return R_TIMEOUT if _expired else R_OK
    except BaseException as e:
        return _classify(e)
    finally:
        _leave()


def run(gid, func, *args):
    """Entry point: run a route function. Returns a run code; the error is in last_error()."""
    g = _gens.get(gid)
    if g is None:
        return _fail("the Python script was unloaded")
    _enter()
    try:
        f = g.lookup(func)
        if f is None:
            return R_MISSING
        if g.style == "class":
            f(g.msg, *args)
        else:
            f(*args)
        if _expired:
            _fail_timeout()
            return R_TIMEOUT
        return R_OK
    except BaseException as e:
        return _classify(e)
    finally:
        _leave()


def _fail_timeout():
    global _last_error
    _last_error = {"message": "route_time_limit exceeded"}


def reset():
    """Entry point: after an error escaped an entry point (it should not): no run in progress."""
    global _depth, _quiet
    _depth = 0
    _quiet = 0
    _end_expiry()
    return True


def has_function(gid, name):
    """Entry point."""
    g = _gens.get(gid)
    if g is None:
        return False
    _enter()
    try:
        return g.lookup(name) is not None
    except BaseException:
        return False
    finally:
        _leave()


def gen_drop(gid):
    """Entry point: forget generation `gid` (its functions, modules and KSR bindings)."""
    g = _gens.pop(gid, None)
    _enter()  # finalizers (__del__) of the script run here, under the deadline
    try:
        if g is not None:
            g.drop()
        del g
        import gc

        gc.collect()
    except BaseException:
        pass
    finally:
        _leave()
    return True


def stats():
    """Entry point (tests/diagnostics): live generations and Python object count."""
    import gc

    gc.collect()
    return json.dumps({"generations": sorted(_gens), "objects": len(gc.get_objects())})
