/**
 * Runs inside a loopback-only network namespace (see netns.ts). Starts the ksr server in this
 * process exactly as the CLI does, throws mutated SIP messages at it over UDP and TCP, then checks
 * that it still answers a valid OPTIONS on both transports and that its heap did not grow beyond
 * noise. Prints one line `RESULT {json}`; exits 0 when the run itself worked (the test asserts).
 */
import { createSocket } from 'node:dgram';
import { connect, type Socket } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import { loadConfig, silentLogger } from '@ksr/core';
import { parseArgs } from '../../src/args.js';
import { catalogue, startServer } from '../../src/main.js';
import { mutate, rng, seedMessages } from './mutate.js';

const PORT = 5060;
const UDP_COUNT = Number(process.env.KSR_FUZZ_UDP ?? 6000);
const TCP_COUNT = Number(process.env.KSR_FUZZ_TCP ?? 4000);
const SEED = Number(process.env.KSR_FUZZ_SEED ?? 20261122);
let totalUdpSent = 0;
const gc = (globalThis as { gc?: () => void }).gc;

function heapAfterGc(): number {
  if (gc) {
    gc();
    gc();
  }
  return process.memoryUsage().heapUsed;
}

const OPTIONS = (branch: string, transport: string, lport: number): Buffer =>
  Buffer.from(
    [
      `OPTIONS sip:127.0.0.1:${PORT} SIP/2.0`,
      `Via: SIP/2.0/${transport} 127.0.0.1:${lport};branch=z9hG4bK${branch};rport`,
      'From: <sip:probe@127.0.0.1>;tag=probe1',
      `To: <sip:127.0.0.1:${PORT}>`,
      `Call-ID: probe-${branch}`,
      'CSeq: 1 OPTIONS',
      'Max-Forwards: 70',
      'Content-Length: 0',
      '',
      '',
    ].join('\r\n'),
  );

/**
 * The server runs in this process, so the sender can wait for it to catch up instead of
 * overrunning the kernel's socket buffer: every datagram sent should be received.
 */
async function udpPhase(
  count: number,
  rand: () => number,
  seeds: Buffer[],
  received: () => number,
): Promise<{ sent: number; replies: number }> {
  const sock = createSocket('udp4');
  let replies = 0;
  sock.on('message', () => replies++);
  await new Promise<void>((res) => sock.bind(0, '127.0.0.1', () => res()));
  let sent = 0;
  while (sent < count) {
    const msg = mutate(seeds[Math.floor(rand() * seeds.length)]!, rand);
    if (msg.length === 0 || msg.length > 65000) continue; // not a datagram we can send
    await new Promise<void>((res) => sock.send(msg, PORT, '127.0.0.1', () => res()));
    sent++;
    totalUdpSent++;
    if (sent % 50 === 0) {
      for (let spins = 0; received() < totalUdpSent - 100 && spins < 500; spins++) await sleep(1);
    }
  }
  for (let spins = 0; received() < totalUdpSent && spins < 1000; spins++) await sleep(1);
  sock.close();
  return { sent, replies };
}

async function tcpPhase(count: number, rand: () => number, seeds: Buffer[]): Promise<{ sent: number; connections: number; closedByServer: number }> {
  let sent = 0;
  let connections = 0;
  let closedByServer = 0;
  while (sent < count) {
    const sock: Socket = connect(PORT, '127.0.0.1');
    connections++;
    sock.on('data', () => {});
    let closed = false;
    sock.on('error', () => {});
    sock.on('close', () => (closed = true));
    await new Promise<void>((res) => {
      sock.once('connect', () => res());
      sock.once('error', () => res());
    });
    // a handful of messages per connection, written in random slices (split and coalesced)
    const batch = 1 + Math.floor(rand() * 8);
    for (let j = 0; j < batch && sent < count && !closed; j++) {
      const msg = mutate(seeds[Math.floor(rand() * seeds.length)]!, rand);
      let off = 0;
      while (off < msg.length && !closed) {
        const n = rand() < 0.5 ? msg.length - off : 1 + Math.floor(rand() * (msg.length - off));
        sock.write(msg.subarray(off, off + n));
        off += n;
        if (rand() < 0.1) await sleep(0);
      }
      sent++;
    }
    await sleep(rand() < 0.05 ? 20 : 1);
    if (closed) closedByServer++;
    sock.destroy();
  }
  await sleep(200);
  return { sent, connections, closedByServer };
}

async function probeUdp(): Promise<string> {
  const sock = createSocket('udp4');
  await new Promise<void>((res) => sock.bind(0, '127.0.0.1', () => res()));
  const lport = sock.address().port;
  const reply = new Promise<string>((res) => sock.once('message', (m) => res(m.toString('latin1').split('\r\n')[0]!)));
  sock.send(OPTIONS('udpprobe', 'UDP', lport), PORT, '127.0.0.1');
  const first = await Promise.race([reply, sleep(3000).then(() => 'timeout')]);
  sock.close();
  return first;
}

async function probeTcp(): Promise<string> {
  const sock = connect(PORT, '127.0.0.1');
  sock.on('error', () => {});
  await new Promise<void>((res) => sock.once('connect', () => res()));
  const reply = new Promise<string>((res) => sock.once('data', (m) => res(m.toString('latin1').split('\r\n')[0]!)));
  sock.write(OPTIONS('tcpprobe', 'TCP', sock.localPort ?? 0));
  const first = await Promise.race([reply, sleep(3000).then(() => 'timeout')]);
  sock.destroy();
  return first;
}

async function main(): Promise<void> {
  const cli = parseArgs(['-f', 'examples/basic/ksr.cfg', '-l', `udp:127.0.0.1:${PORT}`, '-l', `tcp:127.0.0.1:${PORT}`]);
  const cfg = loadConfig(cli.configFile, { defines: cli.defines, modules: catalogue() });
  const running = await startServer(cli, cfg, silentLogger);
  const rand = rng(SEED);
  const seeds = seedMessages();

  // warm-up: the first slice of both phases, so lazily created structures exist before we measure
  const received = (): number => running.server.transport.stats.udpReceived + running.server.transport.stats.droppedOversize;
  await udpPhase(Math.min(1000, UDP_COUNT), rand, seeds, received);
  await tcpPhase(Math.min(500, TCP_COUNT), rand, seeds);
  const heapBefore = heapAfterGc();
  const udp = await udpPhase(UDP_COUNT, rand, seeds, received);
  const tcp = await tcpPhase(TCP_COUNT, rand, seeds);
  const heapAfter = heapAfterGc();
  const udpProbe = await probeUdp();
  const tcpProbe = await probeTcp();
  const stats = { ...running.server.stats, transport: running.server.transport.stats };
  await running.stop();
  process.stdout.write(
    `RESULT ${JSON.stringify({ seed: SEED, totalUdpSent, udp, tcp, udpProbe, tcpProbe, heapBefore, heapAfter, gc: Boolean(gc), stats })}\n`,
  );
}

main().then(
  () => process.exit(0),
  (err: unknown) => {
    process.stderr.write(`driver failed: ${(err as Error).stack ?? String(err)}\n`);
    process.exit(3);
  },
);
