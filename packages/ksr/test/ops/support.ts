import dgram from 'node:dgram';
import { connect } from 'node:net';
import { createLogger, type Logger } from '@ksr/core';

/** A JSON-RPC call over HTTP: the whole reply object. */
export async function rpcHttp(port: number, method: string, params: unknown[] = [], headers: Record<string, string> = {}): Promise<{ result?: unknown; error?: { code: number; message: string } }> {
  const res = await fetch(`http://127.0.0.1:${port}/RPC`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...headers },
    body: JSON.stringify({ jsonrpc: '2.0', method, params, id: 1 }),
  });
  return (await res.json()) as { result?: unknown; error?: { code: number; message: string } };
}

/** Raw text over HTTP POST /RPC (malformed bodies). */
export async function rawHttp(port: number, body: string): Promise<unknown> {
  const res = await fetch(`http://127.0.0.1:${port}/RPC`, { method: 'POST', headers: { 'content-type': 'application/json' }, body });
  return res.json();
}

/** One line over the Unix socket, one reply line back. */
export function rawSocket(path: string, line: string): Promise<unknown> {
  return new Promise((resolve, reject) => {
    const s = connect(path);
    let buf = '';
    s.setEncoding('utf8');
    s.on('connect', () => s.write(`${line}\n`));
    s.on('data', (d: string) => {
      buf += d;
      const nl = buf.indexOf('\n');
      if (nl >= 0) {
        s.destroy();
        resolve(JSON.parse(buf.slice(0, nl)));
      }
    });
    s.on('error', reject);
  });
}

export function rpcSocket(path: string, method: string, params: unknown[] = []): Promise<{ result?: unknown; error?: { code: number; message: string } }> {
  return rawSocket(path, JSON.stringify({ jsonrpc: '2.0', method, params, id: 1 })) as Promise<{ result?: unknown; error?: { code: number; message: string } }>;
}

/** Send one SIP request over UDP and wait for the first final reply's status line. */
export function sipProbe(port: number, method = 'OPTIONS', extra = ''): Promise<string> {
  return new Promise((resolve, reject) => {
    const sock = dgram.createSocket('udp4');
    const callId = `probe-${Math.random().toString(36).slice(2)}`;
    const timer = setTimeout(() => {
      sock.close();
      reject(new Error(`no reply to ${method}`));
    }, 5000);
    sock.on('message', (m) => {
      const line = m.toString('utf8').split('\r\n')[0]!;
      if (/^SIP\/2\.0 1\d\d/.test(line)) return;
      clearTimeout(timer);
      sock.close();
      resolve(line);
    });
    sock.bind(0, '127.0.0.1', () => {
      const lp = (sock.address() as { port: number }).port;
      const msg =
        `${method} sip:127.0.0.1:${port} SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:${lp};branch=z9hG4bK${callId};rport\r\n` +
        `From: <sip:probe@127.0.0.1>;tag=${callId}\r\nTo: <sip:127.0.0.1:${port}>\r\nCall-ID: ${callId}\r\nCSeq: 1 ${method}\r\n` +
        `Max-Forwards: 70\r\n${extra}Content-Length: 0\r\n\r\n`;
      sock.send(msg, port, '127.0.0.1');
    });
  });
}

/** Send raw bytes over UDP (no reply expected). */
export function udpSend(port: number, data: string): Promise<void> {
  return new Promise((resolve) => {
    const sock = dgram.createSocket('udp4');
    sock.send(data, port, '127.0.0.1', () => {
      sock.close();
      resolve();
    });
  });
}

/** A logger that keeps every line (JSON) in memory. */
export function memoryLogger(level: 'info' | 'debug' = 'info'): { logger: Logger; lines: Array<{ level: number; msg: string; mod?: string }> } {
  const lines: Array<{ level: number; msg: string; mod?: string }> = [];
  const logger = createLogger({
    level,
    destination: {
      write(s: string): void {
        for (const part of s.split('\n')) if (part.trim()) lines.push(JSON.parse(part) as { level: number; msg: string });
      },
    },
  });
  return { logger, lines };
}
