/**
 * sanity: syntax and RFC checks of the received message (Kamailio's sanity module).
 *
 * sanity_check(msg_checks, uri_checks) runs the checks whose bits are set (see checks.ts) in bit
 * order and stops at the first that fails. Then, for a request other than ACK, the module replies
 * itself with the error that describes the failure (400 with a precise reason, 416, 420 with
 * Unsupported, 505) through sl (or the core reply when sl is not loaded) — unless modparam
 * noreply=1, in which case sanity_reply() sends it later. The failure is also recorded as the
 * request's last error (KSR.sl.sl_reply_error answers with it).
 *
 * Return values, as Kamailio's: 1 all checks passed; on a failure 0 with autodrop=1 (the default:
 * "stop", which a KEMI script must act on itself, e.g. `if KSR.sanity.sanity_check(…) < 1 then
 * KSR.x.exit() end`) or -1 with autodrop=0; -1 for invalid arguments.
 */
import { defineModule, type KemiExportDef, type RouteContext, type SipRequest } from '@ksr/core';
import type { SlApi } from '../sl/api.js';
import {
  SANITY_ALL,
  SANITY_DEFAULT_CHECKS,
  SANITY_DEFAULT_URI_CHECKS,
  URI_CHECK_ALL,
  runSanityChecks,
  type SanityFailure,
  type SanityOptions,
} from './checks.js';

export { SANITY, SANITY_DEFAULT_CHECKS, SANITY_DEFAULT_URI_CHECKS, runSanityChecks, digestProblem, type SanityFailure } from './checks.js';

type Def = KemiExportDef<RouteContext>;

const rangeCheck =
  (max: number) =>
  (v: string | number): string | undefined =>
    Number.isInteger(Number(v)) && Number(v) >= 0 && Number(v) <= max ? undefined : `must be 0..${max}`;

export const sanityModule = defineModule({
  name: 'sanity',
  params: {
    default_checks: { type: 'int', check: rangeCheck(SANITY_ALL) },
    uri_checks: { type: 'int', check: rangeCheck(URI_CHECK_ALL) },
    proxy_require: { type: 'str' },
    autodrop: { type: 'int', check: rangeCheck(1) },
    noreply: { type: 'int', check: rangeCheck(1) },
  },
  optionalDependencies: ['sl'],
  create(ctx) {
    const p = ctx.params;
    const log = ctx.logger;
    const defaultChecks = p.int('default_checks', SANITY_DEFAULT_CHECKS);
    const defaultUriChecks = p.int('uri_checks', SANITY_DEFAULT_URI_CHECKS);
    const autodrop = p.int('autodrop', 1) !== 0;
    const noreply = p.int('noreply', 0) !== 0;
    const opts: SanityOptions = {
      proxyRequire: new Set(
        p
          .str('proxy_require', '')
          .split(',')
          .map((s) => s.trim().toLowerCase())
          .filter((s) => s !== ''),
      ),
    };
    /** The failure of the last sanity_check of a request, for sanity_reply (noreply=1). */
    const pending = new WeakMap<SipRequest, SanityFailure>();

    const sendReply = (c: RouteContext, f: SanityFailure): number => {
      const req = c.request;
      if (!req || req.method === 'ACK') return -1;
      const sl = ctx.api<SlApi | undefined>('sl');
      if (sl) return sl.reply(c, f.code, f.reason, f.headers ? { headers: f.headers } : undefined);
      c.replied = true;
      const failed = (err?: unknown): void => {
        log.warn({ callId: req.callId, ...(err ? { err } : {}) }, `could not send the sanity reply ${f.code} ${f.reason}`);
      };
      try {
        c.services.reply(c, f.code, f.reason, f.headers ? { headers: f.headers } : undefined).then((ok) => {
          if (!ok) failed();
        }, failed);
      } catch (err) {
        failed(err);
      }
      return 1;
    };

    const check = (c: RouteContext, msgChecks: number, uriChecks: number, fname: string): number => {
      if (!Number.isInteger(msgChecks) || msgChecks < 0 || msgChecks > SANITY_ALL) {
        log.error(`KSR.sanity.${fname}: invalid msg_checks ${msgChecks} (0..${SANITY_ALL})`);
        return -1;
      }
      if (!Number.isInteger(uriChecks) || uriChecks < 0 || uriChecks > URI_CHECK_ALL) {
        log.error(`KSR.sanity.${fname}: invalid uri_checks ${uriChecks} (0..${URI_CHECK_ALL})`);
        return -1;
      }
      const m = c.msg;
      const f = runSanityChecks(m, msgChecks, uriChecks, opts);
      const req = c.request;
      if (!f) {
        if (req) pending.delete(req);
        return 1;
      }
      log.debug(
        { callId: m.callId, src: `${c.info.proto}:${c.info.remote.address}:${c.info.remote.port}`, check: f.check },
        `sanity check ${f.check} failed: ${f.detail}`,
      );
      if (req) {
        c.state.lastError = { code: f.code, reason: f.reason };
        if (noreply) pending.set(req, f);
        else sendReply(c, f);
      }
      return autodrop ? 0 : -1;
    };

    const exports: Def[] = [
      {
        name: 'sanity_check',
        returns: 'int',
        params: ['int', 'int'],
        paramNames: ['msg_checks', 'uri_checks'],
        doc: 'Run the sanity checks of msg_checks (bits 1..16384; 1024 checks the URIs of uri_checks: 1 R-URI, 2 From, 4 To, 8 Contact). 1 passed; failure: the error reply is sent, 0 (autodrop=1) or -1.',
        fn: (c: RouteContext, msgChecks: number, uriChecks: number) => check(c, msgChecks, uriChecks, 'sanity_check'),
      },
      {
        name: 'sanity_check_defaults',
        returns: 'int',
        params: [],
        doc: 'sanity_check with the default_checks and uri_checks modparams.',
        fn: (c: RouteContext) => check(c, defaultChecks, defaultUriChecks, 'sanity_check_defaults'),
      },
      {
        name: 'sanity_reply',
        returns: 'int',
        params: [],
        doc: 'With modparam noreply=1: send the reply of the last failed sanity check of this request (1 sent, -1 none). With noreply=0 sanity_check already replied: 1.',
        fn: (c: RouteContext) => {
          if (!noreply) return 1;
          const req = c.request;
          const f = req ? pending.get(req) : undefined;
          if (!req || !f) {
            log.debug('KSR.sanity.sanity_reply: no failed sanity check to reply to');
            return -1;
          }
          pending.delete(req);
          return sendReply(c, f);
        },
      },
    ];
    return { exports };
  },
});
