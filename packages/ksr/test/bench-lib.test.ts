import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { loadConfig } from '@ksr/core';
import { catalogue } from '../src/main.js';
import { parseArgs } from '../src/args.js';
import { groupRuns, median, parseMaxLine, parseResultLine, ratios, replaceSection } from '../bench/lib.js';
import { parseBenchArgs, targets } from '../bench/bench.js';

const KAM =
  'RESULT server=kamailio-5.6.3-tlsf engine=lua scenario=register rate=500 count=5000 cps=499.9 ok=5000 failed=0 retrans=0 avg_rt_ms=0.120 wall_s=10.02 server_cpu_s=0.641 server_util_pct=6 cpu_us_per_call=100.0 cpu_us_per_txn=100.0 sipp_cpu_s=0.62 udp_drops=0/0 load1=1.72';

describe('bench result parsing', () => {
  it('parses a run.sh RESULT line into numbers and strings', () => {
    const r = parseResultLine(KAM)!;
    expect(r.server).toBe('kamailio-5.6.3-tlsf');
    expect(r.cpu_us_per_txn).toBe(100);
    expect(r.ok).toBe(5000);
    expect(r.udp_drops).toBe('0/0');
    expect(parseResultLine('# repeat 1/3')).toBeUndefined();
  });

  it('parses a find-max.sh MAX line whose server is a command with spaces', () => {
    const m = parseMaxLine('MAX server=/x/ksr-bench-server.sh lua scenario=call sustained=1850 first_unsustained=1900 seconds_per_run=10')!;
    expect(m).toEqual({ server: '/x/ksr-bench-server.sh lua', scenario: 'call', sustained: 1850, firstUnsustained: 1900, secondsPerRun: 10 });
    expect(parseMaxLine('MAX server=kamailio:lua scenario=register sustained=0 first_unsustained=0 seconds_per_run=5')!.firstUnsustained).toBeUndefined();
  });

  it('groups repeated runs by median and computes ksr/Kamailio ratios against the engine limits', () => {
    const ksr = (cpu: number, engine = 'lua'): string =>
      `RESULT server=ksr engine=${engine} scenario=register rate=500 count=5000 cps=500 ok=5000 failed=0 retrans=1 avg_rt_ms=0.2 cpu_us_per_txn=${cpu} load1=1`;
    const recs = [ksr(120), ksr(180), ksr(140), KAM, ksr(250, 'python'), KAM.replace('engine=lua', 'engine=python3')].map((l) => parseResultLine(l)!);
    const g = groupRuns(recs);
    const k = g.find((x) => x.server === 'ksr' && x.engine === 'lua')!;
    expect(k.runs).toBe(3);
    expect(k.cpuUsPerTxn).toBe(140);
    expect([k.cpuUsPerTxnMin, k.cpuUsPerTxnMax]).toEqual([120, 180]);
    expect(k.retrans).toBe(3);
    const rs = ratios(g);
    expect(rs.find((r) => r.engine === 'lua')).toMatchObject({ ratio: 1.4, limit: 1.5, met: true });
    expect(rs.find((r) => r.engine === 'python')).toMatchObject({ ratio: 2.5, limit: 2, met: false });
    expect(median([3, 1, 2, 10])).toBe(2.5);
  });

  it('replaces a marked section of a document and refuses a missing one', () => {
    const doc = 'a\n<!-- x:begin -->\nold\n<!-- x:end -->\nb';
    expect(replaceSection(doc, 'x', 'new')).toBe('a\n<!-- x:begin -->\nnew\n<!-- x:end -->\nb');
    expect(() => replaceSection(doc, 'y', 'new')).toThrow(/no <!-- y:begin -->/);
  });
});

describe('bench command line', () => {
  it('runs every part when none is named, and only the named ones otherwise', () => {
    expect(parseBenchArgs([])).toMatchObject({ micro: true, sipp: true, max: true, memory: true, rate: 500, count: 5000 });
    const a = parseBenchArgs(['--', '--sipp', '--json', 'out.json', '--engines', 'lua,js', '--rate', '200']);
    expect(a).toMatchObject({ micro: false, sipp: true, max: false, memory: false, json: 'out.json', engines: ['lua', 'js'], rate: 200 });
    expect(() => parseBenchArgs(['--engines', 'perl'])).toThrow(/unknown engine/);
    expect(() => parseBenchArgs(['--rate', 'fast'])).toThrow(/positive integer/);
    expect(() => parseBenchArgs(['--nope'])).toThrow(/unknown option/);
  });

  it('ksr accepts the Kamailio options the bench harness passes (-Y, -x) as having no effect', () => {
    const o = parseArgs(['-DD', '-E', '-f', 'k.cfg', '-Y', '/run/x', '-x', 'tlsf', '-m', '512']);
    expect(o.ignored).toEqual(['-Y /run/x', '-x tlsf', '-m 512']);
    expect(() => parseArgs(['-Y'])).toThrow(/needs a value/);
  });
});

describe('bench targets', () => {
  it('checks every target against the figures of a run and says by how much one is missed', () => {
    const row = (engine: string, noopUs: number, reloadMs: number) => ({ engine, routeUs: 0, ksrCallUs: 0, noopUs, startFirstMs: 0, startSecondMs: 0, rssMb: 0, reloadMs });
    const t = targets({
      engines: { rows: [row('lua (fengari)', 0.7, 6), row('javascript (QuickJS)', 1.5, 20), row('python (Pyodide, python3s)', 1.2, 1500)] },
      sipp: { ratios: [{ engine: 'lua', scenario: 'register', ksrCpuUsPerTxn: 300, kamailioCpuUsPerTxn: 100, ratio: 3, limit: 1.5, met: false }] },
      max: [
        { server: 'x', scenario: 'register', sustained: 3000, firstUnsustained: 3500, secondsPerRun: 10, label: 'ksr', engine: 'lua', steps: [] },
        { server: 'kamailio:lua', scenario: 'register', sustained: 12000, firstUnsustained: 12500, secondsPerRun: 10, label: 'kamailio-tlsf', engine: 'lua', steps: [] },
      ],
    });
    const v = (prefix: string) => t.find((x) => x.target.startsWith(prefix))!;
    expect(v('no-op KSR call overhead, Lua').verdict).toBe('met');
    expect(v('no-op KSR call overhead, JavaScript')).toMatchObject({ verdict: 'missed', by: '0.50 µs (1.5×)' });
    expect(v('reload, Python')).toMatchObject({ verdict: 'missed' });
    expect(v('RSS with 100k contacts').verdict).toBe('not measured');
    expect(v('server CPU per txn vs Kamailio (tlsf), lua, register')).toMatchObject({ verdict: 'missed', by: '2.0× over the bar' });
    expect(v('highest sustained register rate')).toMatchObject({ verdict: 'missed', by: '9000/s' });
    expect(v('highest sustained call rate').verdict).toBe('not measured');
  });
});

describe('the bench harness config', () => {
  const cfgFile = fileURLToPath(new URL('../bench/kamailio-bench.cfg', import.meta.url));
  const routes = fileURLToPath(new URL('../bench/routes/', import.meta.url));

  it('loads unchanged for every engine, with auth, warning once per knob that has no meaning in ksr', () => {
    for (const [def, file] of [['WITH_LUA', 'route.lua'], ['WITH_PY', 'route.py'], ['WITH_JS', 'route.js']] as const) {
      const cfg = loadConfig(cfgFile, { defines: { [def]: null, WITH_AUTH: null, ROUTE_FILE: `"${routes}${file}"` }, modules: catalogue() });
      expect(cfg.modules.map((m) => m.name)).toContain('tmx');
      expect(cfg.warnings.map((w) => w.message.split(' ')[1])).toEqual(['tcp_children', 'dns', 'rev_dns', 'use_dns_cache', 'dns_try_ipv6']);
    }
  });

  it('kemi.onsend_route_callback other than "none" warns that ksr runs no onsend route', () => {
    const dir = mkdtempSync(join(tmpdir(), 'ksr-bench-test-'));
    const file = join(dir, 'k.cfg');
    writeFileSync(file, readFileSync(cfgFile, 'utf8').replace('kemi.onsend_route_callback="none"', 'kemi.onsend_route_callback="ksr_onsend_route"'));
    const cfg = loadConfig(file, { defines: { WITH_LUA: null, ROUTE_FILE: `"${routes}route.lua"` }, modules: catalogue() });
    expect(cfg.warnings.map((w) => w.message)).toContainEqual(expect.stringMatching(/onsend_route_callback="ksr_onsend_route": ksr runs no onsend_route yet/));
  });
});
