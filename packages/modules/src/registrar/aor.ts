/**
 * Address-of-record keys (Kamailio's extract_aor): the user part of a URI, unescaped, or
 * user@host when usrloc's use_domain is on; lowercased unless case_sensitive; the realm_prefix
 * stripped from the host.
 */
import { parseUri, type SipUri } from '@ksr/core';

export interface AorOptions {
  useDomain: boolean;
  caseSensitive: boolean;
  /** Stripped from the start of the host ("sip." → sip.example.com is example.com). */
  realmPrefix: string;
}

export type AorResult = { aor: string; uri: SipUri } | { error: 'parse' | 'user' };

function unescape(s: string): string {
  if (!s.includes('%')) return s;
  try {
    return decodeURIComponent(s);
  } catch {
    return s;
  }
}

export function extractAor(text: string, o: AorOptions): AorResult {
  let uri: SipUri;
  try {
    uri = parseUri(text.trim());
  } catch {
    return { error: 'parse' };
  }
  if (uri.scheme !== 'sip' && uri.scheme !== 'sips' && uri.scheme !== 'tel') return { error: 'parse' };
  const user = uri.user !== undefined ? unescape(uri.user) : '';
  let host = uri.host.toLowerCase();
  if (o.realmPrefix !== '' && host.length > o.realmPrefix.length && host.startsWith(o.realmPrefix.toLowerCase())) {
    host = host.slice(o.realmPrefix.length);
  }
  let aor: string;
  if (o.useDomain && host !== '') aor = user === '' ? host : `${user}@${host}`;
  else if (user === '') return { error: 'user' };
  else aor = user;
  return { aor: o.caseSensitive ? aor : aor.toLowerCase(), uri };
}

/** RFC 3261 qvalue ("0", "0.5", "1.000") → 0..1000, or undefined when malformed. */
export function parseQ(s: string): number | undefined {
  const v = s.trim();
  if (!/^(?:0(?:\.\d{0,3})?|1(?:\.0{0,3})?)$/.test(v)) return undefined;
  return Math.round(Number(v) * 1000);
}

/** 500 → "0.5", 1000 → "1", 0 → "0". */
export function formatQ(q: number): string {
  if (q >= 1000) return '1';
  if (q <= 0) return '0';
  return `0.${String(q).padStart(3, '0').replace(/0+$/, '')}`;
}
