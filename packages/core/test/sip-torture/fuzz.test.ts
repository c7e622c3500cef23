// Mutation fuzzing of parseMessage: whatever the octets, only SipParseError may escape, from
// parseMessage or from any accessor / serialize() of a message that did parse, and nothing hangs.
//
//   KSR_FUZZ_SEED=<uint32>   seed (default fixed; printed at the end)
//   KSR_FUZZ_COUNT=<n>       number of mutated inputs (default 100000)
//
// A SipParseError whose reason says "internal" (the parser's safety net around a crash) counts as a
// failure too. A failure names the seed, the iteration and the input in base64; keep such an input as a
// regression fixture in test/fixtures/fuzz/<name>.sip (replayed by this file).
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { describe, expect, it } from 'vitest';
import { parseMessage, SipParseError } from '../../src/sip/index.js';
import { FIXTURES, fixture, fixtureNames, isReq, type Msg } from './helpers.js';
import { mulberry32 } from '../support/prng.js';

const SEED = (Number(process.env.KSR_FUZZ_SEED ?? 0x4b535231) >>> 0) || 1;
const COUNT = Math.max(0, Math.floor(Number(process.env.KSR_FUZZ_COUNT ?? 100_000)));
/** One input taking longer than this to parse + read is reported as a hang. */
const SLOW_MS = 1_000;

// ---------------------------------------------------------------------------------------------
// deterministic PRNG (mulberry32), one independent stream per iteration so that an iteration
// can be replayed from (seed, iteration) alone.


class Rng {
  readonly next: () => number;
  constructor(seed: number) {
    this.next = mulberry32(seed >>> 0);
  }
  int(n: number): number {
    return Math.floor(this.next() * n);
  }
  range(lo: number, hi: number): number {
    return lo + this.int(hi - lo + 1);
  }
  pick<T>(xs: readonly T[]): T {
    return xs[this.int(xs.length)] as T;
  }
  chance(p: number): boolean {
    return this.next() < p;
  }
}

function iterationSeed(seed: number, i: number): number {
  let h = (seed ^ Math.imul(i + 1, 0x9e3779b1)) >>> 0;
  h = Math.imul(h ^ (h >>> 16), 0x85ebca6b) >>> 0;
  h = Math.imul(h ^ (h >>> 13), 0xc2b2ae35) >>> 0;
  return (h ^ (h >>> 16)) >>> 0;
}

// ---------------------------------------------------------------------------------------------
// seeds: the whole RFC 4475 corpus plus a few ordinary messages

const CRLF = '\r\n';
const gen = (lines: string[], body = ''): Buffer =>
  Buffer.from(lines.join(CRLF) + CRLF + `Content-Length: ${Buffer.byteLength(body)}` + CRLF + CRLF + body, 'utf8');

const SDP = ['v=0', 'o=- 1 1 IN IP4 192.0.2.10', 's=-', 'c=IN IP4 192.0.2.10', 't=0 0', 'm=audio 4000 RTP/AVP 0 8 101', 'a=sendrecv', ''].join(CRLF);

const GENERATED: Buffer[] = [
  gen(
    [
      'INVITE sip:bob@biloxi.example.com;transport=tcp SIP/2.0',
      'Via: SIP/2.0/UDP pc33.atlanta.example.com:5060;branch=z9hG4bK776asdhds;rport',
      'Via: SIP/2.0/TCP [2001:db8::9]:5061;branch=z9hG4bK-2;received=192.0.2.1;rport=5070;ttl=16;maddr=239.255.255.1',
      'Max-Forwards: 70',
      'To: "Bob \\"B\\"" <sip:bob@biloxi.example.com>',
      'From: Alice <sips:alice:secret@atlanta.example.com:5061;user=phone?Subject=hi>;tag=1928301774',
      'Call-ID: a84b4c76e66710@pc33.atlanta.example.com',
      'CSeq: 314159 INVITE',
      'Contact: <sip:alice@pc33.atlanta.example.com>;expires=3600;q=0.7, "Other" <sip:o@[::1]:5062>',
      'Route: <sip:p1.example.com;lr>, <sip:p2.example.com;lr>',
      'Record-Route: <sip:rr.example.com;lr;ftag=x>',
      'Content-Type: application/sdp',
      'Supported: 100rel, timer',
    ],
    SDP,
  ),
  gen([
    'REGISTER sips:registrar.example.com SIP/2.0',
    'v: SIP/2.0/TLS 192.0.2.4:5061;branch=z9hG4bKnashds7',
    'Max-Forwards: 70',
    't: Bob <sips:bob@example.com>',
    'f: Bob <sips:bob@example.com>;tag=456248',
    'i: 843817637684230@998sdasdh09',
    'CSeq: 1826 REGISTER',
    'm: <sips:bob@192.0.2.4>;expires=7200, <tel:+1-201-555-0123;phone-context=example.com>',
    'Expires: 7200',
    'Authorization: Digest username="bob", realm="example.com", nonce="ea9c8e88df84f1cec4341ae6cbe5a359", uri="sips:example.com", response="dfe56131d1958046689d83306477ecc"',
  ]),
  gen([
    'SIP/2.0 200 OK',
    'Via: SIP/2.0/UDP server10.biloxi.example.com;branch=z9hG4bKnashds8;received=192.0.2.3',
    'Via: SIP/2.0/UDP bigbox3.site3.atlanta.example.com;branch=z9hG4bK77ef4c2312983.1;received=192.0.2.2',
    'Record-Route: <sip:server10.biloxi.example.com;lr>, <sip:bigbox3.site3.atlanta.example.com;lr>',
    'To: Bob <sip:bob@biloxi.example.com>;tag=a6c85cf',
    'From: Alice <sip:alice@atlanta.example.com>;tag=1928301774',
    'Call-ID: a84b4c76e66710@pc33.atlanta.example.com',
    'CSeq: 314159 INVITE',
    'Contact: *',
  ]),
  gen([
    'CANCEL tel:+1-201-555-0123;phone-context=example.com SIP/2.0',
    'Via: SIP/2.0/SCTP host.example.com;branch=z9hG4bK-x',
    'Max-Forwards: 0',
    'From: <sip:a@example.com>;tag=1',
    'To: <sip:b@example.com>',
    'Call-ID: c@h',
    'CSeq: 4294967295 CANCEL',
    'Subject: folded',
    ' continuation\tand tab',
  ]),
];

function loadSeeds(): { name: string; bytes: Buffer }[] {
  const out: { name: string; bytes: Buffer }[] = [];
  for (const cls of ['valid', 'invalid', 'application'] as const) {
    for (const n of fixtureNames(cls)) out.push({ name: `${cls}/${n}`, bytes: fixture(cls, n) });
  }
  GENERATED.forEach((b, i) => out.push({ name: `generated/${i}`, bytes: b }));
  return out;
}

// ---------------------------------------------------------------------------------------------
// mutations

const INTERESTING_BYTES = [0x0d, 0x0a, 0x00, 0x20, 0x09, 0x3a, 0x3c, 0x3e, 0x22, 0x3b, 0x2c, 0x5c, 0x25, 0x3d, 0x40, 0x5b, 0x5d, 0x3f, 0x2f, 0x7f, 0x80, 0xff, 0xc3, 0xe2];
const INTERESTING_STRINGS = ['\r\n', '\r\n\r\n', '\r\n ', '\n', '\r', '\r\n\t', ':', ' : ', ';', ';;', ',', ',,', '<', '>', '<>', '"', '\\', '\\"', '%', '%0', '%00', '%zz', '@', '@@', '[', ']', '[::1]', '[:', 'sip:', 'sips:', 'tel:', 'SIP/2.0', 'SIP/2.0/UDP ', ';branch=', ';rport', ';rport=', ';received=', ';ttl=', ';maddr=', ';tag=', ';expires=', ';q=', '*', '=', '==', '\x00', ' ', '\t'];
const NUMBERS = ['99999999999999999999', '-1', '4294967296', '4294967295', '0', '00000000000000000000001', '65536', '65535', '256', '255', '-0', '+1', '1e3', '0x1f', '9007199254740993', '1.5', ' 1', '', '18446744073709551616'];
const HEADER_NAMES = ['Via', 'v', 'From', 'f', 'To', 't', 'Call-ID', 'i', 'CSeq', 'Contact', 'm', 'Content-Length', 'l', 'Content-Type', 'c', 'Route', 'Record-Route', 'Max-Forwards', 'Expires', 'X-Fuzz'];

function splitLines(b: Buffer): Buffer[] {
  const out: Buffer[] = [];
  let start = 0;
  for (let i = b.indexOf('\r\n'); i >= 0; i = b.indexOf('\r\n', start)) {
    out.push(b.subarray(start, i));
    start = i + 2;
  }
  out.push(b.subarray(start));
  return out;
}
const joinLines = (ls: Buffer[]): Buffer => Buffer.concat(ls.flatMap((l, i) => (i === 0 ? [l] : [Buffer.from(CRLF), l])));

/** Index (in lines) of the empty line ending the header section, or the number of lines. */
function headerEnd(lines: Buffer[]): number {
  const i = lines.findIndex((l, k) => k > 0 && l.length === 0);
  return i < 0 ? lines.length : i;
}

type Mutator = (b: Buffer, r: Rng, seeds: Buffer[]) => Buffer;

const insertAt = (b: Buffer, at: number, x: Buffer): Buffer => Buffer.concat([b.subarray(0, at), x, b.subarray(at)]);

const MUTATORS: { name: string; weight: number; fn: Mutator }[] = [
  { name: 'truncate', weight: 6, fn: (b, r) => b.subarray(0, r.int(b.length + 1)) },
  {
    name: 'flip',
    weight: 10,
    fn: (b, r) => {
      const c = Buffer.from(b);
      for (let k = r.range(1, 4); k > 0 && c.length > 0; k--) {
        const at = r.int(c.length);
        c[at] = r.chance(0.5) ? c[at]! ^ (1 << r.int(8)) : r.int(256);
      }
      return c;
    },
  },
  {
    name: 'insert-byte',
    weight: 10,
    fn: (b, r) => {
      let c = b;
      for (let k = r.range(1, 3); k > 0; k--) c = insertAt(c, r.int(c.length + 1), Buffer.from([r.pick(INTERESTING_BYTES)]));
      return c;
    },
  },
  { name: 'insert-string', weight: 10, fn: (b, r) => insertAt(b, r.int(b.length + 1), Buffer.from(r.pick(INTERESTING_STRINGS), 'latin1')) },
  {
    name: 'delete-range',
    weight: 5,
    fn: (b, r) => {
      const at = r.int(b.length + 1);
      return Buffer.concat([b.subarray(0, at), b.subarray(Math.min(b.length, at + r.range(1, 16)))]);
    },
  },
  {
    name: 'dup-header',
    weight: 8,
    fn: (b, r) => {
      const ls = splitLines(b);
      const he = headerEnd(ls);
      if (he < 2) return b;
      const k = r.range(1, he - 1);
      ls.splice(r.range(1, he), 0, ls[k]!);
      return joinLines(ls);
    },
  },
  {
    name: 'remove-header',
    weight: 8,
    fn: (b, r) => {
      const ls = splitLines(b);
      const he = headerEnd(ls);
      if (he < 2) return b;
      ls.splice(r.range(1, he - 1), 1);
      return joinLines(ls);
    },
  },
  {
    name: 'numbers',
    weight: 10,
    fn: (b, r) => {
      const s = b.toString('latin1');
      const spans: [number, number][] = [];
      for (const m of s.matchAll(/\d+/g)) spans.push([m.index, m.index + m[0].length]);
      if (spans.length === 0) return b;
      const [a, z] = r.pick(spans);
      return Buffer.from(s.slice(0, a) + r.pick(NUMBERS) + s.slice(z), 'latin1');
    },
  },
  {
    name: 'long-line',
    weight: 3,
    fn: (b, r) => {
      const n = r.pick([300, 1_000, 4_000, 9_000, 20_000, 70_000]);
      const filler = r.pick(['a', ';a', ',', ' ', '%41', 'x=y;', '<sip:a@b>,']).repeat(Math.ceil(n / 4)).slice(0, n);
      const ls = splitLines(b);
      const he = headerEnd(ls);
      if (r.chance(0.5) || he < 2) {
        ls.splice(r.range(1, Math.max(1, he)), 0, Buffer.from(`${r.pick(HEADER_NAMES)}: ${filler}`, 'latin1'));
      } else {
        const k = r.range(0, he - 1);
        ls[k] = Buffer.concat([ls[k]!, Buffer.from(filler, 'latin1')]);
      }
      return joinLines(ls);
    },
  },
  {
    name: 'many-headers',
    weight: 1,
    fn: (b, r) => {
      const ls = splitLines(b);
      const extra = Array.from({ length: r.pick([50, 200, 1_000, 3_000]) }, (_, k) => Buffer.from(`${r.pick(HEADER_NAMES)}: ${k}`, 'latin1'));
      ls.splice(1, 0, ...extra);
      return joinLines(ls);
    },
  },
  {
    name: 'stray-crlf',
    weight: 6,
    fn: (b, r) => {
      const ls = splitLines(b);
      const at = r.int(ls.length + 1);
      const what = r.pick(['', ' ', '\t', '\r', '\n', '\r\n']);
      if (r.chance(0.3)) return Buffer.concat([Buffer.from('\r\n'.repeat(r.range(1, 3))), b]);
      ls.splice(at, 0, Buffer.from(what, 'latin1'));
      return joinLines(ls);
    },
  },
  {
    name: 'fold',
    weight: 4,
    fn: (b, r) => {
      const he = b.indexOf('\r\n\r\n');
      const at = r.int((he < 0 ? b.length : he) + 1);
      return insertAt(b, at, Buffer.from(r.pick(['\r\n ', '\r\n\t', '\r\n  ', '\r\n']), 'latin1'));
    },
  },
  {
    name: 'start-line',
    weight: 6,
    fn: (b, r) => {
      const eol = b.indexOf('\r\n');
      const first = b.subarray(0, eol < 0 ? b.length : eol).toString('latin1');
      const rest = eol < 0 ? '' : b.subarray(eol).toString('latin1');
      const parts = first.split(' ');
      let line: string;
      switch (r.int(6)) {
        case 0: // swap two parts
          if (parts.length >= 2) {
            const i = r.int(parts.length);
            const j = r.int(parts.length);
            [parts[i], parts[j]] = [parts[j]!, parts[i]!];
          }
          line = parts.join(' ');
          break;
        case 1:
          line = parts.reverse().join(' ');
          break;
        case 2:
          line = parts.join(r.pick(['  ', '\t', '', ' \t ']));
          break;
        case 3:
          line = r.pick(['SIP/2.0 200', 'SIP/2.0 99999 X', 'SIP/2.0', 'SIP/2.0 2000 OK', 'INVITE', 'INVITE sip:a SIP/2.0 x', 'SIP/3.0 200 OK', 'sip/2.0 200 ok', ' INVITE sip:a@b SIP/2.0', 'INVITE sip:a@b SIP/2.0 ', 'INVITE sip:a@b SIP/20', 'OPTIONS * SIP/2.0']);
          break;
        case 4:
          line = first.replace(/SIP\/2\.0/, r.pick(['SIP/2.', 'SIP/', 'SIP/1.0', 'SIP/2.0/UDP', 'HTTP/1.1', 'SIP/99999999999999999999.0']));
          break;
        default:
          line = parts.slice(0, r.int(parts.length + 1)).join(' ');
      }
      return Buffer.from(line + rest, 'latin1');
    },
  },
  {
    name: 'header-name',
    weight: 5,
    fn: (b, r) => {
      const ls = splitLines(b);
      const he = headerEnd(ls);
      if (he < 2) return b;
      const k = r.range(1, he - 1);
      const s = ls[k]!.toString('latin1');
      const colon = s.indexOf(':');
      const value = colon < 0 ? s : s.slice(colon + 1);
      const name = r.pick([...HEADER_NAMES, '', ' ', 'Via ', 'X y', 'Ví', 'Call-ID\x00', '::']);
      ls[k] = Buffer.from(r.chance(0.2) ? `${name}${value}` : `${name}:${value}`, 'latin1');
      return joinLines(ls);
    },
  },
  {
    name: 'splice',
    weight: 4,
    fn: (b, r, seeds) => {
      const other = r.pick(seeds);
      const a = r.int(other.length + 1);
      const chunk = other.subarray(a, a + r.range(1, 200));
      return insertAt(b, r.int(b.length + 1), chunk);
    },
  },
  {
    name: 'body-length',
    weight: 4,
    fn: (b, r) => {
      const he = b.indexOf('\r\n\r\n');
      if (he < 0) return b;
      return r.chance(0.5)
        ? Buffer.concat([b, Buffer.alloc(r.range(1, 100), r.int(256))])
        : b.subarray(0, Math.max(he + 4, b.length - r.range(1, 100)));
    },
  },
];
const TOTAL_WEIGHT = MUTATORS.reduce((s, m) => s + m.weight, 0);

function pickMutator(r: Rng): (typeof MUTATORS)[number] {
  let x = r.int(TOTAL_WEIGHT);
  for (const m of MUTATORS) {
    x -= m.weight;
    if (x < 0) return m;
  }
  return MUTATORS[0]!;
}

interface Case {
  input: Buffer;
  opts: Parameters<typeof parseMessage>[1];
  how: string;
}

function makeCase(i: number, seeds: { name: string; bytes: Buffer }[]): Case {
  const r = new Rng(iterationSeed(SEED, i));
  const opts: NonNullable<Parameters<typeof parseMessage>[1]> = {};
  if (r.chance(0.25)) opts.stream = true;
  if (r.chance(0.1)) opts.limits = { maxMessageSize: r.pick([64, 512, 4096]), maxHeaders: r.pick([1, 5, 20]), maxLineLength: r.pick([16, 80, 1024]) };
  if (r.chance(0.03)) {
    // pure noise
    const n = r.int(300);
    const input = Buffer.alloc(n);
    for (let k = 0; k < n; k++) input[k] = r.chance(0.5) ? r.pick(INTERESTING_BYTES) : r.int(256);
    return { input, opts, how: 'noise' };
  }
  const seed = r.pick(seeds);
  const plain = seeds.map((s) => s.bytes);
  let input = seed.bytes;
  const steps: string[] = [];
  for (let k = r.pick([1, 1, 1, 1, 2, 2, 3, 4]); k > 0; k--) {
    const m = pickMutator(r);
    input = m.fn(input, r, plain);
    steps.push(m.name);
  }
  return { input, opts, how: `${seed.name} ${steps.join('+')}` };
}

// ---------------------------------------------------------------------------------------------

/** Every accessor separately: a SipParseError from one must not hide a crash in another. */
const ACCESSORS: [string, (m: Msg) => unknown][] = [
  ['serialize', (m) => m.serialize()],
  ['headers', (m) => m.headers.map((h) => h.name + h.key + h.value)],
  ['headerValues(Contact)', (m) => m.headerValues('Contact')],
  ['headerValues(Route)', (m) => m.headerValues('Route')],
  ['header(Expires)', (m) => m.header('Expires')],
  ['hasHeader(Via)', (m) => m.hasHeader('Via')],
  ['ruri', (m) => (isReq(m) ? [m.method, m.uri, m.version, m.ruri.scheme, m.ruri.user, m.ruri.host, m.ruri.port, [...m.ruri.params], [...m.ruri.headers]] : [m.status, m.reason, m.version])],
  ['via', (m) => m.via.map((v) => [v.protocol, v.transport, v.host, v.port, v.branch, v.received, v.rport, v.maddr, v.ttl, [...v.params]])],
  ['from', (m) => [m.from.displayName, m.from.tag, m.from.uri.host, [...m.from.params]]],
  ['to', (m) => [m.to.displayName, m.to.tag, m.to.uri.host, [...m.to.params]]],
  ['callId', (m) => m.callId],
  ['cseq', (m) => [m.cseq.seq, m.cseq.method]],
  ['maxForwards', (m) => m.maxForwards],
  ['contentLength', (m) => m.contentLength],
  ['expires', (m) => m.expires],
  ['contentType', (m) => m.contentType],
  ['contact', (m) => [m.contact.star, m.contact.contacts.map((c) => [c.displayName, c.uri.user, c.uri.host, [...c.params]])]],
  ['route', (m) => m.route.map((x) => [x.uri.host, [...x.uri.params]])],
  ['recordRoute', (m) => m.recordRoute.map((x) => [x.uri.host, [...x.uri.params]])],
  ['body', (m) => m.body.length],
];

interface Failure {
  signature: string;
  text: string;
}

interface Stats {
  parsed: number;
  rejected: number;
  accessorErrors: number;
  slowestMs: number;
  slowestHow: string;
}

/**
 * parseMessage converts anything unexpected into SipParseError("internal parser error: …") as a
 * safety net; that keeps the server alive but is still a parser bug, so it counts as a failure.
 */
function isMaskedCrash(e: unknown): boolean {
  return e instanceof SipParseError && /internal/i.test(e.reason);
}

/** Runs one input; returns a failure description, or undefined. */
function runOne(input: Buffer, opts: Case['opts'], stats: Stats): { where: string; error: unknown } | { where: 'slow'; ms: number } | undefined {
  const t0 = performance.now();
  let m: Msg;
  try {
    m = parseMessage(input, opts);
  } catch (e) {
    if (e instanceof SipParseError && !isMaskedCrash(e)) {
      stats.rejected++;
      return checkTime(t0, stats);
    }
    return { where: 'parseMessage', error: e };
  }
  stats.parsed++;
  for (const [name, read] of ACCESSORS) {
    try {
      read(m);
    } catch (e) {
      if (e instanceof SipParseError && !isMaskedCrash(e)) {
        stats.accessorErrors++;
        continue;
      }
      return { where: name, error: e };
    }
  }
  return checkTime(t0, stats);
}

function checkTime(t0: number, stats: Stats): { where: 'slow'; ms: number } | undefined {
  const ms = performance.now() - t0;
  if (ms > stats.slowestMs) stats.slowestMs = ms;
  return ms > SLOW_MS ? { where: 'slow', ms } : undefined;
}

function describeError(e: unknown): string {
  if (e instanceof Error) return `${e.name}: ${e.message}\n${(e.stack ?? '').split('\n').slice(1, 4).join('\n')}`;
  return `non-Error thrown: ${String(e)}`;
}

describe('fuzz: parseMessage on mutated messages', () => {
  it(`${COUNT} mutated inputs: only SipParseError, no hang (seed ${SEED})`, () => {
    const seeds = loadSeeds();
    // the seeds themselves first
    const stats: Stats = { parsed: 0, rejected: 0, accessorErrors: 0, slowestMs: 0, slowestHow: '' };
    const failures = new Map<string, Failure>();
    const note = (how: string, iteration: number | string, input: Buffer, opts: Case['opts'], f: NonNullable<ReturnType<typeof runOne>>): void => {
      const what = f.where === 'slow' ? `took ${(f as { ms: number }).ms.toFixed(0)} ms` : `${f.where} threw ${describeError((f as { error: unknown }).error)}`;
      const signature = f.where === 'slow' ? 'slow' : `${f.where}: ${describeError((f as { error: unknown }).error).split('\n').slice(0, 2).join(' | ')}`;
      if (failures.has(signature) || failures.size >= 25) return;
      failures.set(signature, {
        signature,
        text:
          `seed=${SEED} iteration=${iteration} (${how}) opts=${JSON.stringify(opts ?? {})}\n` +
          `  ${what}\n` +
          `  input (${input.length} octets, base64): ${input.length <= 4096 ? input.toString('base64') : `${input.subarray(0, 4096).toString('base64')}… (truncated; replay with KSR_FUZZ_SEED=${SEED})`}`,
      });
    };

    for (const s of seeds) {
      for (const opts of [undefined, { stream: true }] as const) {
        const f = runOne(s.bytes, opts, stats);
        if (f) note(s.name, 'seed', s.bytes, opts, f);
      }
    }
    // regression inputs kept from earlier runs
    const regressionDir = join(FIXTURES, 'fuzz');
    if (existsSync(regressionDir)) {
      for (const name of readdirSync(regressionDir).filter((n) => n.endsWith('.sip'))) {
        const input = readFileSync(join(regressionDir, name));
        for (const opts of [undefined, { stream: true }] as const) {
          const f = runOne(input, opts, stats);
          if (f) note(`fixtures/fuzz/${name}`, 'regression', input, opts, f);
        }
      }
    }

    const started = performance.now();
    for (let i = 0; i < COUNT; i++) {
      const c = makeCase(i, seeds);
      const before = stats.slowestMs;
      const f = runOne(c.input, c.opts, stats);
      if (stats.slowestMs > before) stats.slowestHow = `iteration ${i} (${c.how})`;
      if (f) note(c.how, i, c.input, c.opts, f);
    }
    const secs = (performance.now() - started) / 1000;
    console.log(
      `[fuzz] seed=${SEED} inputs=${COUNT} parsed=${stats.parsed} rejected=${stats.rejected} ` +
        `accessor-SipParseErrors=${stats.accessorErrors} slowest=${stats.slowestMs.toFixed(1)}ms (${stats.slowestHow}) ` +
        `time=${secs.toFixed(1)}s failures=${failures.size}`,
    );
    expect([...failures.values()].map((f) => f.text)).toEqual([]);
  }, 600_000);
});
