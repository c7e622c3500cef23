/**
 * Memory figures of `pnpm bench` (run in a child process of its own, so its RSS is not the
 * bench's): an in-process ksr with the bench config and route.lua,
 *   1. RSS with 100k registered contacts: 100k REGISTERs (user000001..user100000, one contact
 *      each) routed through the real route, registrar.save and usrloc;
 *   2. RSS before/after N routed messages (default 1M): re-REGISTERs of 10k users and OPTIONS,
 *      alternating, as the sipp register/options scenarios send them. After a forced GC the
 *      difference is what stayed (caches, the location table's updates): it must not grow with N.
 *
 *   node --expose-gc --import tsx packages/ksr/bench/memory-bench.ts [contacts] [messages]
 * prints one JSON line.
 */
import { optionsText, parseReq, registerText, startBenchServer, flush } from './bench-server.js';

export interface MemoryFigures {
  engine: string;
  rssStartMb: number;
  contacts: number;
  contactsStored: number | undefined;
  rssContactsMb: number;
  heapContactsMb: number;
  bytesPerContact: number;
  messages: number;
  rssBeforeMessagesMb: number;
  rssAfterMessagesMb: number;
  heapBeforeMessagesMb: number;
  heapAfterMessagesMb: number;
  /** RSS after each tenth of the messages (after GC), to see whether it keeps growing. */
  rssTrailMb: number[];
  messagesPerSecond: number;
}

const mb = (b: number): number => Number((b / 1024 / 1024).toFixed(1));

function settle(): { rss: number; heap: number } {
  for (let i = 0; i < 3; i++) (globalThis as { gc?: () => void }).gc?.();
  const m = process.memoryUsage();
  return { rss: m.rss, heap: m.heapUsed + m.external };
}

export async function memoryFigures(contacts = 100_000, messages = 1_000_000): Promise<MemoryFigures> {
  const b = await startBenchServer('lua');
  try {
    const routing = b.running.routing!;
    await flush();
    const s0 = settle();
    for (let i = 1; i <= contacts; i++) {
      routing.onRequest(parseReq(registerText(`user${String(i).padStart(6, '0')}`, b.port, b.sink.port)), b.info);
      if (i % 200 === 0) await flush();
    }
    await flush();
    const s1 = settle();
    const ul = b.running.modules.api<unknown>('usrloc');
    const stored = countContacts(ul);
    // N routed messages: re-REGISTER user000001..user010000 and OPTIONS, alternating
    const s2 = settle();
    const trail: number[] = [];
    const t0 = performance.now();
    for (let i = 0; i < messages; i++) {
      const text = i % 2 === 0 ? registerText(`user${String(((i / 2) % 10000) + 1).padStart(6, '0')}`, b.port, b.sink.port) : optionsText(b.port, b.sink.port);
      routing.onRequest(parseReq(text), b.info);
      if (i % 200 === 199) await flush();
      if ((i + 1) % Math.max(1, Math.floor(messages / 10)) === 0) trail.push(mb(settle().rss));
    }
    const secs = (performance.now() - t0) / 1000;
    await flush();
    const s3 = settle();
    return {
      engine: 'lua',
      rssStartMb: mb(s0.rss),
      contacts,
      contactsStored: stored,
      rssContactsMb: mb(s1.rss),
      heapContactsMb: mb(s1.heap),
      bytesPerContact: Math.round((s1.heap - s0.heap) / contacts),
      messages,
      rssBeforeMessagesMb: mb(s2.rss),
      rssAfterMessagesMb: mb(s3.rss),
      heapBeforeMessagesMb: mb(s2.heap),
      heapAfterMessagesMb: mb(s3.heap),
      rssTrailMb: trail,
      messagesPerSecond: Math.round(messages / secs),
    };
  } finally {
    await b.stop();
  }
}

/** Number of contacts in usrloc (its API's counts()). */
function countContacts(api: unknown): number | undefined {
  const a = api as { counts?: () => { contacts: number } } | undefined;
  return a?.counts ? a.counts().contacts : undefined;
}

if (process.argv[1]?.endsWith('memory-bench.ts')) {
  const contacts = Number(process.argv[2] ?? 100_000);
  const messages = Number(process.argv[3] ?? 1_000_000);
  const f = await memoryFigures(contacts, messages);
  process.stdout.write(`MEMORY ${JSON.stringify(f)}\n`);
  process.exit(0);
}
