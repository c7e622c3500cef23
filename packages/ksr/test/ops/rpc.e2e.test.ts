import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { builtinModules } from '@ksr/modules';
import type { RunningServer } from '../../src/main.js';
import { startInProcess } from '../support/inprocess.js';
import { basePort } from '../support/proc.js';
import { parsePromText } from '../../../modules/test/jsonrpcs/promtext.js';
import { memoryLogger, rawHttp, rawSocket, rpcHttp, rpcSocket, sipProbe, udpSend } from './support.js';

// Every RPC command ksr serves, over HTTP and over the Unix socket, against a real in-process
// server (Lua script, sl, tm, htable, pike, corex, usrloc, registrar, jsonrpcs), plus the core
// statistics, the latency logs and /metrics.

const sipPort = basePort(240);
const httpPort = basePort(241);
const dir = mkdtempSync(join(tmpdir(), 'ksr-ops-rpc-'));
const sock = join(dir, 'rpc.sock');
const script = join(dir, 'ops.lua');
const mem = memoryLogger('info');
let running: RunningServer;

writeFileSync(
  script,
  [
    'function ksr_request_route()',
    '  KSR.pike.pike_check_req()',
    '  if KSR.is_OPTIONS() then',
    '    KSR.sl.sl_send_reply(200, "OK")',
    '    KSR.x.exit()',
    '  end',
    '  if KSR.is_method("BYE") then KSR.x.drop() end',
    '  if KSR.is_method("MESSAGE") then error("boom") end',
    '  if KSR.is_method("INFO") then KSR.setdsturi("sip:127.0.0.1:9") KSR.forward() KSR.x.exit() end',
    '  KSR.sl.sl_send_reply(404, "Not Here")',
    'end',
    'function ksr_reply_route()',
    '  if KSR.pv.geti("$rs") == 202 then KSR.x.drop() end',
    'end',
    '',
  ].join('\n'),
);

beforeAll(async () => {
  running = await startInProcess({
    cfg: [
      `listen=udp:127.0.0.1:${sipPort}`,
      'alias=ops.test:5060',
      'latency_cfg_log=2',
      'latency_log=2',
      'latency_limit_action=1',
      'loadmodule "sl.so"',
      'loadmodule "tm.so"',
      'loadmodule "htable.so"',
      'loadmodule "pike.so"',
      'loadmodule "corex.so"',
      'loadmodule "usrloc.so"',
      'loadmodule "registrar.so"',
      'loadmodule "jsonrpcs.so"',
      'loadmodule "app_lua.so"',
      'modparam("htable", "htable", "ops=>size=4;autoexpire=0")',
      'modparam("pike", "reqs_density_per_unit", 1000)',
      `modparam("jsonrpcs", "http_listen", "127.0.0.1:${httpPort}")`,
      `modparam("jsonrpcs", "socket", "${sock}")`,
      'modparam("jsonrpcs", "metrics_process", 0)',
      `modparam("app_lua", "load", "${script}")`,
      'cfgengine "lua"',
    ],
    modules: builtinModules,
    logger: mem.logger,
  });
  for (let i = 0; i < 3; i++) expect(await sipProbe(sipPort)).toBe('SIP/2.0 200 OK');
  expect(await sipProbe(sipPort, 'FOO')).toBe('SIP/2.0 404 Not Here');
  await udpSend(sipPort, 'INVITE sip:x SIP/2.0\r\nVia: nonsense\r\n\r\n');
  await udpSend(
    sipPort,
    `BYE sip:127.0.0.1:${sipPort} SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:9;branch=z9hG4bKbye\r\nFrom: <sip:a@x>;tag=1\r\nTo: <sip:b@y>\r\nCall-ID: bye1\r\nCSeq: 1 BYE\r\nContent-Length: 0\r\n\r\n`,
  );
  expect(await sipProbe(sipPort, 'MESSAGE')).toBe('SIP/2.0 500 Server Internal Error');
  const reply = (status: string): string =>
    `SIP/2.0 ${status}\r\nVia: SIP/2.0/UDP 127.0.0.1:${sipPort};branch=z9hG4bKours\r\nVia: SIP/2.0/UDP 127.0.0.1:9;branch=z9hG4bKtheirs\r\n` +
    `From: <sip:a@x>;tag=1\r\nTo: <sip:b@y>;tag=2\r\nCall-ID: rpl-${status.slice(0, 3)}\r\nCSeq: 1 OPTIONS\r\nContent-Length: 0\r\n\r\n`;
  await udpSend(
    sipPort,
    `INFO sip:b@127.0.0.1:${sipPort} SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:9;branch=z9hG4bKinfo\r\nFrom: <sip:a@x>;tag=1\r\nTo: <sip:b@y>\r\nCall-ID: info1\r\nCSeq: 1 INFO\r\nMax-Forwards: 70\r\nContent-Length: 0\r\n\r\n`,
  );
  await udpSend(sipPort, reply('200 OK'));
  await udpSend(sipPort, reply('202 Accepted'));
  await new Promise((r) => setTimeout(r, 150));
}, 30_000);

afterAll(async () => {
  await running?.stop();
});

type Reply = { result?: unknown; error?: { code: number; message: string } };
const transports: Array<[string, (m: string, p?: unknown[]) => Promise<Reply>]> = [
  ['HTTP', (m, p = []) => rpcHttp(httpPort, m, p)],
  ['Unix socket', (m, p = []) => rpcSocket(sock, m, p)],
];

/** Every command this test calls and what its result must look like. */
const calls: Array<[method: string, params: unknown[], check: (r: unknown) => void]> = [
  ['system.listMethods', [], (r) => expect(r).toEqual(expect.arrayContaining(['core.uptime', 'app_lua.reload', 'htable.dump', 'tm.list', 'pike.top', 'sl.stats', 'corex.debug']))],
  ['system.methodHelp', ['core.uptime'], (r) => expect(r).toMatch(/uptime/i)],
  ['core.echo', ['a', 1, { b: [2] }], (r) => expect(r).toEqual(['a', 1, { b: [2] }])],
  ['core.version', [], (r) => expect(r).toMatch(/^ksr \S+ \(/)],
  ['core.info', [], (r) => expect(r).toMatchObject({ version: expect.stringMatching(/^ksr /), id: 'ksr' })],
  ['core.uptime', [], (r) => expect(r).toMatchObject({ now: expect.stringMatching(/\d{4}\n$/), up_since: expect.any(String), uptime: expect.any(Number) })],
  ['core.ps', [], (r) => expect(r).toEqual([process.pid, expect.any(String)])],
  ['core.psx', [], (r) => expect(r).toEqual([expect.objectContaining({ PID: process.pid })])],
  ['core.modules', [], (r) => expect(r).toEqual(expect.arrayContaining(['sl', 'tm', 'jsonrpcs', 'app_lua']))],
  ['core.sockets_list', [], (r) => expect(r).toEqual([expect.objectContaining({ proto: 'udp', address: '127.0.0.1', port: sipPort })])],
  ['core.aliases_list', [], (r) => expect(r).toEqual({ myself_aliases: [expect.objectContaining({ address: 'ops.test', port: 5060 })] })],
  ['core.shmmem', [], (r) => expect(r).toMatchObject({ total: expect.any(Number), used: expect.any(Number) })],
  ['stats.get_statistics', ['core:rcv_requests'], (r) => expect(r).toEqual([expect.stringMatching(/^core:rcv_requests = \d+$/)])],
  ['stats.fetch', ['sl:200_replies'], (r) => expect(r).toEqual({ 'sl.200_replies': expect.stringMatching(/^\d+$/) })],
  ['stats.reset_statistics', ['pike:'], (r) => expect(r).toBeNull()],
  ['stats.clear_statistics', ['pike:blocked_ips'], (r) => expect(r).toEqual(['pike:blocked_ips = 0'])],
  ['cfg.get', ['core', 'debug'], (r) => expect(r).toBe(2)],
  ['cfg.set', ['core', 'debug', 2], (r) => expect(r).toBeNull()],
  ['cfg.seti', ['core', 'debug', 2], (r) => expect(r).toBeNull()],
  ['cfg.set_now_int', ['core', 'debug', 2], (r) => expect(r).toBeNull()],
  ['cfg.list', [], (r) => expect(r).toEqual(expect.arrayContaining([expect.objectContaining({ name: 'core.debug', value: 2 }), expect.objectContaining({ name: 'core.latency_limit_action', value: 1 })]))],
  ['corex.debug', [], (r) => expect(r).toBe(2)],
  ['tm.stats', [], (r) => expect(r).toMatchObject({ current: 0, waiting: 0, total: expect.any(Number), '2xx': expect.any(Number) })],
  ['tm.list', [], (r) => expect(r).toEqual([])],
  ['sl.stats', [], (r) => expect(r).toMatchObject({ '200': expect.any(Number), '4xx': expect.any(Number), xxx: 0 })],
  ['htable.sets', ['ops', 'name', 'alice'], (r) => expect(r).toBeNull()],
  ['htable.seti', ['ops', 'n', 42], (r) => expect(r).toBeNull()],
  ['htable.get', ['ops', 'n'], (r) => expect(r).toEqual({ item: { name: 'n', value: 42 } })],
  ['htable.setex', ['ops', 'n', 3600], (r) => expect(r).toBeNull()],
  ['htable.dump', ['ops'], (r) => expect((r as Array<{ slot: unknown[] }>)[0]!.slot).toEqual(expect.arrayContaining([{ name: 'name', value: 'alice', type: 'str' }, { name: 'n', value: 42, type: 'int' }]))],
  ['htable.stats', [], (r) => expect(r).toEqual([expect.objectContaining({ name: 'ops', all: 2 })])],
  ['htable.listTables', [], (r) => expect(r).toEqual([expect.objectContaining({ name: 'ops', size: 4 })])],
  ['htable.delete', ['ops', 'n'], (r) => expect(r).toBeNull()],
  ['htable.flush', ['ops'], (r) => expect(r).toBeNull()],
  ['pike.top', ['ALL'], (r) => expect(r).toEqual([expect.objectContaining({ ip_addr: '127.0.0.1', status: expect.any(String) })])],
  ['app_lua.list', [], (r) => expect(r).toEqual([expect.objectContaining({ script, engine: 'lua' })])],
  ['app_lua.api_list', [], (r) => expect(r).toMatchObject({ msize: expect.any(Number), methods: expect.arrayContaining([{ ret: 'int', module: 'sl', name: 'sl_send_reply', params: 'int, str' }]) })],
  ['app_lua.reload', [], (r) => expect(r).toMatchObject({ old: expect.any(Number), new: expect.any(Number), script })],
];

describe.each(transports)('every RPC over %s', (_name, call) => {
  it.each(calls)('%s', async (method, params, check) => {
    const r = await call(method, params);
    expect(r.error).toBeUndefined();
    check(r.result);
  });

  it('every listed method is covered here or belongs to another module (ul.*, permissions.*)', async () => {
    const names = (await call('system.listMethods')).result as string[];
    const covered = new Set(calls.map(([m]) => m));
    expect(names.filter((n) => !covered.has(n) && !/^(ul|permissions|dialog|dispatcher|db|auth)\./.test(n))).toEqual([]);
  });

  it('errors: unknown method, bad params, unknown table or variable', async () => {
    expect((await call('no.such')).error).toMatchObject({ code: -32601 });
    expect((await call('htable.get', ['ops'])).error).toMatchObject({ code: 400, message: expect.stringMatching(/missing parameter 2/) });
    expect((await call('htable.get', ['nope', 'k'])).error).toMatchObject({ code: 500, message: 'No such htable: nope' });
    expect((await call('htable.get', ['ops', 'missing'])).error).toMatchObject({ code: 404 });
    expect((await call('htable.seti', ['ops', 'k', 'abc'])).error).toMatchObject({ code: 400 });
    expect((await call('pike.top', ['LUKEWARM'])).error).toMatchObject({ code: 400 });
    expect((await call('cfg.get', ['core', 'nothing'])).error).toMatchObject({ code: 404 });
    expect((await call('cfg.set', ['core', 'debug', 'loud'])).error).toMatchObject({ code: 400 });
    expect((await call('stats.reset_statistics')).error).toMatchObject({ code: 400 });
    expect((await call('system.methodHelp', ['x.y'])).error).toMatchObject({ code: 400 });
  });
});

describe('protocol errors on both transports', () => {
  it('malformed JSON is -32700', async () => {
    expect(await rawHttp(httpPort, '{"jsonrpc": "2.0", "method": ')).toMatchObject({ error: { code: -32700 } });
    expect(await rawSocket(sock, '{"jsonrpc": "2.0", "method": ')).toMatchObject({ error: { code: -32700 } });
  });
  it('params must be positional', async () => {
    expect(await rawHttp(httpPort, '{"jsonrpc":"2.0","method":"core.echo","params":{"a":1},"id":4}')).toMatchObject({ id: 4, error: { code: -32602 } });
    expect(await rawSocket(sock, '{"jsonrpc":"2.0","method":"core.echo","params":{"a":1},"id":4}')).toMatchObject({ id: 4, error: { code: -32602 } });
  });
});

describe('core statistics, engine figures, latency logs, log level', () => {
  const stat = async (name: string): Promise<number> => {
    const lines = (await rpcHttp(httpPort, 'stats.get_statistics', [name])).result as string[];
    return Number(/= (-?\d+)$/.exec(lines[0] ?? '')?.[1]);
  };

  it("counts Kamailio's core statistics where they happen", async () => {
    expect(await stat('core:rcv_requests')).toBeGreaterThanOrEqual(6);
    expect(await stat('core:rcv_requests_options')).toBeGreaterThanOrEqual(3);
    expect(await stat('core:rcv_requests_bye')).toBe(1);
    expect(await stat('core:unsupported_methods')).toBe(1);
    expect(await stat('core:drop_requests')).toBe(1);
    expect(await stat('core:bad_msg_hdr')).toBe(1);
    expect(await stat('core:err_requests')).toBe(1);
    expect(await stat('core:rcv_replies')).toBe(2);
    expect(await stat('core:rcv_replies_2xx')).toBe(2);
    expect(await stat('core:fwd_replies')).toBe(1);
    expect(await stat('core:drop_replies')).toBe(1);
    expect(await stat('core:fwd_requests')).toBe(1);
    expect(await stat('core:rcv_requests_info')).toBe(1);
    expect(await stat('core:err_replies')).toBe(0);
    expect(await stat('app_lua:routes')).toBeGreaterThanOrEqual(8);
    expect(await stat('app_lua:route_errors')).toBe(1);
    expect(await stat('usrloc:registered_users')).toBe(0);
    expect(await stat('registrar:accepted_regs')).toBe(0);
  });

  it('logs "request-route executed in: N usec" and slow KSR calls with their script location', () => {
    expect(mem.lines.some((l) => /^request-route executed in: \d+ usec$/.test(l.msg))).toBe(true);
    const alert = mem.lines.find((l) => l.msg.includes('KSR.sl.sl_send_reply(...) took too long'));
    expect(alert?.msg).toMatch(new RegExp(`^alert - action KSR\\.sl\\.sl_send_reply\\(\\.\\.\\.\\) took too long \\[\\d+ us\\] \\(at ${script.replace(/[.]/g, '\\.')}:\\d+\\)$`));
  });

  it('changes the latency settings at run time (cfg.set core latency_limit_action)', async () => {
    expect((await rpcHttp(httpPort, 'cfg.get', ['core', 'latency_cfg_log'])).result).toBe(2);
    const alerts = (): number => mem.lines.filter((l) => l.msg.includes('took too long')).length;
    await rpcHttp(httpPort, 'cfg.set', ['core', 'latency_limit_action', 0]);
    const before = alerts();
    await sipProbe(sipPort);
    expect(alerts()).toBe(before);
    await rpcSocket(sock, 'cfg.seti', ['core', 'latency_limit_action', 1]);
    await sipProbe(sipPort);
    expect(alerts()).toBeGreaterThan(before);
    expect((await rpcHttp(httpPort, 'cfg.set', ['core', 'latency_limit_action', -1])).error).toMatchObject({ code: 400 });
  });

  it('changes the log level at run time (cfg.set core debug, corex.debug)', async () => {
    expect(running.logger.level).toBe('info');
    await rpcHttp(httpPort, 'cfg.set', ['core', 'debug', 3]);
    expect(running.logger.level).toBe('debug');
    expect(running.routing!.services.logger.level).toBe('debug');
    expect((await rpcSocket(sock, 'corex.debug', [0])).result).toBe(0);
    expect(running.logger.level).toBe('warn');
    expect((await rpcHttp(httpPort, 'cfg.get', ['core', 'debug'])).result).toBe(0);
    // KSR.setdebug / KSR.resetdebug from a script: reset returns to the level cfg.set made
    running.routing!.services.setDebugLevel!(4);
    expect(running.logger.level).toBe('trace');
    running.routing!.services.setDebugLevel!(undefined);
    expect(running.logger.level).toBe('warn');
    await rpcHttp(httpPort, 'corex.debug', [2]);
    expect(running.logger.level).toBe('info');
  });

  it('/metrics is valid Prometheus text with the core statistics and the route histogram', async () => {
    const res = await fetch(`http://127.0.0.1:${httpPort}/metrics`);
    const fams = parsePromText(await res.text());
    expect(fams.get('ksr_core_rcv_requests')?.samples[0]?.value).toBeGreaterThanOrEqual(5);
    expect(fams.get('ksr_app_lua_routes')?.type).toBe('gauge');
    const h = fams.get('ksr_route_duration_seconds')!;
    const count = h.samples.find((s) => s.name === 'ksr_route_duration_seconds_count' && s.labels.route === 'request' && s.labels.engine === 'lua');
    expect(count?.value).toBeGreaterThanOrEqual(5);
  });
});
