import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { basePort, ksrBin, run, sippArgs, startKsr, type Proc } from './support/proc.js';

const dir = mkdtempSync(join(tmpdir(), 'ksr-cli-'));

describe('ksr command', () => {
  it('--version and --help', async () => {
    const v = await run(process.execPath, [ksrBin, '--version']);
    expect(v.code).toBe(0);
    expect(v.output).toMatch(/^ksr \d+\.\d+\.\d+/);
    const h = await run(process.execPath, [ksrBin, '--help']);
    expect(h.code).toBe(0);
    expect(h.output).toContain('-f FILE');
  });

  it('-c accepts the default example and names file:line of a mistake', async () => {
    const ok = await run(process.execPath, [ksrBin, '-c', '-f', 'examples/basic/ksr.cfg']);
    expect(ok.output).toContain('config file ok');
    expect(ok.code).toBe(0);
    const bad = join(dir, 'bad.cfg');
    writeFileSync(bad, '#!KSR\nlisten=udp:127.0.0.1:5060\nloadmodule "nosuchmodule.so"\n');
    const r = await run(process.execPath, [ksrBin, '-c', '-f', bad]);
    expect(r.code).toBe(1);
    expect(r.output).toContain(`${bad}:3:`);
    expect(r.output).toMatch(/nosuchmodule/);
  });

  it('an unknown option is a usage error', async () => {
    const r = await run(process.execPath, [ksrBin, '-q']);
    expect(r.code).toBe(2);
    expect(r.output).toContain('unknown option -q');
  });
});

describe('ksr serving a config without a routing engine', () => {
  const port = basePort(0);
  let ksr: Proc;

  beforeAll(async () => {
    const cfg = join(dir, 'no-engine.cfg');
    writeFileSync(cfg, '#!KSR\nlisten=udp:127.0.0.1:5060\nlisten=tcp:127.0.0.1:5060\n');
    ksr = startKsr(['-f', cfg, '-E', '-l', `udp:127.0.0.1:${port}`, '-l', `tcp:127.0.0.1:${port}`]);
    await ksr.waitFor(/serving/);
  });
  afterAll(async () => {
    ksr?.kill('SIGKILL');
  });

  it('says that no engine is loaded', () => {
    expect(ksr.output()).toMatch(/no cfgengine/);
    expect(ksr.output()).toContain(`listening on udp:127.0.0.1:${port}`);
    expect(ksr.output()).toContain(`listening on tcp:127.0.0.1:${port}`);
  });

  it('answers sipp OPTIONS over UDP with 200 and received/rport in the Via', async () => {
    const r = await run('sipp', sippArgs('options.xml', `127.0.0.1:${port}`, basePort(1), ['-m', '20', '-r', '50']));
    expect(r.output).toMatch(/Successful call\s+\|\s+\d+\s+\|\s+20/);
    expect(r.code).toBe(0);
  });

  it('answers sipp OPTIONS over TCP with 200', async () => {
    const r = await run('sipp', sippArgs('options.xml', `127.0.0.1:${port}`, basePort(2), ['-m', '20', '-r', '50', '-t', 't1']));
    expect(r.output).toMatch(/Successful call\s+\|\s+\d+\s+\|\s+20/);
    expect(r.code).toBe(0);
  });

  it('answers other requests with 500 No Routing Script', async () => {
    const r = await run('sipp', sippArgs('register_500.xml', `127.0.0.1:${port}`, basePort(3), ['-m', '10', '-r', '50']));
    expect(r.output).toMatch(/Successful call\s+\|\s+\d+\s+\|\s+10/);
    expect(r.code).toBe(0);
  });

  it('stops cleanly on SIGTERM within a few seconds', async () => {
    const t0 = Date.now();
    ksr.kill('SIGTERM');
    const code = await ksr.exited;
    expect(code).toBe(0);
    expect(Date.now() - t0).toBeLessThan(5000);
    expect(ksr.output()).toMatch(/SIGTERM received/);
  });
});
