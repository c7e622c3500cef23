/**
 * Summarise a V8 `.cpuprofile` (written by `node --cpu-prof`): self time per function and per
 * source file, top N. Used to write the "where the time goes" notes of docs/BENCHMARKS.md.
 *
 *   npx tsx packages/ksr/bench/cpuprofile.ts <file.cpuprofile> [top=25]
 */
import { readFileSync } from 'node:fs';

export interface CpuProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number; columnNumber?: number };
  hitCount?: number;
  children?: number[];
}

export interface CpuProfile {
  nodes: CpuProfileNode[];
  startTime: number;
  endTime: number;
  samples?: number[];
  timeDeltas?: number[];
}

export interface FrameShare {
  frame: string;
  selfMs: number;
  pct: number;
}

/** Short "function file:line" label; node_modules paths keep only the package part. */
export function frameLabel(cf: CpuProfileNode['callFrame']): string {
  const fn = cf.functionName || '(anonymous)';
  if (!cf.url) return fn;
  let url = cf.url.replace(/^file:\/\//, '');
  const nm = url.lastIndexOf('/node_modules/');
  if (nm >= 0) url = url.slice(nm + '/node_modules/'.length).replace(/^\.pnpm\/[^/]+\/node_modules\//, '');
  else {
    const pk = url.indexOf('/packages/');
    if (pk >= 0) url = url.slice(pk + 1);
  }
  return `${fn} ${url}:${cf.lineNumber + 1}`;
}

/** Self time per node id in ms, from samples + timeDeltas (falls back to hitCount × mean interval). */
function selfTimes(p: CpuProfile): Map<number, number> {
  const out = new Map<number, number>();
  if (p.samples && p.timeDeltas && p.samples.length === p.timeDeltas.length) {
    // timeDeltas[i] is the time before sample i; attribute it to sample i-1's node, as DevTools does
    for (let i = 1; i < p.samples.length; i++) {
      const id = p.samples[i - 1]!;
      out.set(id, (out.get(id) ?? 0) + Math.max(0, p.timeDeltas[i]!) / 1000);
    }
    return out;
  }
  const hits = p.nodes.reduce((s, n) => s + (n.hitCount ?? 0), 0);
  const per = hits > 0 ? (p.endTime - p.startTime) / 1000 / hits : 0;
  for (const n of p.nodes) out.set(n.id, (n.hitCount ?? 0) * per);
  return out;
}

/**
 * Top frames by self time. `by` = 'frame' (function + location) or 'file' (package/source file).
 * `(idle)` is left out of the percentages: they are shares of the busy time.
 */
export function topFrames(p: CpuProfile, n = 25, by: 'frame' | 'file' = 'frame'): FrameShare[] {
  const self = selfTimes(p);
  const agg = new Map<string, number>();
  let busy = 0;
  for (const node of p.nodes) {
    const ms = self.get(node.id) ?? 0;
    if (ms === 0 || node.callFrame.functionName === '(idle)') continue;
    busy += ms;
    let key = frameLabel(node.callFrame);
    if (by === 'file') key = key.includes(' ') ? key.slice(key.indexOf(' ') + 1).replace(/:\d+$/, '') : key;
    agg.set(key, (agg.get(key) ?? 0) + ms);
  }
  return [...agg.entries()]
    .sort((a, b) => b[1] - a[1])
    .slice(0, n)
    .map(([frame, selfMs]) => ({ frame, selfMs, pct: busy > 0 ? (100 * selfMs) / busy : 0 }));
}

export function readProfile(file: string): CpuProfile {
  return JSON.parse(readFileSync(file, 'utf8')) as CpuProfile;
}

if (process.argv[1]?.endsWith('cpuprofile.ts')) {
  const file = process.argv[2];
  if (!file) {
    process.stderr.write('usage: cpuprofile.ts <file.cpuprofile> [top]\n');
    process.exit(2);
  }
  const n = Number(process.argv[3] ?? 25);
  const p = readProfile(file);
  process.stdout.write(`# ${file}: ${((p.endTime - p.startTime) / 1e6).toFixed(2)} s profiled\n\n## by function (self, share of busy time)\n`);
  for (const f of topFrames(p, n)) process.stdout.write(`${f.pct.toFixed(1).padStart(5)} %  ${f.selfMs.toFixed(1).padStart(8)} ms  ${f.frame}\n`);
  process.stdout.write('\n## by file\n');
  for (const f of topFrames(p, 15, 'file')) process.stdout.write(`${f.pct.toFixed(1).padStart(5)} %  ${f.selfMs.toFixed(1).padStart(8)} ms  ${f.frame}\n`);
}

/** Coarse buckets for "where the time goes": by package / source folder of the frame. */
export function category(label: string): string {
  if (label.startsWith('(garbage collector)')) return 'garbage collection';
  if (/fengari\//.test(label)) return 'engine: fengari (Lua VM)';
  if (/quickjs-emscripten|@jitl\//.test(label) || /^wasm-function/.test(label)) return 'engine: wasm (QuickJS / CPython)';
  if (/pyodide/.test(label)) return 'engine: pyodide glue';
  if (/packages\/engine-[a-z]+\//.test(label)) return 'engine binding (packages/engine-*)';
  if (/packages\/core\/src\/sip\//.test(label)) return 'SIP parser / serializer (core/sip)';
  if (/packages\/core\/src\/transaction\//.test(label) || /packages\/modules\/src\/tm\//.test(label)) return 'transactions (core/transaction, tm)';
  if (/packages\/core\/src\/(kemi|routing|pv)\//.test(label)) return 'KEMI runtime, routing, PVs (core)';
  if (/packages\/core\/src\/(server|transport)\//.test(label) || /packages\/ksr\/src\//.test(label)) return 'server, transport, services';
  if (/packages\/modules\/src\//.test(label)) return 'other modules (sl, registrar, usrloc, rr, sanity …)';
  if (/^(send|doSend|onMessage|lookup) |node:dgram|node:dns/.test(label) || label === 'send') return 'UDP send/receive (node:dgram, syscalls)';
  if (/node:internal\/crypto|^Hmac|^init|^digest|^update/.test(label)) return 'crypto (tags, branches, nonces)';
  if (/^\(program\)|^\(idle\)/.test(label)) return '(program: V8/native not attributed)';
  if (/bench\//.test(label)) return 'bench driver';
  return 'other (node internals, natives)';
}

export function byCategory(p: CpuProfile): FrameShare[] {
  const frames = topFrames(p, Number.MAX_SAFE_INTEGER);
  const agg = new Map<string, number>();
  let total = 0;
  for (const f of frames) {
    const c = category(f.frame);
    agg.set(c, (agg.get(c) ?? 0) + f.selfMs);
    total += f.selfMs;
  }
  return [...agg.entries()].sort((a, b) => b[1] - a[1]).map(([frame, selfMs]) => ({ frame, selfMs, pct: total > 0 ? (100 * selfMs) / total : 0 }));
}
