/**
 * A small deterministic mutation run (the big fuzz lives in test/sip-torture):
 * parseMessage must either return a message whose accessors work, or throw a
 * SipParseError — never anything else, never an "internal" error.
 */
import { describe, expect, it } from 'vitest';
import { SipParseError, parseMessage, parseNameAddr, parseUri, parseVia, uriEquals } from '../../src/sip/index.js';
import { mulberry32 } from '../support/prng.js';
import { crlf, invite } from './helpers.js';

const rng = mulberry32;

const SEEDS: Buffer[] = [
  invite(['Route: <sip:p1.example.com;lr>, <sip:p2.example.com;lr>', 'Record-Route: <sip:[2001:db8::1];lr>', 'Expires: 60'], 'v=0\r\no=- 1 1 IN IP4 1.2.3.4\r\n'),
  crlf(
    'SIP/2.0 200 OK',
    'v: SIP/2.0/UDP a.example.com;branch=z9hG4bK1;rport=5060;received=192.0.2.1, SIP/2.0/TCP [::1]:5061;branch=z9hG4bK2',
    'f: "A \\"q\\"" <sip:a@b.example.com>;tag=1',
    't: sip:c@d.example.com;tag=2',
    'i: x@y',
    'CSeq: 4294967295 INVITE',
    'm: *',
    'Max-Forwards: 0',
    'l: 3',
    '',
    'abc',
  ),
];

const TOKENS = ['\r\n', '\n', '\r', '\0', ' ', '\t', ':', ';', ',', '"', '<', '>', '@', '[', ']', '%', '=', '?', '\\', '99999999999999999999', '-1', 'ü', '\r\n ', 'SIP/2.0', 'sip:'];

function mutate(src: Buffer, r: () => number): Buffer {
  let b = Buffer.from(src);
  const n = 1 + Math.floor(r() * 4);
  for (let k = 0; k < n; k++) {
    const at = Math.floor(r() * (b.length + 1));
    switch (Math.floor(r() * 6)) {
      case 0: // truncate
        b = b.subarray(0, at);
        break;
      case 1: // flip a byte
        if (b.length > 0) b[Math.min(at, b.length - 1)] = Math.floor(r() * 256);
        break;
      case 2: // insert a token
        b = Buffer.concat([b.subarray(0, at), Buffer.from(TOKENS[Math.floor(r() * TOKENS.length)]!), b.subarray(at)]);
        break;
      case 3: {
        // delete a range
        const len = Math.floor(r() * 20);
        b = Buffer.concat([b.subarray(0, at), b.subarray(at + len)]);
        break;
      }
      case 4: {
        // duplicate a line
        const s = b.lastIndexOf(10, at);
        const e = b.indexOf(10, at);
        if (e > s) b = Buffer.concat([b.subarray(0, e + 1), b.subarray(s + 1, e + 1), b.subarray(e + 1)]);
        break;
      }
      default: // long run
        b = Buffer.concat([b.subarray(0, at), Buffer.alloc(Math.floor(r() * 9000), 'a'), b.subarray(at)]);
    }
  }
  return b;
}

function touch(m: ReturnType<typeof parseMessage>): void {
  // lazy accessors may throw SipParseError only
  for (const f of [() => m.expires, () => m.contentType, () => m.headerValues('via'), () => m.headerValues('x'), () => m.serialize()]) {
    try {
      f();
    } catch (err) {
      if (!(err instanceof SipParseError)) throw err;
    }
  }
  m.appendHeader('X-T', '1');
  m.setTopViaParam('received', '1.2.3.4');
  if (m.via.length > 1) m.removeTopVia();
  m.setBody('x');
  parseMessage(m.serialize());
}

describe('robustness', () => {
  it('5000 mutated messages: only SipParseError escapes, edits of accepted ones re-parse', () => {
    const r = rng(4475);
    let accepted = 0;
    for (let i = 0; i < 5000; i++) {
      const input = mutate(SEEDS[i % SEEDS.length]!, r);
      let m: ReturnType<typeof parseMessage> | undefined;
      try {
        m = parseMessage(input, { stream: i % 3 === 0 });
      } catch (err) {
        if (!(err instanceof SipParseError)) throw new Error(`non-SipParseError for ${JSON.stringify(input.toString('latin1'))}: ${String(err)}`);
        expect(err.reason).not.toMatch(/^internal/);
        continue;
      }
      accepted++;
      try {
        touch(m);
      } catch (err) {
        throw new Error(`edit/re-parse failed for ${JSON.stringify(input.toString('latin1'))}: ${String(err)}`);
      }
    }
    expect(accepted).toBeGreaterThan(100);
  });

  it('sub-parsers only throw SipParseError on random strings', () => {
    const r = rng(3261);
    const alphabet = 'sip:@;=?&%<>"\\ \t,./[]0123456789abcdefABCDEF-_~*+tel';
    for (let i = 0; i < 5000; i++) {
      let s = '';
      const len = Math.floor(r() * 40);
      for (let k = 0; k < len; k++) s += alphabet[Math.floor(r() * alphabet.length)];
      for (const f of [parseUri, parseNameAddr, parseVia]) {
        try {
          f(s);
        } catch (err) {
          if (!(err instanceof SipParseError)) throw new Error(`${f.name}(${JSON.stringify(s)}): ${String(err)}`);
        }
      }
      expect(typeof uriEquals(s, s)).toBe('boolean');
    }
  });

  it('pathological inputs stay fast (no catastrophic backtracking)', () => {
    const cases = [
      Buffer.from(`INVITE sip:a@b SIP/2.0\r\nVia: SIP/2.0/UDP h;${';'.repeat(8000)}\r\n\r\n`),
      Buffer.from(`INVITE sip:a@b SIP/2.0\r\nTo: ${'"'.repeat(8000)}\r\n\r\n`),
      Buffer.from(`INVITE sip:a@b SIP/2.0\r\nContact: ${'<'.repeat(8000)}\r\n\r\n`),
      Buffer.from(`INVITE sip:a@b SIP/2.0\r\n${'X: y\r\n '.repeat(5000)}\r\n\r\n`),
      Buffer.from(`INVITE sip:${'%'.repeat(8000)}@b SIP/2.0\r\n\r\n`),
      Buffer.from('\r\n'.repeat(30000)),
      Buffer.alloc(65535, 0),
      Buffer.alloc(1 << 20, 'a'),
    ];
    for (const c of cases) {
      const t0 = performance.now();
      expect(() => parseMessage(c)).toThrow(SipParseError);
      expect(performance.now() - t0).toBeLessThan(200);
    }
  });
});
