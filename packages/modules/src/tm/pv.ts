/**
 * tm's pseudo-variables: $T_req(pv), $T_rpl(pv), $T(name), $T_reply_reason, $T_reply_last
 * ($T_reply_code and $T_branch_idx are registered in index.ts).
 */
import { PvNameError, RouteContext, type PvRegistry, type PvValue, type SipResponse } from '@ksr/core';
import type { TmExt } from './ext.js';
import type { Tm, TmTxn } from './tm.js';

/** The reply in scope: the received one (onreply), the failed branch's (branch-failure), the best one (failure). */
function replyInScope(tm: Tm, ctx: RouteContext): { txn: TmTxn; res: SipResponse | undefined; status: number } | undefined {
  const txn = tm.txnOf(ctx);
  if (!txn) return undefined;
  const run = tm.runInfo(ctx);
  if (ctx.routeType === 'tm-onreply' && ctx.response) return { txn, res: ctx.response, status: ctx.response.status };
  if (run && ctx.routeType === 'branch-failure') {
    const b = txn.branches[run.branch];
    return { txn, res: b?.reply, status: b?.status ?? run.code };
  }
  if (ctx.routeType === 'failure' && txn.best) return { txn, res: txn.best.res, status: txn.best.status };
  const last = txn.server.lastResponse;
  return { txn, res: last, status: last?.status ?? 0 };
}

function localReason(status: number): string {
  return status === 408 ? 'Request Timeout' : status === 503 ? 'Service Unavailable' : '';
}

export function registerTmPvs(pv: PvRegistry, tm: Tm, ext: TmExt): void {
  pv.register(
    'T_req',
    (spec, compile) => {
      const inner = compile(spec.param ?? '');
      return {
        name: spec.text,
        get: (ctx) => {
          const txn = tm.txnOf(ctx);
          if (!txn) return null;
          return inner.get(new RouteContext(txn.req, txn.info, txn.services, ctx.routeType, ctx.routeName, txn.state));
        },
      };
    },
    { param: 'required', replace: true },
  );
  pv.register(
    'T_rpl',
    (spec, compile) => {
      const inner = compile(spec.param ?? '');
      return {
        name: spec.text,
        get: (ctx) => {
          const r = replyInScope(tm, ctx);
          if (!r?.res) return null;
          return inner.get(new RouteContext(r.res, r.txn.info, r.txn.services, ctx.routeType, ctx.routeName, r.txn.state));
        },
      };
    },
    { param: 'required', replace: true },
  );
  const reason = (ctx: RouteContext): PvValue => {
    const r = replyInScope(tm, ctx);
    if (!r || r.status === 0) return null;
    return r.res?.reason ?? localReason(r.status);
  };
  const last = (ctx: RouteContext): PvValue => {
    if (ctx.routeType === 'tm-onreply' && ctx.response) return ctx.response.status;
    const txn = tm.txnOf(ctx);
    if (!txn) return null;
    return ext.extra(txn)?.lastStatus ?? null;
  };
  pv.register('T_reply_reason', (spec) => ({ name: spec.text, get: reason }), { replace: true });
  pv.register('T_reply_last', (spec) => ({ name: spec.text, get: last }), { replace: true });
  const T: Record<string, (ctx: RouteContext) => PvValue> = {
    id_index: (ctx) => idOf(ctx, false)?.index ?? null,
    id_label: (ctx) => idOf(ctx, false)?.label ?? null,
    id_index_n: (ctx) => idOf(ctx, true)?.index ?? null,
    id_label_n: (ctx) => idOf(ctx, true)?.label ?? null,
    reply_code: (ctx) => (tm.txnOf(ctx) ? tm.replyCode(ctx) : null),
    reply_reason: reason,
    reply_last: last,
    branch_index: (ctx) => (tm.txnOf(ctx) ? tm.branchIndex(ctx) : null),
    ruid: (ctx) => {
      const run = tm.runInfo(ctx);
      const txn = tm.txnOf(ctx);
      if (!run || !txn) return null;
      return ext.branchEntry(txn, run.branch)?.ruid ?? null;
    },
    reply_type: (ctx) => {
      const r = replyInScope(tm, ctx);
      if (!r || r.status === 0) return 0;
      if (ctx.routeType === 'tm-onreply') return 0;
      if (ctx.routeType === 'failure' || ctx.routeType === 'branch-failure') return r.res ? 0 : 1;
      return r.txn.branches.some((b) => b.reply === r.res) ? 0 : 1;
    },
  };
  const idOf = (ctx: RouteContext, create: boolean) => {
    let txn = tm.txnOf(ctx);
    if (!txn && create && ctx.routeType === 'request' && ctx.request && ctx.request.method !== 'ACK') txn = tm.newTran(ctx);
    return txn ? ext.extra(txn) : undefined;
  };
  pv.register(
    'T',
    (spec) => {
      const key = (spec.param ?? '').trim();
      const f = T[key];
      if (!f) throw new PvNameError(spec.text, `unknown $T attribute ${JSON.stringify(key)} (${Object.keys(T).join(', ')})`);
      return { name: spec.text, get: f };
    },
    { param: 'required', replace: true },
  );
}
