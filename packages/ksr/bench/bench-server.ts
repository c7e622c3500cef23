/**
 * An in-process ksr running the bench config (packages/ksr/bench/kamailio-bench.cfg, a copy of
 * ../shared/bench/kamailio/kamailio.cfg) with one of the bench route scripts
 * (packages/ksr/bench/routes/route.{lua,py,js}, copies of ../shared/bench/routes/), plus a UDP
 * "sink" port (a child process that binds and never reads, so replies and relayed requests cost
 * the server a real sendto() and then vanish without ICMP errors). Used by the route
 * micro-benchmark and the memory figures; no timing happens here.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { createSocket } from 'node:dgram';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  buildCoreRegistry,
  loadConfig,
  parseMessage,
  silentLogger,
  type FrozenKemiRegistry,
  type ReceiveInfo,
  type RouteContext,
  type SipRequest,
} from '@ksr/core';
import { builtinModules } from '@ksr/modules';
import { parseArgs } from '../src/args.js';
import { catalogue, startServer, type RunningServer } from '../src/main.js';

export const benchDir = dirname(fileURLToPath(import.meta.url));

export type BenchEngine = 'lua' | 'js' | 'python';

export const ENGINE_DEFINES: Record<BenchEngine, { define: string; file: string; label: string }> = {
  lua: { define: 'WITH_LUA', file: 'route.lua', label: 'Lua (fengari, app_lua)' },
  js: { define: 'WITH_JS', file: 'route.js', label: 'JavaScript (QuickJS, app_jsdt)' },
  python: { define: 'WITH_PY', file: 'route.py', label: 'Python (Pyodide, app_python3 class style)' },
};

/** A free UDP port on 127.0.0.1 (bound, read, closed). */
export async function freeUdpPort(): Promise<number> {
  const s = createSocket('udp4');
  await new Promise<void>((res) => s.bind(0, '127.0.0.1', () => res()));
  const port = s.address().port;
  await new Promise<void>((res) => s.close(() => res()));
  return port;
}

/** A process that binds 127.0.0.1:<port> over UDP and never reads: datagrams to it vanish. */
export async function startSink(): Promise<{ port: number; stop(): void }> {
  const port = await freeUdpPort();
  const child: ChildProcess = spawn(
    'python3',
    ['-c', `import socket,time,sys\ns=socket.socket(socket.AF_INET,socket.SOCK_DGRAM)\ns.setsockopt(socket.SOL_SOCKET,socket.SO_RCVBUF,4096)\ns.bind(("127.0.0.1",${port}))\nprint("ok",flush=True)\ntime.sleep(86400)`],
    { stdio: ['ignore', 'pipe', 'inherit'] },
  );
  await new Promise<void>((res, rej) => {
    child.once('error', rej);
    child.stdout!.once('data', () => res());
  });
  return { port, stop: () => void child.kill('SIGKILL') };
}

/** Notes about what had to be changed in the config to run (printed with the results). */
export const configNotes: string[] = [];

/**
 * The bench config for an in-process run: the copied kamailio.cfg, unchanged, except that a
 * `loadmodule` of a module this checkout does not have yet (tmx, auth while they are being built)
 * is left out with a note, so the micro-benchmark still runs.
 */
function benchCfgFile(): string {
  let text = readFileSync(join(benchDir, 'kamailio-bench.cfg'), 'utf8');
  const have = new Set(builtinModules.map((m) => m.name));
  for (const m of ['tmx', 'auth']) {
    if (!have.has(m) && text.includes(`loadmodule "${m}.so"`)) {
      text = text.replace(`loadmodule "${m}.so"`, `# (bench: ${m} not built yet) loadmodule "${m}.so"`);
      const note = `module ${m} is not in this checkout yet: its loadmodule line was left out for the in-process runs`;
      if (!configNotes.includes(note)) configNotes.push(note);
    }
  }
  const dir = mkdtempSync(join(tmpdir(), 'ksr-bench-cfg-'));
  const file = join(dir, 'kamailio.cfg');
  writeFileSync(file, text);
  return file;
}

export interface BenchServer {
  running: RunningServer;
  port: number;
  sink: { port: number; stop(): void };
  /** The frozen registry the route runs with (same export functions), for the plain TS route. */
  registry: FrozenKemiRegistry<RouteContext>;
  info: ReceiveInfo;
  stop(): Promise<void>;
}

export async function startBenchServer(engine: BenchEngine, opts: { auth?: boolean } = {}): Promise<BenchServer> {
  const sink = await startSink();
  const port = await freeUdpPort();
  const e = ENGINE_DEFINES[engine];
  const defines: Record<string, string | null> = {
    [e.define]: null,
    ROUTE_FILE: `"${join(benchDir, 'routes', e.file)}"`,
    BENCH_IP: '127.0.0.1',
    BENCH_PORT: String(port),
  };
  if (opts.auth) defines.WITH_AUTH = null;
  const file = benchCfgFile();
  const cfg = loadConfig(file, { defines, modules: catalogue() });
  const running = await startServer(parseArgs(['-f', file]), cfg, silentLogger);
  const reg = buildCoreRegistry();
  for (const [name, table] of running.modules.kemiTables()) reg.addModule(name, table);
  const udp = running.server.transport.sockets.find((s) => s.proto === 'udp')!;
  const info: ReceiveInfo = {
    proto: 'udp',
    local: udp.local,
    remote: { address: '127.0.0.1', port: sink.port, family: 4 },
    socketId: udp.id,
  };
  return {
    running,
    port,
    sink,
    registry: reg.freeze(),
    info,
    stop: async () => {
      await running.stop();
      sink.stop();
    },
  };
}

let seq = 0;

/** A REGISTER as sipp's register.xml sends it, for `user`, from the sink's address. */
export function registerText(user: string, proxyPort: number, fromPort: number): string {
  const n = ++seq;
  return [
    `REGISTER sip:127.0.0.1:${proxyPort} SIP/2.0`,
    `Via: SIP/2.0/UDP 127.0.0.1:${fromPort};branch=z9hG4bK-reg-${n}`,
    'Max-Forwards: 70',
    `From: <sip:${user}@127.0.0.1:${proxyPort}>;tag=${n}r`,
    `To: <sip:${user}@127.0.0.1:${proxyPort}>`,
    `Call-ID: reg-${n}@bench`,
    'CSeq: 1 REGISTER',
    `Contact: <sip:${user}@127.0.0.1:${fromPort};transport=udp>`,
    'Expires: 3600',
    'User-Agent: bench-sipp',
    'Content-Length: 0',
    '',
    '',
  ].join('\r\n');
}

const SDP = 'v=0\r\no=alice 4000 4000 IN IP4 127.0.0.1\r\ns=bench\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\nm=audio 40000 RTP/AVP 0\r\n';

/** An INVITE to bob as sipp's call_uac.xml sends it (fresh Call-ID and branch: a new transaction). */
export function inviteText(proxyPort: number, fromPort: number): string {
  const n = ++seq;
  return [
    `INVITE sip:bob@127.0.0.1:${proxyPort} SIP/2.0`,
    `Via: SIP/2.0/UDP 127.0.0.1:${fromPort};branch=z9hG4bK-inv-${n}`,
    'Max-Forwards: 70',
    `From: <sip:alice@127.0.0.1:${fromPort}>;tag=${n}c`,
    `To: <sip:bob@127.0.0.1:${proxyPort}>`,
    `Call-ID: inv-${n}@bench`,
    'CSeq: 1 INVITE',
    `Contact: <sip:alice@127.0.0.1:${fromPort};transport=udp>`,
    'User-Agent: bench-sipp',
    'Content-Type: application/sdp',
    `Content-Length: ${Buffer.byteLength(SDP)}`,
    '',
    SDP,
  ].join('\r\n');
}

/** An OPTIONS to the proxy itself (answered 200 statelessly by the route). */
export function optionsText(proxyPort: number, fromPort: number): string {
  const n = ++seq;
  return [
    `OPTIONS sip:127.0.0.1:${proxyPort} SIP/2.0`,
    `Via: SIP/2.0/UDP 127.0.0.1:${fromPort};branch=z9hG4bK-opt-${n}`,
    'Max-Forwards: 70',
    `From: <sip:sipp@127.0.0.1:${fromPort}>;tag=${n}o`,
    `To: <sip:127.0.0.1:${proxyPort}>`,
    `Call-ID: opt-${n}@bench`,
    'CSeq: 1 OPTIONS',
    'Content-Length: 0',
    '',
    '',
  ].join('\r\n');
}

export function parseReq(text: string): SipRequest {
  return parseMessage(Buffer.from(text)) as SipRequest;
}

/** Let pending sends, timers and I/O callbacks run. */
export function flush(): Promise<void> {
  return new Promise((res) => setImmediate(res));
}
