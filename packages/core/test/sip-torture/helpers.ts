import { readFileSync, readdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { SipParseError, type SipRequest, type SipResponse } from '../../src/sip/index.js';

export const FIXTURES = join(dirname(fileURLToPath(import.meta.url)), '..', 'fixtures');
export const TORTURE = join(FIXTURES, 'torture');

export type Msg = SipRequest | SipResponse;

export function fixture(cls: 'valid' | 'invalid' | 'application', name: string): Buffer {
  return readFileSync(join(TORTURE, cls, `${name}.sip`));
}

export function fixtureNames(cls: 'valid' | 'invalid' | 'application'): string[] {
  return readdirSync(join(TORTURE, cls))
    .filter((f) => f.endsWith('.sip'))
    .map((f) => f.slice(0, -4))
    .sort();
}

export function isReq(m: Msg): m is SipRequest {
  return typeof (m as SipRequest).method === 'string';
}

/**
 * Reads every parsed field of a message (and serialises it), so that a lazily parsing
 * implementation is exercised as fully as an eager one. Returns nothing; throws whatever
 * an accessor throws.
 */
export function touchAll(m: Msg): void {
  const sink: unknown[] = [];
  sink.push(m.raw.length, m.headers.length);
  for (const h of m.headers) sink.push(h.name, h.key, h.value);
  sink.push(m.via.length);
  for (const v of m.via) sink.push(v.protocol, v.transport, v.host, v.port, v.branch, v.received, v.rport, v.maddr, v.ttl, v.params.size);
  for (const na of [m.from, m.to]) {
    sink.push(na.displayName, na.tag, na.params.size, na.uri.scheme, na.uri.user, na.uri.host, na.uri.port, na.uri.params.size, na.uri.headers.size);
  }
  sink.push(m.callId, m.cseq.seq, m.cseq.method, m.maxForwards, m.contentLength, m.expires, m.contentType);
  sink.push(m.contact.star);
  for (const c of m.contact.contacts) sink.push(c.displayName, c.uri.host, c.uri.user, c.params.size);
  for (const r of [...m.route, ...m.recordRoute]) sink.push(r.uri.host, r.uri.params.size);
  sink.push(m.body.length, m.headerValues('Contact').length, m.headerValues('Route').length, m.header('Expires'));
  if (isReq(m)) {
    sink.push(m.method, m.uri, m.version, m.ruri.scheme, m.ruri.user, m.ruri.host, m.ruri.port, m.ruri.params.size, m.ruri.headers.size);
  } else {
    sink.push(m.status, m.reason, m.version);
  }
  sink.push(m.serialize().length);
  if (sink.length === 0) throw new Error('unreachable');
}

/** Runs fn; returns 'ok', or 'parse-error' for SipParseError; rethrows anything else. */
export function outcome(fn: () => unknown): 'ok' | 'parse-error' {
  try {
    fn();
    return 'ok';
  } catch (e) {
    if (e instanceof SipParseError) return 'parse-error';
    throw e;
  }
}

/**
 * The API does not fix whether a display name is returned quoted/escaped or as its
 * content; normalise to the content (quotes removed, quoted-pairs resolved).
 */
export function dn(s: string | undefined): string | undefined {
  if (s === undefined) return undefined;
  if (s.length >= 2 && s.startsWith('"') && s.endsWith('"')) return s.slice(1, -1).replace(/\\([\s\S])/g, '$1');
  return s;
}

/** The same octets as a JS string, whichever of the two usual decodings the parser uses. */
export function decodings(bytes: Buffer | string): string[] {
  const b = typeof bytes === 'string' ? Buffer.from(bytes, 'utf8') : bytes;
  return [...new Set([b.toString('utf8'), b.toString('latin1')])];
}

/** Percent-decodes once (RFC 3986: never recursively). */
export function unescapeOnce(s: string): string {
  const bytes: number[] = [];
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c === 0x25 && /^[0-9A-Fa-f]{2}$/.test(s.slice(i + 1, i + 3))) {
      bytes.push(parseInt(s.slice(i + 1, i + 3), 16));
      i += 2;
    } else if (c < 0x80) {
      bytes.push(c);
    } else {
      for (const x of Buffer.from(s[i] ?? '', 'utf8')) bytes.push(x);
    }
  }
  return Buffer.from(bytes).toString('latin1');
}

/**
 * A URI component the parser may keep escaped (as written) or unescaped once;
 * both are accepted, a double unescape is not.
 */
export function escapedForms(raw: string): string[] {
  return [...new Set([raw, unescapeOnce(raw), Buffer.from(unescapeOnce(raw), 'latin1').toString('utf8')])];
}

/** `Map.get` for parameter maps whose key case the API does not fix. */
export function param(map: Map<string, unknown>, name: string): unknown {
  if (map.has(name)) return map.get(name);
  for (const [k, v] of map) if (k.toLowerCase() === name.toLowerCase()) return v;
  return undefined;
}

export function hasParam(map: Map<string, unknown>, name: string): boolean {
  for (const k of map.keys()) if (k.toLowerCase() === name.toLowerCase()) return true;
  return false;
}

/** A flag parameter (`;lr`) may be stored as '', null or undefined. */
export function isFlag(v: unknown): boolean {
  return v === '' || v === null || v === undefined || v === true;
}

/** Content-Type as "type/subtype" in lower case, whatever shape the accessor returns. */
export function mediaType(ct: unknown): string | undefined {
  if (ct === undefined || ct === null) return undefined;
  if (typeof ct === 'string') return ct.split(';')[0]?.trim().toLowerCase();
  const o = ct as { type?: string; subtype?: string; subType?: string; value?: string; mediaType?: string };
  if (o.mediaType) return o.mediaType.toLowerCase();
  if (o.type && (o.subtype ?? o.subType)) return `${o.type}/${o.subtype ?? o.subType}`.toLowerCase();
  if (o.value) return o.value.split(';')[0]?.trim().toLowerCase();
  return String(ct).toLowerCase();
}
