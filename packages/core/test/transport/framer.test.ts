import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { StreamFramer, type FramerEvent } from '../../src/transport/framer.js';

function msg(body: string | Buffer = '', opts: { clHeader?: string | null; method?: string } = {}): Buffer {
  const b = typeof body === 'string' ? Buffer.from(body, 'latin1') : body;
  const cl = opts.clHeader === undefined ? `Content-Length: ${b.length}\r\n` : opts.clHeader === null ? '' : `${opts.clHeader}\r\n`;
  const head =
    `${opts.method ?? 'OPTIONS'} sip:bob@127.0.0.1 SIP/2.0\r\n` +
    'Via: SIP/2.0/TCP 127.0.0.1:5070;branch=z9hG4bK-1\r\n' +
    'Call-ID: abc@127.0.0.1\r\n' +
    'CSeq: 1 OPTIONS\r\n' +
    cl +
    '\r\n';
  return Buffer.concat([Buffer.from(head, 'latin1'), b]);
}

function feedAll(f: StreamFramer, chunks: Buffer[]): FramerEvent[] {
  const out: FramerEvent[] = [];
  for (const c of chunks) out.push(...f.push(c));
  return out;
}

function bytes(b: Buffer): Buffer[] {
  const out: Buffer[] = [];
  for (let i = 0; i < b.length; i++) out.push(b.subarray(i, i + 1));
  return out;
}

function messages(evs: FramerEvent[]): Buffer[] {
  return evs.flatMap((e) => (e.type === 'message' ? [e.data] : []));
}

function kinds(evs: FramerEvent[]): string[] {
  return evs.map((e) => e.type);
}

describe('StreamFramer', () => {
  it('frames a message fed byte by byte', () => {
    const m = msg('v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\n');
    const f = new StreamFramer();
    const evs = feedAll(f, bytes(m));
    expect(kinds(evs)).toEqual(['message']);
    expect(messages(evs)[0]!.equals(m)).toBe(true);
    expect(f.buffered).toBe(0);
  });

  it('splits several coalesced messages and keeps a partial one', () => {
    const a = msg('hello');
    const b = msg('');
    const c = msg('world!');
    const f = new StreamFramer();
    const all = Buffer.concat([a, b, c]);
    const cut = all.length - 7;
    const evs1 = f.push(all.subarray(0, cut));
    expect(messages([...evs1]).map((x) => x.toString('latin1'))).toEqual([a.toString('latin1'), b.toString('latin1')]);
    expect(f.buffered).toBeGreaterThan(0);
    const evs2 = f.push(all.subarray(cut));
    expect(messages([...evs2])[0]!.equals(c)).toBe(true);
    expect(f.buffered).toBe(0);
  });

  it('takes the body by Content-Length even when it holds CRLFCRLF and NUL bytes', () => {
    const body = Buffer.concat([Buffer.from('a\r\n\r\nb'), Buffer.from([0, 0, 1, 0x0d, 0x0a, 0x0d, 0x0a, 0]), Buffer.from('\r\n\r\n')]);
    const m = msg(body);
    const next = msg('x');
    const f = new StreamFramer();
    const evs = feedAll(f, [Buffer.concat([m, next])]);
    const got = messages(evs);
    expect(got).toHaveLength(2);
    expect(got[0]!.equals(m)).toBe(true);
    expect(got[1]!.equals(next)).toBe(true);
    // and byte by byte
    const f2 = new StreamFramer();
    const got2 = messages(feedAll(f2, bytes(Buffer.concat([m, next]))));
    expect(got2.map((x) => x.toString('hex'))).toEqual([m.toString('hex'), next.toString('hex')]);
  });

  it('accepts the compact form and spacing variants of Content-Length', () => {
    for (const h of ['l: 5', 'L:5', 'l :  5 ', 'content-length:5', 'CONTENT-LENGTH\t: 5', 'Content-Length: 5\r\n  ']) {
      const m = Buffer.concat([msg('', { clHeader: h }).subarray(0, -2), Buffer.from('\r\n12345')]);
      // msg() appended the empty line already; rebuild it so the body follows the empty line
      const f = new StreamFramer();
      const evs = f.push(m);
      expect(kinds([...evs]), h).toEqual(['message']);
      expect(messages([...evs])[0]!.toString('latin1').endsWith('\r\n\r\n12345'), h).toBe(true);
    }
  });

  it('does not mistake other headers for Content-Length', () => {
    const m = msg('abc', { clHeader: 'Content-Length: 3\r\nContent-Language: en\r\nLx: 99\r\nX-l: 7' });
    const evs = new StreamFramer().push(m);
    expect(kinds([...evs])).toEqual(['message']);
  });

  it('accepts a bare-LF header section', () => {
    const m = Buffer.from('SIP/2.0 200 OK\nVia: SIP/2.0/TCP 127.0.0.1\nl: 2\n\nok');
    const evs = new StreamFramer().push(Buffer.concat([m, m]));
    expect(messages([...evs]).map((x) => x.toString())).toEqual([m.toString(), m.toString()]);
  });

  it('accepts duplicated Content-Length headers with the same value', () => {
    const m = msg('abc', { clHeader: 'Content-Length: 3\r\nl: 3' });
    expect(kinds([...new StreamFramer().push(m)])).toEqual(['message']);
  });

  it.each([
    ['missing', null, /missing Content-Length/],
    ['negative', 'Content-Length: -1', /invalid Content-Length/],
    ['non-numeric', 'Content-Length: abc', /invalid Content-Length/],
    ['empty', 'Content-Length:', /empty Content-Length/],
    ['two values', 'Content-Length: 1, 2', /invalid Content-Length/],
    ['conflicting duplicates', 'Content-Length: 0\r\nl: 4', /conflicting/],
  ] as const)('reports a framing error for a %s Content-Length', (_name, header, re) => {
    const f = new StreamFramer();
    const evs = f.push(msg('', { clHeader: header }));
    expect(kinds([...evs])).toEqual(['error']);
    expect((evs[0] as { reason: string }).reason).toMatch(re);
    expect(f.failed).toBe(true);
    // dead afterwards
    expect(f.push(msg(''))).toHaveLength(0);
  });

  it('delivers messages preceding an error in the same chunk', () => {
    const f = new StreamFramer();
    const evs = f.push(Buffer.concat([msg('ok'), msg('', { clHeader: null })]));
    expect(kinds([...evs])).toEqual(['message', 'error']);
  });

  it('rejects a header section longer than maxMessageSize without an end', () => {
    const f = new StreamFramer({ maxMessageSize: 200 });
    const start = Buffer.from('INVITE sip:x SIP/2.0\r\n');
    expect(f.push(start)).toHaveLength(0);
    const evs: FramerEvent[] = [];
    for (let i = 0; i < 20 && evs.length === 0; i++) evs.push(...f.push(Buffer.from('X-Pad: 0123456789\r\n')));
    expect(kinds(evs)).toEqual(['error']);
    expect((evs[0] as { reason: string }).reason).toMatch(/header section exceeds 200/);
    expect(f.buffered).toBe(0);
  });

  it('rejects a message whose Content-Length makes it larger than maxMessageSize, before the body arrives', () => {
    const f = new StreamFramer({ maxMessageSize: 300 });
    const evs = f.push(msg('', { clHeader: 'Content-Length: 1000' }));
    expect(kinds([...evs])).toEqual(['error']);
    expect((evs[0] as { reason: string }).reason).toMatch(/exceeds 300/);
  });

  it('accepts a message of exactly maxMessageSize bytes', () => {
    const base = msg('');
    const bodyLen = 400 - base.length - 2; // Content-Length gets two more digits than "0"
    const m = msg('z'.repeat(bodyLen));
    expect(m.length).toBe(400);
    expect(kinds([...new StreamFramer({ maxMessageSize: 400 }).push(m)])).toEqual(['message']);
    expect(kinds([...new StreamFramer({ maxMessageSize: 399 }).push(m)])).toEqual(['error']);
  });

  it('tells a CRLFCRLF ping from a single CRLF', () => {
    const f = new StreamFramer();
    expect(kinds([...f.push(Buffer.from('\r\n'))])).toEqual([]);
    expect(kinds([...f.push(Buffer.from('\r\n'))])).toEqual(['ping']);
    expect(kinds([...f.push(Buffer.from('\r\n\r\n\r\n\r\n'))])).toEqual(['ping', 'ping']);
    expect(kinds(feedAll(f, bytes(Buffer.from('\r\n\r\n'))))).toEqual(['ping']);
    // a single CRLF then a message: no ping, the message is framed
    const m = msg('x');
    const f2 = new StreamFramer();
    const evs = f2.push(Buffer.concat([Buffer.from('\r\n'), m, Buffer.from('\r\n'), m]));
    expect(kinds([...evs])).toEqual(['message', 'message']);
    expect(messages([...evs])[0]!.equals(m)).toBe(true);
    // stray LFs are skipped, not pings
    expect(kinds([...new StreamFramer().push(Buffer.from('\n\n\n\n'))])).toEqual([]);
  });

  it('sees pings between messages, byte by byte', () => {
    const m = msg('body');
    const stream = Buffer.concat([m, Buffer.from('\r\n\r\n'), m, Buffer.from('\r\n'), m]);
    const evs = feedAll(new StreamFramer(), bytes(stream));
    expect(kinds(evs)).toEqual(['message', 'ping', 'message', 'message']);
  });

  it('frames any split of a stream of messages (property)', () => {
    const bodyArb = fc.uint8Array({ maxLength: 300 }).map((a) => Buffer.from(a));
    const partsArb = fc.array(fc.tuple(bodyArb, fc.boolean(), fc.constantFrom('Content-Length', 'l', 'content-length ')), {
      minLength: 1,
      maxLength: 6,
    });
    fc.assert(
      fc.property(partsArb, fc.array(fc.integer({ min: 1, max: 97 }), { minLength: 1, maxLength: 20 }), (parts, sizes) => {
        const msgs = parts.map(([body, , name]) => msg(body, { clHeader: `${name}: ${body.length}` }));
        const stream = Buffer.concat(parts.flatMap(([, crlf], i) => (crlf ? [Buffer.from('\r\n'), msgs[i]!] : [msgs[i]!])));
        const chunks: Buffer[] = [];
        let pos = 0;
        let k = 0;
        while (pos < stream.length) {
          const n = sizes[k++ % sizes.length]!;
          chunks.push(stream.subarray(pos, pos + n));
          pos += n;
        }
        const evs = feedAll(new StreamFramer(), chunks);
        expect(kinds(evs).every((x) => x === 'message')).toBe(true);
        expect(messages(evs).map((x) => x.toString('hex'))).toEqual(msgs.map((x) => x.toString('hex')));
      }),
      { numRuns: 200 },
    );
  });

  it('does not alias the caller chunk in emitted messages', () => {
    const m = msg('abc');
    const chunk = Buffer.from(m);
    const out = messages([...new StreamFramer().push(chunk)])[0]!;
    chunk.fill(0);
    expect(out.equals(m)).toBe(true);
  });
});
