/**
 * tm — stateful proxying (Kamailio's tm KEMI exports) on @ksr/core's TransactionLayer.
 * See README.md for the functions, parameters, the server wiring and the differences.
 */
import { defineModule, type KemiExportDef, type ModuleParamSpec, type RouteContext } from '@ksr/core';
import type { RrApi } from '../rr/index.js';
import type { TmApi } from './api.js';
import { Tm, clockScheduler, type TmConfig } from './tm.js';
import type { ContactsConfig } from './contacts.js';
import { extExportsOf } from './exports-ext.js';
import { TmExt } from './ext.js';
import { registerTmPvs } from './pv.js';
import { TmUac } from './uac.js';

export type { TmApi, TmControl, TmRouteRunner } from './api.js';

type Def = KemiExportDef<RouteContext>;

const int: ModuleParamSpec = { type: 'int' };
const str: ModuleParamSpec = { type: 'str' };

const PARAMS: Record<string, ModuleParamSpec> = {
  fr_timer: int,
  fr_inv_timer: int,
  failure_reply_mode: int,
  wt_timer: int,
  max_inv_lifetime: int,
  max_noninv_lifetime: int,
  auto_inv_100: int,
  restart_fr_on_each_reply: int,
  contacts_avp: str,
  contact_flows_avp: str,
  event_callback: str,
  event_callback_lres_sent: str,
};

const STAT_NAMES = ['current', 'waiting', 'total', 'created', 'freed', 'rpl_received', 'rpl_generated', 'rpl_sent', '2xx', '3xx', '4xx', '5xx', '6xx'] as const;

const ROUTE_NAMES: Record<string, 'onReply' | 'onFailure' | 'onBranch' | 'onBranchFailure'> = {
  onreply_route: 'onReply',
  failure_route: 'onFailure',
  branch_route: 'onBranch',
  branch_failure_route: 'onBranchFailure',
};

function exportsOf(tm: Tm, ext: TmExt): Def[] {
  const noArgs = (name: string, doc: string, fn: (ctx: RouteContext) => number): Def => ({ name, returns: 'int', params: [], doc, fn });
  const onRoute = (name: string, which: 'onReply' | 'onFailure' | 'onBranch' | 'onBranchFailure', what: string): Def => ({
    name,
    returns: 'int',
    params: ['str'],
    paramNames: ['rname'],
    doc: `Set the script function run as ${what} for the transaction ("" clears it). Always 1.`,
    fn: (ctx: RouteContext, rname: string) => {
      tm.setCallback(ctx, which, rname);
      return 1;
    },
  });
  const inTxnRoute = (ctx: RouteContext): boolean => ctx.routeType === 'failure' || ctx.routeType === 'branch-failure';
  const branches = (ctx: RouteContext) => tm.txnOf(ctx)?.branches ?? [];
  const failedBranch = (ctx: RouteContext) => {
    const t = tm.txnOf(ctx);
    const run = tm.runInfo(ctx);
    if (ctx.routeType === 'branch-failure' && run) return t?.branches[run.branch];
    return t?.best?.branch;
  };
  return [
    noArgs('t_relay', 'Relay the request statefully (creates the transaction). 1 ok, -1 error.', (ctx) => tm.relay(ctx, 't_relay')),
    {
      name: 't_relay_to_proxy',
      returns: 'int',
      params: ['str'],
      paramNames: ['proxy'],
      doc: 'Relay statefully to "[proto:]host[:port]" (udp/tcp, IP address). 1 ok, -1 error.',
      fn: (ctx: RouteContext, proxy: string) => {
        const m = /^(?:(udp|tcp):)?([A-Za-z0-9.-]+|\[[0-9A-Fa-f:.]+\])(?::(\d{1,5}))?$/i.exec(proxy.trim());
        if (!m) {
          ctx.logger.error(`tm t_relay_to_proxy: invalid proxy ${JSON.stringify(proxy)}`);
          return -1;
        }
        const proto = (m[1] ?? 'udp').toLowerCase();
        return tm.relay(ctx, 't_relay_to_proxy', { uri: `sip:${m[2]}${m[3] ? `:${m[3]}` : ''}${proto === 'udp' ? '' : `;transport=${proto}`}` });
      },
    },
    {
      name: 't_relay_to_proto_addr',
      returns: 'int',
      params: ['str', 'str', 'int'],
      paramNames: ['proto', 'host', 'port'],
      doc: 'Relay statefully to proto (udp/tcp), host (IP address), port. 1 ok, -1 error.',
      fn: (ctx: RouteContext, proto: string, host: string, port: number) => {
        const p = proto.toLowerCase();
        if ((p !== 'udp' && p !== 'tcp') || !/^[0-9A-Za-z.:[\]-]+$/.test(host) || port < 0 || port > 65535) {
          ctx.logger.error(`tm t_relay_to_proto_addr: invalid target ${proto}:${host}:${port}`);
          return -1;
        }
        const h = host.includes(':') && !host.startsWith('[') ? `[${host}]` : host;
        return tm.relay(ctx, 't_relay_to_proto_addr', { uri: `sip:${h}${port > 0 ? `:${port}` : ''}${p === 'udp' ? '' : ';transport=tcp'}` });
      },
    },
    {
      name: 't_relay_to_flags',
      returns: 'int',
      params: ['int'],
      paramNames: ['flags'],
      doc: 'Relay statefully; the flags (0x01 no auto 100, 0x02 no auto error reply, 0x04 no DNS failover) are accepted. 1 ok, -1 error.',
      fn: (ctx: RouteContext, flags: number) => {
        if (flags & 1) tm.pendingOf(ctx).autoInv100 = false;
        if (flags & 2) ext.pendingOf(ctx.state).noInternalReplyOnce = true;
        return tm.relay(ctx, 't_relay_to_flags');
      },
    },
    onRoute('t_on_failure', 'onFailure', 'failure route'),
    onRoute('t_on_reply', 'onReply', 'tm onreply route (every reply of every branch)'),
    onRoute('t_on_branch', 'onBranch', 'branch route (every outgoing branch)'),
    onRoute('t_on_branch_failure', 'onBranchFailure', 'branch-failure route (every negative final of a branch, before the failure route)'),
    noArgs('t_check_trans', 'Is there a transaction for the message? CANCEL/ACK: of its INVITE. A retransmission is re-answered and 0 returned. 1 yes, -1 no.', (ctx) => {
      if (ctx.routeType !== 'request') return tm.txnOf(ctx) || ctx.response ? 1 : -1;
      const req = ctx.request;
      if (!req) return -1;
      if (req.method === 'CANCEL') return tm.lookupCancel(ctx) ? 1 : -1;
      const t = tm.lookupRequest(ctx);
      if (!t) return -1;
      if (req.method === 'ACK') return 1;
      if (tm.txnOf(ctx)?.server === t) return 1;
      t.retransmission();
      return 0;
    }),
    noArgs('t_newtran', 'Create the transaction of the request. 1 created (or existing), 0 retransmission (absorbed), -1 error.', (ctx) => {
      if (!ctx.request) return -1;
      if (ctx.request.method === 'ACK') {
        ctx.logger.error('tm t_newtran: an ACK does not create a transaction');
        return -1;
      }
      if (tm.txnOf(ctx)) return 1;
      const existing = tm.lookupRequest(ctx);
      if (existing) {
        existing.retransmission();
        return 0;
      }
      return tm.newTran(ctx) ? 1 : -1;
    }),
    {
      name: 't_reply',
      returns: 'int',
      params: ['int', 'str'],
      paramNames: ['code', 'reason'],
      doc: 'Reply statefully (creates the transaction in the request route). 1 ok, -1 error.',
      fn: (ctx: RouteContext, code: number, reason: string) => tm.reply(ctx, code, reason),
    },
    {
      name: 't_send_reply',
      returns: 'int',
      params: ['int', 'str'],
      paramNames: ['code', 'reason'],
      doc: 'As t_reply. 1 ok, -1 error.',
      fn: (ctx: RouteContext, code: number, reason: string) => tm.reply(ctx, code, reason),
    },
    noArgs('t_reply_error', 'Reply statefully with the last internal error (default 500). 1 ok, -1 error.', (ctx) => {
      const e = ctx.state.lastError ?? { code: 500, reason: 'Server Internal Error' };
      return tm.reply(ctx, e.code, e.reason);
    }),
    noArgs('t_is_canceled', 'Was the INVITE transaction canceled? 1 yes, -1 no.', (ctx) => (tm.txnOf(ctx)?.server.canceled ? 1 : -1)),
    noArgs('t_is_expired', 'Has the transaction outlived its lifetime (max_inv_lifetime / max_noninv_lifetime / t_set_max_lifetime)? 1 yes, -1 no (or no transaction).', (ctx) => {
      const t = tm.txnOf(ctx);
      return t && tm.isExpired(t) ? 1 : -1;
    }),
    {
      name: 't_set_max_lifetime',
      returns: 'int',
      params: ['int', 'int'],
      paramNames: ['tdii', 'tdni'],
      doc: 'Lifetime (ms) of the current INVITE / non-INVITE transaction, else of the one created next; 0 = the max_inv_lifetime / max_noninv_lifetime parameter. 1 ok, -1 error.',
      fn: (ctx: RouteContext, inv: number, noninv: number) => tm.setMaxLifetime(ctx, inv, noninv),
    },
    {
      name: 't_check_status',
      returns: 'int',
      params: ['str'],
      paramNames: ['re'],
      doc: 'Does the reply code in scope (onreply: the reply; failure: the best reply; else the last sent) match the regular expression? 1 yes, -1 no.',
      fn: (ctx: RouteContext, re: string) => {
        let rx: RegExp;
        try {
          rx = new RegExp(re);
        } catch {
          ctx.logger.error(`tm t_check_status: invalid regular expression ${JSON.stringify(re)}`);
          return -1;
        }
        const code = tm.replyCode(ctx);
        return code > 0 && rx.test(String(code)) ? 1 : -1;
      },
    },
    {
      name: 't_grep_status',
      returns: 'int',
      params: ['int'],
      paramNames: ['code'],
      doc: 'Did any branch get a final reply with this code? 1 yes, -1 no.',
      fn: (ctx: RouteContext, code: number) => (branches(ctx).some((b) => b.status === code && b.reply) ? 1 : -1),
    },
    {
      name: 't_set_fr',
      returns: 'int',
      params: ['int', 'int'],
      paramNames: ['fr_inv', 'fr'],
      doc: 'Final-response timeouts (ms) for the branches sent from now on; 0 keeps the default. 1 ok, -1 error.',
      fn: (ctx: RouteContext, frInv: number, fr: number) => {
        if (frInv < 0 || fr < 0) return -1;
        const p = tm.pendingOf(ctx);
        const t = tm.txnOf(ctx);
        if (frInv > 0) p.frInv = frInv;
        if (fr > 0) p.fr = fr;
        if (t) {
          if (frInv > 0) t.frInv = frInv;
          if (fr > 0) t.fr = fr;
        }
        return 1;
      },
    },
    {
      name: 't_set_fr_inv',
      returns: 'int',
      params: ['int'],
      paramNames: ['fr_inv'],
      doc: 'INVITE final-response timeout after a provisional (ms). 1 ok, -1 error.',
      fn: (ctx: RouteContext, frInv: number) => {
        if (frInv < 0) return -1;
        const p = tm.pendingOf(ctx);
        p.frInv = frInv > 0 ? frInv : undefined;
        const t = tm.txnOf(ctx);
        if (t) t.frInv = p.frInv;
        return 1;
      },
    },
    noArgs('t_reset_fr', 'Back to the fr_timer / fr_inv_timer parameters. 1.', (ctx) => {
      const p = tm.pendingOf(ctx);
      p.fr = p.frInv = undefined;
      const t = tm.txnOf(ctx);
      if (t) t.fr = t.frInv = undefined;
      return 1;
    }),
    {
      name: 't_set_retr',
      returns: 'int',
      params: ['int', 'int'],
      paramNames: ['t1', 't2'],
      doc: 'Retransmission intervals (ms) of the branches sent from now on: first interval T1 and cap T2; 0 keeps the default. 1 ok, -1 error.',
      fn: (ctx: RouteContext, t1: number, t2: number) => {
        if (t1 < 0 || t2 < 0 || (t1 > 0 && t2 > 0 && t2 < t1)) {
          ctx.logger.error(`tm t_set_retr: invalid intervals t1=${t1} t2=${t2}`);
          return -1;
        }
        const p = tm.pendingOf(ctx);
        const t = tm.txnOf(ctx);
        if (t1 > 0) p.retrT1 = t1;
        if (t2 > 0) p.retrT2 = t2;
        if (t) {
          if (t1 > 0) t.retrT1 = t1;
          if (t2 > 0) t.retrT2 = t2;
        }
        return 1;
      },
    },
    noArgs('t_reset_retr', 'Back to the default retransmission intervals (T1/T2) for the branches sent from now on. 1.', (ctx) => {
      const p = tm.pendingOf(ctx);
      p.retrT1 = p.retrT2 = undefined;
      const t = tm.txnOf(ctx);
      if (t) t.retrT1 = t.retrT2 = undefined;
      return 1;
    }),
    noArgs('t_get_status_code', 'The status of the last reply sent in the transaction, -1 without one.', (ctx) => {
      const s = tm.txnOf(ctx)?.server.lastResponse?.status;
      return s ?? -1;
    }),
    noArgs('t_get_branch_index', 'The branch index in branch / onreply / failure routes, else 0 (-1 for a message without transaction).', (ctx) => {
      if (tm.runInfo(ctx)) return tm.branchIndex(ctx);
      return tm.txnOf(ctx) ? 0 : -1;
    }),
    noArgs('t_branch_timeout', 'In a failure route: did the failed branch time out? 1 yes, -1 no.', (ctx) =>
      inTxnRoute(ctx) && failedBranch(ctx)?.timedOut ? 1 : inTxnRoute(ctx) && !failedBranch(ctx) && branches(ctx).some((b) => b.timedOut) ? 1 : -1,
    ),
    noArgs('t_branch_replied', 'In a failure route: did the failed branch receive a reply? 1 yes, -1 no.', (ctx) =>
      inTxnRoute(ctx) && failedBranch(ctx)?.replied ? 1 : -1,
    ),
    noArgs('t_any_timeout', 'Did any branch time out? 1 yes, -1 no.', (ctx) => (branches(ctx).some((b) => b.timedOut) ? 1 : -1)),
    noArgs('t_any_replied', 'Did any branch receive a reply? 1 yes, -1 no.', (ctx) => (branches(ctx).some((b) => b.replied) ? 1 : -1)),
    noArgs('t_lookup_request', 'Is there a transaction for the request (no side effect)? 1 yes, -1 no.', (ctx) => (tm.lookupRequest(ctx) ? 1 : -1)),
    noArgs('t_lookup_cancel', 'For a CANCEL: is there the INVITE transaction it cancels? 1 yes, -1 no.', (ctx) => (tm.lookupCancel(ctx) ? 1 : -1)),
    noArgs('t_release', 'Free the transaction now. 1 ok, -1 without one.', (ctx) => tm.release(ctx)),
    noArgs('t_exists', 'Was a transaction created or found for the message? 1 yes, -1 no.', (ctx) => (tm.txnOf(ctx) ? 1 : -1)),
    {
      name: 't_is_set',
      returns: 'int',
      params: ['str'],
      paramNames: ['target'],
      doc: 'Is "branch_route", "failure_route", "onreply_route" (or "branch_failure_route") set? 1 yes, -1 no.',
      fn: (ctx: RouteContext, target: string) => {
        const which = ROUTE_NAMES[target];
        if (!which) {
          ctx.logger.error(`tm t_is_set: unknown target ${JSON.stringify(target)}`);
          return -1;
        }
        return tm.getCallback(ctx, which) ? 1 : -1;
      },
    },
    {
      name: 't_set_auto_inv_100',
      returns: 'int',
      params: ['int'],
      paramNames: ['state'],
      doc: 'Send (1) or not (0) the automatic 100 Trying for the INVITE transaction created next. 1.',
      fn: (ctx: RouteContext, state: number) => {
        tm.pendingOf(ctx).autoInv100 = state !== 0;
        return 1;
      },
    },
    {
      name: 't_set_disable_6xx',
      returns: 'int',
      params: ['int'],
      paramNames: ['state'],
      doc: 'Treat 6xx like other finals (no CANCEL of the other branches) when 1. 1.',
      fn: (ctx: RouteContext, state: number) => {
        tm.pendingOf(ctx).disable6xx = state !== 0;
        const t = tm.txnOf(ctx);
        if (t) t.disable6xx = state !== 0;
        return 1;
      },
    },
    {
      name: 't_set_no_e2e_cancel_reason',
      returns: 'int',
      params: ['int'],
      paramNames: ['state'],
      doc: 'Do not copy the Reason header of a CANCEL into the CANCELs sent downstream when 1. 1.',
      fn: (ctx: RouteContext, state: number) => {
        tm.pendingOf(ctx).noE2eCancelReason = state !== 0;
        const t = tm.txnOf(ctx);
        if (t) t.noE2eCancelReason = state !== 0;
        return 1;
      },
    },
    noArgs('t_retransmit_reply', 'Send the last reply of the transaction again. 1 ok, -1 error.', (ctx) => {
      const t = tm.txnOf(ctx);
      if (!t?.server.lastResponse) return -1;
      t.server.retransmission();
      return 1;
    }),
  ];
}

export const tmModule = defineModule({
  name: 'tm',
  params: PARAMS,
  optionalDependencies: ['rr'],
  create(mctx) {
    const p = mctx.params;
    const cfg: TmConfig = {
      frTimer: p.int('fr_timer', 30000),
      frInvTimer: p.int('fr_inv_timer', 120000),
      autoInv100: p.int('auto_inv_100', 1) !== 0,
      restartFrOnEachReply: p.int('restart_fr_on_each_reply', 1) !== 0,
      failureReplyMode: p.int('failure_reply_mode', 3),
      wtTimer: p.int('wt_timer', 0),
      maxInvLifetime: p.int('max_inv_lifetime', 180000),
      maxNoninvLifetime: p.int('max_noninv_lifetime', 32000),
    };
    for (const [k, v] of [
      ['fr_timer', cfg.frTimer],
      ['fr_inv_timer', cfg.frInvTimer],
      ['max_inv_lifetime', cfg.maxInvLifetime!],
      ['max_noninv_lifetime', cfg.maxNoninvLifetime!],
    ] as const) {
      if (v <= 0) throw new Error(`tm: ${k} must be > 0`);
    }
    if (cfg.failureReplyMode < 0 || cfg.failureReplyMode > 3) throw new Error(`tm: failure_reply_mode must be 0, 1, 2 or 3 (got ${cfg.failureReplyMode})`);
    const rr = (): RrApi | undefined => mctx.api<RrApi | undefined>('rr');
    const tm = new Tm(cfg, clockScheduler(mctx.clock), mctx.logger, rr);
    const eventCallback = p.str('event_callback', '');
    const ext = new TmExt(tm, { eventCallback, eventCallbackLres: p.str('event_callback_lres_sent', ''), wtTimer: cfg.wtTimer > 0 ? cfg.wtTimer : 5000 }, mctx.logger);
    tm.hooks = ext.hooks;
    // user_agent_header (unless server_signature=no): the User-Agent of requests tm originates
    const glob = (n: string) => mctx.config.globals.get(n)?.value;
    const sig = glob('server_signature');
    const signatureOff = sig === false || sig === 0 || (typeof sig === 'string' && /^(no|off|false|0)$/i.test(sig));
    const ua = glob('user_agent_header');
    const userAgent = signatureOff ? '' : typeof ua === 'string' && ua.trim() !== '' ? ua.trim() : 'User-Agent: ksr';
    const uac = new TmUac(tm, { eventCallback, userAgent });
    const contacts: ContactsConfig = { contactsAvp: p.str('contacts_avp', ''), flowsAvp: p.str('contact_flows_avp', '') };
    // the transaction layer keeps the totals: read them when asked for (as tmx does)
    for (const n of STAT_NAMES) mctx.stats.gauge('tm', n, () => tm.stats()?.[n] ?? 0);
    mctx.pv.register('T_reply_code', (spec) => ({ name: spec.text, get: (ctx) => tm.replyCode(ctx) }), { replace: true });
    mctx.pv.register('T_branch_idx', (spec) => ({ name: spec.text, get: (ctx) => tm.branchIndex(ctx) }), { replace: true });
    registerTmPvs(mctx.pv, tm, ext);
    const api: TmApi = {
      attachRouting: (r) => tm.attachRouting(r),
      filterResponse: (res, info) => tm.filterResponse(res, info),
      setScheduler: (s) => tm.setScheduler(s),
      get layer() {
        return tm.layer;
      },
      stats: () => tm.stats(),
      replyInTransaction: (ctx, code, reason) => (tm.txnOf(ctx) ? tm.reply(ctx, code, reason) : undefined),
      control: {
        hasTransaction: (ctx) => tm.txnOf(ctx) !== undefined,
        suspend: (ctx) => ext.suspend(ctx),
        resume: (ctx, index, label, fname) => ext.continue(ctx, index, label, fname),
        drop: (ctx, rcode) => ext.drop(ctx, rcode),
        cancelBranches: (ctx, mode) => {
          const txn = tm.txnOf(ctx);
          const m = mode.trim().toLowerCase();
          if (!txn || (m !== 'all' && m !== 'others' && m !== 'this')) {
            if (txn) ctx.logger.error(`tmx t_cancel_branches: invalid mode ${JSON.stringify(mode)} (all, others, this)`);
            return -1;
          }
          const run = tm.runInfo(ctx);
          const here = ctx.routeType === 'tm-onreply' || ctx.routeType === 'branch-failure' ? run?.branch : undefined;
          if (m !== 'all' && here === undefined) {
            ctx.logger.error(`tmx t_cancel_branches("${m}"): only in a tm onreply route`);
            return -1;
          }
          if (!txn.server.isInvite) return -1;
          ext.cancelBranches(txn, (b) => (m === 'all' ? true : m === 'others' ? b.idx !== here : b.idx === here));
          return 1;
        },
        cancelCallid: (ctx, callId, cseq, flag, rcode) => ext.cancelCallid(ctx, callId, cseq, flag, rcode),
        replyCallid: (ctx, callId, cseq, code, reason) => ext.replyCallid(ctx, callId, cseq, code, reason),
        reuseBranch: (ctx) => ext.reuseBranch(ctx),
        uacSent: () => uac.sent,
      },
    };
    return {
      exports: [...exportsOf(tm, ext), ...extExportsOf(tm, ext, uac, contacts)],
      api,
      filterRequest: (ctx) => tm.filterRequest(ctx),
      filterResponse: (res: Parameters<TmApi['filterResponse']>[0], info: Parameters<TmApi['filterResponse']>[1]) => tm.filterResponse(res, info),
      destroy: () => tm.layer?.clear(),
    };
  },
});
