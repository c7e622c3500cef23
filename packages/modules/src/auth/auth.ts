/**
 * The digest authentication engine behind KSR.auth and the AuthApi: credentials lookup by realm,
 * nonce checks (HMAC, expiry, binding, nonce count, one-time nonces), response verification in
 * constant time, challenges (several algorithms, strongest first) and the identity checks.
 */
import { parseDigestCredentials, type Counter, type Logger, type ModuleContext, type RouteContext, type SipRequest } from '@ksr/core';
import type { SlApi } from '../sl/api.js';
import type { TmApi } from '../tm/api.js';
import { AuthResult, type AuthApi, type CheckedCredentials, type HfType, type PreCheckResult, type VerifyOptions } from './api.js';
import {
  BASE_ALGORITHMS,
  baseOf,
  computeHa1,
  computeResponse,
  digestEquals,
  isHa1For,
  parseAlgorithm,
  type BaseAlgorithm,
  type DigestAlgorithm,
} from './digest.js';
import { NonceCodec, type BindingFields, type NonceStateStore } from './nonce.js';

const AUTHORIZED = Symbol('auth.authorized');
/** Header field names per challenge type. */
const CRED_HDR: Record<HfType, string> = { www: 'Authorization', proxy: 'Proxy-Authorization' };
const CHAL_HDR: Record<HfType, string> = { www: 'WWW-Authenticate', proxy: 'Proxy-Authenticate' };
const CHAL_CODE: Record<HfType, [number, string]> = { www: [401, 'Unauthorized'], proxy: [407, 'Proxy Authentication Required'] };
/** Methods auth_check flag 2 exempts from the identity check (they may carry an anonymous caller id). */
const ANON_METHODS = new Set(['INVITE', 'BYE', 'PRACK', 'UPDATE', 'MESSAGE']);
const QOP_OK = new Set(['auth', 'auth-int']);
const CTL = /[\x00-\x1f\x7f"\\]/;

export interface AuthSettings {
  algorithms: BaseAlgorithm[];
  /** algorithm was given explicitly: MD5 challenges name it too. */
  algorithmExplicit: boolean;
  nonceExpire: number;
  nonceCount: boolean;
  oneTimeNonce: boolean;
  checksRegister: number;
  checksNoDlg: number;
  checksInDlg: number;
  /** qop modparam: used when the challenge flags ask for no qop. */
  qop: '' | 'auth' | 'auth-int';
  forceStatelessReply: boolean;
  realmPrefix: string;
  useDomain: boolean;
  addAuthinfoHdr: boolean;
}

/** Parse the algorithm modparam / auth_algorithm argument: one name or a comma-separated list. */
export function parseAlgorithmList(text: string): BaseAlgorithm[] | undefined {
  const names = text.split(',').map((s) => s.trim()).filter((s) => s !== '');
  if (names.length === 0) return ['MD5'];
  const set = new Set<BaseAlgorithm>();
  for (const n of names) {
    const a = parseAlgorithm(n);
    if (!a || a.endsWith('-sess')) return undefined;
    set.add(baseOf(a));
  }
  return BASE_ALGORITHMS.filter((a) => set.has(a));
}

function errText(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

export class AuthEngine implements AuthApi {
  private readonly codec: NonceCodec;
  private readonly c: Record<'challenges' | 'success' | 'failure' | 'stale' | 'replayed' | 'invalid' | 'no_credentials', Counter>;

  constructor(
    private readonly mctx: ModuleContext,
    private readonly log: Logger,
    secret: Buffer,
    maxDrift: number,
    readonly settings: AuthSettings,
    readonly store: NonceStateStore,
  ) {
    this.codec = new NonceCodec(secret, maxDrift);
    const s = (n: string): Counter => mctx.stats.counter('auth', n);
    this.c = {
      challenges: s('challenges'),
      success: s('success'),
      failure: s('failure'),
      stale: s('stale_nonces'),
      replayed: s('replayed_nonces'),
      invalid: s('invalid_nonces'),
      no_credentials: s('no_credentials'),
    };
  }

  private stripPrefix(realm: string): string {
    const p = this.settings.realmPrefix;
    return p !== '' && realm.startsWith(p) ? realm.slice(p.length) : realm;
  }

  /** auth_checks_* flags for this request. */
  checksFor(req: SipRequest): number {
    if (req.method === 'REGISTER') return this.settings.checksRegister;
    return req.to.tag ? this.settings.checksInDlg : this.settings.checksNoDlg;
  }

  private binding(ctx: RouteContext, req: SipRequest): BindingFields {
    return {
      uri: req.newRequestUri ?? req.uri,
      callId: req.callId,
      fromTag: req.from.tag ?? '',
      srcIp: ctx.info.remote.address,
    };
  }

  newNonce(ctx: RouteContext): string {
    const req = ctx.request!;
    const flags = this.checksFor(req);
    return this.codec.create(this.mctx.clock.now(), this.settings.nonceExpire, flags, flags ? this.binding(ctx, req) : undefined);
  }

  /** Every credentials header of the type, parsed, with its index. */
  private credentials(req: SipRequest, hftype: HfType): Array<{ index: number; params: Map<string, string> | undefined }> {
    return req.headerValues(CRED_HDR[hftype]).map((v, index) => ({ index, params: parseDigestCredentials(v)?.params }));
  }

  private findForRealm(req: SipRequest, hftype: HfType, realm: string): { index: number; params: Map<string, string> } | undefined {
    const want = this.stripPrefix(realm);
    for (const c of this.credentials(req, hftype)) {
      if (c.params && this.stripPrefix(c.params.get('realm') ?? '') === want) return { index: c.index, params: c.params };
    }
    return undefined;
  }

  hasCredentials(ctx: RouteContext, realm: string): boolean {
    const req = ctx.request;
    if (!req) return false;
    return this.findForRealm(req, 'proxy', realm) !== undefined || this.findForRealm(req, 'www', realm) !== undefined;
  }

  preCheck(ctx: RouteContext, realm: string, hftype: HfType, method?: string): PreCheckResult {
    const req = ctx.request;
    if (!req) {
      this.log.error('auth: credentials can only be checked on a request');
      return { ok: false, code: AuthResult.ERROR };
    }
    if (realm === '') {
      this.log.error('auth: the realm must not be empty');
      return { ok: false, code: AuthResult.ERROR };
    }
    const found = this.findForRealm(req, hftype, realm);
    if (!found) {
      this.c.no_credentials.inc();
      return { ok: false, code: AuthResult.NO_CREDENTIALS };
    }
    const p = found.params;
    const username = p.get('username');
    const nonce = p.get('nonce');
    const uri = p.get('uri');
    const response = p.get('response');
    const qop = p.get('qop');
    const nc = p.get('nc');
    const cnonce = p.get('cnonce');
    const fail = (why: string): PreCheckResult => {
      this.log.debug({ callId: req.callId }, `auth: bad credentials: ${why}`);
      this.c.failure.inc();
      return { ok: false, code: AuthResult.ERROR };
    };
    if (!username || !nonce || uri === undefined || !response) return fail('username, nonce, uri or response missing');
    const algorithm = parseAlgorithm(p.get('algorithm'));
    if (!algorithm) return fail(`unsupported algorithm ${p.get('algorithm')}`);
    if (!this.settings.algorithms.includes(baseOf(algorithm))) return fail(`algorithm ${algorithm} is not offered`);
    if (qop !== undefined) {
      if (!QOP_OK.has(qop)) return fail(`unsupported qop ${qop}`);
      if (!nc || !cnonce || !/^[0-9a-fA-F]{8}$/.test(nc)) return fail('qop without a valid nc / cnonce');
    }
    const chk = this.codec.check(nonce, this.mctx.clock.now(), this.checksFor(req), this.binding(ctx, req));
    if (!chk.ok) {
      if (chk.reason === 'expired' || chk.reason === 'future') {
        this.c.stale.inc();
        return { ok: false, code: AuthResult.NONCE_EXPIRED };
      }
      this.c.invalid.inc();
      this.log.debug({ callId: req.callId }, `auth: nonce rejected (${chk.reason})`);
      return { ok: false, code: AuthResult.ERROR };
    }
    const id = chk.nonce.id;
    const useNc = this.settings.nonceCount && qop !== undefined && nc !== undefined;
    if (useNc) {
      const last = this.store.lastNc(id);
      if (last !== undefined && parseInt(nc, 16) <= last) {
        this.c.replayed.inc();
        return { ok: false, code: AuthResult.NONCE_REUSED };
      }
    } else if (this.settings.oneTimeNonce && this.store.isUsed(id)) {
      this.c.replayed.inc();
      return { ok: false, code: AuthResult.NONCE_REUSED };
    }
    const at = username.indexOf('@');
    return {
      ok: true,
      creds: {
        hftype,
        headerName: CRED_HDR[hftype],
        headerIndex: found.index,
        username,
        user: at === -1 ? username : username.slice(0, at),
        domain: at === -1 ? undefined : username.slice(at + 1),
        realm: p.get('realm') ?? realm,
        algorithm,
        nonce,
        uri,
        response,
        qop,
        nc,
        cnonce,
        nonceId: id,
        nonceExpires: chk.nonce.expires,
        method: method !== undefined && method !== '' ? method : req.method,
      },
    };
  }

  private expectedResponse(ctx: RouteContext, creds: CheckedCredentials, ha1: string): string {
    return computeResponse({
      algorithm: creds.algorithm,
      ha1,
      method: creds.method,
      uri: creds.uri,
      nonce: creds.nonce,
      qop: creds.qop,
      nc: creds.nc,
      cnonce: creds.cnonce,
      body: ctx.request?.body,
    });
  }

  verifyDummy(creds: CheckedCredentials): void {
    const base = baseOf(creds.algorithm);
    const ha1 = computeHa1(base, creds.username, creds.realm, '');
    const r = computeResponse({ algorithm: creds.algorithm, ha1, method: creds.method, uri: creds.uri, nonce: creds.nonce, qop: creds.qop, nc: creds.nc, cnonce: creds.cnonce });
    digestEquals(r, creds.response);
  }

  verify(ctx: RouteContext, creds: CheckedCredentials, secret: VerifyOptions): number {
    const base = baseOf(creds.algorithm);
    let ha1: string;
    if (secret.ha1 !== undefined) {
      if (!isHa1For(base, secret.ha1)) {
        this.log.warn(`auth: the stored HA1 of ${creds.username} is not a ${base} digest; cannot verify ${creds.algorithm} credentials`);
        this.verifyDummy(creds);
        this.c.failure.inc();
        return AuthResult.ERROR;
      }
      ha1 = secret.ha1;
    } else if (secret.password !== undefined) {
      ha1 = computeHa1(base, creds.username, creds.realm, secret.password);
    } else {
      this.c.failure.inc();
      return AuthResult.ERROR;
    }
    const ok = digestEquals(this.expectedResponse(ctx, creds, ha1), creds.response);
    const useNc = this.settings.nonceCount && creds.qop !== undefined && creds.nc !== undefined;
    if (!ok) {
      this.c.failure.inc();
      if (useNc && !secret.keepNcOnFailure) this.store.setNc(creds.nonceId, parseInt(creds.nc!, 16), creds.nonceExpires);
      return AuthResult.INVALID_PASSWORD;
    }
    if (useNc) this.store.setNc(creds.nonceId, parseInt(creds.nc!, 16), creds.nonceExpires);
    else if (this.settings.oneTimeNonce) this.store.markUsed(creds.nonceId, creds.nonceExpires);
    ctx.setData(AUTHORIZED, creds);
    this.c.success.inc();
    if (this.settings.addAuthinfoHdr) this.addAuthInfo(ctx, creds, ha1);
    return AuthResult.OK;
  }

  /** RFC 2617 §3.2.3 Authentication-Info for the local reply (rspauth proves the server knows HA1). */
  private addAuthInfo(ctx: RouteContext, creds: CheckedCredentials, ha1: string): void {
    const next = this.settings.oneTimeNonce ? this.newNonce(ctx) : creds.nonce;
    const parts = [`nextnonce="${next}"`];
    if (creds.qop !== undefined) {
      const rspauth = computeResponse({
        algorithm: creds.algorithm,
        ha1,
        method: '',
        uri: creds.uri,
        nonce: creds.nonce,
        qop: creds.qop,
        nc: creds.nc,
        cnonce: creds.cnonce,
        body: creds.qop === 'auth-int' ? Buffer.alloc(0) : undefined,
      });
      parts.push(`qop=${creds.qop}`, `rspauth="${rspauth}"`, `cnonce="${creds.cnonce}"`, `nc=${creds.nc}`);
    }
    ctx.state.replyHeaders.push(['Authentication-Info', parts.join(', ')]);
  }

  /** consume_credentials: remove the credentials that authorized this request. */
  consume(ctx: RouteContext): number {
    const req = ctx.request;
    if (!req) return -1;
    const creds = ctx.getData<CheckedCredentials>(AUTHORIZED);
    if (!creds) {
      this.log.debug('auth: consume_credentials: no authorized credentials');
      return -1;
    }
    try {
      return req.removeHeader(creds.headerName, creds.headerIndex) > 0 ? 1 : -1;
    } catch (err) {
      this.log.error(`auth: consume_credentials: ${errText(err)}`);
      return -1;
    }
  }

  /** Does the request carry an authentic but expired nonce for the realm? */
  private hasStaleNonce(ctx: RouteContext, realm: string, hftype: HfType): boolean {
    const req = ctx.request;
    if (!req) return false;
    const found = this.findForRealm(req, hftype, realm);
    const nonce = found?.params.get('nonce');
    if (!nonce) return false;
    const d = this.codec.decode(nonce);
    return d !== undefined && Math.floor(this.mctx.clock.now() / 1000) >= d.expires;
  }

  /** Header values for a challenge, one per algorithm, strongest first. Undefined when it cannot be built. */
  challengeValues(ctx: RouteContext, realm: string, flags: number, hftype: HfType): string[] | undefined {
    const req = ctx.request;
    if (!req) {
      this.log.error('auth: a challenge needs a request');
      return undefined;
    }
    if (realm === '' || CTL.test(realm)) {
      this.log.error(`auth: invalid realm ${JSON.stringify(realm)}`);
      return undefined;
    }
    const qops: string[] = [];
    if (flags & 1) qops.push('auth');
    if (flags & 2) qops.push('auth-int');
    if (qops.length === 0 && this.settings.qop !== '') qops.push(this.settings.qop);
    const stale = (flags & 16) !== 0 || this.hasStaleNonce(ctx, realm, hftype);
    const nonce = this.newNonce(ctx);
    return this.settings.algorithms.map((alg) => {
      const parts = [`Digest realm="${realm}"`, `nonce="${nonce}"`];
      if (stale) parts.push('stale=true');
      if (alg !== 'MD5' || this.settings.algorithmExplicit || this.settings.algorithms.length > 1) parts.push(`algorithm=${alg}`);
      if (qops.length > 0) parts.push(`qop="${qops.join(',')}"`);
      return parts.join(', ');
    });
  }

  challenge(ctx: RouteContext, realm: string, flags: number, hftype: HfType): number {
    const values = this.challengeValues(ctx, realm, flags, hftype);
    if (!values) {
      if (!(flags & 4) && ctx.request && ctx.request.method !== 'ACK') this.sendReply(ctx, 500, 'Internal Server Error', []);
      return -1;
    }
    if (ctx.request!.method === 'ACK') {
      this.log.error('auth: an ACK cannot be challenged');
      return -1;
    }
    const [code, reason] = CHAL_CODE[hftype];
    const r = this.sendReply(ctx, code, reason, values.map((v) => [CHAL_HDR[hftype], v]));
    if (r > 0) this.c.challenges.inc();
    return r;
  }

  /** Statefully when tm has a transaction for the request (unless force_stateless_reply), else through sl. */
  private sendReply(ctx: RouteContext, code: number, reason: string, headers: Array<[string, string]>): number {
    if (!this.settings.forceStatelessReply) {
      const tm = this.mctx.api<TmApi | undefined>('tm');
      if (tm?.replyInTransaction) {
        const st = ctx.state.replyHeaders;
        const before = st.length;
        st.push(...headers);
        try {
          const r = tm.replyInTransaction(ctx, code, reason);
          if (r !== undefined) return r;
        } finally {
          st.splice(before, headers.length);
        }
      }
    }
    const sl = this.mctx.api<SlApi | undefined>('sl');
    if (!sl) {
      this.log.error('auth: the sl module is needed to send replies');
      return -1;
    }
    return sl.reply(ctx, code, reason, { headers });
  }

  checkIdentity(ctx: RouteContext, creds: CheckedCredentials, realm: string, flags: number, useDomain: boolean): number {
    const req = ctx.request;
    if (!req) return AuthResult.ERROR;
    if (!(flags & 1)) return AuthResult.OK;
    if (flags & 2 && ANON_METHODS.has(req.method)) return AuthResult.OK;
    const uris = [req.from.uri];
    if (req.method === 'REGISTER' || req.method === 'PUBLISH') uris.push(req.to.uri);
    if (req.method === 'PUBLISH') uris.push(req.ruri);
    const want = this.stripPrefix(realm).toLowerCase();
    for (const u of uris) {
      if (u.user === undefined || u.user !== creds.user) return AuthResult.USER_MISMATCH;
      if (useDomain && this.stripPrefix(u.host.toLowerCase()) !== want) return AuthResult.USER_MISMATCH;
    }
    if (useDomain && creds.domain !== undefined && this.stripPrefix(creds.domain.toLowerCase()) !== want) return AuthResult.USER_MISMATCH;
    return AuthResult.OK;
  }

  /** pv_www_authenticate / pv_proxy_authenticate / pv_auth_check. */
  pvAuthenticate(ctx: RouteContext, realm: string, passwd: string, flags: number, hftype: HfType, method: string | undefined, checks: number): number {
    const pre = this.preCheck(ctx, realm, hftype, method);
    let r: number;
    if (!pre.ok) r = pre.code;
    else {
      r = this.verify(ctx, pre.creds, flags & 1 ? { ha1: passwd, keepNcOnFailure: (flags & 32) !== 0 } : { password: passwd, keepNcOnFailure: (flags & 32) !== 0 });
      if (r > 0 && checks & 1) r = this.checkIdentity(ctx, pre.creds, realm, 1, this.settings.useDomain);
    }
    if (r < 0 && flags & (2 | 4 | 8)) {
      // build the challenge into $avp(digest_challenge) for append_to_reply + sl/t_reply
      const cflags = (flags & 4 ? 1 : 0) | (flags & 8 ? 2 : 0) | (flags & 16 ? 16 : 0);
      const values = this.challengeValues(ctx, realm, cflags, hftype);
      if (values) {
        const text = values.map((v) => `${CHAL_HDR[hftype]}: ${v}\r\n`).join('');
        const stack = ctx.state.avps.get('digest_challenge') ?? [];
        stack.unshift(text);
        ctx.state.avps.set('digest_challenge', stack);
      }
    }
    return r;
  }

  /** Prune the replay tables (timer). */
  prune(): void {
    this.store.prune(Math.floor(this.mctx.clock.now() / 1000));
  }
}
