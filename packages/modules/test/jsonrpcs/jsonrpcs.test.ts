import { connect } from 'node:net';
import { mkdtempSync, statSync, writeFileSync } from 'node:fs';
import { request as httpRequest, type IncomingMessage, type ServerResponse } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { RpcError, RpcRegistry, StatsRegistry, type ModuleInstance } from '@ksr/core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { checkAccess, isLoopback, listenerProblem, parseHttpListen, requestToken } from '../../src/jsonrpcs/access.js';
import { jsonrpcsModule, type JsonrpcsApi } from '../../src/jsonrpcs/index.js';
import { handleJsonRpc } from '../../src/jsonrpcs/protocol.js';
import { handleHttp } from '../../src/jsonrpcs/server.js';
import { testModuleContext } from '../support/common.js';
import { parsePromText } from './promtext.js';

function registry(): RpcRegistry {
  let value = 'v0';
  return new RpcRegistry().add('t', [
    { name: 't.echo', doc: 'echo', handler: (p) => [...p] },
    { name: 't.set', doc: 'set', handler: (p) => ((value = String(p[0])), null) },
    { name: 't.get', doc: 'get', handler: () => value },
    { name: 't.bad', doc: 'bad params', handler: () => { throw new RpcError(400, 'missing table'); } },
    { name: 't.bug', doc: 'bug', handler: () => { throw new Error('boom'); } },
    { name: 't.slow', doc: 'async', handler: async () => { await new Promise((r) => setTimeout(r, 5)); return { big: 10n, nan: NaN }; } },
  ]);
}

const parse = async (text: string, rpc = registry()): Promise<unknown> => JSON.parse((await handleJsonRpc(text, rpc))!);

describe('JSON-RPC 2.0 protocol', () => {
  it('answers a call with its result and id', async () => {
    expect(await parse('{"jsonrpc":"2.0","method":"t.echo","params":[1,"a"],"id":7}')).toEqual({ jsonrpc: '2.0', id: 7, result: [1, 'a'] });
    expect(await parse('{"jsonrpc":"2.0","method":"t.slow","id":"x"}')).toEqual({ jsonrpc: '2.0', id: 'x', result: { big: 10, nan: null } });
  });

  it('malformed JSON is -32700, an unknown method -32601, bad shapes -32600 / -32602', async () => {
    expect(await parse('{"jsonrpc":"2.0","method":')).toEqual({ jsonrpc: '2.0', id: null, error: { code: -32700, message: 'Parse error' } });
    expect(await parse('{"jsonrpc":"2.0","method":"no.such","id":1}')).toMatchObject({ id: 1, error: { code: -32601 } });
    expect(await parse('{"jsonrpc":"2.0","id":1}')).toMatchObject({ id: 1, error: { code: -32600 } });
    expect(await parse('42')).toMatchObject({ id: null, error: { code: -32600 } });
    expect(await parse('[]')).toMatchObject({ id: null, error: { code: -32600 } });
    expect(await parse('{"jsonrpc":"1.0","method":"t.echo","id":1}')).toMatchObject({ error: { code: -32600 } });
    expect(await parse('{"jsonrpc":"2.0","method":"t.echo","params":{"a":1},"id":2}')).toMatchObject({ id: 2, error: { code: -32602 } });
  });

  it("a command's fault keeps Kamailio's code; a crash is 500", async () => {
    expect(await parse('{"jsonrpc":"2.0","method":"t.bad","id":1}')).toEqual({ jsonrpc: '2.0', id: 1, error: { code: 400, message: 'missing table' } });
    expect(await parse('{"jsonrpc":"2.0","method":"t.bug","id":1}')).toMatchObject({ error: { code: 500, message: 't.bug failed: boom' } });
  });

  it('runs a batch in order, and sends nothing for notifications', async () => {
    const out = await parse('[{"jsonrpc":"2.0","method":"t.set","params":["v1"]},{"jsonrpc":"2.0","method":"t.get","id":2},{"x":1}]');
    expect(out).toEqual([
      { jsonrpc: '2.0', id: 2, result: 'v1' },
      { jsonrpc: '2.0', id: null, error: { code: -32600, message: 'Invalid Request' } },
    ]);
    expect(await handleJsonRpc('{"jsonrpc":"2.0","method":"t.set","params":["v2"]}', registry())).toBeUndefined();
  });

  it('answers 503 before the server attached its commands', async () => {
    expect(JSON.parse((await handleJsonRpc('{"jsonrpc":"2.0","method":"t.get","id":1}', undefined))!)).toMatchObject({ error: { code: 503 } });
  });
});

describe('access control', () => {
  it('knows loopback addresses', () => {
    for (const a of ['127.0.0.1', '127.8.9.1', '::1', '[::1]', '::ffff:127.0.0.1']) expect(isLoopback(a)).toBe(true);
    for (const a of ['0.0.0.0', '192.0.2.1', '::', '10.0.0.1', '::ffff:192.0.2.1', 'example.com']) expect(isLoopback(a)).toBe(false);
  });

  it('a non-loopback listener needs a token', () => {
    expect(listenerProblem('127.0.0.1', '')).toBeUndefined();
    expect(listenerProblem('0.0.0.0', '')).toMatch(/not a loopback address.*token/);
    expect(listenerProblem('192.0.2.1', 's3cret')).toBeUndefined();
  });

  it('without a token only loopback peers are served; with one, every request must carry it', () => {
    expect(checkAccess('127.0.0.1', '', undefined)).toBeUndefined();
    expect(checkAccess('192.0.2.7', '', undefined)).toEqual({ status: 403, reason: expect.stringMatching(/loopback/) });
    expect(checkAccess(undefined, '', undefined)?.status).toBe(403);
    expect(checkAccess('192.0.2.7', 'tok', undefined)?.status).toBe(401);
    expect(checkAccess('192.0.2.7', 'tok', 'nope')?.status).toBe(403);
    expect(checkAccess('192.0.2.7', 'tok', 'tok')).toBeUndefined();
    expect(checkAccess('127.0.0.1', 'tok', undefined)?.status).toBe(401);
    expect(requestToken({ authorization: 'Bearer abc' })).toBe('abc');
    expect(requestToken({ 'x-ksr-token': 'xyz' })).toBe('xyz');
    expect(requestToken({ authorization: 'Basic abc' })).toBeUndefined();
  });

  it('parses http_listen', () => {
    expect(parseHttpListen('127.0.0.1:5080')).toEqual({ address: '127.0.0.1', port: 5080 });
    expect(parseHttpListen('[::1]:80')).toEqual({ address: '::1', port: 80 });
    expect(parseHttpListen('localhost:1')).toEqual({ address: '127.0.0.1', port: 1 });
    expect(() => parseHttpListen('example.com:80')).toThrow(/not an IP address/);
    expect(() => parseHttpListen('127.0.0.1')).toThrow(/address:port/);
  });

  it('the module refuses to start on a non-loopback address without a token (nothing is bound)', async () => {
    await expect(jsonrpcsModule.create(testModuleContext('jsonrpcs', { http_listen: '0.0.0.0:0', socket: '' }))).rejects.toThrow(/not a loopback address/);
    await expect(jsonrpcsModule.create(testModuleContext('jsonrpcs', { transport: 2 }))).rejects.toThrow(/FIFO/);
  });

  it('a request from a non-loopback peer is refused (peer address injected)', async () => {
    const req = Object.assign(new PassThrough(), { headers: {}, url: '/RPC', method: 'POST', socket: {} }) as unknown as IncomingMessage;
    (req as unknown as PassThrough).end('{"jsonrpc":"2.0","method":"t.get","id":1}');
    let status = 0;
    let body = '';
    const res = {
      headersSent: false,
      writeHead(s: number) {
        status = s;
      },
      setHeader() {},
      end(b?: string) {
        body = b ?? '';
      },
    } as unknown as ServerResponse;
    const rpc = registry();
    await handleHttp(req, res, { dispatcher: () => rpc, pretty: false }, { address: '127.0.0.1', port: 0, token: '', metrics: undefined, logger: testModuleContext('x').logger }, '192.0.2.50');
    expect(status).toBe(403);
    expect(body).toMatch(/loopback/);
  });
});

// ------------------------------------------------------------------ the transports, for real

interface HttpReply {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: string;
}

function http(port: number, method: string, path: string, body?: string, headers: Record<string, string> = {}): Promise<HttpReply> {
  return new Promise((resolve, reject) => {
    const req = httpRequest({ host: '127.0.0.1', port, method, path, headers: { ...(body !== undefined ? { 'content-type': 'application/json' } : {}), ...headers } }, (res) => {
      let data = '';
      res.setEncoding('utf8');
      res.on('data', (d: string) => (data += d));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: data }));
    });
    req.on('error', reject);
    req.end(body);
  });
}

function unixCall(path: string, payload: string, halfClose = false): Promise<string[]> {
  return new Promise((resolve, reject) => {
    const s = connect(path);
    let data = '';
    s.setEncoding('utf8');
    s.on('connect', () => {
      if (halfClose) s.end(payload);
      else s.write(payload);
    });
    s.on('data', (d: string) => {
      data += d;
      const lines = data.split('\n').filter(Boolean);
      const expected = halfClose ? 1 : payload.split('\n').filter((l) => l.trim() !== '').length;
      if (lines.length >= expected && data.endsWith('\n')) {
        s.destroy();
        resolve(lines);
      }
    });
    s.on('error', reject);
    s.on('end', () => resolve(data.split('\n').filter(Boolean)));
  });
}

describe('jsonrpcs over HTTP and a Unix socket', () => {
  const dir = mkdtempSync(join(tmpdir(), 'ksr-jsonrpcs-'));
  const sockPath = join(dir, 'rpc.sock');
  const stats = new StatsRegistry();
  let inst: ModuleInstance;
  let api: JsonrpcsApi;
  let port: number;
  let tokInst: ModuleInstance;
  let tokPort: number;

  beforeAll(async () => {
    stats.counter('core', 'rcv_requests').inc(5);
    stats.counter('usrloc', 'location-users').inc(2);
    stats.counter('sl', '1xx_replies').inc(1);
    inst = await jsonrpcsModule.create(testModuleContext('jsonrpcs', { http_listen: '127.0.0.1:0', socket: sockPath, metrics_process: 0 }, { stats }));
    api = inst.api as JsonrpcsApi;
    port = api.http!.port;
    tokInst = await jsonrpcsModule.create(
      testModuleContext('jsonrpcs', { http_listen: '127.0.0.1:0', socket: '', token: 's3cret', metrics_prefix: 'kamailio', metrics_stats: 'core usrloc' }, { stats }),
    );
    tokPort = (tokInst.api as JsonrpcsApi).http!.port;
  });

  afterAll(async () => {
    await inst?.destroy?.();
    await tokInst?.destroy?.();
  });

  it('serves 503 until the commands are attached, then the commands', async () => {
    const early = await http(port, 'POST', '/RPC', '{"jsonrpc":"2.0","method":"t.get","id":1}');
    expect(JSON.parse(early.body)).toMatchObject({ error: { code: 503 } });
    api.attach(registry());
    (tokInst.api as JsonrpcsApi).attach(registry());
    const r = await http(port, 'POST', '/RPC', '{"jsonrpc":"2.0","method":"t.echo","params":["x",2],"id":1}');
    expect(r.status).toBe(200);
    expect(r.headers['content-type']).toBe('application/json');
    expect(JSON.parse(r.body)).toEqual({ jsonrpc: '2.0', id: 1, result: ['x', 2] });
  });

  it('HTTP: malformed JSON, unknown method, wrong verb or path, notification', async () => {
    expect(JSON.parse((await http(port, 'POST', '/RPC', '{oops')).body)).toMatchObject({ error: { code: -32700 } });
    expect(JSON.parse((await http(port, 'POST', '/RPC', '{"jsonrpc":"2.0","method":"x.y","id":3}')).body)).toMatchObject({ id: 3, error: { code: -32601 } });
    expect((await http(port, 'GET', '/RPC')).status).toBe(405);
    expect((await http(port, 'POST', '/other', '{}')).status).toBe(404);
    expect((await http(port, 'POST', '/RPC', '{"jsonrpc":"2.0","method":"t.set","params":["n"]}')).status).toBe(204);
  });

  it('HTTP: a request above 1 MB is refused with 413', async () => {
    const big = `{"jsonrpc":"2.0","method":"t.echo","params":["${'x'.repeat(1_100_000)}"],"id":1}`;
    expect((await http(port, 'POST', '/RPC', big)).status).toBe(413);
  });

  it('HTTP with a token: 401 without it, 403 with a wrong one, served with the right one', async () => {
    const body = '{"jsonrpc":"2.0","method":"t.get","id":1}';
    const none = await http(tokPort, 'POST', '/RPC', body);
    expect(none.status).toBe(401);
    expect(none.headers['www-authenticate']).toMatch(/Bearer/);
    expect((await http(tokPort, 'POST', '/RPC', body, { authorization: 'Bearer wrong' })).status).toBe(403);
    const ok = await http(tokPort, 'POST', '/RPC', body, { authorization: 'Bearer s3cret' });
    expect(ok.status).toBe(200);
    expect((await http(tokPort, 'GET', '/metrics')).status).toBe(401);
  });

  it('Unix socket: one request per line, in order, and a half-closed request without newline', async () => {
    const lines = await unixCall(sockPath, '{"jsonrpc":"2.0","method":"t.set","params":["u1"],"id":1}\n{"jsonrpc":"2.0","method":"t.get","id":2}\n');
    expect(lines.map((l) => JSON.parse(l))).toEqual([
      { jsonrpc: '2.0', id: 1, result: null },
      { jsonrpc: '2.0', id: 2, result: 'u1' },
    ]);
    const [half] = await unixCall(sockPath, '{"jsonrpc":"2.0","method":"t.echo","params":[1],"id":9}', true);
    expect(JSON.parse(half!)).toEqual({ jsonrpc: '2.0', id: 9, result: [1] });
    expect(statSync(sockPath).mode & 0o777).toBe(0o660);
  });

  it('Unix socket: malformed JSON, unknown method, bad params', async () => {
    const lines = await unixCall(sockPath, '{nope\n{"jsonrpc":"2.0","method":"a.b","id":2}\n{"jsonrpc":"2.0","method":"t.bad","id":3}\n');
    expect(lines.map((l) => JSON.parse(l).error.code)).toEqual([-32700, -32601, 400]);
  });

  it('refuses to take over a socket another server is serving, replaces a stale file', async () => {
    await expect(jsonrpcsModule.create(testModuleContext('jsonrpcs', { http_listen: '', socket: sockPath }))).rejects.toThrow(/in use/);
    const stalePath = join(dir, 'file.sock');
    writeFileSync(stalePath, 'x');
    await expect(jsonrpcsModule.create(testModuleContext('jsonrpcs', { http_listen: '', socket: stalePath }))).rejects.toThrow(/not a socket/);
  });

  it('GET /metrics is valid Prometheus text with ksr_<group>_<stat> names and the route histogram', async () => {
    api.observeRoute('request', 'lua', 0.0003);
    api.observeRoute('request', 'lua', 0.02);
    api.observeRoute('reply', 'lua', 0.00001);
    const r = await http(port, 'GET', '/metrics');
    expect(r.status).toBe(200);
    expect(r.headers['content-type']).toMatch(/^text\/plain; version=0\.0\.4/);
    const fams = parsePromText(r.body);
    expect(fams.get('ksr_core_rcv_requests')).toMatchObject({ type: 'gauge', samples: [{ value: 5 }] });
    expect(fams.get('ksr_usrloc_location_users')?.samples[0]?.value).toBe(2);
    expect(fams.get('ksr_usrloc_location_users')?.help).toBe('usrloc:location-users');
    expect(fams.get('ksr_sl_1xx_replies')?.samples[0]?.value).toBe(1);
    const h = fams.get('ksr_route_duration_seconds')!;
    expect(h.type).toBe('histogram');
    const count = (route: string): number | undefined => h.samples.find((s) => s.name === 'ksr_route_duration_seconds_count' && s.labels.route === route)?.value;
    expect(count('request')).toBe(2);
    expect(count('reply')).toBe(1);
    expect([...fams.keys()].some((k) => k.startsWith('ksr_process_') || k.startsWith('ksr_nodejs_'))).toBe(false);
    // a counter that moves shows on the next scrape
    stats.counter('core', 'rcv_requests').inc();
    expect(parsePromText((await http(port, 'GET', '/metrics')).body).get('ksr_core_rcv_requests')?.samples[0]?.value).toBe(6);
  });

  it('metrics_prefix "kamailio" gives xhttp_prom names; metrics_stats picks groups; process metrics when on', async () => {
    const r = await http(tokPort, 'GET', '/metrics', undefined, { authorization: 'Bearer s3cret' });
    const fams = parsePromText(r.body);
    expect(fams.has('kamailio_core_rcv_requests')).toBe(true);
    expect(fams.has('kamailio_usrloc_location_users')).toBe(true);
    expect(fams.has('kamailio_sl_1xx_replies')).toBe(false);
    expect(fams.has('kamailio_route_duration_seconds')).toBe(true);
    expect(fams.has('kamailio_process_cpu_user_seconds_total')).toBe(true);
  });

  it('the strict parser rejects broken expositions', () => {
    expect(() => parsePromText('x 1\n')).toThrow(/before any HELP/);
    expect(() => parsePromText('# HELP a b\n# TYPE a gauge\na{l="1} 2\n')).toThrow();
    expect(() => parsePromText('# HELP a b\n# TYPE a gauge\na one\n')).toThrow(/bad value/);
    expect(() => parsePromText('# HELP h b\n# TYPE h histogram\nh_bucket{le="1"} 2\nh_bucket{le="+Inf"} 1\nh_count 1\n')).toThrow(/decrease/);
  });
});
