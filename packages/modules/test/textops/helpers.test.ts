import { parseMessage, type SipRequest } from '@ksr/core';
import { describe, expect, it } from 'vitest';
import { currentBody, currentLines, setHeaderList, type HeaderLine } from '../../src/textops/hdrlist.js';
import { LruCache, RegexCache, parseSubst } from '../../src/textops/regex.js';
import { mulberry32 as rng } from '../../../core/test/support/prng.js';
import { INVITE_LINES, sipText } from './support.js';

const NAMES = ['X-A', 'X-B', 'X-C', 'Subject', 'P-D'];

describe('setHeaderList', () => {
  it('reaches any desired list (randomized edits, repeated on the same message)', () => {
    const r = rng(42);
    for (let round = 0; round < 300; round++) {
      const msg = parseMessage(sipText([...INVITE_LINES, 'X-A: 1', 'X-B: 2', 'X-A: 3', 'Route: <sip:p1;lr>', 'X-C: 4'])) as SipRequest;
      for (let step = 0; step < 4; step++) {
        const want: HeaderLine[] = currentLines(msg);
        const ops = 1 + Math.floor(r() * 3);
        for (let k = 0; k < ops; k++) {
          const op = Math.floor(r() * 3);
          const i = Math.floor(r() * (want.length + 1));
          const line = { name: NAMES[Math.floor(r() * NAMES.length)]!, value: `v${round}-${step}-${k}` };
          if (op === 0) want.splice(i, 0, line);
          else if (op === 1 && want.length > 6 && i < want.length) {
            // keep the mandatory headers so the output still parses
            if (!/^(via|from|to|call-id|cseq|content-length)$/i.test(want[i]!.name)) want.splice(i, 1);
          } else if (i < want.length && /^X-/.test(want[i]!.name)) want[i] = { name: want[i]!.name, value: line.value };
        }
        setHeaderList(msg, want);
        expect(currentLines(msg)).toEqual(want);
        const again = parseMessage(msg.serialize()) as SipRequest;
        expect(again.headers.map((h) => [h.name, h.value])).toEqual(want.map((w) => [w.name, w.value]));
      }
    }
  });

  it('replaces the first field of a name in place (other lines copied byte for byte)', () => {
    const raw = sipText([...INVITE_LINES, 'X-A:   spaced   ']);
    const msg = parseMessage(raw) as SipRequest;
    const want = currentLines(msg).map((l) => (l.name === 'User-Agent' ? { ...l, value: 'new' } : l));
    setHeaderList(msg, want);
    expect(msg.serialize().toString()).toContain('User-Agent: new\r\nContent-Type: application/sdp\r\nX-A:   spaced   \r\n');
  });

  it('refuses invalid names and values', () => {
    const msg = parseMessage(sipText(INVITE_LINES)) as SipRequest;
    expect(() => setHeaderList(msg, [{ name: 'bad name', value: 'x' }])).toThrow(TypeError);
    expect(() => setHeaderList(msg, [{ name: 'X', value: 'a\r\nY: b' }])).toThrow(TypeError);
    expect(msg.modified).toBe(false);
  });

  it('currentBody follows setBody', () => {
    const msg = parseMessage(sipText(INVITE_LINES, 'abc')) as SipRequest;
    expect(currentBody(msg).toString()).toBe('abc');
    msg.appendHeader('X', '1');
    expect(currentBody(msg).toString()).toBe('abc');
    msg.setBody('xyz');
    expect(currentBody(msg).toString()).toBe('xyz');
    msg.setBody('');
    expect(currentBody(msg).length).toBe(0);
  });
});

describe('regex cache and substitution parser', () => {
  it('the LRU keeps at most its limit, dropping the least recently used', () => {
    const c = new LruCache<number>(3);
    c.set('a', 1);
    c.set('b', 2);
    c.set('c', 3);
    expect(c.get('a')).toBe(1);
    c.set('d', 4);
    expect(c.get('b')).toBeUndefined();
    expect(c.get('a')).toBe(1);
    expect(c.size).toBe(3);
  });

  it('compiles once, caches errors, stays bounded', () => {
    const rc = new RegexCache(8);
    const a = rc.compile('ab+', 'im');
    expect(a).toBeInstanceOf(RegExp);
    expect(rc.compile('ab+', 'im')).toBe(a);
    expect(typeof rc.compile('(', 'im')).toBe('string');
    for (let i = 0; i < 100; i++) rc.compile(`x${i}`, 'im');
    expect(rc.size).toBe(8);
    expect(typeof rc.compile('a'.repeat(9000), 'im')).toBe('string');
  });

  it('parseSubst: delimiters, flags and groups', () => {
    const rc = new RegexCache();
    const se = parseSubst('|a(b)|x\\1\\||gi', undefined, rc);
    expect(typeof se).toBe('object');
    if (typeof se === 'object') {
      expect(se.global).toBe(true);
      expect(se.re.flags).toContain('i');
      expect(se.repl).toEqual([
        { kind: 'text', bytes: Buffer.from('x') },
        { kind: 'group', n: 1 },
        { kind: 'text', bytes: Buffer.from('|') },
      ]);
    }
    expect(parseSubst('/a/$x/', undefined, rc)).toMatch(/pseudo-variables/);
    expect(parseSubst('aXbXcX', undefined, rc)).toMatch(/delimiter/);
    expect(parseSubst('/a/b$/', undefined, rc)).toMatchObject({ global: false });
  });
});
