/**
 * What the auth module offers to authentication back-ends (`ctx.api<AuthApi>('auth')`, used by
 * auth_db): find and pre-check the credentials of a request, verify them with a password or a
 * stored HA1, build and send challenges, and check the identity of the authenticated user.
 */
import type { RouteContext } from '@ksr/core';
import type { DigestAlgorithm } from './digest.js';

/** Kamailio's auth result codes (auth_check, www_authenticate, pv_* functions). */
export const AuthResult = {
  OK: 1,
  /** Generic error: malformed or forged credentials, unsupported algorithm, internal error. */
  ERROR: -1,
  /** Wrong password. */
  INVALID_PASSWORD: -2,
  /** The user does not exist (auth_db). */
  USER_UNKNOWN: -3,
  /** The nonce has expired (the challenge that follows carries stale=true). */
  NONCE_EXPIRED: -4,
  /** No credentials for the realm. */
  NO_CREDENTIALS: -5,
  /** The nonce (or its nc) was already used: a replay. */
  NONCE_REUSED: -6,
  /** The authentication user differs from the From/To/R-URI user. */
  USER_MISMATCH: -8,
} as const;

export type HfType = 'www' | 'proxy';

/** Credentials found for a realm and already checked for everything but the password. */
export interface CheckedCredentials {
  hftype: HfType;
  /** Header name they came from ("Authorization" / "Proxy-Authorization") and its index among those. */
  headerName: string;
  headerIndex: number;
  /** The username parameter as sent (may be user@domain). */
  username: string;
  /** Part before '@' (all of it without '@'). */
  user: string;
  /** Part after '@', undefined without '@'. */
  domain: string | undefined;
  /** The realm parameter as sent. */
  realm: string;
  algorithm: DigestAlgorithm;
  nonce: string;
  uri: string;
  response: string;
  qop: string | undefined;
  nc: string | undefined;
  cnonce: string | undefined;
  /** Nonce id (replay tables) and expiry, seconds since the epoch. */
  nonceId: string;
  nonceExpires: number;
  /** Method used for HA2. */
  method: string;
}

export type PreCheckResult = { ok: true; creds: CheckedCredentials } | { ok: false; code: number };

export interface VerifyOptions {
  /** The plain password (HA1 is computed for the credentials' algorithm). */
  password?: string;
  /** A stored HA1 (32 hex digits: MD5; 64: SHA-256 / SHA-512-256, per the credentials' algorithm). */
  ha1?: string;
  /** pv_* flag 32: do not consume the nonce count when the password is wrong. */
  keepNcOnFailure?: boolean;
}

export interface AuthApi {
  /**
   * Kamailio's pre_auth: the credentials for `realm` in Authorization (www) or
   * Proxy-Authorization (proxy), with the nonce authenticated, not expired, bound to this
   * message as auth_checks_* ask, and not replayed (nonce_count / one_time_nonce).
   * Failure codes: -5 none for the realm, -1 malformed/forged/unsupported, -4 expired, -6 reused.
   */
  preCheck(ctx: RouteContext, realm: string, hftype: HfType, method?: string): PreCheckResult;
  /**
   * Compare the response with the one computed from the password or HA1 (constant time). On
   * success the credentials are marked authorized (consume_credentials removes them) and the
   * nonce state is updated. 1 ok, -2 wrong password, -1 no usable secret for the algorithm.
   */
  verify(ctx: RouteContext, creds: CheckedCredentials, secret: VerifyOptions): number;
  /** Spend the time of one verification without a secret (unknown users: no timing oracle). */
  verifyDummy(creds: CheckedCredentials): void;
  /** Send 401 (www) / 407 (proxy) with the challenge. 1 sent, -1 error. */
  challenge(ctx: RouteContext, realm: string, flags: number, hftype: HfType): number;
  /**
   * auth_check's identity check (flags 1: From/To/R-URI user must equal the auth user; 2: skip for
   * INVITE, BYE, PRACK, UPDATE, MESSAGE). 1 ok, -8 mismatch.
   */
  checkIdentity(ctx: RouteContext, creds: CheckedCredentials, realm: string, flags: number, useDomain: boolean): number;
}
