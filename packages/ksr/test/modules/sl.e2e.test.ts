import dgram from 'node:dgram';
import { resolve } from 'node:path';
import { createLogger, parseMessage, type SipResponse } from '@ksr/core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { kexModule } from '../../../modules/src/kex/index.js';
import { maxfwdModule } from '../../../modules/src/maxfwd/index.js';
import { sanityModule } from '../../../modules/src/sanity/index.js';
import { slModule } from '../../../modules/src/sl/index.js';
import { xlogModule } from '../../../modules/src/xlog/index.js';
import type { RunningServer } from '../../src/main.js';
import { startInProcess } from '../support/inprocess.js';
import { basePort, repoRoot, run, sippArgs } from '../support/proc.js';

// sl, maxfwd, sanity (and xlog, kex) behind a Lua script (fixtures/sl-options.lua): sipp OPTIONS
// over UDP and TCP get sl's 200 with its To-tag; raw UDP requests check 483 for Max-Forwards: 0,
// the same To-tag for a retransmission, and sanity's own replies.

const ksrPort = basePort(100);
const uacUdpPort = basePort(101);
const uacTcpPort = basePort(102);
let running: RunningServer;
/** The server's log lines (JSON), to see the script's xlog output. */
const logLines: string[] = [];

beforeAll(async () => {
  running = await startInProcess({
    cfg: [
      `listen=udp:127.0.0.1:${ksrPort}`,
      `listen=tcp:127.0.0.1:${ksrPort}`,
      'loadmodule "kex.so"',
      'loadmodule "sl.so"',
      'loadmodule "maxfwd.so"',
      'loadmodule "sanity.so"',
      'loadmodule "xlog.so"',
      'loadmodule "app_lua.so"',
      `modparam("app_lua", "load", "${resolve(repoRoot, 'packages/ksr/test/fixtures/sl-options.lua')}")`,
      'cfgengine "lua"',
    ],
    modules: [kexModule, slModule, maxfwdModule, sanityModule, xlogModule],
    logger: createLogger({ level: 'info', destination: { write: (line: string) => void logLines.push(line) } }),
  });
});

afterAll(async () => {
  await running?.stop();
});

function slStats(): Record<string, number> {
  return running.modules.stats.snapshot('sl');
}

function vars(): Map<string, unknown> {
  return running.routing!.services.vars;
}

/** Send datagrams from one socket and collect the replies until `count` arrived (or 3 s passed). */
async function exchange(requests: Array<Buffer | string>, count: number): Promise<SipResponse[]> {
  const sock = dgram.createSocket('udp4');
  const got: SipResponse[] = [];
  sock.on('message', (m) => got.push(parseMessage(m) as SipResponse));
  await new Promise<void>((r) => sock.bind(0, '127.0.0.1', () => r()));
  const port = sock.address().port;
  for (const req of requests) {
    sock.send(Buffer.from((typeof req === 'string' ? req : req.toString('latin1')).replaceAll('@PORT@', String(port)), 'latin1'), ksrPort, '127.0.0.1');
    await new Promise((r) => setTimeout(r, 20));
  }
  for (let i = 0; i < 150 && got.length < count; i++) await new Promise((r) => setTimeout(r, 20));
  await new Promise((r) => setTimeout(r, 100));
  sock.close();
  return got;
}

function options(opts: { callId: string; maxFwd?: number; cseq?: string; extra?: string[]; branch?: string }): Buffer {
  return Buffer.from(
    [
      `OPTIONS sip:127.0.0.1:${ksrPort} SIP/2.0`,
      `Via: SIP/2.0/UDP 127.0.0.1:@PORT@;branch=${opts.branch ?? `z9hG4bK-${opts.callId}`};rport`,
      `Max-Forwards: ${opts.maxFwd ?? 70}`,
      'From: <sip:probe@127.0.0.1>;tag=e2e',
      `To: <sip:127.0.0.1:${ksrPort}>`,
      `Call-ID: ${opts.callId}`,
      `CSeq: ${opts.cseq ?? '1 OPTIONS'}`,
      ...(opts.extra ?? []),
      'Content-Length: 0',
      '',
      '',
    ].join('\r\n'),
  );
}

describe('sl, maxfwd and sanity from a Lua script', () => {
  it('answers sipp OPTIONS over UDP with 200 and an sl To-tag', async () => {
    const before = slStats()['sl:200_replies'] ?? 0;
    const r = await run('sipp', sippArgs('sl-options.xml', `127.0.0.1:${ksrPort}`, uacUdpPort, ['-m', '3', '-r', '20']), 30_000);
    expect(r.output).toMatch(/Successful call\s+\|\s+\d+\s+\|\s+3\b/);
    expect(r.code).toBe(0);
    expect((slStats()['sl:200_replies'] ?? 0) - before).toBe(3);
  });

  it('answers sipp OPTIONS over TCP with 200 and an sl To-tag', async () => {
    const before = slStats()['sl:200_replies'] ?? 0;
    const r = await run('sipp', sippArgs('sl-options.xml', `127.0.0.1:${ksrPort}`, uacTcpPort, ['-t', 't1', '-m', '3', '-r', '20']), 30_000);
    expect(r.output).toMatch(/Successful call\s+\|\s+\d+\s+\|\s+3\b/);
    expect(r.code).toBe(0);
    expect((slStats()['sl:200_replies'] ?? 0) - before).toBe(3);
  });

  it('answers Max-Forwards: 0 with 483, the same To-tag for a retransmission', async () => {
    const req = options({ callId: 'mf0-e2e', maxFwd: 0 });
    const got = await exchange([req, req], 2);
    expect(got.map((r) => `${r.status} ${r.reason}`)).toEqual(['483 Too Many Hops', '483 Too Many Hops']);
    expect(got[0]!.to.tag).toMatch(/^[0-9a-f]{8}-[0-9a-f]{16}$/);
    expect(got[1]!.to.tag).toBe(got[0]!.to.tag);
    expect(slStats()['sl:483_replies']).toBe(2);
    // a new request gets another tag
    const other = await exchange([options({ callId: 'mf0-e2e-2', maxFwd: 0 })], 1);
    expect(other[0]!.to.tag).not.toBe(got[0]!.to.tag);
  });

  it("answers requests that fail sanity with sanity's reply", async () => {
    const malformedBefore = Number(vars().get('malformed') ?? 0);
    const got = await exchange(
      [
        options({ callId: 'sanity-cseq-e2e', cseq: '1 INVITE' }),
        options({ callId: 'sanity-from-e2e' }).toString('latin1').replace('From: <sip:probe@127.0.0.1>', 'From: <mailto:probe@127.0.0.1>'),
        options({ callId: 'sanity-expires-e2e', extra: ['Expires: tomorrow'] }),
      ],
      3,
    );
    const byCall = new Map(got.map((r) => [r.callId, r]));
    expect(byCall.get('sanity-cseq-e2e')).toMatchObject({ status: 400, reason: 'CSeq method does not match request method' });
    expect(byCall.get('sanity-from-e2e')).toMatchObject({ status: 400, reason: 'Bad From URI' });
    expect(byCall.get('sanity-expires-e2e')).toMatchObject({ status: 400, reason: 'Expires value is illegal' });
    for (const r of got) expect(r.to.tag).toMatch(/^[0-9a-f]{8}-[0-9a-f]{16}$/);
    expect(Number(vars().get('malformed'))).toBe(malformedBefore + 3);
    // the script's KSR.xlog.xinfo lines, pseudo-variables replaced
    const xlogged = logLines.map((l) => JSON.parse(l) as { src?: string; msg: string }).filter((l) => l.src === 'script');
    expect(xlogged.filter((l) => /^malformed OPTIONS from 127\.0\.0\.1:\d+$/.test(l.msg))).toHaveLength(3);
  });

  it('passes a well-formed request on to the rest of the script', async () => {
    const got = await exchange(
      [
        Buffer.from(
          options({ callId: 'user-e2e' })
            .toString('latin1')
            .replace(`OPTIONS sip:127.0.0.1:${ksrPort}`, `OPTIONS sip:bob@127.0.0.1:${ksrPort}`),
          'latin1',
        ),
      ],
      1,
    );
    expect(got.map((r) => `${r.status} ${r.reason}`)).toEqual(['404 Not Here']);
    expect(slStats()['sl:sent_replies']).toBeGreaterThanOrEqual(13);
  });
});
