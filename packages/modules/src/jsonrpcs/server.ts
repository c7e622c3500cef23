/**
 * The two transports: HTTP (POST /RPC, GET /metrics) and a Unix stream socket carrying one
 * JSON-RPC message per line (newline-delimited JSON; a client may also send one message and
 * half-close the connection without a newline).
 */
import { chmodSync, existsSync, lstatSync, unlinkSync } from 'node:fs';
import { createServer as createHttpServer, type IncomingMessage, type Server as HttpServer, type ServerResponse } from 'node:http';
import { connect, createServer as createNetServer, type Server as NetServer, type Socket } from 'node:net';
import type { Logger, RpcDispatcher } from '@ksr/core';
import { checkAccess, requestToken } from './access.js';
import type { Metrics } from './metrics.js';
import { handleJsonRpc } from './protocol.js';

/** Largest request accepted (bytes), on both transports. */
export const MAX_REQUEST_BYTES = 1 << 20;

export interface RpcSource {
  /** undefined until the server wired the commands (requests then get a 503 error). */
  dispatcher(): RpcDispatcher | undefined;
  readonly pretty: boolean;
}

export interface HttpOptions {
  address: string;
  port: number;
  token: string;
  metrics: Metrics | undefined;
  logger: Logger;
}

const RPC_PATHS = new Set(['/RPC', '/rpc', '/jsonrpc', '/RPC/']);

function send(res: ServerResponse, status: number, body: string, type = 'text/plain; charset=utf-8', extra: Record<string, string> = {}): void {
  res.writeHead(status, { 'content-type': type, 'content-length': Buffer.byteLength(body), 'cache-control': 'no-store', ...extra });
  res.end(body);
}

/** One HTTP request (exported for tests that inject the peer address). */
export async function handleHttp(req: IncomingMessage, res: ServerResponse, src: RpcSource, opts: HttpOptions, remote = req.socket.remoteAddress): Promise<void> {
  const denied = checkAccess(remote, opts.token, requestToken(req.headers));
  if (denied) {
    req.resume();
    send(res, denied.status, `${denied.reason}\n`, undefined, denied.status === 401 ? { 'www-authenticate': 'Bearer realm="ksr"' } : {});
    return;
  }
  const path = (req.url ?? '/').split('?')[0]!;
  if (path === '/metrics') {
    req.resume();
    if (!opts.metrics) return send(res, 404, 'metrics are off (modparam jsonrpcs metrics 0)\n');
    if (req.method !== 'GET' && req.method !== 'HEAD') return send(res, 405, 'use GET\n', undefined, { allow: 'GET, HEAD' });
    try {
      send(res, 200, await opts.metrics.text(), opts.metrics.contentType);
    } catch (err) {
      opts.logger.error({ err }, 'collecting metrics failed');
      send(res, 500, 'collecting metrics failed\n');
    }
    return;
  }
  if (!RPC_PATHS.has(path)) {
    req.resume();
    return send(res, 404, 'not found: use POST /RPC or GET /metrics\n');
  }
  if (req.method !== 'POST') {
    req.resume();
    return send(res, 405, 'use POST with a JSON-RPC 2.0 body\n', undefined, { allow: 'POST' });
  }
  const chunks: Buffer[] = [];
  let size = 0;
  let tooBig = false;
  for await (const chunk of req as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > MAX_REQUEST_BYTES) {
      tooBig = true;
      break;
    }
    chunks.push(chunk);
  }
  if (tooBig) {
    res.setHeader('connection', 'close');
    return send(res, 413, `request larger than ${MAX_REQUEST_BYTES} bytes\n`);
  }
  const out = await handleJsonRpc(Buffer.concat(chunks).toString('utf8'), src.dispatcher(), src.pretty);
  if (out === undefined) {
    res.writeHead(204);
    res.end();
    return;
  }
  send(res, 200, out, 'application/json');
}

export async function startHttp(src: RpcSource, opts: HttpOptions): Promise<HttpServer> {
  const server = createHttpServer((req, res) => {
    handleHttp(req, res, src, opts).catch((err: unknown) => {
      opts.logger.error({ err }, 'RPC over HTTP failed');
      if (!res.headersSent) send(res, 500, 'internal error\n');
      else res.destroy();
    });
  });
  server.requestTimeout = 30_000;
  server.headersTimeout = 10_000;
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port, opts.address, () => {
      server.off('error', reject);
      resolve();
    });
  });
  server.on('error', (err) => opts.logger.error({ err }, 'RPC HTTP listener error'));
  return server;
}

/** Remove a stale socket file; refuse when another process is serving on it. */
async function clearStaleSocket(path: string): Promise<void> {
  if (!existsSync(path)) return;
  if (!lstatSync(path).isSocket()) throw new Error(`${path} exists and is not a socket`);
  const alive = await new Promise<boolean>((resolve) => {
    const s = connect(path);
    s.once('connect', () => {
      s.destroy();
      resolve(true);
    });
    s.once('error', () => resolve(false));
  });
  if (alive) throw new Error(`${path} is in use by another running server`);
  unlinkSync(path);
}

function serveSocketClient(sock: Socket, src: RpcSource, logger: Logger): void {
  let buf = '';
  let queue = Promise.resolve();
  const answer = (text: string): void => {
    if (text.trim() === '') return;
    queue = queue
      .then(async () => {
        const out = await handleJsonRpc(text, src.dispatcher(), false);
        if (out !== undefined && !sock.destroyed) sock.write(`${out}\n`);
      })
      .catch((err: unknown) => logger.error({ err }, 'RPC over the Unix socket failed'));
  };
  sock.setEncoding('utf8');
  sock.on('data', (d: string) => {
    buf += d;
    if (buf.length > MAX_REQUEST_BYTES) {
      sock.end(`${JSON.stringify({ jsonrpc: '2.0', id: null, error: { code: -32600, message: 'request too large' } })}\n`);
      buf = '';
      return;
    }
    let nl: number;
    while ((nl = buf.indexOf('\n')) >= 0) {
      answer(buf.slice(0, nl));
      buf = buf.slice(nl + 1);
    }
  });
  sock.on('end', () => {
    answer(buf);
    buf = '';
    void queue.then(() => sock.end());
  });
  sock.on('error', (err) => logger.debug({ err }, 'RPC socket client error'));
}

const socketClients = new WeakMap<NetServer, Set<Socket>>();

/** Close a Unix socket listener and its open client connections. */
export function closeUnixSocket(server: NetServer): Promise<void> {
  const done = new Promise<void>((resolve) => server.close(() => resolve()));
  for (const c of socketClients.get(server) ?? []) c.destroy();
  return done;
}

export async function startUnixSocket(src: RpcSource, path: string, mode: number, logger: Logger): Promise<NetServer> {
  await clearStaleSocket(path);
  const clients = new Set<Socket>();
  const server = createNetServer({ allowHalfOpen: true }, (sock) => {
    clients.add(sock);
    sock.once('close', () => clients.delete(sock));
    serveSocketClient(sock, src, logger);
  });
  socketClients.set(server, clients);
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(path, () => {
      server.off('error', reject);
      resolve();
    });
  });
  chmodSync(path, mode);
  server.on('error', (err) => logger.error({ err }, 'RPC socket listener error'));
  return server;
}
