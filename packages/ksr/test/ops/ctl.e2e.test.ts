import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEFAULT_RPC_SOCKET as JSONRPCS_DEFAULT } from '../../../modules/src/jsonrpcs/index.js';
import { DEFAULT_RPC_SOCKET, formatResult, parseCtlArgs, typeParam } from '../../src/ctl.js';
import { basePort, ksrBin, run, startKsr, type Proc } from '../support/proc.js';

// `ksr ctl` (the real bin) against a real `ksr` process: Unix socket and HTTP, param typing,
// output, exit codes 0 / 1 / 2.

const sipPort = basePort(242);
const httpPort = basePort(243);
const dir = mkdtempSync(join(tmpdir(), 'ksr-ops-ctl-'));
const sock = join(dir, 'rpc.sock');
const cfgFile = join(dir, 'ksr.cfg');
let ksr: Proc;

beforeAll(async () => {
  writeFileSync(join(dir, 'r.lua'), 'function ksr_request_route()\n  KSR.sl.sl_send_reply(200, "OK")\nend\n');
  writeFileSync(
    cfgFile,
    [
      `listen=udp:127.0.0.1:${sipPort}`,
      'loadmodule "sl.so"',
      'loadmodule "htable.so"',
      'loadmodule "jsonrpcs.so"',
      'loadmodule "app_lua.so"',
      'modparam("htable", "htable", "t=>size=2")',
      `modparam("jsonrpcs", "http_listen", "127.0.0.1:${httpPort}")`,
      `modparam("jsonrpcs", "socket", "${sock}")`,
      `modparam("app_lua", "load", "${join(dir, 'r.lua')}")`,
      'cfgengine "lua"',
      '',
    ].join('\n'),
  );
  ksr = startKsr(['-f', cfgFile, '-E']);
  await ksr.waitFor(/serving/, 30_000);
}, 40_000);

afterAll(async () => {
  ksr?.kill();
  await ksr?.exited;
});

const ctl = (...args: string[]): Promise<{ code: number | string; output: string }> => run(process.execPath, [ksrBin, 'ctl', ...args], 30_000);

describe('ksr ctl', () => {
  it('calls a method over the Unix socket and prints YAML-like text', async () => {
    const r = await ctl('-s', sock, 'core.uptime');
    expect(r.code).toBe(0);
    expect(r.output).toMatch(/^now: .+\nup_since: .+\nuptime: \d+\n$/);
  });

  it('types params like kamcmd: numbers, s: strings, i: integers', async () => {
    expect((await ctl('-s', sock, 'htable.seti', 't', 'n', '12')).code).toBe(0);
    expect((await ctl('-s', sock, 'htable.sets', 't', 's', 's:12')).code).toBe(0);
    const r = await ctl('-s', sock, '--json', 'htable.dump', 't');
    expect(r.code).toBe(0);
    const dump = JSON.parse(r.output) as Array<{ slot: unknown[] }>;
    expect(dump[0]!.slot).toEqual(expect.arrayContaining([{ name: 'n', value: 12, type: 'int' }, { name: 's', value: '12', type: 'str' }]));
    const echo = await ctl('-s', sock, 'core.echo', 'i:7', 'x', 'd:1.5', 'b:true', 'j:{"a":[1]}');
    expect(echo.output).toBe('7\nx\n1.5\ntrue\n-\n  a:\n    1\n'.replace('-\n  a:', '- a:'));
  });

  it('talks HTTP with --url', async () => {
    const r = await ctl('--url', `http://127.0.0.1:${httpPort}/RPC`, 'stats.get_statistics', 'core:rcv_requests');
    expect(r.code).toBe(0);
    expect(r.output).toMatch(/^core:rcv_requests = \d+\n$/);
  });

  it('exit code 1 and the error on stderr for an RPC error', async () => {
    const r = await ctl('-s', sock, 'no.such');
    expect(r.code).toBe(1);
    expect(r.output).toMatch(/^error: -32601 - Method not found: no\.such/);
    const bad = await ctl('-s', sock, 'htable.get', 'nope', 'k');
    expect(bad.code).toBe(1);
    expect(bad.output).toMatch(/error: 500 - No such htable: nope/);
  });

  it('exit code 2 for a transport or usage error', async () => {
    const r = await ctl('-s', join(dir, 'absent.sock'), 'core.uptime');
    expect(r.code).toBe(2);
    expect(r.output).toMatch(/cannot connect to .*absent\.sock/);
    expect((await ctl('--url', 'http://127.0.0.1:1/RPC', 'core.uptime')).code).toBe(2);
    expect((await ctl()).code).toBe(2);
    expect((await ctl('--bogus', 'x')).code).toBe(2);
    const help = await ctl('--help');
    expect(help.code).toBe(0);
    expect(help.output).toMatch(/Usage: ksr ctl/);
  });
});

describe('ctl helpers', () => {
  it('uses the same default socket as the jsonrpcs module', () => {
    expect(DEFAULT_RPC_SOCKET).toBe(JSONRPCS_DEFAULT);
    expect(parseCtlArgs(['core.uptime'], {}).socket).toBe(DEFAULT_RPC_SOCKET);
  });

  it('parses options and types params', () => {
    const o = parseCtlArgs(['-s', '/x.sock', '-j', 'htable.seti', 't', 'k', '-5'], {});
    expect(o).toMatchObject({ socket: '/x.sock', json: true, method: 'htable.seti', params: ['t', 'k', -5] });
    expect(parseCtlArgs(['core.uptime'], { KSR_RPC_SOCKET: '/env.sock', KSR_RPC_TOKEN: 'tk' })).toMatchObject({ socket: '/env.sock', token: 'tk' });
    expect(typeParam('s:1')).toBe('1');
    expect(typeParam('12345678901234567890')).toBe('12345678901234567890');
    expect(() => typeParam('i:x')).toThrow(/not an integer/);
    expect(() => typeParam('j:{')).toThrow(/JSON/);
  });

  it('formats nested results', () => {
    expect(formatResult(null)).toBe('');
    expect(formatResult({ a: 1, b: [], c: { d: 'x' } })).toBe('a: 1\nb: []\nc:\n  d: x\n');
    expect(formatResult([{ name: 'n', v: 1 }, 'z'])).toBe('- name: n\n  v: 1\nz\n');
  });
});
