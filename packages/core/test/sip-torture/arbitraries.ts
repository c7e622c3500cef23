/**
 * fast-check arbitraries for random but valid SIP messages (RFC 3261 §25 grammar), each with
 * a model of what a parser must find in it.
 */
import fc from 'fast-check';

const ALPHA = 'abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ';
const DIGIT = '0123456789';
const ALNUM = ALPHA + DIGIT;
const HEX = '0123456789ABCDEFabcdef';
const TOKEN_CHARS = ALNUM + "-.!%*_+`'~";
const UNRESERVED = ALNUM + "-_.!~*'()";
const WORD_CHARS = ALNUM + '-.!%*_+`\'~()<>:\\"/[]?{}';

const chars = (set: string, minLength: number, maxLength: number): fc.Arbitrary<string> =>
  fc.string({ unit: fc.constantFrom(...set.split('')), minLength, maxLength });

export const token = (min = 1, max = 10): fc.Arbitrary<string> => chars(TOKEN_CHARS, min, max);
const lowerToken = (min = 1, max = 8): fc.Arbitrary<string> => chars('abcdefghijklmnopqrstuvwxyz0123456789-', min, max).filter((s) => /^[a-z]/.test(s));
const escaped: fc.Arbitrary<string> = fc.tuple(fc.constantFrom(...HEX.split('')), fc.constantFrom(...HEX.split(''))).map(([a, b]) => `%${a}${b}`);
const escapedRun = (set: string, min: number, max: number): fc.Arbitrary<string> =>
  fc.array(fc.oneof({ weight: 6, arbitrary: fc.constantFrom(...set.split('')) }, { weight: 1, arbitrary: escaped }), { minLength: min, maxLength: max }).map((a) => a.join(''));

/** A random extension method token (or a well-known one). */
export const method: fc.Arbitrary<string> = fc.oneof(
  fc.constantFrom('INVITE', 'ACK', 'OPTIONS', 'BYE', 'CANCEL', 'REGISTER', 'SUBSCRIBE', 'NOTIFY', 'MESSAGE', 'INFO', 'PRACK', 'UPDATE', 'REFER', 'PUBLISH'),
  token(1, 16),
);

const ipv4: fc.Arbitrary<string> = fc.tuple(fc.nat(255), fc.nat(255), fc.nat(255), fc.nat(255)).map((a) => a.join('.'));
const hex16: fc.Arbitrary<string> = fc.integer({ min: 0, max: 0xffff }).map((n) => n.toString(16));
const ipv6: fc.Arbitrary<string> = fc.oneof(
  fc.array(hex16, { minLength: 8, maxLength: 8 }).map((g) => g.join(':')),
  fc.tuple(fc.array(hex16, { minLength: 0, maxLength: 3 }), fc.array(hex16, { minLength: 0, maxLength: 3 })).map(([a, b]) => `${a.join(':')}::${b.join(':')}`),
  fc.tuple(fc.array(hex16, { minLength: 6, maxLength: 6 }), ipv4).map(([g, v4]) => `${g.join(':')}:${v4}`),
);
const label: fc.Arbitrary<string> = fc
  .tuple(chars(ALNUM, 1, 1), chars(ALNUM + '-', 0, 6), chars(ALNUM, 0, 1))
  .map(([a, b, c]) => (c === '' ? a : a + b + c))
  .filter((l) => !l.endsWith('-'));
const hostname: fc.Arbitrary<string> = fc
  .tuple(fc.array(label, { minLength: 0, maxLength: 3 }), chars(ALPHA, 1, 1), chars(ALNUM, 0, 5), fc.boolean())
  .map(([ls, a, b, dot]) => [...ls, a + b].join('.') + (dot ? '.' : ''));
export const host: fc.Arbitrary<string> = fc.oneof(hostname, ipv4, ipv6.map((h) => `[${h}]`));
const port: fc.Arbitrary<number | undefined> = fc.option(fc.integer({ min: 1, max: 65535 }), { nil: undefined });

interface Param {
  name: string;
  value: string | null;
}
/** `;name[=value]` lists with distinct (case-insensitive) names. */
const paramList = (value: fc.Arbitrary<string>, max: number): fc.Arbitrary<Param[]> =>
  fc.uniqueArray(fc.record({ name: lowerToken(1, 8).map((n) => `x${n}`), value: fc.option(value, { nil: null }) }), {
    maxLength: max,
    selector: (p) => p.name.toLowerCase(),
  });
const fmtParams = (ps: Param[]): string => ps.map((p) => (p.value === null ? `;${p.name}` : `;${p.name}=${p.value}`)).join('');

export interface UriModel {
  text: string;
  scheme: string;
  user?: string;
  host: string;
  port?: number;
  params: Param[];
}

/** sip:/sips: URI. `bare`: usable as an addr-spec (no params, no ; ? , in the user). */
export const sipUri = (bare = false): fc.Arbitrary<UriModel> =>
  fc
    .record({
      scheme: fc.constantFrom('sip', 'sips', 'SIP'),
      user: fc.option(escapedRun(bare ? UNRESERVED + '&=+$/' : UNRESERVED + '&=+$,;?/', 1, 12), { nil: undefined }),
      password: fc.option(escapedRun(bare ? UNRESERVED + '&=+$' : UNRESERVED + '&=+$,', 0, 8), { nil: undefined }),
      host,
      port,
      params: bare
        ? fc.constant<Param[]>([])
        : fc.oneof(paramList(escapedRun(UNRESERVED + '[]/:&+$', 1, 10), 3), fc.constant<Param[]>([{ name: 'lr', value: null }])),
    })
    .map((u) => {
      const userinfo = u.user === undefined ? '' : `${u.user}${u.password !== undefined ? `:${u.password}` : ''}@`;
      const text = `${u.scheme}:${userinfo}${u.host}${u.port !== undefined ? `:${u.port}` : ''}${fmtParams(u.params)}`;
      const m: UriModel = { text, scheme: u.scheme.toLowerCase(), host: u.host, params: u.params };
      if (u.user !== undefined) m.user = u.user;
      if (u.port !== undefined) m.port = u.port;
      return m;
    });

export const telUri: fc.Arbitrary<UriModel> = fc
  .record({
    num: fc.tuple(chars(DIGIT, 1, 1), chars(DIGIT + '-.()', 0, 12), chars(DIGIT, 1, 1)).map(([a, b, c]) => `+${a}${b}${c}`),
    params: fc.option(fc.constantFrom(';phone-context=example.com', ';ext=1234', ';isub=77;phone-context=+1'), { nil: undefined }),
  })
  .map((t) => ({ text: `tel:${t.num}${t.params ?? ''}`, scheme: 'tel', user: t.num, host: '', params: [] }));

const qdtext = chars(' !#$%&\'()*+,-./0123456789:;<=>?@ABCDEFGHIJKLMNOPQRSTUVWXYZ[]^_`abcdefghijklmnopqrstuvwxyz{|}~\té', 0, 12);
/** Display name: [text as written, content after unquoting]. */
const displayName: fc.Arbitrary<[string, string] | undefined> = fc.oneof(
  fc.constant(undefined),
  fc
    .array(fc.oneof({ weight: 5, arbitrary: qdtext }, { weight: 1, arbitrary: fc.constantFrom('\\"', '\\\\', '\\a') }), { maxLength: 4 })
    .map((parts): [string, string] => {
      const raw = parts.join('');
      return [`"${raw}"`, raw.replace(/\\([\s\S])/g, '$1')];
    }),
  fc.array(token(1, 8), { minLength: 1, maxLength: 3 }).map((ts): [string, string] => [ts.join(' '), ts.join(' ')]),
);

const genValue = fc.oneof(token(1, 10), ipv4, qdtext.map((q) => `"${q.replace(/[\\"]/g, '')}"`));

export interface NameAddrModel {
  text: string;
  displayName?: string;
  uri: UriModel;
  params: Param[];
  tag?: string;
}

export const nameAddr = (opts: { tag?: 'always' | 'maybe' | 'never'; tel?: boolean; angle?: boolean } = {}): fc.Arbitrary<NameAddrModel> =>
  fc
    .record({
      dn: displayName,
      angle: opts.angle === true ? fc.constant(true) : fc.boolean(),
      uri: opts.tel ? fc.oneof({ weight: 4, arbitrary: sipUri(false) }, { weight: 1, arbitrary: telUri }) : sipUri(false),
      bareUri: sipUri(true),
      params: paramList(genValue, 2),
      tag: opts.tag === 'always' ? token(1, 12) : opts.tag === 'never' ? fc.constant(undefined) : fc.option(token(1, 12), { nil: undefined }),
      sp: fc.constantFrom('', ' ', '  '),
    })
    .map((r) => {
      const ps = r.tag === undefined ? r.params : [...r.params, { name: 'tag', value: r.tag }];
      const angle = r.angle || r.dn !== undefined;
      const uri = angle ? r.uri : r.bareUri;
      const dnText = r.dn === undefined ? '' : `${r.dn[0]}${r.dn[0].startsWith('"') ? r.sp : ' '}`;
      const text = angle ? `${dnText}<${uri.text}>${fmtParams(ps)}` : `${uri.text}${fmtParams(ps)}`;
      const m: NameAddrModel = { text, uri, params: ps };
      if (r.dn !== undefined) m.displayName = r.dn[1];
      if (r.tag !== undefined) m.tag = r.tag;
      return m;
    });

export interface ViaModel {
  text: string;
  transport: string;
  host: string;
  port?: number;
  branch: string;
  received?: string;
  rport?: number | null;
  ttl?: number;
  maddr?: string;
}

export const via: fc.Arbitrary<ViaModel> = fc
  .record({
    transport: fc.oneof(fc.constantFrom('UDP', 'TCP', 'TLS', 'SCTP', 'WS', 'WSS', 'udp'), token(1, 6)),
    host,
    port,
    branch: token(1, 16).map((t) => `z9hG4bK${t}`),
    received: fc.option(fc.oneof(ipv4, ipv6), { nil: undefined }),
    rport: fc.option(fc.option(fc.integer({ min: 1, max: 65535 }), { nil: null }), { nil: undefined }),
    ttl: fc.option(fc.integer({ min: 0, max: 255 }), { nil: undefined }),
    maddr: fc.option(fc.oneof(hostname, ipv4), { nil: undefined }),
    extra: paramList(token(1, 6), 2),
    sp: fc.constantFrom(' ', '  ', '\t'),
  })
  .map((v) => {
    const ps: Param[] = [{ name: 'branch', value: v.branch }];
    if (v.received !== undefined) ps.push({ name: 'received', value: v.received });
    if (v.rport !== undefined) ps.push({ name: 'rport', value: v.rport === null ? null : String(v.rport) });
    if (v.ttl !== undefined) ps.push({ name: 'ttl', value: String(v.ttl) });
    if (v.maddr !== undefined) ps.push({ name: 'maddr', value: v.maddr });
    ps.push(...v.extra);
    const text = `SIP/2.0/${v.transport}${v.sp}${v.host}${v.port !== undefined ? `:${v.port}` : ''}${fmtParams(ps)}`;
    const m: ViaModel = { text, transport: v.transport.toUpperCase(), host: v.host, branch: v.branch };
    if (v.port !== undefined) m.port = v.port;
    if (v.received !== undefined) m.received = v.received;
    if (v.rport !== undefined) m.rport = v.rport;
    if (v.ttl !== undefined) m.ttl = v.ttl;
    if (v.maddr !== undefined) m.maddr = v.maddr;
    return m;
  });

/** Header text values for extension headers: no leading/trailing white space, no CR/LF. */
const textValue: fc.Arbitrary<string> = fc
  .array(fc.oneof({ weight: 8, arbitrary: chars(ALNUM + '!#$%&\'()*+,-./:;<=>?@[\\]^_`{|}~"', 1, 6) }, { weight: 1, arbitrary: fc.constantFrom('é', 'ü', '日本', '\u{1F600}') }), {
    minLength: 1,
    maxLength: 6,
  })
  .chain((words) => fc.array(fc.constantFrom(' ', '\t', '  '), { minLength: words.length - 1, maxLength: words.length - 1 }).map((seps) => words.map((w, i) => (i === 0 ? w : `${seps[i - 1]}${w}`)).join('')));

export interface HeaderLine {
  /** Name as written. */
  name: string;
  /** Value as written, possibly with folds (CRLF + WSP). */
  written: string;
  /** Whether `written` contains a fold. */
  folded: boolean;
}

const spellings = (...names: string[]): fc.Arbitrary<string> => fc.constantFrom(...names);
const colon = fc.constantFrom(': ', ':', ' : ', ':  ', '\t: ');

/** Fold a value at some of its white space: "a b" -> "a\r\n b". */
const maybeFold = (v: string): fc.Arbitrary<{ written: string; folded: boolean }> =>
  fc.boolean().map((fold) => {
    if (!fold) return { written: v, folded: false };
    const i = v.search(/[ \t]/);
    if (i <= 0) return { written: v, folded: false };
    return { written: `${v.slice(0, i)}\r\n${v.slice(i)}`, folded: true };
  });

export interface MessageModel {
  kind: 'request' | 'response';
  method?: string;
  uri?: UriModel;
  status?: number;
  reason?: string;
  vias: ViaModel[];
  from: NameAddrModel;
  to: NameAddrModel;
  callId: string;
  cseq: { seq: number; method: string };
  maxForwards?: number;
  contacts: NameAddrModel[] | '*';
  routes: NameAddrModel[];
  recordRoutes: NameAddrModel[];
  expires?: number;
  body: Buffer;
  headers: HeaderLine[];
  /** False when the message relies on datagram framing (no Content-Length). */
  hasCl: boolean;
  bytes: Buffer;
}

const callId: fc.Arbitrary<string> = fc.tuple(chars(WORD_CHARS, 1, 16), fc.option(chars(WORD_CHARS, 1, 10), { nil: undefined })).map(([a, b]) => (b === undefined ? a : `${a}@${b}`));

const reason: fc.Arbitrary<string> = fc
  .array(fc.oneof({ weight: 8, arbitrary: chars(ALNUM + "-_.!~*'()&=+$,;?/%:@[]", 1, 8) }, { weight: 1, arbitrary: fc.constantFrom('é', 'но', '日本') }), { maxLength: 4 })
  .chain((ws) => fc.constantFrom(' ', '\t').map((sep) => ws.join(sep)));

/** Lists joined by ", " or split over several header lines. */
const listLines = (name: fc.Arbitrary<string>, items: string[]): fc.Arbitrary<{ name: string; value: string }[]> =>
  fc.tuple(fc.array(fc.boolean(), { minLength: items.length, maxLength: items.length }), fc.array(name, { minLength: items.length, maxLength: items.length }), fc.constantFrom(', ', ',', ' ,\t', ',\r\n ', '\r\n\t, ')).map(([breaks, names, sep]) => {
    const out: { name: string; value: string }[] = [];
    items.forEach((it, i) => {
      const last = out[out.length - 1];
      if (i === 0 || breaks[i] || !last) out.push({ name: names[i]!, value: it });
      else last.value += `${sep}${it}`;
    });
    return out;
  });

export const message: fc.Arbitrary<MessageModel> = fc
  .record({
    kind: fc.constantFrom<'request' | 'response'>('request', 'request', 'response'),
    method,
    ruri: fc.oneof({ weight: 5, arbitrary: sipUri(false) }, { weight: 1, arbitrary: telUri }),
    status: fc.integer({ min: 100, max: 699 }),
    reason,
    vias: fc.array(via, { minLength: 1, maxLength: 4 }),
    from: nameAddr({ tag: 'always', tel: true }),
    to: nameAddr({ tag: 'maybe', tel: true }),
    callId,
    seq: fc.integer({ min: 0, max: 4294967295 }),
    maxForwards: fc.option(fc.integer({ min: 0, max: 255 }), { nil: undefined, freq: 4 }),
    star: fc.boolean(),
    contacts: fc.array(nameAddr({ tag: 'never' }), { maxLength: 3 }),
    routes: fc.array(nameAddr({ tag: 'never', angle: true }), { maxLength: 3 }),
    recordRoutes: fc.array(nameAddr({ tag: 'never', angle: true }), { maxLength: 3 }),
    expires: fc.option(fc.integer({ min: 0, max: 4294967295 }), { nil: undefined }),
    extras: fc.array(fc.tuple(token(1, 10).map((t) => `X-${t}`), textValue), { maxLength: 5 }),
    body: fc.oneof(fc.constant(new Uint8Array(0)), fc.uint8Array({ maxLength: 300 }), fc.constant(Uint8Array.from([0, 13, 10, 13, 10, 0]))),
    compactCl: fc.boolean(),
    zeroPad: fc.constantFrom('', '', '', '0', '000'),
  })
  .chain((r) => {
    const isReq = r.kind === 'request';
    const contacts: NameAddrModel[] | '*' = r.star && isReq ? '*' : r.contacts;
    const body = Buffer.from(r.body);
    return fc
      .record({
        viaLines: listLines(spellings('Via', 'v', 'VIA', 'via'), r.vias.map((v) => v.text)),
        contactLines: contacts === '*' ? fc.constant([{ name: 'Contact', value: '*' }]) : listLines(spellings('Contact', 'm', 'contact'), contacts.map((c) => c.text)),
        routeLines: listLines(spellings('Route', 'route'), r.routes.map((x) => x.text)),
        rrLines: listLines(spellings('Record-Route', 'record-route'), r.recordRoutes.map((x) => x.text)),
        fromName: spellings('From', 'f', 'FROM'),
        toName: spellings('To', 't', 'tO'),
        callIdName: spellings('Call-ID', 'i', 'call-id'),
        colons: fc.array(colon, { minLength: 64, maxLength: 64 }),
        trailing: fc.array(fc.constantFrom('', '', '', ' ', '\t', '  '), { minLength: 64, maxLength: 64 }),
        omitCl: fc.boolean(),
        extras: fc.tuple(...r.extras.map(([, v]) => maybeFold(v))),
        order: fc.array(fc.double({ min: 0, max: 1, noNaN: true }), { minLength: 64, maxLength: 64 }),
      })
      .map((w) => {
        const lines: { name: string; value: string; folded?: boolean }[] = [];
        lines.push(...w.viaLines);
        lines.push({ name: w.fromName, value: r.from.text }, { name: w.toName, value: r.to.text }, { name: w.callIdName, value: r.callId });
        lines.push({ name: 'CSeq', value: `${r.seq} ${isReq ? r.method : r.method}` });
        if (r.maxForwards !== undefined) lines.push({ name: 'Max-Forwards', value: String(r.maxForwards) });
        if (contacts === '*' || contacts.length > 0) lines.push(...w.contactLines);
        lines.push(...w.routeLines, ...w.rrLines);
        if (r.expires !== undefined) lines.push({ name: 'Expires', value: String(r.expires) });
        r.extras.forEach(([name], i) => lines.push({ name, value: w.extras[i]!.written, folded: w.extras[i]!.folded }));
        if (body.length > 0) lines.push({ name: 'Content-Type', value: 'application/octet-stream' });
        // shuffle, but keep the relative order of lines of the same header (list order matters)
        const keyed = lines.map((l, i) => ({ l, k: w.order[i % 64]!, i }));
        const first = new Map<string, number>();
        for (const x of keyed) {
          const canon = canonical(x.l.name);
          if (!first.has(canon)) first.set(canon, x.k);
          x.k = first.get(canon)!;
        }
        keyed.sort((a, b) => a.k - b.k || a.i - b.i);
        const ordered = keyed.map((x) => x.l);
        const omitCl = w.omitCl && r.kind === 'request' && body.length > 0 && r.method !== 'ACK';
        if (!omitCl) ordered.push({ name: r.compactCl ? 'l' : 'Content-Length', value: `${r.zeroPad}${body.length}` });
        const start = isReq ? `${r.method} ${r.ruri.text} SIP/2.0` : `SIP/2.0 ${r.status} ${r.reason}`;
        const head = [start, ...ordered.map((l, i) => `${l.name}${w.colons[i % 64]}${l.value}${w.trailing[i % 64]}`)].join('\r\n');
        const bytes = Buffer.concat([Buffer.from(`${head}\r\n\r\n`, 'utf8'), body]);
        const m: MessageModel = {
          kind: r.kind,
          vias: r.vias,
          from: r.from,
          to: r.to,
          callId: r.callId,
          cseq: { seq: r.seq, method: r.method },
          contacts,
          routes: r.routes,
          recordRoutes: r.recordRoutes,
          body,
          headers: ordered.map((l) => ({ name: l.name, written: l.value, folded: l.value.includes('\r\n') })),
          hasCl: !omitCl,
          bytes,
        };
        if (isReq) {
          m.method = r.method;
          m.uri = r.ruri;
        } else {
          m.status = r.status;
          m.reason = r.reason;
        }
        if (r.maxForwards !== undefined) m.maxForwards = r.maxForwards;
        if (r.expires !== undefined) m.expires = r.expires;
        return m;
      });
  });

const COMPACT: Record<string, string> = { v: 'via', f: 'from', t: 'to', i: 'call-id', m: 'contact', l: 'content-length', c: 'content-type' };
export function canonical(name: string): string {
  const l = name.toLowerCase();
  return COMPACT[l] ?? l;
}
