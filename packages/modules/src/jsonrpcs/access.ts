/**
 * Who may use the HTTP endpoint. Without a token the listener must be a loopback address and
 * only loopback peers are served; with a token every request must carry it
 * (`Authorization: Bearer <token>` or `X-Ksr-Token: <token>`), whatever its source.
 */
import { timingSafeEqual } from 'node:crypto';
import { isIP } from 'node:net';

export function isLoopback(address: string): boolean {
  let a = address.trim().toLowerCase();
  if (a.startsWith('[') && a.endsWith(']')) a = a.slice(1, -1);
  if (a.startsWith('::ffff:')) a = a.slice(7);
  if (a === '::1' || a === 'localhost') return true;
  return isIP(a) === 4 && a.startsWith('127.');
}

/** Parse "addr:port" / "[v6]:port" for http_listen; throws with a message on a mistake. */
export function parseHttpListen(text: string): { address: string; port: number } {
  const t = text.trim();
  const m = /^\[([^\]]+)\]:(\d+)$/.exec(t) ?? /^([^:]+):(\d+)$/.exec(t);
  if (!m) throw new Error(`http_listen "${text}" must be address:port (e.g. 127.0.0.1:5080)`);
  let address = m[1]!;
  if (address === 'localhost') address = '127.0.0.1';
  if (address === '*') address = '0.0.0.0';
  const port = Number(m[2]);
  if (!isIP(address)) throw new Error(`http_listen "${text}": "${m[1]}" is not an IP address`);
  if (!Number.isInteger(port) || port < 0 || port > 65535) throw new Error(`http_listen "${text}": bad port`);
  return { address, port };
}

/** The startup check: a non-loopback listener needs a token. Returns the error text, or undefined. */
export function listenerProblem(address: string, token: string): string | undefined {
  if (isLoopback(address) || token !== '') return undefined;
  return `http_listen on ${address} is not a loopback address: set modparam("jsonrpcs", "token", "…") to allow it`;
}

function sameSecret(a: string, b: string): boolean {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
}

/** The token a request carries, if any. */
export function requestToken(headers: Record<string, string | string[] | undefined>): string | undefined {
  const auth = headers.authorization;
  if (typeof auth === 'string') {
    const m = /^Bearer\s+(\S+)\s*$/i.exec(auth);
    if (m) return m[1];
  }
  const t = headers['x-ksr-token'];
  return typeof t === 'string' ? t.trim() : undefined;
}

/** Decide one request: undefined = allowed, else the HTTP status and reason to answer. */
export function checkAccess(remoteAddress: string | undefined, token: string, presented: string | undefined): { status: number; reason: string } | undefined {
  if (token !== '') {
    if (presented === undefined) return { status: 401, reason: 'token required' };
    return sameSecret(presented, token) ? undefined : { status: 403, reason: 'bad token' };
  }
  if (!remoteAddress || !isLoopback(remoteAddress)) return { status: 403, reason: 'only loopback clients are served without a token' };
  return undefined;
}
