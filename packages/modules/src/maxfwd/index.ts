/**
 * maxfwd: the Max-Forwards header (Kamailio's maxfwd module, RFC 3261 §16.3 step 3 and §16.6
 * step 3).
 *
 * process_maxfwd(limit): no Max-Forwards → add `Max-Forwards: <limit>` (2); a value > 0 →
 * decrement it, lowered to max_limit when the result is above it (1); 0 → -1 (the script answers
 * 483); an error (not a request, a bad limit) → -2. The header edits are lumps, visible in the
 * forwarded request (serialize()), not in the parsed getters. is_maxfwd_lt(limit) compares the
 * value after process_maxfwd (or the received one) with `limit`: 1 lower, -1 not lower, -2 no
 * header, -3 error.
 *
 * A second process_maxfwd on the same request does not decrement again: it returns what the first
 * call returned.
 */
import { defineModule, type KemiExportDef, type RouteContext, type SipRequest } from '@ksr/core';

type Def = KemiExportDef<RouteContext>;

/** What process_maxfwd did to a request: the value the forwarded request carries, and its result. */
interface Processed {
  value: number;
  rc: number;
}

export const maxfwdModule = defineModule({
  name: 'maxfwd',
  params: {
    max_limit: {
      type: 'int',
      check: (v) => (Number.isInteger(Number(v)) && Number(v) >= 1 && Number(v) <= 256 ? undefined : 'must be 1..256'),
    },
  },
  create(ctx) {
    const maxLimit = ctx.params.int('max_limit', 70);
    const log = ctx.logger;
    const processed = new WeakMap<SipRequest, Processed>();

    const requestOf = (c: RouteContext, fname: string): SipRequest | undefined => {
      const req = c.request;
      if (!req) log.error(`KSR.maxfwd.${fname}: the message is a reply, not a request`);
      return req;
    };

    const exports: Def[] = [
      {
        name: 'process_maxfwd',
        returns: 'int',
        params: ['int'],
        paramNames: ['limit'],
        doc: 'Add Max-Forwards: limit (2) or decrement it, capped at max_limit (1); -1 when it is 0 (reply 483), -2 on error.',
        fn: (c: RouteContext, limit: number) => {
          if (!Number.isInteger(limit) || limit < 1 || limit > 255) {
            log.error(`KSR.maxfwd.process_maxfwd: invalid limit ${limit} (1..255)`);
            return -2;
          }
          const req = requestOf(c, 'process_maxfwd');
          if (!req) return -2;
          const done = processed.get(req);
          if (done) {
            log.debug({ callId: req.callId }, 'KSR.maxfwd.process_maxfwd: Max-Forwards already processed for this request');
            return done.rc;
          }
          const v = req.maxForwards;
          let result: Processed;
          try {
            if (v === undefined) {
              req.appendHeader('Max-Forwards', String(limit));
              result = { value: limit, rc: 2 };
            } else if (v === 0) {
              result = { value: 0, rc: -1 };
            } else {
              const next = Math.min(v - 1, maxLimit);
              req.replaceHeader('Max-Forwards', String(next));
              result = { value: next, rc: 1 };
            }
          } catch (err) {
            log.error(`KSR.maxfwd.process_maxfwd: cannot edit Max-Forwards: ${(err as Error).message}`);
            return -2;
          }
          processed.set(req, result);
          return result.rc;
        },
      },
      {
        name: 'is_maxfwd_lt',
        returns: 'int',
        params: ['int'],
        paramNames: ['limit'],
        doc: 'Is Max-Forwards (after process_maxfwd, else as received) lower than limit? 1 yes, -1 no, -2 no header, -3 error.',
        fn: (c: RouteContext, limit: number) => {
          if (!Number.isInteger(limit) || limit < 0 || limit > 256) {
            log.error(`KSR.maxfwd.is_maxfwd_lt: invalid limit ${limit} (0..256)`);
            return -3;
          }
          const req = requestOf(c, 'is_maxfwd_lt');
          if (!req) return -3;
          const value = processed.get(req)?.value ?? req.maxForwards;
          if (value === undefined) return -2;
          return value < limit ? 1 : -1;
        },
      },
    ];
    return { exports };
  },
});
