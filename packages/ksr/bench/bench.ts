/**
 * `pnpm bench`: every benchmark of issue 12 in one run.
 *
 *   pnpm bench [--micro] [--sipp] [--max] [--memory] [--json <file>] [--write] [options]
 *
 * Parts (all of them when none is named):
 *   --micro    1. the harness's bench routes (routes/route.{lua,js,py}) in-process against a parsed
 *                 REGISTER and INVITE per engine and as plain TypeScript (route-bench below);
 *              2. engine figures: no-op export call overhead (0 args, (int, str), str → str),
 *                 startup time and memory per interpreter, reload time (route-bench.ts).
 *   --sipp     3. ../shared/bench/run.sh at 500 calls/s × 5000 for options, register,
 *                 register-auth, call: ksr with each engine and Kamailio (tlsf) with the same
 *                 engine, interleaved; ratio ksr/Kamailio of server CPU µs per transaction.
 *   --max         highest sustained rate (find-max.sh) of register and call, ksr-Lua vs Kamailio-Lua.
 *   --memory      RSS with 100k registered contacts, RSS before/after 1M routed messages.
 *   --profile     V8 CPU profile of each engine's bench route in-process: where the time goes.
 *
 * Options: --engines lua,js,python  --scenarios options,register,register-auth,call  --rate 500  --count 5000  --repeats 1  --max-seconds 10
 *          --memory-contacts 100000  --memory-messages 1000000
 *          --json <file> (default: $TMPDIR/ksr-bench-<time>.json)
 *          --write   put the tables into docs/BENCHMARKS.md (between the <!-- bench-*:begin/end --> markers)
 *   pnpm bench --report a.json,b.json [--write] [--json merged.json]
 *          re-render (and merge) results of earlier runs, e.g. in-process parts and sipp parts
 *          measured at different times; later files win per part.
 *
 * The sipp parts need ../shared/bench (or KSR_BENCH_HARNESS=<dir>), sipp and, for the comparison,
 * Kamailio; they say so and are skipped when missing. The machine is shared: check `uptime` first.
 */
import { execFileSync, spawn } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, tmpdir, totalmem } from 'node:os';
import { join, resolve } from 'node:path';
import { benchDir, configNotes, ENGINE_DEFINES, type BenchEngine } from './bench-server.js';
import { byCategory, topFrames, type FrameShare } from './cpuprofile.js';
import { profileEngine } from './profile.js';
import { runRouteBench, type RouteFigure } from './bench-routes.js';
import { ENGINE_PAIRS, fmt, groupRuns, mdTable, ratios, replaceSection, type Ratio, type RunGroup } from './lib.js';
import type { MemoryFigures } from './memory-bench.js';
import { runEngineBench, type EngineBench } from './route-bench.js';
import { SCENARIOS, harnessDir, kamailioEngines, runFindMax, runSippComparison, sippMissing, type MaxResult, type Scenario, type SippRun } from './sipp-bench.js';

export interface BenchArgs {
  micro: boolean;
  sipp: boolean;
  max: boolean;
  memory: boolean;
  profile: boolean;
  write: boolean;
  json: string | undefined;
  engines: BenchEngine[];
  rate: number;
  count: number;
  repeats: number;
  maxSeconds: number;
  memoryContacts: number;
  memoryMessages: number;
  scenarios: Scenario[];
}

export function parseBenchArgs(argv: readonly string[]): BenchArgs {
  const a: BenchArgs = {
    micro: false,
    sipp: false,
    max: false,
    memory: false,
    profile: false,
    write: false,
    json: undefined,
    engines: ['lua', 'js', 'python'],
    rate: 500,
    count: 5000,
    repeats: 1,
    maxSeconds: 10,
    memoryContacts: 100_000,
    memoryMessages: 1_000_000,
    scenarios: [...SCENARIOS],
  };
  const num = (flag: string, v: string | undefined): number => {
    const n = Number(v);
    if (v === undefined || !Number.isInteger(n) || n <= 0) throw new Error(`${flag} needs a positive integer`);
    return n;
  };
  for (let i = 0; i < argv.length; i++) {
    const f = argv[i]!;
    switch (f) {
      case '--':
        break;
      case '--micro':
        a.micro = true;
        break;
      case '--sipp':
        a.sipp = true;
        break;
      case '--max':
        a.max = true;
        break;
      case '--memory':
        a.memory = true;
        break;
      case '--profile':
        a.profile = true;
        break;
      case '--write':
        a.write = true;
        break;
      case '--json':
        a.json = argv[++i];
        if (!a.json) throw new Error('--json needs a file name');
        break;
      case '--engines': {
        const list = (argv[++i] ?? '').split(',').filter(Boolean);
        for (const e of list) if (!['lua', 'js', 'python'].includes(e)) throw new Error(`--engines: unknown engine ${e} (lua, js, python)`);
        if (list.length === 0) throw new Error('--engines needs a list');
        a.engines = list as BenchEngine[];
        break;
      }
      case '--scenarios': {
        const list = (argv[++i] ?? '').split(',').filter(Boolean);
        for (const x of list) if (!(SCENARIOS as readonly string[]).includes(x)) throw new Error(`--scenarios: unknown scenario ${x} (${SCENARIOS.join(', ')})`);
        if (list.length === 0) throw new Error('--scenarios needs a list');
        a.scenarios = list as Scenario[];
        break;
      }
      case '--rate':
        a.rate = num(f, argv[++i]);
        break;
      case '--count':
        a.count = num(f, argv[++i]);
        break;
      case '--repeats':
        a.repeats = num(f, argv[++i]);
        break;
      case '--max-seconds':
        a.maxSeconds = num(f, argv[++i]);
        break;
      case '--memory-contacts':
        a.memoryContacts = num(f, argv[++i]);
        break;
      case '--memory-messages':
        a.memoryMessages = num(f, argv[++i]);
        break;
      default:
        throw new Error(`unknown option ${f}`);
    }
  }
  if (!a.micro && !a.sipp && !a.max && !a.memory && !a.profile) a.micro = a.sipp = a.max = a.memory = a.profile = true;
  return a;
}

function cmdVersion(cmd: string, args: string[], re: RegExp): string | undefined {
  try {
    const out = execFileSync(cmd, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] });
    return re.exec(out)?.[1];
  } catch (err) {
    // sipp -v exits non-zero after printing its version
    const out = (err as { stdout?: string }).stdout;
    return typeof out === 'string' ? re.exec(out)?.[1] : undefined;
  }
}

export interface Machine {
  date: string;
  nproc: number;
  cpu: string;
  memGiB: number;
  node: string;
  kamailio: string | undefined;
  sipp: string | undefined;
  loadBefore: number[];
}

function machine(): Machine {
  return {
    date: new Date().toISOString().replace(/\.\d+Z$/, 'Z'),
    nproc: cpus().length,
    cpu: cpus()[0]?.model ?? 'unknown',
    memGiB: Math.round(totalmem() / 2 ** 30),
    node: process.version,
    kamailio: cmdVersion('kamailio', ['-v'], /version: kamailio (\S+)/),
    sipp: cmdVersion('sipp', ['-v'], /(SIPp v[0-9.]+)/),
    loadBefore: loadavg().map((x) => Number(x.toFixed(2))),
  };
}

function memoryChild(contacts: number, messages: number): Promise<MemoryFigures> {
  return new Promise((res, rej) => {
    const child = spawn(process.execPath, ['--expose-gc', '--import', 'tsx', join(benchDir, 'memory-bench.ts'), String(contacts), String(messages)], {
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    let out = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.on('close', (code) => {
      const line = out.split('\n').find((l) => l.startsWith('MEMORY '));
      if (!line) return rej(new Error(`memory bench exited ${code} without figures`));
      res(JSON.parse(line.slice('MEMORY '.length)) as MemoryFigures);
    });
  });
}

export function routeTable(r: readonly RouteFigure[]): string {
  return mdTable(
    ['engine', 'message', 'µs / route', 'KSR calls', 'µs added per KSR call vs plain TS'],
    r.map((x) => [x.engine, x.message, fmt(x.routeUs, 1), x.ksrCalls, fmt(x.overheadPerCallUs, 2)]),
    ['l', 'l', 'r', 'r', 'r'],
  );
}

export function sippTable(groups: readonly RunGroup[], rs: readonly Ratio[]): string {
  const pairIndex = (e: string): number => ENGINE_PAIRS.findIndex((p) => p.ksr === e || p.kamailio === e);
  const order = (g: RunGroup): string => `${SCENARIOS.indexOf(g.scenario as Scenario)}|${pairIndex(g.engine)}|${g.server.startsWith('ksr') ? 0 : 1}`;
  const rows = [...groups]
    .sort((a, b) => order(a).localeCompare(order(b)))
    .map((g) => {
      const r = rs.find((x) => g.server.startsWith('ksr') && x.engine === g.engine && x.scenario === g.scenario);
      return [
        g.scenario,
        g.server,
        g.engine,
        g.runs,
        `${g.ok}/${g.failed}/${g.retrans}`,
        fmt(g.cpuUsPerTxn, 1),
        g.runs > 1 ? `${fmt(g.cpuUsPerTxnMin, 0)}–${fmt(g.cpuUsPerTxnMax, 0)}` : '',
        fmt(g.avgRtMs, 3),
        r ? `${fmt(r.ratio, 2)}× (≤ ${r.limit}×: ${r.met ? 'met' : `missed by ${fmt(r.ratio / r.limit, 1)}×`})` : '',
      ];
    });
  return mdTable(['scenario', 'server', 'engine', 'runs', 'ok/failed/retrans', 'CPU µs / txn (median)', 'min–max', 'avg response ms', 'ksr / Kamailio'], rows, [
    'l',
    'l',
    'l',
    'r',
    'r',
    'r',
    'r',
    'r',
    'l',
  ]);
}

export function maxTable(m: readonly MaxResult[]): string {
  return mdTable(
    ['scenario', 'server', 'sustained calls/s', 'first not sustained', 'CPU µs / txn at the max', 's per step'],
    m.map((x) => {
      const at = x.steps.find((s) => s.rate === x.sustained);
      // no failing step: the search stopped at its upper bound, the real maximum is higher
      const sustained = x.firstUnsustained === undefined && x.sustained > 0 ? `≥ ${x.sustained} (the search's cap)` : x.sustained;
      return [x.scenario, `${x.label}/${x.engine}`, sustained, x.firstUnsustained ?? '–', at ? String(at.cpu_us_per_txn) : '–', x.secondsPerRun];
    }),
    ['l', 'l', 'r', 'r', 'r', 'r'],
  );
}

export function memoryTable(m: MemoryFigures): string {
  return mdTable(
    ['figure', 'value'],
    [
      ['RSS after start (Lua engine, bench config)', `${m.rssStartMb} MB`],
      [`RSS with ${m.contacts} registered contacts (${m.contactsStored ?? '?'} in usrloc)`, `${m.rssContactsMb} MB (JS heap + external ${m.heapContactsMb} MB, ~${m.bytesPerContact} B per contact)`],
      [`RSS before / after ${m.messages} routed messages (REGISTER + OPTIONS)`, `${m.rssBeforeMessagesMb} → ${m.rssAfterMessagesMb} MB (heap ${m.heapBeforeMessagesMb} → ${m.heapAfterMessagesMb} MB)`],
      ['RSS after each tenth of the messages', m.rssTrailMb.join(', ')],
      ['in-process routing rate during that (1 core, parse + route + send)', `${m.messagesPerSecond} messages/s`],
    ],
    ['l', 'l'],
  );
}

export interface ProfileSummary {
  engine: string;
  file: string;
  usPerMessage: number;
  buckets: FrameShare[];
  top: FrameShare[];
}

export function profileText(ps: readonly ProfileSummary[]): string {
  const parts: string[] = [];
  for (const p of ps) {
    const label = ENGINE_DEFINES[p.engine as BenchEngine]?.label ?? p.engine;
    parts.push(
      `**${label}**: ${fmt(p.usPerMessage, 1)} µs of CPU per message in this profile (REGISTER / INVITE / OPTIONS mix, parse + route + send, in-process). ` +
        `By bucket: ${p.buckets
          .filter((b) => b.pct >= 2)
          .map((b) => `${b.frame} ${fmt(b.pct, 0)} %`)
          .join(', ')}. Top functions (self time): ${p.top
          .slice(0, 8)
          .map((f) => `\`${f.frame.replace(/ .*\//, ' ')}\` ${fmt(f.pct, 1)} %`)
          .join(', ')}.`,
    );
  }
  return parts.join('\n\n');
}

export interface Target {
  target: string;
  bar: string;
  measured: string;
  verdict: 'met' | 'missed' | 'not measured';
  by?: string;
}

/** Every target of issue 12, checked against what this run measured. */
export function targets(r: {
  engines?: Pick<EngineBench, 'rows'>;
  sipp?: { ratios: Ratio[] };
  max?: MaxResult[];
  memory?: MemoryFigures;
}): Target[] {
  const t: Target[] = [];
  const row = (prefix: string) => r.engines?.rows.find((x) => x.engine.startsWith(prefix));
  const check = (target: string, bar: string, value: number | undefined, limit: number, unit: string, digits = 2): void => {
    if (value === undefined || !Number.isFinite(value)) {
      t.push({ target, bar, measured: '–', verdict: 'not measured' });
      return;
    }
    const met = value <= limit;
    t.push({ target, bar, measured: `${fmt(value, digits)} ${unit}`, verdict: met ? 'met' : 'missed', ...(met ? {} : { by: `${fmt(value - limit, digits)} ${unit} (${fmt(value / limit, 1)}×)` }) });
  };
  check('no-op KSR call overhead, Lua', '≤ 1 µs', row('lua')?.noopUs, 1, 'µs');
  check('no-op KSR call overhead, JavaScript', '≤ 1 µs', row('javascript')?.noopUs, 1, 'µs');
  check('no-op KSR call overhead, Python', '≤ 2 µs', row('python')?.noopUs, 2, 'µs');
  check('reload, Lua', '≤ 50 ms', row('lua')?.reloadMs, 50, 'ms', 1);
  check('reload, JavaScript', '≤ 50 ms', row('javascript')?.reloadMs, 50, 'ms', 1);
  check('reload, Python', '≤ 1000 ms', row('python')?.reloadMs, 1000, 'ms', 1);
  check('RSS with 100k contacts', '≤ 300 MB', r.memory && r.memory.contacts >= 100_000 ? r.memory.rssContactsMb : undefined, 300, 'MB', 1);
  for (const x of r.sipp?.ratios ?? []) {
    t.push({
      target: `server CPU per txn vs Kamailio (tlsf), ${x.engine}, ${x.scenario}`,
      bar: `≤ ${x.limit}×`,
      measured: `${fmt(x.ratio, 2)}× (${fmt(x.ksrCpuUsPerTxn, 0)} vs ${fmt(x.kamailioCpuUsPerTxn, 0)} µs)`,
      verdict: x.met ? 'met' : 'missed',
      ...(x.met ? {} : { by: `${fmt(x.ratio / x.limit, 1)}× over the bar` }),
    });
  }
  if (!r.sipp) t.push({ target: 'server CPU per txn vs Kamailio', bar: '≤ 1.5× Lua/JS, ≤ 2× Python', measured: '–', verdict: 'not measured' });
  for (const sc of ['register', 'call']) {
    const k = r.max?.find((m) => m.scenario === sc && m.label === 'ksr');
    const kam = r.max?.find((m) => m.scenario === sc && m.label.startsWith('kamailio'));
    if (!k || !kam) {
      t.push({ target: `highest sustained ${sc} rate, ksr-Lua ≥ Kamailio-Lua`, bar: '≥ 1×', measured: k ? `${k.sustained}/s` : '–', verdict: 'not measured' });
      continue;
    }
    const met = k.sustained >= kam.sustained;
    t.push({
      target: `highest sustained ${sc} rate, ksr-Lua (1 process) ≥ Kamailio-Lua (children=2)`,
      bar: '≥ 1×',
      measured: `${k.sustained}/s vs ${kam.firstUnsustained === undefined ? '≥ ' : ''}${kam.sustained}/s (${kam.firstUnsustained === undefined ? '≤ ' : ''}${fmt(k.sustained / Math.max(1, kam.sustained), 2)}×)`,
      verdict: met ? 'met' : 'missed',
      ...(met ? {} : { by: `${kam.sustained - k.sustained}/s` }),
    });
  }
  return t;
}

export function targetTable(t: readonly Target[]): string {
  return mdTable(
    ['target', 'bar', 'measured', 'verdict', 'missed by'],
    t.map((x) => [x.target, x.bar, x.measured, x.verdict, x.by ?? '']),
    ['l', 'l', 'r', 'l', 'r'],
  );
}

export interface BenchResult {
  machine: Machine;
  /** Machine and load of every run merged into this one (--report). */
  runs?: Machine[];
  routes?: RouteFigure[];
  engines?: EngineBench;
  sipp?: { runs: SippRun[]; groups: RunGroup[]; ratios: Ratio[]; skipped: string[]; resultsDir: string; harness: string; rate: number; count: number; load?: number[] };
  max?: MaxResult[];
  memory?: MemoryFigures;
  profiles?: ProfileSummary[];
  targets?: Target[];
  notes: string[];
}

function machineLine(m: Machine): string {
  return `${m.date} on ${m.nproc} × ${m.cpu}, ${m.memGiB} GiB RAM, Node ${m.node}, Kamailio ${m.kamailio ?? 'not installed'}, ${m.sipp ?? 'sipp not installed'}; load average at the start ${m.loadBefore.join(' / ')}`;
}

/** The Markdown sections of docs/BENCHMARKS.md for what a result holds. */
export function render(r: BenchResult): Record<string, string> {
  const sections: Record<string, string> = {};
  const runs = r.runs ?? [r.machine];
  sections['bench-machine'] = runs.length === 1 ? `Measured ${machineLine(r.machine)}.` : `Measured in ${runs.length} runs:\n\n${runs.map((m) => `- ${machineLine(m)}`).join('\n')}`;
  if (r.routes) sections['bench-routes'] = routeTable(r.routes);
  if (r.engines?.table) sections['route-bench'] = r.engines.table;
  if (r.profiles) sections['bench-profile'] = profileText(r.profiles);
  if (r.memory) sections['bench-memory'] = memoryTable(r.memory);
  if (r.sipp) {
    const loads = r.sipp.runs.map((x) => Number(x.load1)).filter((x) => Number.isFinite(x));
    const loadNote = loads.length ? `\n\nLoad average (1 min) at the start of the runs: ${Math.min(...loads)}–${Math.max(...loads)}.` : '';
    sections['bench-sipp'] = `${sippTable(r.sipp.groups, r.sipp.ratios)}${loadNote}${r.sipp.skipped.length ? `\n\n${r.sipp.skipped.map((n) => `Note: ${n}.`).join('\n')}` : ''}`;
  }
  if (r.max) sections['bench-max'] = maxTable(r.max);
  sections['bench-targets'] = targetTable(targets(r));
  return sections;
}

/** Merge the results of several runs (later files win per part). */
export function mergeResults(rs: readonly BenchResult[]): BenchResult {
  const out: BenchResult = { machine: rs[rs.length - 1]!.machine, runs: [], notes: [] };
  for (const r of rs) {
    out.runs!.push(...(r.runs ?? [r.machine]));
    for (const k of ['routes', 'engines', 'sipp', 'max', 'memory', 'profiles'] as const) {
      if (r[k] !== undefined) (out as unknown as Record<string, unknown>)[k] = r[k];
    }
    for (const n of r.notes) if (!out.notes.includes(n)) out.notes.push(n);
  }
  return out;
}

async function main(): Promise<void> {
  const argv = process.argv.slice(2);
  const out = (s: string): void => void process.stdout.write(`${s}\n`);
  const reportAt = argv.indexOf('--report');
  if (reportAt >= 0) {
    // re-render earlier JSON results (e.g. the in-process parts and the sipp parts, measured at different times)
    const files = (argv[reportAt + 1] ?? '').split(',').filter(Boolean);
    if (files.length === 0) throw new Error('--report needs a comma-separated list of JSON files');
    const merged = mergeResults(files.map((f) => JSON.parse(readFileSync(f, 'utf8')) as BenchResult));
    merged.targets = targets(merged);
    const secs = render(merged);
    for (const [name, body] of Object.entries(secs)) out(`\n<!-- ${name} -->\n${body}`);
    if (argv.includes('--write')) writeDoc(secs, out);
    const j = argv.indexOf('--json');
    if (j >= 0 && argv[j + 1]) writeFileSync(argv[j + 1]!, `${JSON.stringify(merged, null, 2)}\n`);
    return;
  }
  let args: BenchArgs;
  try {
    args = parseBenchArgs(argv);
  } catch (err) {
    process.stderr.write(`bench: ${(err as Error).message}\n`);
    process.exit(2);
  }
  const m = machine();
  const result: BenchResult = { machine: m, notes: [] };
  out(`# ksr bench ${machineLine(m)}`);

  if (args.micro) {
    // engine figures first: their "1st startup" includes loading each engine's library (Pyodide)
    out('\n## 2. engine figures (route20, call overhead, startup, memory, reload)\n');
    result.engines = await runEngineBench();
    out(result.engines.table);
    out('\n## 1. bench routes in-process (µs per request route, median)\n');
    result.routes = await runRouteBench({ engines: args.engines });
    out(routeTable(result.routes));
  }
  if (args.profile) {
    out('\n## where the time goes (CPU profile of the bench route in-process)\n');
    const profiles: ProfileSummary[] = [];
    for (const e of args.engines) {
      const r = await profileEngine(e, 2000, join(tmpdir(), 'ksr-bench-profiles'));
      profiles.push({ engine: e, file: r.file, usPerMessage: r.usPerMessage, buckets: byCategory(r.profile), top: topFrames(r.profile, 12) });
    }
    result.profiles = profiles;
    out(profileText(profiles));
  }
  if (args.memory) {
    out('\n## memory\n');
    result.memory = await memoryChild(args.memoryContacts, args.memoryMessages);
    out(memoryTable(result.memory));
  }
  if (args.sipp || args.max) {
    const missing = sippMissing();
    if (missing) {
      out(`\n(sipp parts skipped: ${missing})`);
      result.notes.push(`sipp parts skipped: ${missing}`);
    }
    if (!missing && args.sipp) {
      out(`\n## 3. sipp at ${args.rate} calls/s × ${args.count}, ksr vs Kamailio (tlsf), interleaved\n`);
      const s = await runSippComparison({ rate: args.rate, count: args.count, repeats: args.repeats, engines: args.engines, scenarios: args.scenarios });
      const groups = groupRuns(s.runs);
      const rs = ratios(groups);
      result.sipp = { ...s, groups, ratios: rs, harness: resolve(harnessDir()), rate: args.rate, count: args.count };
      out(sippTable(groups, rs));
      for (const n of s.skipped) out(`note: ${n}`);
    }
    if (!missing && args.max) {
      out('\n## highest sustained rate (find-max.sh)\n');
      result.max = await runFindMax({ seconds: args.maxSeconds });
      out(maxTable(result.max));
    }
  }
  result.targets = targets(result);
  out('\n## targets\n');
  out(targetTable(result.targets));
  if (kamailioEngines().length === 0 && (args.sipp || args.max)) result.notes.push('Kamailio not installed: no comparison');
  result.notes.push(...configNotes);
  for (const n of configNotes) out(`note: ${n}`);
  const jsonFile = args.json ?? join(tmpdir(), `ksr-bench-${m.date.replace(/[:]/g, '')}.json`);
  writeFileSync(jsonFile, `${JSON.stringify(result, null, 2)}\n`);
  out(`\nJSON: ${jsonFile}`);
  if (args.write) writeDoc(render(result), out);
}

function writeDoc(sections: Record<string, string>, out: (s: string) => void): void {
  const path = resolve(benchDir, '../../../docs/BENCHMARKS.md');
  let doc = readFileSync(path, 'utf8');
  for (const [name, body] of Object.entries(sections)) {
    try {
      doc = replaceSection(doc, name, body);
    } catch {
      out(`(docs/BENCHMARKS.md has no ${name} section; not written)`);
    }
  }
  writeFileSync(path, doc);
  out(`written to ${path}`);
}

if (process.argv[1]?.endsWith('/bench.ts')) {
  await main();
  process.exit(0);
}
