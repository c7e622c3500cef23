/**
 * Small pure helpers of the benchmark (`pnpm bench`): statistics, the RESULT lines of
 * ../shared/bench/run.sh and find-max.sh, grouping of repeated runs, ksr/Kamailio ratios and
 * Markdown tables. Kept free of I/O so that packages/ksr/test/bench-lib.test.ts can check them.
 */

export function median(xs: readonly number[]): number {
  if (xs.length === 0) return Number.NaN;
  const s = [...xs].sort((a, b) => a - b);
  const m = Math.floor(s.length / 2);
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}

/** One `RESULT key=value …` line of run.sh: numbers where the value is numeric, else strings. */
export type ResultRecord = Record<string, string | number>;

export function parseResultLine(line: string): ResultRecord | undefined {
  const t = line.trim();
  if (!t.startsWith('RESULT ')) return undefined;
  const rec: ResultRecord = {};
  for (const tok of t.slice('RESULT '.length).split(/\s+/)) {
    const eq = tok.indexOf('=');
    if (eq <= 0) continue;
    const k = tok.slice(0, eq);
    const v = tok.slice(eq + 1);
    rec[k] = /^-?\d+(\.\d+)?$/.test(v) ? Number(v) : v;
  }
  return rec;
}

/** `MAX server=… scenario=… sustained=N first_unsustained=M seconds_per_run=S` of find-max.sh. */
export interface MaxRecord {
  server: string;
  scenario: string;
  sustained: number;
  firstUnsustained: number | undefined;
  secondsPerRun: number;
}

export function parseMaxLine(line: string): MaxRecord | undefined {
  const t = line.trim();
  if (!t.startsWith('MAX ')) return undefined;
  // the server may contain spaces (a command): take the fields from the end
  const m = /^MAX server=(.*) scenario=(\S+) sustained=(\d+) first_unsustained=(\S+) seconds_per_run=(\d+)$/.exec(t);
  if (!m) return undefined;
  const first = m[4]!;
  return {
    server: m[1]!,
    scenario: m[2]!,
    sustained: Number(m[3]),
    firstUnsustained: /^\d+$/.test(first) && first !== '0' ? Number(first) : undefined,
    secondsPerRun: Number(m[5]),
  };
}

/** A group of repeated runs of one server × engine × scenario: medians and counters. */
export interface RunGroup {
  server: string;
  engine: string;
  scenario: string;
  runs: number;
  ok: number;
  failed: number;
  retrans: number;
  cpuUsPerTxn: number;
  cpuUsPerTxnMin: number;
  cpuUsPerTxnMax: number;
  avgRtMs: number;
  cps: number;
}

const num = (v: string | number | undefined): number => (typeof v === 'number' ? v : Number.NaN);

export function groupRuns(records: readonly ResultRecord[]): RunGroup[] {
  const groups = new Map<string, ResultRecord[]>();
  for (const r of records) {
    const key = `${r.server}|${r.engine}|${r.scenario}`;
    let g = groups.get(key);
    if (!g) groups.set(key, (g = []));
    g.push(r);
  }
  return [...groups.values()].map((rs) => {
    const cpu = rs.map((r) => num(r.cpu_us_per_txn)).filter((x) => Number.isFinite(x));
    const sum = (k: string): number => rs.reduce((s, r) => s + (Number.isFinite(num(r[k])) ? num(r[k]) : 0), 0);
    return {
      server: String(rs[0]!.server),
      engine: String(rs[0]!.engine),
      scenario: String(rs[0]!.scenario),
      runs: rs.length,
      ok: sum('ok'),
      failed: sum('failed'),
      retrans: sum('retrans'),
      cpuUsPerTxn: median(cpu),
      cpuUsPerTxnMin: cpu.length ? Math.min(...cpu) : Number.NaN,
      cpuUsPerTxnMax: cpu.length ? Math.max(...cpu) : Number.NaN,
      avgRtMs: median(rs.map((r) => num(r.avg_rt_ms)).filter((x) => Number.isFinite(x))),
      cps: median(rs.map((r) => num(r.cps)).filter((x) => Number.isFinite(x))),
    };
  });
}

/** Engine names of ksr and Kamailio that run the same route script. */
export const ENGINE_PAIRS: ReadonlyArray<{ ksr: string; kamailio: string; file: string; limit: number }> = [
  { ksr: 'lua', kamailio: 'lua', file: 'route.lua', limit: 1.5 },
  { ksr: 'js', kamailio: 'jsdt', file: 'route.js', limit: 1.5 },
  { ksr: 'python', kamailio: 'python3', file: 'route.py', limit: 2 },
];

export interface Ratio {
  engine: string;
  scenario: string;
  ksrCpuUsPerTxn: number;
  kamailioCpuUsPerTxn: number;
  ratio: number;
  limit: number;
  met: boolean;
}

/** ksr / Kamailio CPU per transaction, per engine pair and scenario (groups must carry server labels starting with "ksr" / "kamailio"). */
export function ratios(groups: readonly RunGroup[]): Ratio[] {
  const out: Ratio[] = [];
  for (const pair of ENGINE_PAIRS) {
    for (const g of groups) {
      if (!g.server.startsWith('ksr') || g.engine !== pair.ksr) continue;
      const k = groups.find((x) => x.server.startsWith('kamailio') && x.engine === pair.kamailio && x.scenario === g.scenario);
      if (!k) continue;
      const ratio = g.cpuUsPerTxn / k.cpuUsPerTxn;
      out.push({
        engine: pair.ksr,
        scenario: g.scenario,
        ksrCpuUsPerTxn: g.cpuUsPerTxn,
        kamailioCpuUsPerTxn: k.cpuUsPerTxn,
        ratio,
        limit: pair.limit,
        met: ratio <= pair.limit,
      });
    }
  }
  return out;
}

export function fmt(n: number | undefined, digits = 2): string {
  return n === undefined || !Number.isFinite(n) ? '–' : n.toFixed(digits);
}

/** A Markdown table from a header and rows. */
export function mdTable(header: readonly string[], rows: ReadonlyArray<readonly (string | number)[]>, align?: readonly ('l' | 'r')[]): string {
  const a = align ?? header.map((_, i) => (i === 0 ? 'l' : 'r'));
  return [
    `| ${header.join(' | ')} |`,
    `|${a.map((x) => (x === 'r' ? '---:' : '---')).join('|')}|`,
    ...rows.map((r) => `| ${r.map(String).join(' | ')} |`),
  ].join('\n');
}

/** Replace the text between `<!-- name:begin -->` and `<!-- name:end -->` in a document. */
export function replaceSection(doc: string, name: string, body: string): string {
  const begin = `<!-- ${name}:begin -->`;
  const end = `<!-- ${name}:end -->`;
  const a = doc.indexOf(begin);
  const b = doc.indexOf(end);
  if (a < 0 || b < a) throw new Error(`no ${begin} … ${end} section`);
  return `${doc.slice(0, a + begin.length)}\n${body}\n${doc.slice(b)}`;
}
