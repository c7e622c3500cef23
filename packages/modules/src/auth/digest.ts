/**
 * Digest computation (RFC 2617 §3.2.2, RFC 7616 §3.4, RFC 8760 for SIP): HA1, HA2, the response,
 * for MD5, SHA-256 and SHA-512-256 and their "-sess" variants, and a constant-time comparison of
 * hex digests. Pure functions, no state.
 */
import { createHash, timingSafeEqual } from 'node:crypto';

export type DigestAlgorithm = 'MD5' | 'MD5-sess' | 'SHA-256' | 'SHA-256-sess' | 'SHA-512-256' | 'SHA-512-256-sess';

/** Base algorithms, strongest first (the order of several challenges in one reply). */
export const BASE_ALGORITHMS = ['SHA-512-256', 'SHA-256', 'MD5'] as const;
export type BaseAlgorithm = (typeof BASE_ALGORITHMS)[number];

const NODE_HASH: Record<BaseAlgorithm, string> = { MD5: 'md5', 'SHA-256': 'sha256', 'SHA-512-256': 'sha512-256' };
/** Hex length of a digest of each base algorithm. */
export const HEX_LENGTH: Record<BaseAlgorithm, number> = { MD5: 32, 'SHA-256': 64, 'SHA-512-256': 64 };

/**
 * The algorithm named in a challenge or in credentials (case-insensitive); undefined for names we
 * do not know. "SHA-512" is accepted as Kamailio's name for SHA-512-256.
 */
export function parseAlgorithm(name: string | undefined): DigestAlgorithm | undefined {
  if (name === undefined || name === '') return 'MD5';
  switch (name.trim().toUpperCase()) {
    case 'MD5':
      return 'MD5';
    case 'MD5-SESS':
      return 'MD5-sess';
    case 'SHA-256':
      return 'SHA-256';
    case 'SHA-256-SESS':
      return 'SHA-256-sess';
    case 'SHA-512-256':
    case 'SHA-512':
      return 'SHA-512-256';
    case 'SHA-512-256-SESS':
    case 'SHA-512-SESS':
      return 'SHA-512-256-sess';
    default:
      return undefined;
  }
}

export function baseOf(alg: DigestAlgorithm): BaseAlgorithm {
  return (alg.endsWith('-sess') ? alg.slice(0, -5) : alg) as BaseAlgorithm;
}

export function isSess(alg: DigestAlgorithm): boolean {
  return alg.endsWith('-sess');
}

/** H(data) as lowercase hex, data encoded as UTF-8 (RFC 7616 charset=UTF-8; ASCII is unchanged). */
export function hashHex(alg: BaseAlgorithm, data: string | Buffer): string {
  return createHash(NODE_HASH[alg]).update(data).digest('hex');
}

/** HA1 = H(username:realm:password). */
export function computeHa1(alg: BaseAlgorithm, username: string, realm: string, password: string): string {
  return hashHex(alg, `${username}:${realm}:${password}`);
}

export interface DigestInput {
  algorithm: DigestAlgorithm;
  /** HA1 = H(username:realm:password) of the base algorithm (for -sess the session key is derived here). */
  ha1: string;
  method: string;
  uri: string;
  nonce: string;
  /** 'auth' | 'auth-int' | undefined (RFC 2069 compatibility: no qop). */
  qop?: string | undefined;
  nc?: string | undefined;
  cnonce?: string | undefined;
  /** The message body, for qop=auth-int. */
  body?: Buffer | string | undefined;
}

/** The request-digest ("response") the client should have sent. */
export function computeResponse(d: DigestInput): string {
  const base = baseOf(d.algorithm);
  let ha1 = d.ha1.toLowerCase();
  if (isSess(d.algorithm)) ha1 = hashHex(base, `${ha1}:${d.nonce}:${d.cnonce ?? ''}`);
  const ha2 =
    d.qop === 'auth-int'
      ? hashHex(base, `${d.method}:${d.uri}:${hashHex(base, d.body ?? '')}`)
      : hashHex(base, `${d.method}:${d.uri}`);
  if (d.qop === 'auth' || d.qop === 'auth-int') {
    return hashHex(base, `${ha1}:${d.nonce}:${d.nc ?? ''}:${d.cnonce ?? ''}:${d.qop}:${ha2}`);
  }
  return hashHex(base, `${ha1}:${d.nonce}:${ha2}`);
}

/**
 * Constant-time comparison of two hex digests (case-insensitive). Different lengths compare
 * unequal without an early exit on content.
 */
export function digestEquals(expected: string, received: string): boolean {
  const a = Buffer.from(expected.toLowerCase(), 'utf8');
  const b = Buffer.from(received.toLowerCase(), 'utf8');
  if (a.length !== b.length) {
    // still spend the comparison so timing does not reveal more than the length
    timingSafeEqual(a, a);
    return false;
  }
  return timingSafeEqual(a, b);
}

/** Does a stored HA1 look like a digest of this base algorithm (hex of the right length)? */
export function isHa1For(alg: BaseAlgorithm, ha1: string): boolean {
  return ha1.length === HEX_LENGTH[alg] && /^[0-9a-fA-F]+$/.test(ha1);
}
