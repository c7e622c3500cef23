import dgram from 'node:dgram';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { TmApi } from '../../../modules/src/tm/index.js';
import type { RunningServer } from '../../src/main.js';
import { registerAll, sippUac, sippUas, startLuaProxy } from '../support/lua-proxy.js';
import { basePort, type Proc } from '../support/proc.js';

// tm end to end with sipp over 127.0.0.1 (fixtures/tm-fork.lua: registrar + stateful proxy).
// The sipp UASes are registered as users through the proxy; callers are sipp UACs:
//   - nobody answers in time: 408 after the fr / fr_inv timers, the ringing callee gets a CANCEL,
//     the caller's ACK of the 408 is absorbed hop by hop;
//   - CANCEL while ringing: 200 + 487 upstream, CANCEL + ACK of the 487 downstream;
//   - parallel fork to two contacts of one AOR: one answers, the other is CANCELled with
//     Reason cause=200;
//   - 10 % packet loss on both sides for 20 calls (sipp -lost 10; the callee's 180 is never lost, see
//     tm-uas-answer.xml): retransmissions are absorbed, no call fails on either side.

const ksrPort = basePort(184);
const uacPort = basePort(185);
const uasA = basePort(186);
const uasB = basePort(187);
const deadPort = basePort(188);
const regPort = basePort(189);
const dir = mkdtempSync(join(tmpdir(), 'ksr-tm-fork-'));
let running: RunningServer;

beforeAll(async () => {
  running = await startLuaProxy({ port: ksrPort, fixture: 'tm-fork.lua' });
  // the sipp UASes are registered users of the proxy
  await registerAll(ksrPort, regPort, [
    ['slow', uasA],
    ['dead', deadPort],
    ['ringing', uasA],
    ['fork', uasA],
    ['fork', uasB],
    ['lossy', uasB],
  ]);
});

afterAll(async () => {
  await running?.stop();
});

const num = (name: string): number => Number(running.routing!.services.vars.get(name) ?? 0);
const tmStats = () => running.modules.api<TmApi>('tm')!.stats()!;

/** The UAS's exit code; after `ms` it is asked to stop (SIGUSR1: sipp quits and prints its statistics), 3 s later killed. */
async function ended(p: Proc, ms = 10_000): Promise<number | string> {
  const t = setTimeout(() => p.kill('SIGUSR1'), ms);
  const k = setTimeout(() => p.kill('SIGKILL'), ms + 3_000);
  const code = await p.exited;
  clearTimeout(t);
  clearTimeout(k);
  return code;
}

const successful = (_out: string, n: number): RegExp => new RegExp(`Successful call\\s+\\|\\s+\\d+\\s+\\|\\s+${n}\\b`);
const noFailure = /Failed call\s+\|\s+\d+\s+\|\s+0\b/;

describe('tm end to end: timeouts, CANCEL, parallel forking, packet loss (sipp)', () => {
  it('a callee that only rings: 408 after fr_inv_timer, the callee gets a CANCEL, the 408 ACK is absorbed', async () => {
    const acks = num('acks');
    const failures = num('failures');
    const callee = sippUas('tm-uas-cancel.xml', uasA, 1);
    await new Promise((r) => setTimeout(r, 200));
    const started = Date.now();
    const caller = await sippUac('tm-uac-408.xml', ksrPort, uacPort, 'slow', 1);
    expect(caller.output, caller.output).toMatch(successful(caller.output, 1));
    expect(caller.code).toBe(0);
    expect(Date.now() - started).toBeGreaterThanOrEqual(900);
    expect(await ended(callee), callee.output()).toBe(0);
    expect(num('acks') - acks).toBe(0); // the ACK of the 408 never reached the script
    expect(num('failures') - failures).toBe(1);
  });

  it('a callee that never answers: 408 after fr_timer, no CANCEL sent', async () => {
    const acks = num('acks');
    const sink = dgram.createSocket('udp4');
    const got: string[] = [];
    sink.on('message', (m) => got.push(m.toString('latin1').split('\r\n')[0]!));
    await new Promise<void>((r) => sink.bind(deadPort, '127.0.0.1', () => r()));
    try {
      const caller = await sippUac('tm-uac-408.xml', ksrPort, uacPort, 'dead', 1);
      expect(caller.output).toMatch(successful(caller.output, 1));
      expect(caller.code).toBe(0);
    } finally {
      sink.close();
    }
    expect(got.length).toBeGreaterThanOrEqual(2); // the INVITE and its retransmissions
    expect(got.every((l) => l.startsWith('INVITE '))).toBe(true);
    expect(num('acks') - acks).toBe(0);
  });

  it('CANCEL while ringing: 200 + 487 to the caller, CANCEL + ACK of the 487 to the callee', async () => {
    const cancels = num('cancels');
    const callee = sippUas('tm-uas-cancel.xml', uasA, 3);
    await new Promise((r) => setTimeout(r, 200));
    const caller = await sippUac('tm-uac-cancel.xml', ksrPort, uacPort, 'ringing', 3);
    expect(caller.output).toMatch(successful(caller.output, 3));
    expect(caller.code).toBe(0);
    expect(await ended(callee), callee.output()).toBe(0);
    expect(num('cancels') - cancels).toBe(3);
  });

  it('parallel fork: one contact answers, the other is CANCELled (Reason cause=200) and answers 487', async () => {
    const failures = num('failures');
    const a = sippUas('registrar-uas.xml', uasA, 3);
    const b = sippUas('tm-uas-cancel-reason.xml', uasB, 3);
    await new Promise((r) => setTimeout(r, 200));
    const caller = await sippUac('registrar-call.xml', ksrPort, uacPort, 'fork', 3);
    expect(caller.output).toMatch(successful(caller.output, 3));
    expect(caller.code).toBe(0);
    expect(await ended(a), a.output()).toBe(0);
    expect(await ended(b), b.output()).toBe(0);
    expect(num('failures') - failures).toBe(0);
  });

  it('10 % packet loss at both ends, 20 calls: retransmissions absorbed, no failed call', async () => {
    const callee = sippUas('tm-uas-answer.xml', uasB, 20, ['-lost', '10', '-trace_err', '-error_file', join(dir, 'uas-err.log'), '-trace_msg', '-message_file', join(dir, 'uas-msg.log')]);
    await new Promise((r) => setTimeout(r, 200));
    const caller = await sippUac('tm-uac-call.xml', ksrPort, uacPort, 'lossy', 20, ['-lost', '10', '-l', '20', '-trace_err', '-error_file', join(dir, 'uac-err.log')]);
    expect(caller.output).toMatch(successful(caller.output, 20));
    expect(caller.output).toMatch(noFailure);
    expect(caller.code).toBe(0);
    // the callee ends on its own once its last call's linger (3 s) is over; a sipp that still waits
    // is stopped with SIGUSR1 (its statistics then say whether a call failed)
    await ended(callee, 6_000);
    expect(callee.output(), `${callee.output()}\nmessages: ${join(dir, 'uas-msg.log')}`).toMatch(noFailure);
    expect(callee.output()).toMatch(successful('', 20));
    const s = tmStats();
    expect(s.rpl_received).toBeGreaterThan(0);
  });
});
