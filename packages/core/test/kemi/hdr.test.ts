import { describe, expect, it } from 'vitest';
import { hdrExports, parseHeaderText } from '../../src/kemi/exports/hdr.js';
import type { KemiExportDef } from '../../src/kemi/types.js';
import { createLogger, type Logger } from '../../src/log.js';
import type { RouteContext } from '../../src/routing/context.js';
import { parseMessage } from '../../src/sip/index.js';
import { INVITE_LINES, makeContext, testServices } from '../support/context.js';

const byName = new Map<string, KemiExportDef<RouteContext>>(hdrExports.map((e) => [e.name, e]));

function h(ctx: RouteContext, name: string, ...args: Array<string | number>): unknown {
  const e = byName.get(name);
  if (!e) throw new Error(`no hdr export ${name}`);
  expect(args.length).toBe(e.params.length);
  return e.fn(ctx, ...args);
}

function errorLog(): { logger: Logger; errors: string[] } {
  const errors: string[] = [];
  const logger = createLogger({
    level: 'trace',
    destination: {
      write(s: string): void {
        for (const part of s.split('\n')) {
          if (!part.trim()) continue;
          const l = JSON.parse(part) as { level: number; msg: string };
          if (l.level === 50) errors.push(l.msg);
        }
      },
    },
  });
  return { logger, errors };
}

/** Header names of the message as it will be sent. */
function sentNames(ctx: RouteContext): string[] {
  return parseMessage(ctx.msg.serialize()).headers.map((x) => x.name);
}

function sentText(ctx: RouteContext): string {
  return ctx.msg.serialize().toString();
}

/** INVITE_LINES + Content-Length (added by sipText): the header names in order. */
const BASE = ['Via', 'Max-Forwards', 'From', 'To', 'Call-ID', 'CSeq', 'Contact', 'User-Agent', 'Content-Type', 'Content-Length'];

describe('hdr export table', () => {
  it("has Kamailio's 16 hdr functions with their types", () => {
    const sig = Object.fromEntries(hdrExports.map((e) => [e.name, `${e.returns}(${e.params.join(',')})`]));
    expect(sig).toEqual({
      append: 'int(str)',
      append_after: 'int(str,str)',
      insert: 'int(str)',
      insert_before: 'int(str,str)',
      remove: 'int(str)',
      rmappend: 'int(str,str)',
      rminsert: 'int(str,str)',
      is_present: 'int(str)',
      append_to_reply: 'int(str)',
      get: 'xval(str)',
      gete: 'xval(str)',
      getw: 'xval(str)',
      get_idx: 'xval(str,int)',
      gete_idx: 'xval(str,int)',
      getw_idx: 'xval(str,int)',
      match_content: 'bool(str,str,str,str)',
    });
  });
});

describe('header text', () => {
  it('parses lines, several per text, continuation lines, a missing final CRLF', () => {
    expect(parseHeaderText('X-A: 1\r\n')).toEqual([['X-A', '1']]);
    expect(parseHeaderText('X-A: 1\r\nX-B:2\r\n')).toEqual([
      ['X-A', '1'],
      ['X-B', '2'],
    ]);
    expect(parseHeaderText('X-A: 1')).toEqual([['X-A', '1']]);
    expect(parseHeaderText('X-A : 1\n')).toEqual([['X-A', '1']]);
    expect(parseHeaderText('X-A: 1\r\n  2\r\n\tthree\r\n')).toEqual([['X-A', '1 2 three']]);
    expect(parseHeaderText('X-Empty:\r\n')).toEqual([['X-Empty', '']]);
  });

  it('refuses text that is not header lines', () => {
    for (const bad of ['', 'no colon\r\n', ': value\r\n', 'X A: 1\r\n', ' X-A: 1\r\n', 'X-A: 1\r\n\r\nX-B: 2\r\n', 'X-A: 1\rX-B: 2\r\n', 'X-A: a\u0000b\r\n', '\r\n']) {
      expect(typeof parseHeaderText(bad), JSON.stringify(bad)).toBe('string');
    }
  });
});

describe('append / insert and friends', () => {
  it('append adds after the last header; visible in serialize() but not to get in the same route', () => {
    const ctx = makeContext();
    expect(h(ctx, 'append', 'X-A: 1\r\n')).toBe(1);
    expect(sentNames(ctx)).toEqual([...BASE, 'X-A']);
    expect(sentText(ctx)).toContain('\r\nX-A: 1\r\n\r\n');
    expect(h(ctx, 'get', 'X-A')).toBeNull();
    expect(h(ctx, 'gete', 'X-A')).toBe('');
    expect(h(ctx, 'getw', 'X-A')).toBe('<<null>>');
    expect(h(ctx, 'is_present', 'X-A')).toBe(-1);
    expect(h(ctx, 'match_content', 'X-A', 'eq', '1', 'f')).toBe(false);
  });

  it('append keeps the order of several lines and of several calls', () => {
    const ctx = makeContext();
    expect(h(ctx, 'append', 'X-A: 1\r\nX-B: 2\r\n')).toBe(1);
    expect(h(ctx, 'append', 'X-C: 3\r\n')).toBe(1);
    expect(sentNames(ctx).slice(-3)).toEqual(['X-A', 'X-B', 'X-C']);
  });

  it('refuses bad text as a whole (-1, nothing changed, error logged)', () => {
    const log = errorLog();
    const ctx = makeContext(INVITE_LINES, { services: testServices({ logger: log.logger }) });
    const raw = Buffer.from(ctx.msg.raw);
    expect(h(ctx, 'append', 'no colon here')).toBe(-1);
    expect(h(ctx, 'append', 'X-A: 1\r\nbroken\r\n')).toBe(-1);
    expect(h(ctx, 'append', 'X-A: 1\r\nX-B: 2\rInjected: yes\r\n')).toBe(-1);
    expect(h(ctx, 'append', '')).toBe(-1);
    expect(h(ctx, 'insert', 'nope')).toBe(-1);
    expect(h(ctx, 'append_after', 'nope', 'From')).toBe(-1);
    expect(h(ctx, 'append_after', 'X-A: 1\r\n', 'bad name')).toBe(-1);
    expect(h(ctx, 'insert_before', 'nope', 'From')).toBe(-1);
    expect(h(ctx, 'append_to_reply', 'nope')).toBe(-1);
    expect(ctx.msg.modified).toBe(false);
    expect(ctx.msg.serialize().equals(raw)).toBe(true);
    expect(ctx.state.replyHeaders).toEqual([]);
    expect(log.errors[0]).toBe('KSR.hdr.append: no "Name:" in "no colon here"');
    expect(log.errors).toHaveLength(9);
  });

  it('insert adds before the first header, keeping the block order', () => {
    const ctx = makeContext();
    expect(h(ctx, 'insert', 'X-First: 1\r\nX-Second: 2\r\n')).toBe(1);
    expect(sentNames(ctx)).toEqual(['X-First', 'X-Second', ...BASE]);
  });

  it('append_after / insert_before anchor on the first header of that name (compact forms too)', () => {
    const ctx = makeContext();
    expect(h(ctx, 'append_after', 'X-A: 1\r\nX-B: 2\r\n', 'call-id')).toBe(1);
    expect(h(ctx, 'insert_before', 'X-C: 3\r\nX-D: 4\r\n', 'f')).toBe(1);
    expect(sentNames(ctx)).toEqual(['Via', 'Max-Forwards', 'X-C', 'X-D', 'From', 'To', 'Call-ID', 'X-A', 'X-B', 'CSeq', 'Contact', 'User-Agent', 'Content-Type', 'Content-Length']);
  });

  it('append_after / insert_before without the anchor header go to the end / the start', () => {
    const ctx = makeContext();
    expect(h(ctx, 'append_after', 'X-A: 1\r\nX-B: 2\r\n', 'X-Missing')).toBe(1);
    expect(h(ctx, 'insert_before', 'X-C: 3\r\nX-D: 4\r\n', 'X-Missing')).toBe(1);
    expect(sentNames(ctx)).toEqual(['X-C', 'X-D', ...BASE, 'X-A', 'X-B']);
  });

  it('edits replies too', () => {
    const ctx = makeContext(['SIP/2.0 180 Ringing', 'Via: SIP/2.0/UDP 192.0.2.10:5070;branch=z9hG4bK-1', 'From: <sip:a@b.c>;tag=1', 'To: <sip:d@e.f>;tag=2', 'Call-ID: x', 'CSeq: 1 INVITE'], {
      routeType: 'reply',
    });
    expect(h(ctx, 'append', 'X-Reply: yes\r\n')).toBe(1);
    expect(sentText(ctx)).toContain('\r\nX-Reply: yes\r\n\r\n');
  });
});

describe('remove / rmappend / rminsert', () => {
  const TWO_VIAS = [
    'OPTIONS sip:ksr.test SIP/2.0',
    'Via: SIP/2.0/UDP 192.0.2.10:5070;branch=z9hG4bK-1',
    'v: SIP/2.0/UDP 192.0.2.20:5070;branch=z9hG4bK-2',
    'From: <sip:a@b.c>;tag=1',
    'To: <sip:ksr.test>',
    'Call-ID: x',
    'CSeq: 1 OPTIONS',
    'User-Agent: ua/1',
    'X-Two: a',
    'X-Two: b',
  ];

  it('remove("Via") also removes v: lines; get still reads the received message', () => {
    const ctx = makeContext(TWO_VIAS);
    expect(h(ctx, 'remove', 'Via')).toBe(1);
    const text = sentText(ctx);
    expect(text).not.toMatch(/\r\n(Via|v):/);
    expect(h(ctx, 'get', 'Via')).toBe('SIP/2.0/UDP 192.0.2.10:5070;branch=z9hG4bK-1');
    expect(h(ctx, 'is_present', 'v')).toBe(1);
  });

  it('remove: all fields of the name, case-insensitive; 1 also when absent; -1 for a bad name', () => {
    const ctx = makeContext(TWO_VIAS);
    expect(h(ctx, 'remove', 'x-two')).toBe(1);
    expect(sentText(ctx)).not.toContain('X-Two');
    expect(h(ctx, 'remove', 'X-Nothing')).toBe(1);
    expect(h(ctx, 'remove', 'bad name')).toBe(-1);
    expect(h(ctx, 'remove', '')).toBe(-1);
  });

  it('rmappend replaces a header at the end, rminsert at the start', () => {
    const ctx = makeContext(TWO_VIAS);
    expect(h(ctx, 'rmappend', 'User-Agent', 'User-Agent: ksr\r\n')).toBe(1);
    expect(h(ctx, 'rminsert', 'X-Two', 'X-Two: c\r\n')).toBe(1);
    const names = sentNames(ctx);
    expect(names[0]).toBe('X-Two');
    expect(names.at(-1)).toBe('User-Agent');
    expect(names.filter((n) => n === 'User-Agent' || n === 'X-Two')).toHaveLength(2);
    expect(sentText(ctx)).toContain('User-Agent: ksr\r\n');
    expect(h(ctx, 'get', 'User-Agent')).toBe('ua/1');
  });

  it('rmappend / rminsert with bad text change nothing', () => {
    const ctx = makeContext(TWO_VIAS);
    expect(h(ctx, 'rmappend', 'User-Agent', 'garbage')).toBe(-1);
    expect(h(ctx, 'rminsert', 'User-Agent', 'garbage')).toBe(-1);
    expect(h(ctx, 'rmappend', 'bad name', 'X-A: 1\r\n')).toBe(-1);
    expect(ctx.msg.modified).toBe(false);
  });
});

describe('is_present / append_to_reply', () => {
  it('is_present: 1 / -1, compact forms resolved', () => {
    const ctx = makeContext();
    expect(h(ctx, 'is_present', 'User-Agent')).toBe(1);
    expect(h(ctx, 'is_present', 'user-agent')).toBe(1);
    expect(h(ctx, 'is_present', 'f')).toBe(1);
    expect(h(ctx, 'is_present', 'X-None')).toBe(-1);
    expect(h(ctx, 'is_present', 'bad name')).toBe(-1);
  });

  it('append_to_reply stores the lines on the state for the next local reply', () => {
    const ctx = makeContext();
    expect(h(ctx, 'append_to_reply', 'X-R: 1\r\nX-S: two\r\n')).toBe(1);
    expect(h(ctx, 'append_to_reply', 'Retry-After: 30\r\n')).toBe(1);
    expect(ctx.state.replyHeaders).toEqual([
      ['X-R', '1'],
      ['X-S', 'two'],
      ['Retry-After', '30'],
    ]);
    expect(ctx.msg.modified).toBe(false);
  });
});

describe('get / get_idx', () => {
  const LINES = [
    'INVITE sip:bob@ksr.test SIP/2.0',
    'Via: SIP/2.0/UDP 10.0.0.1;branch=z9hG4bK-a, SIP/2.0/UDP 10.0.0.2;branch=z9hG4bK-b',
    'v: SIP/2.0/UDP 10.0.0.3;branch=z9hG4bK-c',
    'f: <sip:alice@atlanta.test>;tag=1',
    'To: <sip:bob@ksr.test>',
    'Call-ID: c1',
    'CSeq: 1 INVITE',
    'X-N: one',
    'X-N: two',
    'X-N: three',
  ];

  it('get returns the first field body, by full or compact name', () => {
    const ctx = makeContext(LINES);
    expect(h(ctx, 'get', 'From')).toBe('<sip:alice@atlanta.test>;tag=1');
    expect(h(ctx, 'get', 'f')).toBe('<sip:alice@atlanta.test>;tag=1');
    expect(h(ctx, 'get', 'x-n')).toBe('one');
    expect(h(ctx, 'get', 'Via')).toBe('SIP/2.0/UDP 10.0.0.1;branch=z9hG4bK-a, SIP/2.0/UDP 10.0.0.2;branch=z9hG4bK-b');
    expect(h(ctx, 'get', 'X-Missing')).toBeNull();
    expect(h(ctx, 'gete', 'X-Missing')).toBe('');
    expect(h(ctx, 'getw', 'X-Missing')).toBe('<<null>>');
  });

  it('get_idx counts header fields; a negative index counts from the end', () => {
    const ctx = makeContext(LINES);
    expect(h(ctx, 'get_idx', 'X-N', 0)).toBe('one');
    expect(h(ctx, 'get_idx', 'X-N', 2)).toBe('three');
    expect(h(ctx, 'get_idx', 'X-N', 3)).toBeNull();
    expect(h(ctx, 'get_idx', 'X-N', -1)).toBe('three');
    expect(h(ctx, 'get_idx', 'X-N', -3)).toBe('one');
    expect(h(ctx, 'get_idx', 'X-N', -4)).toBeNull();
    expect(h(ctx, 'gete_idx', 'X-N', -4)).toBe('');
    expect(h(ctx, 'getw_idx', 'X-N', 9)).toBe('<<null>>');
    expect(h(ctx, 'get_idx', 'Via', 1)).toBe('SIP/2.0/UDP 10.0.0.3;branch=z9hG4bK-c');
    expect(h(ctx, 'get_idx', 'v', -2)).toBe('SIP/2.0/UDP 10.0.0.1;branch=z9hG4bK-a, SIP/2.0/UDP 10.0.0.2;branch=z9hG4bK-b');
  });

  it('ignores edits made in the route', () => {
    const ctx = makeContext(LINES);
    h(ctx, 'remove', 'X-N');
    h(ctx, 'insert', 'X-N: zero\r\n');
    expect(h(ctx, 'get', 'X-N')).toBe('one');
    expect(h(ctx, 'get_idx', 'X-N', -1)).toBe('three');
    expect(sentText(ctx)).toContain('X-N: zero');
    expect(sentText(ctx)).not.toContain('X-N: one');
  });

  it('an invalid name gives null and an error log', () => {
    const log = errorLog();
    const ctx = makeContext(LINES, { services: testServices({ logger: log.logger }) });
    expect(h(ctx, 'get', 'bad name')).toBeNull();
    expect(h(ctx, 'getw_idx', '', 0)).toBe('<<null>>');
    expect(log.errors).toHaveLength(2);
  });
});

describe('match_content', () => {
  const LINES = [...INVITE_LINES, 'X-T: Alpha', 'X-T: beta', 'X-T:  alphabet  '];
  const ctx = makeContext(LINES);
  const m = (op: string, val: string, idx: string, name = 'X-T'): unknown => h(ctx, 'match_content', name, op, val, idx);

  it('eq / ne / sw / in, case-insensitive, on trimmed bodies', () => {
    expect(m('eq', 'ALPHA', 'f')).toBe(true);
    expect(m('eq', 'alpha', 'l')).toBe(false);
    expect(m('eq', 'alphabet', 'l')).toBe(true);
    expect(m('EQ', 'Beta', 'one')).toBe(true);
    expect(m('ne', 'alpha', 'f')).toBe(false);
    expect(m('ne', 'alpha', 'l')).toBe(true);
    expect(m('ne', 'gamma', 'all')).toBe(true);
    expect(m('ne', 'beta', 'a')).toBe(false);
    expect(m('sw', 'AL', 'f')).toBe(true);
    expect(m('sw', 'al', 'a')).toBe(false);
    expect(m('sw', 'be', 'o')).toBe(true);
    expect(m('in', 'ET', 'o')).toBe(true);
    expect(m('in', 'a', 'a')).toBe(true);
    expect(m('in', 'ph', 'a')).toBe(false);
    expect(m('in', 'ph', 'Last')).toBe(true);
  });

  it('false for a missing header and for invalid arguments', () => {
    expect(m('eq', 'x', 'o', 'X-None')).toBe(false);
    expect(m('ne', 'x', 'a', 'X-None')).toBe(false);
    expect(m('re', 'al.*', 'f')).toBe(false);
    expect(m('xx', 'alpha', 'f')).toBe(false);
    expect(m('eq', 'alpha', 'x')).toBe(false);
    expect(m('eq', 'alpha', '')).toBe(false);
    expect(m('eq', 'alpha', 'f', 'bad name')).toBe(false);
  });

  it('matches compact forms and reads the received message only', () => {
    const c = makeContext(INVITE_LINES);
    expect(h(c, 'match_content', 'f', 'in', 'alice@atlanta.test', 'f')).toBe(true);
    h(c, 'append', 'X-New: 1\r\n');
    expect(h(c, 'match_content', 'X-New', 'eq', '1', 'o')).toBe(false);
  });
});
