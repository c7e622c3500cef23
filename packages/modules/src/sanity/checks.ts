/**
 * The sanity checks, one per bit of Kamailio's sanity module (msg_checks), run in bit order; the
 * first that fails gives the reply that describes it. Written from the module's documentation
 * over ksr's parsed message: checks that ksr's parser already enforces (SIP version, required
 * headers, the first Via) still run and pass for every message that reached the script.
 */
import { parseDigestCredentials, parseUri, type SipRequest, type SipResponse, type SipUri } from '@ksr/core';

export const SANITY = {
  RURI_SIP_VERSION: 1,
  RURI_SCHEME: 2,
  REQUIRED_HEADERS: 4,
  VIA_SIP_VERSION: 8,
  VIA_PROTOCOL: 16,
  CSEQ_METHOD: 32,
  CSEQ_VALUE: 64,
  CONTENT_LENGTH: 128,
  EXPIRES_VALUE: 256,
  PROXY_REQUIRE: 512,
  PARSE_URIS: 1024,
  DIGEST: 2048,
  DUPLICATE_TAGS: 4096,
  AUTHORIZATION: 8192,
  VIA1_HEADER: 16384,
} as const;

/** Every msg_checks bit (1 … 16384). */
export const SANITY_ALL = 32767;
/** Kamailio's default_checks: 1|2|4|32|64|128|256|512|2048. */
export const SANITY_DEFAULT_CHECKS = 3047;

export const URI_CHECK = { RURI: 1, FROM: 2, TO: 4, CONTACT: 8 } as const;
export const URI_CHECK_ALL = 15;
/** Kamailio's default uri_checks: R-URI, From, To. */
export const SANITY_DEFAULT_URI_CHECKS = 7;

/** The reply a failed check asks for. */
export interface SanityFailure {
  /** The bit of the check that failed. */
  check: number;
  code: number;
  reason: string;
  headers?: Array<[string, string]>;
  /** Why, for the log. */
  detail: string;
}

export interface SanityOptions {
  /** Extensions this server supports (modparam proxy_require), lowercased. */
  proxyRequire: ReadonlySet<string>;
}

type Msg = SipRequest | SipResponse;

function isReq(m: Msg): m is SipRequest {
  return 'method' in m;
}

const URI_SCHEMES = new Set(['sip', 'sips', 'tel', 'tels']);

/** Can Kamailio's URI parser make sense of it: sip/sips with a host, tel/tels with a number. */
function uriUsable(u: SipUri): boolean {
  if (!URI_SCHEMES.has(u.scheme)) return false;
  if (u.scheme === 'sip' || u.scheme === 'sips') return u.host !== '';
  if (u.scheme === 'tel') return (u.user ?? '') !== '';
  return (u.opaque ?? '') !== '';
}

/** The Request-URI as it is now (after seturi & co), parsed; undefined when it does not parse. */
function currentRuri(req: SipRequest): SipUri | undefined {
  const n = req.newRequestUri;
  if (n === undefined) return req.ruri;
  try {
    return parseUri(n);
  } catch {
    return undefined;
  }
}

/** An unsigned 32-bit decimal as Kamailio's sanity wants it: 1..10 digits, at most 4294967295. */
function validUint(text: string): boolean {
  return /^\d{1,10}$/.test(text) && Number(text) <= 0xffffffff;
}

/** Header parameter names of a From/To value (after `>`, or after the addr-spec's first `;`). */
function headerParamNames(value: string): string[] {
  let start = -1;
  let inQuote = false;
  let sawAngle = false;
  for (let i = 0; i < value.length; i++) {
    const c = value[i];
    if (inQuote) {
      if (c === '\\') i++;
      else if (c === '"') inQuote = false;
      continue;
    }
    if (c === '"') inQuote = true;
    else if (c === '<') sawAngle = true;
    else if (c === '>' && sawAngle) {
      start = i + 1;
      break;
    }
  }
  if (!sawAngle) start = value.indexOf(';');
  if (start < 0) return [];
  const names: string[] = [];
  inQuote = false;
  let seg = '';
  const flush = (): void => {
    const name = seg.split('=')[0]!.trim().toLowerCase();
    if (name) names.push(name);
    seg = '';
  };
  for (let i = start; i < value.length; i++) {
    const c = value[i]!;
    if (inQuote) {
      if (c === '\\' && i + 1 < value.length) {
        seg += c + value[i + 1];
        i++;
        continue;
      }
      if (c === '"') inQuote = false;
      seg += c;
      continue;
    }
    if (c === '"') inQuote = true;
    if (c === ';') flush();
    else seg += c;
  }
  flush();
  return names;
}

/** Does a Digest credentials value hold every parameter, with plausible values (RFC 2617 §3.2.2)? */
export function digestProblem(value: string): string | undefined {
  const creds = parseDigestCredentials(value);
  if (!creds) return 'not Digest credentials, or malformed';
  const p = creds.params;
  for (const name of ['username', 'realm', 'nonce', 'uri', 'response']) {
    const v = p.get(name);
    if (v === undefined) return `no ${name} parameter`;
    if (v === '' && name !== 'realm') return `empty ${name} parameter`;
  }
  if (!/^(?:[0-9a-fA-F]{32}|[0-9a-fA-F]{64})$/.test(p.get('response')!)) return 'response is not a 32 or 64 hex digit digest';
  if (p.has('qop')) {
    if (!/^[0-9a-fA-F]{8}$/.test(p.get('nc') ?? '')) return 'qop without an 8 hex digit nc';
    if ((p.get('cnonce') ?? '') === '') return 'qop without a cnonce';
  }
  return undefined;
}

function authScheme(value: string): string {
  return (value.trim().split(/[ \t]/, 1)[0] ?? '').toLowerCase();
}

type Check = (m: Msg, uriChecks: number, opts: SanityOptions) => Omit<SanityFailure, 'check'> | undefined;

const bad = (reason: string, detail: string, code = 400): Omit<SanityFailure, 'check'> => ({ code, reason, detail });

const CHECKS: ReadonlyArray<[number, Check]> = [
  [
    SANITY.RURI_SIP_VERSION,
    (m) => {
      if (!isReq(m) || m.version.toUpperCase() === 'SIP/2.0') return undefined;
      return bad('Version Not Supported (R-URI)', `request line version ${m.version}`, 505);
    },
  ],
  [
    SANITY.RURI_SCHEME,
    (m) => {
      if (!isReq(m)) return undefined;
      const u = currentRuri(m);
      if (u && URI_SCHEMES.has(u.scheme)) return undefined;
      return bad('Unsupported URI Scheme in Request URI', `R-URI scheme ${u ? u.scheme : '(unparsable)'}`, 416);
    },
  ],
  [
    SANITY.REQUIRED_HEADERS,
    (m) => {
      for (const h of ['via', 'from', 'to', 'call-id', 'cseq']) {
        if (!m.hasHeader(h)) return bad('Missing Required Header in Request', `no ${h} header`);
      }
      return undefined;
    },
  ],
  // 8 (Via SIP version) and 16 (Via protocol) do nothing in Kamailio either
  [
    SANITY.CSEQ_METHOD,
    (m) => {
      if (!isReq(m) || m.cseq.method === m.method) return undefined;
      return bad('CSeq method does not match request method', `CSeq method ${m.cseq.method}, request method ${m.method}`);
    },
  ],
  [
    SANITY.CSEQ_VALUE,
    (m) => {
      const number = (m.header('cseq') ?? '').trim().split(/[ \t]+/, 1)[0] ?? '';
      return validUint(number) ? undefined : bad('CSeq number is illegal', `CSeq number ${JSON.stringify(number)}`);
    },
  ],
  [
    SANITY.CONTENT_LENGTH,
    (m) => {
      const cl = m.contentLength;
      if (cl === undefined || cl === m.body.length) return undefined;
      return bad('Content-Length mis-match', `Content-Length ${cl}, body ${m.body.length} bytes`);
    },
  ],
  [
    SANITY.EXPIRES_VALUE,
    (m) => {
      const v = m.header('expires');
      if (v === undefined) return undefined;
      if (validUint(v.trim())) return undefined;
      return bad('Expires value is illegal', `Expires ${JSON.stringify(v)}`);
    },
  ],
  [
    SANITY.PROXY_REQUIRE,
    (m, _u, opts) => {
      if (!isReq(m)) return undefined;
      const unsupported = m
        .headerValues('proxy-require')
        .map((v) => v.trim())
        .filter((v) => v !== '' && !opts.proxyRequire.has(v.toLowerCase()));
      if (unsupported.length === 0) return undefined;
      return { code: 420, reason: 'Bad Extension', headers: [['Unsupported', unsupported.join(', ')]], detail: `unsupported Proxy-Require ${unsupported.join(', ')}` };
    },
  ],
  [
    SANITY.PARSE_URIS,
    (m, uriChecks) => {
      if (uriChecks & URI_CHECK.RURI && isReq(m)) {
        const u = currentRuri(m);
        if (!u || !uriUsable(u)) return bad('Bad Request URI', `Request-URI ${JSON.stringify(m.newRequestUri ?? m.uri)}`);
      }
      if (uriChecks & URI_CHECK.FROM && !uriUsable(m.from.uri)) return bad('Bad From URI', `From URI ${JSON.stringify(m.from.uri.raw)}`);
      if (uriChecks & URI_CHECK.TO && !uriUsable(m.to.uri)) return bad('Bad To URI', `To URI ${JSON.stringify(m.to.uri.raw)}`);
      if (uriChecks & URI_CHECK.CONTACT) {
        for (const c of m.contact.contacts) {
          if (!uriUsable(c.uri)) return bad('Bad Contact URI', `Contact URI ${JSON.stringify(c.uri.raw)}`);
        }
      }
      return undefined;
    },
  ],
  [
    SANITY.DIGEST,
    (m) => {
      if (!isReq(m) || m.method === 'ACK' || m.method === 'CANCEL') return undefined;
      for (const name of ['authorization', 'proxy-authorization']) {
        for (const v of m.headerValues(name)) {
          const why = digestProblem(v);
          if (why) return bad('Bad Credentials', `${name}: ${why}`);
        }
      }
      return undefined;
    },
  ],
  [
    SANITY.DUPLICATE_TAGS,
    (m) => {
      for (const name of ['from', 'to']) {
        const v = m.header(name) ?? '';
        if (headerParamNames(v).filter((n) => n === 'tag').length > 1) return bad(`Duplicate ${name === 'from' ? 'From' : 'To'} tag`, `${name}: ${v}`);
      }
      return undefined;
    },
  ],
  [
    SANITY.AUTHORIZATION,
    (m) => {
      if (!isReq(m)) return undefined;
      for (const v of m.headerValues('authorization')) {
        if (authScheme(v) !== 'digest') continue;
        const why = digestProblem(v);
        if (why) return bad('Bad Authorization Header', `authorization: ${why}`);
      }
      return undefined;
    },
  ],
  [
    SANITY.VIA1_HEADER,
    (m) => {
      const top = m.via[0];
      if (top && top.host !== '') return undefined;
      return bad('Missing or Bad Via Header', top ? 'the first Via has no address' : 'no Via');
    },
  ],
];

/**
 * Run the checks named by `msgChecks` (and, for 1024, the URIs named by `uriChecks`) in bit order.
 * undefined when every one passes.
 */
export function runSanityChecks(m: Msg, msgChecks: number, uriChecks: number, opts: SanityOptions): SanityFailure | undefined {
  for (const [bit, check] of CHECKS) {
    if ((msgChecks & bit) === 0) continue;
    const f = check(m, uriChecks, opts);
    if (f) return { check: bit, ...f };
  }
  return undefined;
}
