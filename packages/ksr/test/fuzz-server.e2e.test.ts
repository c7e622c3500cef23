import { resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { inNetns, netnsAvailable } from './support/netns.js';
import { repoRoot, run } from './support/proc.js';

// 10k mutated messages over UDP and TCP to a running server, inside a loopback-only network
// namespace (the mutated Vias and Request-URIs name foreign hosts).
const available = netnsAvailable();
if (!available && process.env.CI) throw new Error('CI must be able to create a network namespace (unshare -n needs root)');

describe.skipIf(!available)('server under mutated SIP over UDP and TCP (loopback-only netns)', () => {
  it('keeps serving, answers OPTIONS afterwards and does not grow its heap', async () => {
    const driver = resolve(repoRoot, 'packages/ksr/test/support/fuzz-server-driver.ts');
    const tsx = resolve(repoRoot, 'packages/ksr/node_modules/.bin/tsx');
    const { cmd, args } = inNetns([tsx, '--expose-gc', driver]);
    const r = await run(cmd, args, 180_000);
    const line = r.output.split('\n').find((l) => l.startsWith('RESULT '));
    expect(line, r.output.slice(-4000)).toBeDefined();
    expect(r.code).toBe(0);
    const res = JSON.parse(line!.slice(7)) as {
      totalUdpSent: number;
      udp: { sent: number; replies: number };
      tcp: { sent: number; connections: number; closedByServer: number };
      udpProbe: string;
      tcpProbe: string;
      heapBefore: number;
      heapAfter: number;
      gc: boolean;
      stats: { parseErrors: number; malformedAnswered: number; handlerErrors: number; requests: number; transport: Record<string, number> };
    };
    expect(res.udp.sent + res.tcp.sent).toBeGreaterThanOrEqual(10_000);
    // every datagram reached the server (the sender waits for it to catch up)
    expect(res.stats.transport.udpReceived).toBeGreaterThanOrEqual(res.totalUdpSent);
    expect(res.udpProbe).toMatch(/^SIP\/2\.0 200 /);
    expect(res.tcpProbe).toMatch(/^SIP\/2\.0 200 /);
    // the mutations really produced both malformed and still-valid messages
    expect(res.stats.parseErrors).toBeGreaterThan(500);
    expect(res.stats.malformedAnswered).toBeGreaterThan(50);
    expect(res.stats.requests).toBeGreaterThan(500);
    expect(res.stats.handlerErrors).toBe(0);
    expect(res.udp.replies).toBeGreaterThan(0);
    expect(res.tcp.closedByServer).toBeGreaterThan(0);
    // no growth beyond noise: the server keeps no per-message state yet
    expect(res.gc).toBe(true);
    expect(res.heapAfter - res.heapBefore).toBeLessThan(4 * 1024 * 1024);
  });
});
