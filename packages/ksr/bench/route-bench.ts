/**
 * Route micro-benchmark (`pnpm bench`): the same ~20-call route (bench/routes/route20.*) run
 * in-process against a fixed parsed INVITE, per engine and as plain TypeScript calling the same
 * export functions directly (the lower bound). Also: per-call overhead of no-op exports with 0,
 * 2 (int, str) and 1 (str → str) arguments, engine startup time and memory, and reload time.
 *
 *   pnpm bench            print the tables
 *   pnpm bench --write    also write them into docs/BENCHMARKS.md (between the markers)
 *
 * Figures are medians over batches after a warm-up; the machine is shared, so compare figures from
 * one run, not across runs.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { cpus, totalmem } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  detachedServices,
  MessageState,
  RouteContext,
  RouteRuntime,
  ScriptHost,
  buildCoreRegistry,
  parseMessage,
  silentLogger,
  type EngineDescriptor,
  type FrozenKemiRegistry,
  type KemiExportDef,
  type RouteServices,
  type ScriptEngine,
  type SipRequest,
} from '@ksr/core';
import { luaEngine } from '@ksr/engine-lua';
import { python3sEngine } from '@ksr/engine-python';
import { createTsEngine } from '@ksr/engine-testkit';

const here = dirname(fileURLToPath(import.meta.url));
const repo = resolve(here, '../../..');

const benchExports: KemiExportDef<RouteContext>[] = [
  { name: 'noop', returns: 'int', params: [], fn: () => 1 },
  { name: 'int_str', returns: 'int', params: ['int', 'str'], fn: (_c, i: number) => i },
  { name: 'echo', returns: 'xval', params: ['str'], fn: (_c, s: string) => s },
];

function registry(): FrozenKemiRegistry<RouteContext> {
  const reg = buildCoreRegistry();
  reg.addModule('bench', benchExports);
  return reg.freeze();
}

const services: RouteServices = detachedServices();

const INVITE = Buffer.from(
  [
    'INVITE sip:bob@ksr.test SIP/2.0',
    'Via: SIP/2.0/UDP 192.0.2.10:5070;branch=z9hG4bK-bench;rport',
    'Max-Forwards: 70',
    'From: "Alice" <sip:alice@atlanta.test>;tag=a1',
    'To: <sip:bob@ksr.test>',
    'Call-ID: bench-1@192.0.2.10',
    'CSeq: 10 INVITE',
    'Contact: <sip:alice@192.0.2.10:5070>',
    'User-Agent: bench-ua/1.0',
    'Content-Length: 0',
    '',
    '',
  ].join('\r\n'),
);

function context(): RouteContext {
  const msg = parseMessage(INVITE) as SipRequest;
  return new RouteContext(
    msg,
    { proto: 'udp', local: { address: '127.0.0.1', port: 5060, family: 4 }, remote: { address: '192.0.2.10', port: 5070, family: 4 }, socketId: 0 },
    services,
    'request',
    'ksr_request_route',
    new MessageState(),
  );
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = Math.floor(s.length / 2);
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}

/** µs per call of `fn`, median of `batches` batches of `n` calls after `warm` warm-up calls. */
function measure(fn: () => void, n = 2000, batches = 15, warm = 3000): number {
  for (let i = 0; i < warm; i++) fn();
  const per: number[] = [];
  for (let b = 0; b < batches; b++) {
    const t0 = process.hrtime.bigint();
    for (let i = 0; i < n; i++) fn();
    per.push(Number(process.hrtime.bigint() - t0) / 1000 / n);
  }
  return median(per);
}

/** The route of routes/route20.* written as direct calls of the export functions. */
function plainTsRoute(reg: FrozenKemiRegistry<RouteContext>): (ctx: RouteContext) => number {
  const f = (m: string, n: string): ((ctx: RouteContext, ...a: never[]) => unknown) => {
    const e = reg.find(m, n);
    if (!e) throw new Error(`no export ${m}.${n}`);
    return e.fn as (ctx: RouteContext, ...a: never[]) => unknown;
  };
  const isInvite = f('', 'is_INVITE');
  const isMethodIn = f('', 'is_method_in') as (c: RouteContext, s: string) => boolean;
  const isMyselfRuri = f('', 'is_myself_ruri');
  const hdrIsPresent = f('hdr', 'is_present') as (c: RouteContext, s: string) => number;
  const pvGet = f('pv', 'get') as (c: RouteContext, s: string) => unknown;
  const hdrGet = f('hdr', 'get') as (c: RouteContext, s: string) => unknown;
  const setflag = f('', 'setflag') as (c: RouteContext, i: number) => boolean;
  const isflagset = f('', 'isflagset') as (c: RouteContext, i: number) => boolean;
  const resetflag = f('', 'resetflag') as (c: RouteContext, i: number) => boolean;
  const pvSets = f('pv', 'sets') as (c: RouteContext, a: string, b: string) => boolean;
  const pvSeti = f('pv', 'seti') as (c: RouteContext, a: string, b: number) => boolean;
  const pvGeti = f('pv', 'geti') as (c: RouteContext, a: string) => number;
  const isdsturiset = f('', 'isdsturiset');
  const setdsturi = f('', 'setdsturi') as (c: RouteContext, s: string) => boolean;
  const resetdsturi = f('', 'resetdsturi');
  const isRegister = f('', 'is_REGISTER');
  return (ctx) => {
    let n = 0;
    if (isInvite(ctx)) n++;
    if (isMethodIn(ctx, 'IR')) n++;
    if (isMyselfRuri(ctx)) n++;
    if (hdrIsPresent(ctx, 'Contact') > 0) n++;
    pvGet(ctx, '$ru');
    const fu = String(pvGet(ctx, '$fU'));
    pvGet(ctx, '$si');
    pvGet(ctx, '$ci');
    hdrGet(ctx, 'User-Agent');
    pvGet(ctx, '$tt');
    setflag(ctx, 2);
    if (isflagset(ctx, 2)) n++;
    pvSets(ctx, '$var(user)', fu);
    pvSeti(ctx, '$var(n)', n);
    const m = pvGeti(ctx, '$var(n)');
    if (!isdsturiset(ctx)) setdsturi(ctx, 'sip:127.0.0.1:5080');
    resetdsturi(ctx);
    if (isRegister(ctx)) n++;
    resetflag(ctx, 2);
    return m;
  };
}

const CALL_SCRIPTS: Record<string, { file: string; text: string }> = {
  lua: {
    file: 'calls.lua',
    text: `local N = 1000
function empty() for i = 1, N do end end
function noop() local f = KSR.bench.noop for i = 1, N do f() end end
function int_str() local f = KSR.bench.int_str for i = 1, N do f(i, "abc") end end
function echo() local f = KSR.bench.echo for i = 1, N do f("abc") end end
function ksr_request_route() end
`,
  },
  python3s: {
    file: 'calls.py',
    text: `import KSR
N = 1000
def empty():
    for i in range(N):
        pass
def noop():
    f = KSR.bench.noop
    for i in range(N):
        f()
def int_str():
    f = KSR.bench.int_str
    for i in range(N):
        f(i, "abc")
def echo():
    f = KSR.bench.echo
    for i in range(N):
        f("abc")
def ksr_request_route():
    pass
`,
  },
  jsdt: {
    file: 'calls.js',
    text: `const N = 1000;
function empty() { for (let i = 0; i < N; i++) {} }
function noop() { const f = KSR.bench.noop; for (let i = 0; i < N; i++) f(); }
function int_str() { const f = KSR.bench.int_str; for (let i = 0; i < N; i++) f(i, "abc"); }
function echo() { const f = KSR.bench.echo; for (let i = 0; i < N; i++) f("abc"); }
function ksr_request_route() {}
`,
  },
};

export interface EngineRow {
  engine: string;
  routeUs: number;
  ksrCallUs: number;
  noopUs?: number;
  intStrUs?: number;
  echoUs?: number;
  startFirstMs: number;
  startSecondMs: number;
  rssMb: number;
  reloadMs: number;
}

async function loadJsEngine(): Promise<EngineDescriptor | undefined> {
  try {
    const mod = (await import('@ksr/engine-js' as string)) as Record<string, unknown>;
    const d = Object.values(mod).find((v) => typeof v === 'object' && v !== null && (v as EngineDescriptor).cfgengineNames?.includes('jsdt'));
    return d as EngineDescriptor | undefined;
  } catch {
    return undefined;
  }
}

async function benchEngine(name: string, descriptor: EngineDescriptor, routeFile: string, tmp: string): Promise<EngineRow> {
  const reg = registry();
  const runtime = new RouteRuntime({ registry: reg, logger: silentLogger });
  const opts = { registry: reg, invoke: runtime.invoke, logger: silentLogger, params: new Map(), requiredFunctions: ['ksr_request_route'], version: 'bench' };
  let t0 = performance.now();
  const host = new ScriptHost(descriptor, { ...opts, script: routeFile });
  await host.start();
  const startFirstMs = performance.now() - t0;
  t0 = performance.now();
  const second = await descriptor.load({ ...opts, script: routeFile });
  const startSecondMs = performance.now() - t0;
  second.dispose();
  // memory of one more interpreter: load several, keep them alive, average the RSS growth
  const EXTRA = 5;
  const used = (): number => {
    global.gc?.();
    const m = process.memoryUsage();
    return m.heapUsed + m.external; // external includes ArrayBuffers (fengari strings, wasm memory)
  };
  const mem0 = used();
  const extra: ScriptEngine[] = [];
  for (let i = 0; i < EXTRA; i++) extra.push(await descriptor.load({ ...opts, script: routeFile }));
  const rssMb = (used() - mem0) / EXTRA / 1024 / 1024;
  for (const e of extra) e.dispose();
  const ctx = context();
  const routeUs = measure(() => {
    runtime.run(host.current, ctx, 'ksr_request_route');
  });
  const reloads: number[] = [];
  for (let i = 0; i < 5; i++) {
    const r = await host.reload();
    if (r.ok) reloads.push(r.ms);
  }
  host.dispose();
  const row: EngineRow = { engine: name, routeUs, ksrCallUs: routeUs / 20, startFirstMs, startSecondMs, rssMb, reloadMs: median(reloads) };
  const calls = CALL_SCRIPTS[descriptor.name];
  if (calls) {
    const file = join(tmp, calls.file);
    writeFileSync(file, calls.text);
    const eng: ScriptEngine = await descriptor.load({ ...opts, script: file });
    const per = (fn: string): number => measure(() => void runtime.run(eng, ctx, fn), 20, 15, 20) / 1000;
    const empty = per('empty');
    row.noopUs = per('noop') - empty;
    row.intStrUs = per('int_str') - empty;
    row.echoUs = per('echo') - empty;
    eng.dispose();
  }
  return row;
}

function fmt(n: number | undefined, digits = 2): string {
  return n === undefined ? '–' : n.toFixed(digits);
}

export interface EngineBench {
  plainUs: number;
  rows: EngineRow[];
  table: string;
}

/** Part 2 of `pnpm bench`: the route20 micro-benchmark and the engine figures (call overhead, startup, memory, reload). */
export async function runEngineBench(): Promise<EngineBench> {
  const { mkdtempSync } = await import('node:fs');
  const { tmpdir } = await import('node:os');
  const tmp = mkdtempSync(join(tmpdir(), 'ksr-bench-'));
  const reg = registry();
  const ctx = context();
  const plain = plainTsRoute(reg);
  const plainUs = measure(() => plain(ctx));

  const rows: EngineRow[] = [];
  rows.push(await benchEngine('lua (fengari)', luaEngine, join(here, 'routes/route20.lua'), tmp));
  const js = await loadJsEngine();
  if (js) rows.push(await benchEngine('javascript (QuickJS)', js, join(here, 'routes/route20.js'), tmp));
  rows.push(await benchEngine('python (Pyodide, python3s)', python3sEngine, join(here, 'routes/route20.py'), tmp));
  rows.push(await benchEngine('typescript test engine (via invoke)', createTsEngine({ name: 'ts' }), join(here, 'routes/route20.ts'), tmp));

  const cpu = cpus()[0]?.model ?? 'unknown CPU';
  const date = new Date().toISOString().slice(0, 10);
  const lines = [
    `Machine: ${cpus().length} × ${cpu}, ${(totalmem() / 2 ** 30).toFixed(0)} GiB, Node ${process.version}; ${date}.`,
    '',
    '| engine | µs / route (20 KSR calls) | µs / KSR call in the route | no-op call µs (0 args) | (int, str) µs | str → str µs | startup ms (1st / 2nd) | MB per interpreter | reload ms |',
    '|---|---:|---:|---:|---:|---:|---:|---:|---:|',
    `| plain TypeScript (direct export calls, lower bound) | ${fmt(plainUs)} | ${fmt(plainUs / 20, 3)} | – | – | – | – | – | – |`,
    ...rows.map(
      (r) =>
        `| ${r.engine} | ${fmt(r.routeUs)} | ${fmt(r.ksrCallUs, 3)} | ${fmt(r.noopUs)} | ${fmt(r.intStrUs)} | ${fmt(r.echoUs)} | ${fmt(r.startFirstMs, 0)} / ${fmt(r.startSecondMs, 0)} | ${fmt(r.rssMb, 1)} | ${fmt(r.reloadMs, 1)} |`,
    ),
  ];
  const table = lines.join('\n');
  return { plainUs, rows, table };
}

async function main(): Promise<void> {
  const { table } = await runEngineBench();
  process.stdout.write(`${table}\n`);
  if (process.argv.includes('--write')) {
    const path = join(repo, 'docs/BENCHMARKS.md');
    const doc = readFileSync(path, 'utf8');
    const begin = '<!-- route-bench:begin -->';
    const end = '<!-- route-bench:end -->';
    const a = doc.indexOf(begin);
    const b = doc.indexOf(end);
    if (a < 0 || b < a) throw new Error(`docs/BENCHMARKS.md has no ${begin} … ${end} section`);
    writeFileSync(path, `${doc.slice(0, a + begin.length)}\n${table}\n${doc.slice(b)}`);
    process.stdout.write(`written to ${path}\n`);
  }
}

if (process.argv[1]?.endsWith('route-bench.ts')) await main();
