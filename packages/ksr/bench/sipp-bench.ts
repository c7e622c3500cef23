/**
 * Part 3 of `pnpm bench`: the sipp scenarios of the shared harness (../shared/bench/run.sh) for
 * ksr with each engine and for Kamailio with the same engine, interleaved, and the highest
 * sustained rate (find-max.sh) of register and call for ksr-Lua and Kamailio-Lua.
 *
 * It NEEDS the harness folder (default <repo>/../shared/bench; KSR_BENCH_HARNESS=<dir> to point
 * elsewhere), sipp, and for the comparison Kamailio with its Lua/Python/JS modules. ksr is started
 * by packages/ksr/bench/ksr-bench-server.sh on the harness's kamailio.cfg, unchanged.
 */
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { builtinModules } from '@ksr/modules';
import { benchDir } from './bench-server.js';
import { ENGINE_PAIRS, parseMaxLine, parseResultLine, type MaxRecord, type ResultRecord } from './lib.js';

export const SCENARIOS = ['options', 'register', 'register-auth', 'call'] as const;
export type Scenario = (typeof SCENARIOS)[number];

export function harnessDir(): string {
  return process.env.KSR_BENCH_HARNESS ?? resolve(benchDir, '../../../../shared/bench');
}

/** Why the sipp part cannot run, or undefined when it can. */
export function sippMissing(): string | undefined {
  const dir = harnessDir();
  if (!existsSync(join(dir, 'run.sh'))) {
    return `the sipp comparison needs the shared bench harness (run.sh, find-max.sh, kamailio.cfg, routes, sipp scenarios) at ${dir}; set KSR_BENCH_HARNESS=<dir>`;
  }
  if (!commandExists('sipp')) return 'sipp is not installed (apt-get install sip-tester)';
  return undefined;
}

function commandExists(cmd: string): boolean {
  return (process.env.PATH ?? '').split(':').some((d) => d && existsSync(join(d, cmd)));
}

const KAM_MODULES = process.env.KAM_MODULES_DIR ?? '/usr/lib/x86_64-linux-gnu/kamailio/modules';
const KAM_ENGINE_MODULE: Record<string, string> = { lua: 'app_lua', python3: 'app_python3', jsdt: 'app_jsdt' };

/** Kamailio engines that can run here (kamailio binary + the app_* module installed). */
export function kamailioEngines(): string[] {
  if (!commandExists('kamailio')) return [];
  return Object.entries(KAM_ENGINE_MODULE)
    .filter(([, mod]) => existsSync(join(KAM_MODULES, `${mod}.so`)))
    .map(([e]) => e);
}

export interface Server {
  /** run.sh's <server> argument. */
  arg: string;
  env: Record<string, string>;
  label: string;
  engine: string;
}

export function ksrServer(engine: string): Server {
  return {
    arg: `${join(benchDir, 'ksr-bench-server.sh')} ${engine}`,
    env: { SERVER_LABEL: 'ksr', ENGINE_LABEL: engine },
    label: 'ksr',
    engine,
  };
}

/** Kamailio with the tlsf allocator (the anchor "Kamailio at its best" of RESULTS-kamailio.md). */
export function kamailioServer(engine: string): Server {
  return { arg: `kamailio:${engine}`, env: { KAM_MEM: 'tlsf' }, label: 'kamailio-tlsf', engine };
}

function runScript(script: string, args: string[], env: Record<string, string>, onLine: (l: string) => void, timeoutMs: number): Promise<number> {
  return new Promise((res) => {
    // Pyodide's first start takes several seconds on a loaded machine: give servers a minute to answer OPTIONS
    const child = spawn(join(harnessDir(), script), args, {
      env: { STARTUP_TIMEOUT: '60', ...process.env, ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let buf = '';
    const take = (d: Buffer): void => {
      buf += d.toString();
      let i: number;
      while ((i = buf.indexOf('\n')) >= 0) {
        onLine(buf.slice(0, i));
        buf = buf.slice(i + 1);
      }
    };
    child.stdout.on('data', take);
    child.stderr.on('data', (d: Buffer) => process.stderr.write(`  ${script}: ${d.toString().trimEnd().replace(/\n/g, '\n  ')}\n`));
    const timer = setTimeout(() => child.kill('SIGTERM'), timeoutMs);
    child.on('close', (code) => {
      clearTimeout(timer);
      if (buf) onLine(buf);
      res(code ?? 1);
    });
  });
}

export interface SippOptions {
  rate?: number;
  count?: number;
  repeats?: number;
  scenarios?: readonly Scenario[];
  /** ksr engines (lua, js, python). */
  engines?: readonly string[];
  resultsDir?: string;
  log?: (s: string) => void;
}

export interface SippRun extends ResultRecord {}

/** The interleaved comparison: for each repeat, scenario and engine, ksr then Kamailio. */
export async function runSippComparison(o: SippOptions = {}): Promise<{ runs: SippRun[]; skipped: string[]; resultsDir: string }> {
  const missing = sippMissing();
  if (missing) throw new Error(missing);
  const rate = o.rate ?? 500;
  const count = o.count ?? 5000;
  const repeats = o.repeats ?? 1;
  const log = o.log ?? ((s: string) => process.stderr.write(`${s}\n`));
  const resultsDir = o.resultsDir ?? mkdtempSync(join(tmpdir(), 'ksr-bench-sipp-'));
  const kam = kamailioEngines();
  const haveAuth = builtinModules.some((m) => m.name === 'auth');
  const skipped: string[] = [];
  if (kam.length === 0) skipped.push('Kamailio is not installed: ksr runs only (apt-get install kamailio kamailio-lua-modules kamailio-python3-modules kamailio-extra-modules)');
  const runs: SippRun[] = [];
  const engines = o.engines ?? ENGINE_PAIRS.map((p) => p.ksr);
  for (let r = 1; r <= repeats; r++) {
    for (const scenario of o.scenarios ?? SCENARIOS) {
      for (const pair of ENGINE_PAIRS.filter((p) => engines.includes(p.ksr))) {
        const servers: Server[] = [];
        if (scenario === 'register-auth' && !haveAuth) {
          const note = 'register-auth: the auth module is not in this checkout yet, ksr not run';
          if (!skipped.includes(note)) skipped.push(note);
        } else servers.push(ksrServer(pair.ksr));
        if (kam.includes(pair.kamailio)) servers.push(kamailioServer(pair.kamailio));
        for (const s of servers) {
          log(`# sipp ${r}/${repeats}: ${s.label}/${s.engine} ${scenario} ${rate}/s × ${count}`);
          let rec: ResultRecord | undefined;
          const timeout = (Math.ceil(count / rate) + 90) * 1000;
          await runScript('run.sh', [s.arg, scenario, String(rate), String(count)], { ...s.env, RESULTS_DIR: resultsDir }, (l) => {
            const p = parseResultLine(l);
            if (p) rec = p;
          }, timeout);
          if (rec) {
            rec.server = s.label;
            rec.engine = s.engine;
            rec.load1_after = loadavg1();
            runs.push(rec);
            log(`  cpu_us_per_txn=${rec.cpu_us_per_txn} ok=${rec.ok} failed=${rec.failed} retrans=${rec.retrans} load1=${rec.load1}`);
          } else log('  (no RESULT line: the run failed, see the run folder)');
        }
      }
    }
  }
  return { runs, skipped, resultsDir };
}

function loadavg1(): number {
  return Number(loadavg()[0]!.toFixed(2));
}

export interface MaxResult extends MaxRecord {
  label: string;
  engine: string;
  steps: ResultRecord[];
}

export interface MaxOptions {
  seconds?: number;
  resultsDir?: string;
  log?: (s: string) => void;
  /** Which servers: default ksr-Lua and (when installed) Kamailio-Lua. */
  servers?: Server[];
  scenarios?: ReadonlyArray<'register' | 'call'>;
}

/** Start rate and step per server kind and scenario (Kamailio-Lua's max here: register ~12500/s, call ~1850/s). */
export function maxPlan(label: string, scenario: 'register' | 'call'): { start: number; step: number; max: number } {
  const kam = label.startsWith('kamailio');
  if (scenario === 'register') return kam ? { start: 2000, step: 2000, max: 30000 } : { start: 500, step: 500, max: 20000 };
  return kam ? { start: 400, step: 400, max: 6000 } : { start: 200, step: 200, max: 4000 };
}

export async function runFindMax(o: MaxOptions = {}): Promise<MaxResult[]> {
  const missing = sippMissing();
  if (missing) throw new Error(missing);
  const log = o.log ?? ((s: string) => process.stderr.write(`${s}\n`));
  const resultsDir = o.resultsDir ?? mkdtempSync(join(tmpdir(), 'ksr-bench-max-'));
  const servers = o.servers ?? [ksrServer('lua'), ...(kamailioEngines().includes('lua') ? [kamailioServer('lua')] : [])];
  const out: MaxResult[] = [];
  for (const scenario of o.scenarios ?? (['register', 'call'] as const)) {
    for (const s of servers) {
      const plan = maxPlan(s.label, scenario);
      log(`# find-max ${s.label}/${s.engine} ${scenario} from ${plan.start} step ${plan.step}`);
      const steps: ResultRecord[] = [];
      let max: MaxRecord | undefined;
      await runScript(
        'find-max.sh',
        [s.arg, scenario, String(plan.start), String(plan.step), String(plan.max), String(o.seconds ?? 10)],
        { ...s.env, RESULTS_DIR: resultsDir },
        (l) => {
          const r = parseResultLine(l);
          if (r) {
            steps.push(r);
            log(`  rate=${r.rate} cps=${r.cps} ok=${r.ok} failed=${r.failed} retrans=${r.retrans} cpu_us_per_txn=${r.cpu_us_per_txn}`);
          }
          max = parseMaxLine(l) ?? max;
        },
        60 * 60 * 1000,
      );
      if (max) out.push({ ...max, label: s.label, engine: s.engine, steps });
    }
  }
  return out;
}
