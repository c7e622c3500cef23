import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { basePort, run, sippArgs, startKsr, type Proc } from '../support/proc.js';
import { rpcHttp, sipProbe } from './support.js';

// Hot reload under load, for each engine: a real ksr process answers sipp OPTIONS at 50 calls/s
// while the test rewrites the script and reloads it over JSON-RPC. No call may fail; requests
// after the reload see the new script (its reply reason changes); a broken script is rejected
// with its error (file:line) and the running one keeps routing.

interface EngineCase {
  name: string;
  module: string;
  cfgengine: string;
  rpcGroup: string;
  ext: string;
  script(gen: number): string;
  broken: string;
  /** sipp calls at 50/s (the run must outlast two reloads). */
  calls: number;
  startMs: number;
  offset: number;
}

const cases: EngineCase[] = [
  {
    name: 'Lua',
    module: 'app_lua',
    cfgengine: 'lua',
    rpcGroup: 'app_lua',
    ext: 'lua',
    script: (g) => `function ksr_request_route()\n  if KSR.is_OPTIONS() then\n    KSR.sl.sl_send_reply(200, "OK gen${g}")\n    KSR.x.exit()\n  end\n  KSR.sl.sl_send_reply(404, "Not Here")\nend\n`,
    broken: 'function ksr_request_route()\n  if KSR.is_OPTIONS( then\nend\n',
    calls: 300,
    startMs: 30_000,
    offset: 244,
  },
  {
    name: 'JavaScript',
    module: 'app_jsdt',
    cfgengine: 'jsdt',
    rpcGroup: 'app_jsdt',
    ext: 'js',
    script: (g) => `function ksr_request_route() {\n  if (KSR.is_OPTIONS()) {\n    KSR.sl.sl_send_reply(200, "OK gen${g}");\n    KSR.x.exit();\n  }\n  KSR.sl.sl_send_reply(404, "Not Here");\n}\n`,
    broken: 'function ksr_request_route() {\n  if (KSR.is_OPTIONS() {\n}\n',
    calls: 300,
    startMs: 30_000,
    offset: 247,
  },
  {
    name: 'Python',
    module: 'app_python3',
    cfgengine: 'python',
    rpcGroup: 'app_python',
    ext: 'py',
    script: (g) =>
      `import KSR\n\nclass Router:\n    def ksr_request_route(self, msg):\n        if KSR.is_OPTIONS():\n            KSR.sl.sl_send_reply(200, "OK gen${g}")\n            return 1\n        KSR.sl.sl_send_reply(404, "Not Here")\n        return 1\n\ndef mod_init():\n    return Router()\n`,
    broken: 'import KSR\n\nclass Router:\n    def ksr_request_route(self, msg)\n        return 1\n\ndef mod_init():\n    return Router()\n',
    calls: 600,
    startMs: 90_000,
    offset: 250,
  },
  {
    name: 'Python (script style)',
    module: 'app_python3s',
    cfgengine: 'python3s',
    rpcGroup: 'app_python3s',
    ext: 'py',
    script: (g) => `import KSR\n\ndef ksr_request_route():\n    if KSR.is_OPTIONS():\n        KSR.sl.sl_send_reply(200, "OK gen${g}")\n        return 1\n    KSR.sl.sl_send_reply(404, "Not Here")\n    return 1\n`,
    broken: 'import KSR\n\ndef ksr_request_route():\n    x = (\n',
    calls: 600,
    startMs: 90_000,
    offset: 253,
  },
];

const procs: Proc[] = [];
afterAll(async () => {
  for (const p of procs) {
    p.kill();
    await p.exited;
  }
});

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

describe.each(cases)('hot reload under load: $name', (c) => {
  it(
    'loses no call, switches to the new script, rejects a broken one and keeps routing',
    async () => {
      const sipPort = basePort(c.offset);
      const httpPort = basePort(c.offset + 1);
      const sippPort = basePort(c.offset + 2);
      const dir = mkdtempSync(join(tmpdir(), `ksr-reload-${c.cfgengine}-`));
      const script = join(dir, `route.${c.ext}`);
      writeFileSync(script, c.script(1));
      const cfg = join(dir, 'ksr.cfg');
      writeFileSync(
        cfg,
        [
          `listen=udp:127.0.0.1:${sipPort}`,
          'loadmodule "sl.so"',
          'loadmodule "jsonrpcs.so"',
          `loadmodule "${c.module}.so"`,
          `modparam("jsonrpcs", "http_listen", "127.0.0.1:${httpPort}")`,
          `modparam("jsonrpcs", "socket", "${join(dir, 'rpc.sock')}")`,
          `modparam("${c.module}", "load", "${script}")`,
          `cfgengine "${c.cfgengine}"`,
          '',
        ].join('\n'),
      );
      const ksr = startKsr(['-f', cfg, '-E']);
      procs.push(ksr);
      await ksr.waitFor(/serving/, c.startMs);
      expect(await sipProbe(sipPort)).toBe('SIP/2.0 200 OK gen1');

      const sipp = run('sipp', sippArgs('ops-options.xml', `127.0.0.1:${sipPort}`, sippPort, ['-m', String(c.calls), '-r', '50', '-l', '400', '-timeout', '60s']), 120_000);
      await sleep(1500);

      // a good script: the new behaviour shows for the requests after the reload
      writeFileSync(script, c.script(2));
      const ok = await rpcHttp(httpPort, `${c.rpcGroup}.reload`);
      expect(ok.error).toBeUndefined();
      expect(ok.result).toMatchObject({ old: 1, new: 2, script });
      expect(await sipProbe(sipPort)).toBe('SIP/2.0 200 OK gen2');

      // a broken script: the error names the file and line; generation 2 keeps routing
      await sleep(500);
      writeFileSync(script, c.broken);
      const bad = await rpcHttp(httpPort, `${c.rpcGroup}.reload`);
      expect(bad.error?.code).toBe(500);
      expect(bad.error?.message).toContain('generation 2 keeps routing');
      expect(bad.error?.message).toMatch(new RegExp(`${script.replace(/[.]/g, '\\.')}:\\d+`));
      expect(await sipProbe(sipPort)).toBe('SIP/2.0 200 OK gen2');

      const result = await sipp;
      // the last statistics screen sipp printed (the final one)
      const cumulative = (label: string): number => Number([...result.output.matchAll(new RegExp(`${label}\\s*\\|\\s*\\d+\\s*\\|\\s*(\\d+)`, 'g'))].at(-1)?.[1]);
      expect(cumulative('Successful call')).toBe(c.calls);
      expect(cumulative('Failed call')).toBe(0);
      expect(result.code).toBe(0);

      const stats = (await rpcHttp(httpPort, 'stats.get_statistics', [`${c.module}:`])).result as string[];
      expect(stats).toEqual(expect.arrayContaining([`${c.module}:reloads = 1`, `${c.module}:reload_failures = 1`, `${c.module}:generation = 2`, `${c.module}:route_errors = 0`]));
      // per-engine memory where the engine can measure it (QuickJS heap)
      if (c.module === 'app_jsdt') expect(stats.some((l) => /^app_jsdt:heap_bytes = [1-9]\d*$/.test(l))).toBe(true);
      const rcv = (await rpcHttp(httpPort, 'stats.get_statistics', ['core:rcv_requests_options'])).result as string[];
      expect(Number(/= (\d+)/.exec(rcv[0]!)![1])).toBeGreaterThanOrEqual(c.calls + 3);
      ksr.kill();
      expect(await ksr.exited).toBe(0);
    },
    240_000,
  );
});
