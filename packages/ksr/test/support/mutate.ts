/**
 * Deterministic mutations of SIP messages for server-level fuzzing: truncation, byte flips,
 * inserted control/structural bytes, duplicated and removed header lines, huge numbers, long
 * lines, stray CR/LF/NUL and start-line damage. Foreign hosts in the seeds are on purpose: these
 * messages are only ever sent inside a loopback-only network namespace.
 */

export { mulberry32 as rng } from '../../../core/test/support/prng.js';

const CRLF = '\r\n';

export function seedMessages(): Buffer[] {
  const sdp = 'v=0\r\no=- 1 1 IN IP4 192.0.2.10\r\ns=-\r\nc=IN IP4 192.0.2.10\r\nt=0 0\r\nm=audio 4000 RTP/AVP 0\r\n';
  const msgs = [
    [
      'INVITE sip:bob@biloxi.example.com SIP/2.0',
      'Via: SIP/2.0/UDP pc33.atlanta.example.com;branch=z9hG4bK776asdhds;rport',
      'Max-Forwards: 70',
      'To: Bob <sip:bob@biloxi.example.com>',
      'From: "Alice A." <sip:alice@atlanta.example.com>;tag=1928301774',
      'Call-ID: a84b4c76e66710@pc33.atlanta.example.com',
      'CSeq: 314159 INVITE',
      'Contact: <sip:alice@pc33.atlanta.example.com>',
      'Record-Route: <sip:p1.example.com;lr>, <sip:p2.example.com;lr>',
      'Content-Type: application/sdp',
      `Content-Length: ${sdp.length}`,
      '',
      sdp,
    ].join(CRLF),
    [
      'REGISTER sip:registrar.biloxi.example.com SIP/2.0',
      'v: SIP/2.0/TCP bobspc.biloxi.example.com:5060;branch=z9hG4bKnashds7',
      'Max-Forwards: 70',
      't: Bob <sip:bob@biloxi.example.com>',
      'f: Bob <sip:bob@biloxi.example.com>;tag=456248',
      'i: 843817637684230@998sdasdh09',
      'CSeq: 1826 REGISTER',
      'm: <sip:bob@192.0.2.4>;expires=7200, "Mobile" <sip:bob@[2001:db8::9]:5070;transport=tcp>;q=0.5',
      'Expires: 7200',
      'l: 0',
      '',
      '',
    ].join(CRLF),
    [
      'OPTIONS sip:127.0.0.1:5060 SIP/2.0',
      'Via: SIP/2.0/UDP 127.0.0.1:5099;branch=z9hG4bKopt1;rport',
      'From: <sip:probe@127.0.0.1>;tag=abc',
      'To: <sip:127.0.0.1:5060>',
      'Call-ID: opt-1@127.0.0.1',
      'CSeq: 7 OPTIONS',
      'Route: <sip:edge.example.net;lr>',
      'Max-Forwards: 1',
      'Content-Length: 0',
      '',
      '',
    ].join(CRLF),
    [
      'SIP/2.0 180 Ringing',
      'Via: SIP/2.0/UDP 127.0.0.1:5060;branch=z9hG4bKprx1, SIP/2.0/UDP 192.0.2.1:5060;branch=z9hG4bKuac1;received=192.0.2.1;rport=5060',
      'From: <sip:a@example.com>;tag=1',
      'To: <sip:b@example.com>;tag=2',
      'Call-ID: resp-1',
      'CSeq: 1 INVITE',
      'Content-Length: 0',
      '',
      '',
    ].join(CRLF),
  ];
  return msgs.map((m) => Buffer.from(m, 'latin1'));
}

const INSERTS = ['\r', '\n', '\r\n', '\0', ' ', ':', '<', '>', '"', ';', ',', '@', '[', ']', '=', '\\', '%', '%00', '\t', '\r\n\r\n', '\xff'];
const NUMBERS = ['99999999999999999999', '-1', '4294967296', '4294967295', '256', '0', '1e9', '0x10', ''];

function pick<T>(arr: readonly T[], rand: () => number): T {
  return arr[Math.floor(rand() * arr.length)]!;
}

function splitLines(s: string): string[] {
  return s.split('\r\n');
}

export function mutate(seed: Buffer, rand: () => number): Buffer {
  let s = seed.toString('latin1');
  const rounds = 1 + Math.floor(rand() * 3);
  for (let r = 0; r < rounds; r++) {
    const kind = Math.floor(rand() * 10);
    switch (kind) {
      case 0: // truncate
        s = s.slice(0, Math.floor(rand() * s.length));
        break;
      case 1: {
        // byte flips
        const b = Buffer.from(s, 'latin1');
        const flips = 1 + Math.floor(rand() * 4);
        for (let i = 0; i < flips && b.length > 0; i++) b[Math.floor(rand() * b.length)] = Math.floor(rand() * 256);
        s = b.toString('latin1');
        break;
      }
      case 2: {
        // insert a structural or control byte sequence
        const at = Math.floor(rand() * (s.length + 1));
        s = s.slice(0, at) + pick(INSERTS, rand) + s.slice(at);
        break;
      }
      case 3: {
        // duplicate a header line
        const lines = splitLines(s);
        const end = lines.indexOf('');
        if (end > 1) {
          const i = 1 + Math.floor(rand() * (end - 1));
          lines.splice(i, 0, lines[i]!);
        }
        s = lines.join('\r\n');
        break;
      }
      case 4: {
        // remove a header line (or the start line)
        const lines = splitLines(s);
        const end = lines.indexOf('');
        if (end > 0) lines.splice(Math.floor(rand() * end), 1);
        s = lines.join('\r\n');
        break;
      }
      case 5: {
        // replace a number with a huge/negative/odd one
        const nums = [...s.matchAll(/\d+/g)];
        if (nums.length > 0) {
          const m = pick(nums, rand);
          s = s.slice(0, m.index) + pick(NUMBERS, rand) + s.slice(m.index! + m[0].length);
        }
        break;
      }
      case 6: {
        // a very long line or value
        const lines = splitLines(s);
        const i = Math.floor(rand() * Math.max(1, lines.indexOf('')));
        const len = pick([1000, 9000, 70000], rand);
        lines[i] = (lines[i] ?? '') + pick(['a', ';p=x', ',', ' ', '"'], rand).repeat(Math.ceil(len / 2));
        s = lines.join('\r\n');
        break;
      }
      case 7: {
        // stray line breaks inside header values, or bare LF line ends
        s = rand() < 0.5 ? s.replace(/\r\n/g, () => (rand() < 0.2 ? '\n' : '\r\n')) : s.replace(/: /, ':\r\n\r\n');
        break;
      }
      case 8: {
        // start-line damage: swap / drop parts
        const nl = s.indexOf('\r\n');
        const first = nl < 0 ? s : s.slice(0, nl);
        const parts = first.split(' ');
        if (parts.length >= 3) {
          const a = Math.floor(rand() * parts.length);
          const b = Math.floor(rand() * parts.length);
          [parts[a], parts[b]] = [parts[b]!, parts[a]!];
          if (rand() < 0.3) parts.splice(Math.floor(rand() * parts.length), 1);
        }
        s = parts.join(rand() < 0.2 ? '  ' : ' ') + (nl < 0 ? '' : s.slice(nl));
        break;
      }
      default: {
        // many extra headers / many commas
        const extra = Array.from({ length: 1 + Math.floor(rand() * 300) }, (_, i) => `X-H${i}: ${'v,'.repeat(Math.floor(rand() * 5))}`).join('\r\n');
        s = s.replace('\r\n', `\r\n${extra}\r\n`);
      }
    }
  }
  return Buffer.from(s, 'latin1');
}
