/**
 * `ksr ctl <method> [params…]`: a kamcmd-like client for the jsonrpcs module, over its Unix socket
 * (default) or HTTP (`--url`). Params are typed as kamcmd does: a number is an integer, anything
 * else a string; `s:` forces a string, `i:` an integer, `d:` a number, `b:` a boolean, `j:` raw JSON.
 * Exit codes: 0 success, 1 the command failed (RPC error), 2 usage or transport error.
 */
import { connect } from 'node:net';

/** The jsonrpcs module's default socket path (kept equal to its DEFAULT_RPC_SOCKET; a test checks). */
export const DEFAULT_RPC_SOCKET = '/tmp/ksr_rpc.sock';

export const CTL_USAGE = `Usage: ksr ctl [options] <method> [params…]

  -s, --socket PATH  the jsonrpcs Unix socket (default $KSR_RPC_SOCKET or ${DEFAULT_RPC_SOCKET})
  -u, --url URL      use HTTP instead, e.g. http://127.0.0.1:5080/RPC
  -t, --token TOKEN  token for the HTTP endpoint (default $KSR_RPC_TOKEN)
  -j, --json         print the raw JSON result
  -T, --timeout MS   give up after MS milliseconds (default 10000)
  -h, --help         this help

Params: 12 is an integer, abc a string; s:12 forces a string, i:12 an integer,
d:1.5 a number, b:true a boolean, j:[1,2] raw JSON.
Examples: ksr ctl core.uptime · ksr ctl stats.get_statistics core: · ksr ctl htable.sets t k s:10
Exit codes: 0 ok, 1 the command answered an error, 2 usage or connection error.`;

interface Io {
  stdout: (s: string) => void;
  stderr: (s: string) => void;
}

export interface CtlOptions {
  socket: string;
  url: string | undefined;
  token: string | undefined;
  json: boolean;
  timeoutMs: number;
  method: string;
  params: unknown[];
  help: boolean;
}

class UsageError extends Error {}

/** kamcmd-style typing of one command-line param. */
export function typeParam(arg: string): unknown {
  const m = /^([sidbj]):([\s\S]*)$/.exec(arg);
  if (m) {
    const [, t, v] = m as unknown as [string, string, string];
    switch (t) {
      case 's':
        return v;
      case 'i':
        if (!/^[+-]?\d+$/.test(v.trim())) throw new UsageError(`${arg}: not an integer`);
        return Number(v);
      case 'd':
        if (v.trim() === '' || !Number.isFinite(Number(v))) throw new UsageError(`${arg}: not a number`);
        return Number(v);
      case 'b':
        if (!/^(true|false|1|0|yes|no)$/i.test(v)) throw new UsageError(`${arg}: not a boolean`);
        return /^(true|1|yes)$/i.test(v);
      default:
        try {
          return JSON.parse(v) as unknown;
        } catch {
          throw new UsageError(`${arg}: not valid JSON`);
        }
    }
  }
  return /^[+-]?\d+$/.test(arg) && Number.isSafeInteger(Number(arg)) ? Number(arg) : arg;
}

export function parseCtlArgs(argv: readonly string[], env: NodeJS.ProcessEnv = process.env): CtlOptions {
  const o: CtlOptions = {
    socket: env.KSR_RPC_SOCKET || DEFAULT_RPC_SOCKET,
    url: undefined,
    token: env.KSR_RPC_TOKEN || undefined,
    json: false,
    timeoutMs: 10_000,
    method: '',
    params: [],
    help: false,
  };
  let i = 0;
  const value = (flag: string): string => {
    const v = argv[++i];
    if (v === undefined) throw new UsageError(`${flag} needs a value`);
    return v;
  };
  for (; i < argv.length; i++) {
    const a = argv[i]!;
    if (a === '--') {
      i++;
      break;
    }
    if (!a.startsWith('-') || /^-\d/.test(a)) break;
    switch (a) {
      case '-s':
      case '--socket':
        o.socket = value(a);
        break;
      case '-u':
      case '--url':
        o.url = value(a);
        break;
      case '-t':
      case '--token':
        o.token = value(a);
        break;
      case '-j':
      case '--json':
        o.json = true;
        break;
      case '-T':
      case '--timeout': {
        const n = Number(value(a));
        if (!Number.isInteger(n) || n <= 0) throw new UsageError(`${a} needs a positive number of milliseconds`);
        o.timeoutMs = n;
        break;
      }
      case '-h':
      case '--help':
        o.help = true;
        break;
      default:
        throw new UsageError(`unknown option ${a}`);
    }
  }
  if (o.help) return o;
  const method = argv[i];
  if (method === undefined) throw new UsageError('missing the method name (e.g. core.uptime; system.listMethods lists them)');
  o.method = method;
  o.params = argv.slice(i + 1).map(typeParam);
  return o;
}

/** A transport failure (exit code 2). */
export class TransportError extends Error {}

function viaSocket(path: string, body: string, timeoutMs: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const sock = connect(path);
    let buf = '';
    let done = false;
    const finish = (err: Error | undefined, text?: string): void => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      sock.destroy();
      if (err) reject(err);
      else resolve(text!);
    };
    const timer = setTimeout(() => finish(new TransportError(`no answer from ${path} within ${timeoutMs} ms`)), timeoutMs);
    sock.setEncoding('utf8');
    sock.on('connect', () => sock.write(`${body}\n`));
    sock.on('data', (d: string) => {
      buf += d;
      const nl = buf.indexOf('\n');
      if (nl >= 0) finish(undefined, buf.slice(0, nl));
    });
    sock.on('end', () => (buf.trim() !== '' ? finish(undefined, buf) : finish(new TransportError(`${path} closed the connection without an answer`))));
    sock.on('error', (err: NodeJS.ErrnoException) => {
      const hint = err.code === 'ENOENT' || err.code === 'ECONNREFUSED' ? ' (is ksr running with loadmodule "jsonrpcs.so"?)' : '';
      finish(new TransportError(`cannot connect to ${path}: ${err.message}${hint}`));
    });
  });
}

async function viaHttp(url: string, token: string | undefined, body: string, timeoutMs: number): Promise<string> {
  let res: Response;
  try {
    res = await fetch(url, {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...(token ? { authorization: `Bearer ${token}` } : {}) },
      body,
      signal: AbortSignal.timeout(timeoutMs),
    });
  } catch (err) {
    const e = err as Error & { cause?: Error };
    throw new TransportError(`cannot reach ${url}: ${e.cause?.message ?? e.message}`);
  }
  const text = await res.text();
  if (res.status !== 200) throw new TransportError(`${url}: HTTP ${res.status} ${text.trim()}`);
  return text;
}

function scalar(v: unknown): string {
  if (v === null || v === undefined) return '';
  if (typeof v === 'string') return v.replace(/\n$/, '');
  return String(v);
}

/** YAML-like text of a result, the way kamcmd lays out structures. */
export function formatResult(v: unknown, indent = ''): string {
  if (v === null || v === undefined) return '';
  if (typeof v !== 'object') return `${indent}${scalar(v)}\n`;
  if (Array.isArray(v)) {
    let out = '';
    for (const x of v) {
      if (x !== null && typeof x === 'object') {
        const inner = formatResult(x, `${indent}  `);
        out += `${indent}-${inner.slice(indent.length + 1)}`;
      } else out += `${indent}${scalar(x)}\n`;
    }
    return out;
  }
  let out = '';
  for (const [k, x] of Object.entries(v as Record<string, unknown>)) {
    if (x !== null && typeof x === 'object' && (Array.isArray(x) ? x.length > 0 : Object.keys(x).length > 0)) out += `${indent}${k}:\n${formatResult(x, `${indent}  `)}`;
    else if (x !== null && typeof x === 'object') out += `${indent}${k}: ${Array.isArray(x) ? '[]' : '{}'}\n`;
    else out += `${indent}${k}: ${scalar(x)}\n`;
  }
  return out;
}

export async function runCtl(argv: readonly string[], io: Io): Promise<number> {
  let o: CtlOptions;
  try {
    o = parseCtlArgs(argv);
  } catch (err) {
    if (err instanceof UsageError) {
      io.stderr(`ksr ctl: ${err.message}\n\n${CTL_USAGE}\n`);
      return 2;
    }
    throw err;
  }
  if (o.help) {
    io.stdout(`${CTL_USAGE}\n`);
    return 0;
  }
  const body = JSON.stringify({ jsonrpc: '2.0', method: o.method, params: o.params, id: 1 });
  let text: string;
  try {
    text = o.url ? await viaHttp(o.url, o.token, body, o.timeoutMs) : await viaSocket(o.socket, body, o.timeoutMs);
  } catch (err) {
    io.stderr(`ksr ctl: ${(err as Error).message}\n`);
    return 2;
  }
  let reply: { result?: unknown; error?: { code?: unknown; message?: unknown } };
  try {
    reply = JSON.parse(text) as typeof reply;
  } catch {
    io.stderr(`ksr ctl: the server sent something that is not JSON: ${text.slice(0, 200)}\n`);
    return 2;
  }
  if (reply.error) {
    io.stderr(`error: ${String(reply.error.code)} - ${String(reply.error.message)}\n`);
    return 1;
  }
  io.stdout(o.json ? `${JSON.stringify(reply.result ?? null, null, 2)}\n` : formatResult(reply.result));
  return 0;
}
