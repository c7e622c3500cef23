/**
 * auth: digest authentication (Kamailio's auth module). Challenges (www_challenge, proxy_challenge,
 * auth_challenge), verification against a password or HA1 held in a variable (pv_www_authenticate,
 * pv_proxy_authenticate, pv_auth_check), consume_credentials, has_credentials, auth_algorithm and
 * auth_get_www_authenticate; the AuthApi for back-ends such as auth_db.
 *
 * RFC 2617 / RFC 7616 / RFC 8760: MD5, SHA-256 and SHA-512-256 (several challenges in one reply,
 * strongest first), qop auth and auth-int, -sess variants. Nonces are self-verifying (HMAC-SHA256
 * under `secret`), expire after `nonce_expire` seconds (stale=true), can be bound to the R-URI,
 * Call-ID, From-tag and source address (auth_checks_*), and are protected against replay by
 * nonce counts (nonce_count) or one-time use (one_time_nonce).
 *
 * Statistics (group "auth"): challenges, success, failure, stale_nonces, replayed_nonces,
 * invalid_nonces, no_credentials. See README.md for the differences from Kamailio.
 */
import { createHash, randomBytes } from 'node:crypto';
import { defineModule, type KemiExportDef, type RouteContext } from '@ksr/core';
import { AuthEngine, parseAlgorithmList, type AuthSettings } from './auth.js';
import { MemoryNonceStateStore } from './nonce.js';

export type { AuthApi, CheckedCredentials, HfType, PreCheckResult, VerifyOptions } from './api.js';
export { AuthResult } from './api.js';

type Def = KemiExportDef<RouteContext>;

const flagsCheck = (v: unknown): string | undefined => {
  const n = Number(v);
  return Number.isInteger(n) && n >= 0 && n <= 15 ? undefined : 'must be a sum of 1 (R-URI), 2 (Call-ID), 4 (From-tag), 8 (source IP)';
};
const bool = (v: unknown): string | undefined => (Number(v) === 0 || Number(v) === 1 ? undefined : 'must be 0 or 1');

export const authModule = defineModule({
  name: 'auth',
  params: {
    secret: { type: 'str', check: (v) => (String(v) === '' ? 'must not be empty' : undefined) },
    nonce_expire: { type: 'int', check: (v) => (Number(v) > 0 && Number(v) <= 86400 * 7 ? undefined : 'must be 1..604800 seconds') },
    nonce_auth_max_drift: { type: 'int', check: (v) => (Number(v) >= 0 ? undefined : 'must be >= 0') },
    nonce_count: { type: 'int', check: bool },
    one_time_nonce: { type: 'int', check: bool },
    nc_array_size: { type: 'int', check: (v) => (Number(v) > 0 ? undefined : 'must be > 0') },
    nc_array_order: { type: 'int', check: (v) => (Number(v) > 0 && Number(v) <= 30 ? undefined : 'must be 1..30') },
    otn_in_flight_no: { type: 'int', check: (v) => (Number(v) > 0 ? undefined : 'must be > 0') },
    otn_in_flight_order: { type: 'int', check: (v) => (Number(v) > 0 && Number(v) <= 30 ? undefined : 'must be 1..30') },
    nid_pool_no: { type: 'int' },
    auth_checks_register: { type: 'int', check: flagsCheck },
    auth_checks_no_dlg: { type: 'int', check: flagsCheck },
    auth_checks_in_dlg: { type: 'int', check: flagsCheck },
    qop: { type: 'str', check: (v) => (['', 'auth', 'auth-int'].includes(String(v)) ? undefined : 'must be "auth", "auth-int" or ""') },
    force_stateless_reply: { type: 'int', check: bool },
    realm_prefix: { type: 'str' },
    use_domain: { type: 'int', check: bool },
    algorithm: {
      type: 'str',
      check: (v) => (parseAlgorithmList(String(v)) ? undefined : 'must be MD5, SHA-256, SHA-512-256 (SHA-512) or a comma-separated list of them'),
    },
    add_authinfo_hdr: { type: 'int', check: bool },
  },
  dependencies: ['sl'],
  optionalDependencies: ['tm'],
  create(ctx) {
    const p = ctx.params;
    const log = ctx.logger;
    // One shared secret lets several servers accept each other's nonces; a random one per start
    // otherwise (nonces do not survive a restart then).
    const secret = p.has('secret') ? createHash('sha256').update('ksr-auth\0').update(p.str('secret', '')).digest() : randomBytes(32);
    const algText = p.str('algorithm', '');
    const settings: AuthSettings = {
      algorithms: parseAlgorithmList(algText) ?? ['MD5'],
      algorithmExplicit: algText.trim() !== '',
      nonceExpire: p.int('nonce_expire', 300),
      nonceCount: p.int('nonce_count', 0) !== 0,
      oneTimeNonce: p.int('one_time_nonce', 0) !== 0,
      checksRegister: p.int('auth_checks_register', 0),
      checksNoDlg: p.int('auth_checks_no_dlg', 0),
      checksInDlg: p.int('auth_checks_in_dlg', 0),
      qop: p.str('qop', '') as AuthSettings['qop'],
      forceStatelessReply: p.int('force_stateless_reply', 0) !== 0,
      realmPrefix: p.str('realm_prefix', ''),
      useDomain: p.int('use_domain', 0) !== 0,
      addAuthinfoHdr: p.int('add_authinfo_hdr', 0) !== 0,
    };
    if (p.has('nid_pool_no')) log.info('modparam auth nid_pool_no: ksr keeps one nonce table per worker; ignored');
    const ncSize = p.has('nc_array_order') ? 2 ** p.int('nc_array_order', 20) : p.int('nc_array_size', 1 << 20);
    const otnSize = p.has('otn_in_flight_order') ? 2 ** p.int('otn_in_flight_order', 20) : p.int('otn_in_flight_no', 1 << 20);
    const store = new MemoryNonceStateStore(Math.max(ncSize, otnSize));
    const engine = new AuthEngine(ctx, log, secret, p.int('nonce_auth_max_drift', 3), settings, store);
    const timer = settings.nonceCount || settings.oneTimeNonce ? ctx.clock.every(Math.max(1000, Math.min(60_000, settings.nonceExpire * 1000)), () => engine.prune()) : undefined;

    const challengeFlagsOk = (fname: string, flags: number): boolean => {
      if (Number.isInteger(flags) && flags >= 0 && flags <= 0xff) return true;
      log.error(`KSR.auth.${fname}: invalid flags ${flags}`);
      return false;
    };
    const pvFlagsOk = (fname: string, flags: number): boolean => {
      if (Number.isInteger(flags) && flags >= 0 && flags <= 63) return true;
      log.error(`KSR.auth.${fname}: invalid flags ${flags} (0..63)`);
      return false;
    };
    const isRegister = (c: RouteContext): boolean => c.request?.method === 'REGISTER';

    const exports: Def[] = [
      {
        name: 'consume_credentials',
        returns: 'int',
        params: [],
        doc: 'Remove the credentials header that authorized this request (after a successful check). 1 ok, -1 none authorized.',
        fn: (c: RouteContext) => engine.consume(c),
      },
      {
        name: 'has_credentials',
        returns: 'int',
        params: ['str'],
        paramNames: ['realm'],
        doc: 'Does the request carry Authorization or Proxy-Authorization digest credentials for the realm? 1 yes, -1 no.',
        fn: (c: RouteContext, realm: string) => (engine.hasCredentials(c, realm) ? 1 : -1),
      },
      {
        name: 'www_challenge',
        returns: 'int',
        params: ['str', 'int'],
        paramNames: ['realm', 'flags'],
        doc: 'Reply 401 with WWW-Authenticate digest challenges (flags: 1 qop=auth, 2 qop=auth-int, 4 no automatic 500 on error, 16 stale=true). 1 sent, -1 error.',
        fn: (c: RouteContext, realm: string, flags: number) => (challengeFlagsOk('www_challenge', flags) ? engine.challenge(c, realm, flags, 'www') : -1),
      },
      {
        name: 'proxy_challenge',
        returns: 'int',
        params: ['str', 'int'],
        paramNames: ['realm', 'flags'],
        doc: 'Reply 407 with Proxy-Authenticate digest challenges (flags as www_challenge). 1 sent, -1 error.',
        fn: (c: RouteContext, realm: string, flags: number) => (challengeFlagsOk('proxy_challenge', flags) ? engine.challenge(c, realm, flags, 'proxy') : -1),
      },
      {
        name: 'auth_challenge',
        returns: 'int',
        params: ['str', 'int'],
        paramNames: ['realm', 'flags'],
        doc: 'www_challenge for REGISTER, proxy_challenge for other requests. 1 sent, -1 error.',
        fn: (c: RouteContext, realm: string, flags: number) =>
          challengeFlagsOk('auth_challenge', flags) ? engine.challenge(c, realm, flags, isRegister(c) ? 'www' : 'proxy') : -1,
      },
      {
        name: 'pv_www_authenticate',
        returns: 'int',
        params: ['str', 'str', 'int'],
        paramNames: ['realm', 'passwd', 'flags'],
        doc: 'Verify Authorization credentials with a password (flags 1: passwd is HA1; 2/4/8 build a challenge into $avp(digest_challenge); 32 keep nc on failure). 1 ok; -1 error, -2 wrong password, -4 nonce expired, -5 no credentials, -6 nonce reused.',
        fn: (c: RouteContext, realm: string, passwd: string, flags: number) =>
          pvFlagsOk('pv_www_authenticate', flags) ? engine.pvAuthenticate(c, realm, passwd, flags, 'www', undefined, 0) : -1,
      },
      {
        name: 'pv_www_authenticate_method',
        returns: 'int',
        params: ['str', 'str', 'int', 'str'],
        paramNames: ['realm', 'passwd', 'flags', 'method'],
        doc: 'pv_www_authenticate with the method used in the digest given explicitly.',
        fn: (c: RouteContext, realm: string, passwd: string, flags: number, method: string) =>
          pvFlagsOk('pv_www_authenticate_method', flags) ? engine.pvAuthenticate(c, realm, passwd, flags, 'www', method, 0) : -1,
      },
      {
        name: 'pv_proxy_authenticate',
        returns: 'int',
        params: ['str', 'str', 'int'],
        paramNames: ['realm', 'passwd', 'flags'],
        doc: 'Verify Proxy-Authorization credentials with a password (flags and codes as pv_www_authenticate).',
        fn: (c: RouteContext, realm: string, passwd: string, flags: number) =>
          pvFlagsOk('pv_proxy_authenticate', flags) ? engine.pvAuthenticate(c, realm, passwd, flags, 'proxy', undefined, 0) : -1,
      },
      {
        name: 'pv_auth_check',
        returns: 'int',
        params: ['str', 'str', 'int', 'int'],
        paramNames: ['realm', 'passwd', 'flags', 'checks'],
        doc: 'pv_www_authenticate for REGISTER, pv_proxy_authenticate otherwise; checks 1: the auth user must be the To (REGISTER) / From user (-8 otherwise).',
        fn: (c: RouteContext, realm: string, passwd: string, flags: number, checks: number) =>
          pvFlagsOk('pv_auth_check', flags) ? engine.pvAuthenticate(c, realm, passwd, flags, isRegister(c) ? 'www' : 'proxy', undefined, checks) : -1,
      },
      {
        name: 'auth_algorithm',
        returns: 'int',
        params: ['str'],
        paramNames: ['algorithm'],
        doc: 'Set the digest algorithm(s) offered from now on: MD5, SHA-256, SHA-512-256 or a comma-separated list. 1 ok, -1 unknown.',
        fn: (_c: RouteContext, alg: string) => {
          const list = parseAlgorithmList(alg);
          if (!list) {
            log.error(`KSR.auth.auth_algorithm: unsupported algorithm ${JSON.stringify(alg)}`);
            return -1;
          }
          settings.algorithms = list;
          settings.algorithmExplicit = alg.trim() !== '';
          return 1;
        },
      },
      {
        name: 'auth_get_www_authenticate',
        returns: 'int',
        params: ['str', 'int', 'str'],
        paramNames: ['realm', 'flags', 'pvdest'],
        doc: 'Build the WWW-Authenticate header line(s) (flags as www_challenge) and store them in a writable variable. 1 ok, -1 error.',
        fn: (c: RouteContext, realm: string, flags: number, pvdest: string) => {
          if (!challengeFlagsOk('auth_get_www_authenticate', flags)) return -1;
          const acc = ctx.pv.lookup(pvdest);
          if (acc instanceof Error || !acc.set) {
            log.error(`KSR.auth.auth_get_www_authenticate: ${JSON.stringify(pvdest)} is not a writable variable`);
            return -1;
          }
          const values = engine.challengeValues(c, realm, flags, 'www');
          if (!values) return -1;
          return acc.set(c, values.map((v) => `WWW-Authenticate: ${v}\r\n`).join('')) === false ? -1 : 1;
        },
      },
    ];
    return {
      exports,
      api: engine,
      destroy: () => timer?.cancel(),
    };
  },
});
