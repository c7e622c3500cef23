/**
 * tmx — Kamailio's tm extensions (KSR.tmx.*): route-type checks, t_precheck_trans, t_suspend /
 * t_continue, t_drop, CANCEL and reply by Call-ID, t_cancel_branches, t_reuse_branch, and the
 * tmx statistics. Reaches tm through ctx.api<TmApi>('tm'). See README.md.
 */
import { defineModule, type KemiExportDef, type RouteContext } from '@ksr/core';
import type { TmApi } from '../tm/api.js';
import { MemoryPretranTable, pretranKey, type PretranTable } from './pretran.js';

type Def = KemiExportDef<RouteContext>;

export { MemoryPretranTable, pretranKey, type PretranTable } from './pretran.js';


export const tmxModule = defineModule({
  name: 'tmx',
  kemiName: 'tmx',
  params: {
    precheck_trans: { type: 'int' },
  },
  dependencies: ['tm'],
  create(mctx) {
    const precheck = mctx.params.int('precheck_trans', 1) !== 0;
    const table: PretranTable | undefined = precheck ? new MemoryPretranTable() : undefined;
    const tm = (): TmApi => mctx.api<TmApi>('tm');
    /** Each message processing is one owner in the pre-transaction table. */
    const owners = new WeakMap<object, number>();
    let nextOwner = 0;
    const noArgs = (name: string, doc: string, fn: (ctx: RouteContext) => number): Def => ({ name, returns: 'int', params: [], doc, fn });
    const isRoute = (name: string, what: string, types: ReadonlyArray<RouteContext['routeType']>): Def =>
      noArgs(name, `Is the running route ${what}? 1 yes, -1 no.`, (ctx) => (types.includes(ctx.routeType) ? 1 : -1));

    const exports: Def[] = [
      {
        name: 't_cancel_branches',
        returns: 'int',
        params: ['str'],
        paramNames: ['mode'],
        doc: 'CANCEL pending branches: "all", "others" (all but the one of the reply being handled) or "this" (tm onreply route). 1 ok, -1 error.',
        fn: (ctx: RouteContext, mode: string) => tm().control.cancelBranches(ctx, mode),
      },
      {
        name: 't_cancel_callid',
        returns: 'int',
        params: ['str', 'str', 'int', 'int'],
        paramNames: ['callid', 'cseq', 'flag', 'rcode'],
        doc: 'CANCEL the INVITE transaction with this Call-ID and CSeq number; flag > 0 is set on it, rcode ≥ 100 goes into Reason: SIP;cause=. 1 found, -1 not.',
        fn: (ctx: RouteContext, callid: string, cseq: string, flag: number, rcode: number) => tm().control.cancelCallid(ctx, callid, cseq, flag, rcode),
      },
      {
        name: 't_reply_callid',
        returns: 'int',
        params: ['str', 'str', 'int', 'str'],
        paramNames: ['callid', 'cseq', 'code', 'reason'],
        doc: 'Reply in the transaction with this Call-ID and CSeq number. 1 ok, -1 not found or error.',
        fn: (ctx: RouteContext, callid: string, cseq: string, code: number, reason: string) => tm().control.replyCallid(ctx, callid, cseq, code, reason),
      },
      noArgs('t_flush_flags', 'Copy the message flags into the transaction: ksr keeps one flag set per transaction, so they are always in step. 1 with a transaction, -1 without.', (ctx) =>
        tm().control.hasTransaction(ctx) ? 1 : -1,
      ),
      noArgs('t_flush_xflags', 'Copy the extended message flags into the transaction: ksr keeps one xflag set per transaction (the message state tm keeps), so they are always in step. 1 with a transaction, -1 without.', (ctx) =>
        tm().control.hasTransaction(ctx) ? 1 : -1,
      ),
      isRoute('t_is_failure_route', 'a failure route (also t_continue)', ['failure']),
      isRoute('t_is_branch_route', 'a branch route', ['branch']),
      isRoute('t_is_reply_route', 'a reply route (core reply route or tm onreply route)', ['reply', 'tm-onreply']),
      isRoute('t_is_request_route', 'the request route', ['request']),
      noArgs('t_suspend', 'Suspend the transaction (created when absent); end the route and resume with t_continue($T(id_index), $T(id_label), fn). 1 ok, -1 error.', (ctx) =>
        tm().control.suspend(ctx),
      ),
      {
        name: 't_continue',
        returns: 'int',
        params: ['int', 'int', 'str'],
        paramNames: ['tindex', 'tlabel', 'cbname'],
        doc: 'Run the function cbname as a failure route of the suspended transaction tindex:tlabel (it may t_relay or t_reply). 1 ok, -1 error.',
        fn: (ctx: RouteContext, tindex: number, tlabel: number, cbname: string) => tm().control.resume(ctx, tindex, tlabel, cbname),
      },
      noArgs('t_drop', 'End the transaction without sending a reply (status 500). 1 ok, -1 without transaction.', (ctx) => tm().control.drop(ctx, 500)),
      {
        name: 't_drop_rcode',
        returns: 'int',
        params: ['int'],
        paramNames: ['rcode'],
        doc: 'End the transaction without sending a reply, its status set to rcode. 1 ok, -1 error.',
        fn: (ctx: RouteContext, rcode: number) => tm().control.drop(ctx, rcode),
      },
      noArgs('t_reuse_branch', 'In a branch-failure route: make the failed branch the R-URI branch again (R-URI, $du, Path, socket, branch flags). 1 ok, -1 error.', (ctx) =>
        tm().control.reuseBranch(ctx),
      ),
      noArgs('t_precheck_trans', 'Is this request (not ACK/CANCEL) being processed already (a retransmission arriving before t_newtran)? 1 yes, -1 no.', (ctx) => {
        const req = ctx.request;
        if (!table || !req || ctx.routeType !== 'request') return -1;
        const key = pretranKey(req);
        if (key === undefined) return -1;
        let owner = owners.get(ctx.state);
        if (owner === undefined) {
          owner = nextOwner = nextOwner >= 0x7fffffff ? 1 : nextOwner + 1;
          owners.set(ctx.state, owner);
        }
        if (!table.claim(key, owner)) return 1;
        // the claim lasts while this message's processing runs (route runs are synchronous)
        const o = owner;
        queueMicrotask(() => table.release(key, o));
        return -1;
      }),
    ];

    const stats = mctx.stats;
    const layer = () => tm().stats();
    const gauge = (name: string, read: () => number) => stats.gauge('tmx', name, read);
    gauge('UAS_transactions', () => layer()?.total ?? 0);
    gauge('UAC_transactions', () => tm().control.uacSent());
    for (const c of ['2xx', '3xx', '4xx', '5xx', '6xx'] as const) gauge(`${c}_transactions`, () => layer()?.[c] ?? 0);
    gauge('inuse_transactions', () => layer()?.current ?? 0);
    gauge('active_transactions', () => {
      const s = layer();
      return s ? s.current - s.waiting : 0;
    });
    gauge('rpl_received', () => layer()?.rpl_received ?? 0);
    gauge('rpl_generated', () => layer()?.rpl_generated ?? 0);
    gauge('rpl_sent', () => layer()?.rpl_sent ?? 0);

    return { exports };
  },
});
