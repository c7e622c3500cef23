/**
 * "Where the time goes" per engine: the bench route (routes/route.*) run in-process on fresh
 * REGISTERs, INVITEs and OPTIONS (parse + route + the sends), CPU-profiled with V8's profiler (the
 * same one as `node --cpu-prof`, started through node:inspector after a warm-up so start-up and
 * compilation stay out), summarised by bucket and top functions. Writes the .cpuprofile files
 * (open them in Chrome DevTools) next to the printed summary.
 *
 *   npx tsx packages/ksr/bench/profile.ts [lua,js,python] [messages per kind=3000] [outdir]
 */
import { Session } from 'node:inspector/promises';
import { mkdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { byCategory, topFrames, type CpuProfile } from './cpuprofile.js';
import { flush, inviteText, optionsText, registerText, startBenchServer, type BenchEngine } from './bench-server.js';

export async function profileEngine(engine: BenchEngine, n: number, outDir: string): Promise<{ file: string; profile: CpuProfile; usPerMessage: number }> {
  const b = await startBenchServer(engine);
  try {
    const server = b.running.server;
    const msg = (text: string): void => server.receive(Buffer.from(text), b.info);
    msg(registerText('bob', b.port, b.sink.port));
    let u = 0;
    const round = async (count: number): Promise<void> => {
      for (let i = 0; i < count; i++) {
        msg(registerText(`user${String((u++ % 10000) + 1).padStart(5, '0')}`, b.port, b.sink.port));
        msg(inviteText(b.port, b.sink.port));
        msg(optionsText(b.port, b.sink.port));
        if (i % 50 === 49) await flush();
      }
      await flush();
    };
    await round(1000);
    const s = new Session();
    s.connect();
    await s.post('Profiler.enable');
    await s.post('Profiler.setSamplingInterval', { interval: 100 });
    await s.post('Profiler.start');
    const c0 = process.cpuUsage();
    await round(n);
    const c = process.cpuUsage(c0);
    const { profile } = await s.post('Profiler.stop');
    s.disconnect();
    mkdirSync(outDir, { recursive: true });
    const file = join(outDir, `route-${engine}.cpuprofile`);
    writeFileSync(file, JSON.stringify(profile));
    return { file, profile: profile as unknown as CpuProfile, usPerMessage: (c.user + c.system) / (3 * n) };
  } finally {
    await b.stop();
  }
}

if (process.argv[1]?.endsWith('/profile.ts')) {
  const engines = (process.argv[2] ?? 'lua,js,python').split(',') as BenchEngine[];
  const n = Number(process.argv[3] ?? 3000);
  const out = process.argv[4] ?? join(tmpdir(), 'ksr-bench-profiles');
  for (const e of engines) {
    const r = await profileEngine(e, n, out);
    process.stdout.write(`\n## ${e}: ${r.usPerMessage.toFixed(1)} µs CPU per message (REGISTER / INVITE / OPTIONS mix, parse + route + send), ${r.file}\n\nby bucket:\n`);
    for (const f of byCategory(r.profile)) process.stdout.write(`${f.pct.toFixed(1).padStart(5)} %  ${f.frame}\n`);
    process.stdout.write('\ntop functions (self):\n');
    for (const f of topFrames(r.profile, 15)) process.stdout.write(`${f.pct.toFixed(1).padStart(5)} %  ${f.frame}\n`);
  }
  process.exit(0);
}
