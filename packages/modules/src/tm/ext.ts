/**
 * tm extensions that live beside tm.ts: transaction ids ($T(id_index)/$T(id_label)) and the
 * Call-ID index (tmx t_cancel_callid / t_reply_callid), t_suspend / t_continue, the
 * branch-failure route, tm:local-response, t_save_lumps, t_drop_replies, t_drop, the internal
 * error reply of a failed t_relay, t_cancel_branches. tm.ts calls in through `hooks`.
 */
import { RouteContext, parseMessage, type Branch, type Logger, type MessageState, type SipRequest, type TimerHandle } from '@ksr/core';
import { ruriAttrs, setRuriBranch } from './contacts.js';
import type { TmHooks } from './hooks.js';
import { errText, type Tm, type TmBranch, type TmTxn } from './tm.js';

export interface TmExtConfig {
  /** tm `event_callback`: the function run for tm:local-request (argument "tm:local-request"). */
  eventCallback: string;
  /** tm `event_callback_lres_sent`: the function run after a local reply was sent (argument "tm:local-response"). */
  eventCallbackLres: string;
  /** How long a dropped transaction (t_drop) lingers to absorb retransmissions (ms). */
  wtTimer: number;
}

export interface TxnExtra {
  readonly index: number;
  readonly label: number;
  /** The request as t_save_lumps (or the first t_relay) saw it: failure routes start from a copy. */
  saved: Buffer | undefined;
  /** First branch index of the round in progress. */
  roundStart: number;
  /** Branch indexes [from, to) of the round the last failure route ran for. */
  lastRound: [number, number];
  /** t_drop_replies decisions per branch. */
  drops: Map<TmBranch, boolean>;
  /** The destination-set entry each branch was built from. */
  sent: WeakMap<TmBranch, Branch>;
  /** Status of the last branch that got a negative final ($T_reply_last). */
  lastStatus: number | undefined;
  suspended: boolean;
  suspendTimer: TimerHandle | undefined;
  noInternalReply: boolean;
  disableFailover: boolean;
}

interface PendingExtra {
  noInternalReply?: boolean;
  /** t_relay_to_flags 0x02: for the next t_relay call only. */
  noInternalReplyOnce?: boolean;
  disableFailover?: boolean;
}


/** FNV-1a of a string, 16 bits (the "hash index" of a transaction). */
function hash16(s: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < s.length; i++) {
    h ^= s.charCodeAt(i);
    h = Math.imul(h, 0x01000193) >>> 0;
  }
  return (h ^ (h >>> 16)) & 0xffff;
}

export class TmExt {
  private readonly extras = new WeakMap<TmTxn, TxnExtra>();
  private readonly byId = new Map<string, TmTxn>();
  private readonly byCallId = new Map<string, Set<TmTxn>>();
  private readonly pendingX = new WeakMap<MessageState, PendingExtra>();
  private nextLabel = 1;
  readonly hooks: TmHooks;

  constructor(
    private readonly tm: Tm,
    readonly cfg: TmExtConfig,
    private readonly logger: Logger,
  ) {
    this.hooks = {
      created: (txn) => this.created(txn),
      branchFailed: (txn, b) => this.branchFailed(txn, b),
      failureRequest: (txn) => this.failureRequest(txn),
      branchSent: (txn, branch, b) => {
        const attrs = ruriAttrs.get(txn.state);
        const full = !b.instance && attrs && attrs.uri === b.uri ? { ...b, ...(attrs.instance ? { instance: attrs.instance } : {}), ...(attrs.ruid ? { ruid: attrs.ruid } : {}) } : b;
        this.extra(txn)?.sent.set(branch, full);
      },
      relayed: (ctx, txn) => {
        const x = this.extra(txn);
        const p = this.pendingX.get(ctx.state);
        if (p) p.noInternalReplyOnce = undefined;
        if (x && !x.saved && ctx.request) x.saved = ctx.request.serialize();
      },
      relayFailed: (ctx, txn) => this.relayFailed(ctx, txn),
      replyDropped: (txn, b) => this.extras.get(txn)?.drops.get(b),
      localResponse: (txn, status) => this.localResponse(txn, status),
    };
  }

  // ------------------------------------------------------------------ registry

  extra(txn: TmTxn): TxnExtra | undefined {
    return this.extras.get(txn);
  }

  pendingOf(state: MessageState): PendingExtra {
    let p = this.pendingX.get(state);
    if (!p) this.pendingX.set(state, (p = {}));
    return p;
  }

  private created(txn: TmTxn): void {
    const index = hash16(txn.req.callId);
    const label = this.nextLabel;
    this.nextLabel = this.nextLabel >= 0x7fffffff ? 1 : this.nextLabel + 1;
    const p = this.pendingX.get(txn.state) ?? {};
    const x: TxnExtra = {
      index,
      label,
      saved: undefined,
      roundStart: 0,
      lastRound: [0, 0],
      drops: new Map(),
      sent: new WeakMap(),
      lastStatus: undefined,
      suspended: false,
      suspendTimer: undefined,
      noInternalReply: p.noInternalReply ?? false,
      disableFailover: p.disableFailover ?? false,
    };
    this.extras.set(txn, x);
    this.byId.set(`${index}:${label}`, txn);
    let set = this.byCallId.get(txn.req.callId);
    if (!set) this.byCallId.set(txn.req.callId, (set = new Set()));
    set.add(txn);
    const prev = txn.server.onTerminated;
    txn.server.onTerminated = (s) => {
      try {
        prev?.(s);
      } finally {
        this.forget(txn);
      }
    };
  }

  private forget(txn: TmTxn): void {
    const x = this.extras.get(txn);
    if (x) {
      this.byId.delete(`${x.index}:${x.label}`);
      x.suspendTimer?.cancel();
      x.suspendTimer = undefined;
      x.suspended = false;
    }
    const set = this.byCallId.get(txn.req.callId);
    if (set) {
      set.delete(txn);
      if (set.size === 0) this.byCallId.delete(txn.req.callId);
    }
  }

  byIndex(index: number, label: number): TmTxn | undefined {
    return this.byId.get(`${index}:${label}`);
  }

  /** The first live transaction of a Call-ID and CSeq number (INVITE only when asked). */
  byCallIdCseq(callId: string, cseq: string, inviteOnly: boolean): TmTxn | undefined {
    const n = Number(cseq.trim());
    if (!/^\d+$/.test(cseq.trim()) || !Number.isSafeInteger(n)) return undefined;
    for (const t of this.byCallId.get(callId) ?? []) {
      if (t.req.cseq.seq !== n) continue;
      if (inviteOnly && !t.server.isInvite) continue;
      if (t.server.state === 'Terminated') continue;
      return t;
    }
    return undefined;
  }

  /** Number of transactions the registry holds (tests: everything is forgotten). */
  get size(): number {
    return this.byId.size;
  }

  /** A route context on a transaction outside of any tm route (tmx t_reply_callid, timers). */
  private txnContext(txn: TmTxn, name: string): RouteContext {
    return new RouteContext(txn.req, txn.info, txn.services, 'failure', name, txn.state);
  }

  // ------------------------------------------------------------------ lumps, failure rounds

  /** A fresh copy of the request as saved (t_save_lumps / the first t_relay), else the request itself. */
  requestCopy(txn: TmTxn): SipRequest {
    const saved = this.extras.get(txn)?.saved;
    if (!saved) return txn.req;
    try {
      return parseMessage(saved) as SipRequest;
    } catch (err) {
      this.logger.error(`tm: cannot re-parse the saved request: ${errText(err)}`);
      return txn.req;
    }
  }

  private failureRequest(txn: TmTxn): SipRequest {
    const x = this.extras.get(txn);
    if (x) {
      x.lastRound = [x.roundStart, txn.branches.length];
      x.roundStart = txn.branches.length;
    }
    return this.requestCopy(txn);
  }

  /** t_save_lumps(): keep the request as it is now for the failure routes. 1 ok, -1 without transaction. */
  saveLumps(ctx: RouteContext): number {
    const txn = this.tm.txnOf(ctx);
    const x = txn && this.extras.get(txn);
    if (!txn || !x || !ctx.request) {
      ctx.logger.error('tm t_save_lumps: no transaction (call t_newtran first)');
      return -1;
    }
    x.saved = ctx.request.serialize();
    return 1;
  }

  /** t_drop_replies(mode): "a"/"" all replies so far, "l" those of the last round, "n" none. */
  dropReplies(ctx: RouteContext, mode: string): number {
    const txn = this.tm.txnOf(ctx);
    const x = txn && this.extras.get(txn);
    if (!txn || !x) return -1;
    if (ctx.routeType !== 'failure' && ctx.routeType !== 'branch-failure') {
      ctx.logger.error('tm t_drop_replies: only in a failure route');
      return -1;
    }
    const m = mode.trim().toLowerCase();
    if (m !== '' && m !== 'a' && m !== 'l' && m !== 'n') {
      ctx.logger.error(`tm t_drop_replies: invalid mode ${JSON.stringify(mode)} ("a", "l", "n")`);
      return -1;
    }
    const [from, to] = m === 'l' ? x.lastRound : [0, x.roundStart];
    for (const b of txn.branches) {
      if (b.idx >= x.roundStart) continue; // branches added in this failure route
      if (m === 'n') x.drops.set(b, false);
      else if (b.idx >= from && b.idx < to) x.drops.set(b, true);
    }
    return 1;
  }

  // ------------------------------------------------------------------ t_relay errors

  private relayFailed(ctx: RouteContext, txn: TmTxn): void {
    const p = this.pendingX.get(ctx.state);
    const once = p?.noInternalReplyOnce === true;
    if (p) p.noInternalReplyOnce = undefined;
    const x = this.extras.get(txn);
    if (ctx.routeType !== 'request' || txn.server.replied || txn.branches.length > 0) return;
    if (once || x?.noInternalReply || p?.noInternalReply) return;
    this.tm.reply(ctx, 500, 'Server Internal Error');
  }

  // ------------------------------------------------------------------ branch-failure route

  private branchFailed(txn: TmTxn, branch: TmBranch): void {
    const x = this.extras.get(txn);
    if (x) x.lastStatus = branch.status;
    const name = txn.cb.onBranchFailure;
    if (!name) return;
    const ctx = new RouteContext(this.requestCopy(txn), txn.info, txn.services, 'branch-failure', name, txn.state);
    this.tm.runRoute(ctx, name, { txn, branch: branch.idx, code: branch.status });
  }

  /** The destination-set entry of a branch (t_reuse_branch, t_next_contact_flow). */
  branchEntry(txn: TmTxn, idx: number): Branch | undefined {
    const b = txn.branches[idx];
    return b ? this.extras.get(txn)?.sent.get(b) : undefined;
  }

  /** tmx t_reuse_branch(): in a branch-failure route, the failed branch becomes the R-URI branch again. */
  reuseBranch(ctx: RouteContext): number {
    const run = this.tm.runInfo(ctx);
    if (!run || ctx.routeType !== 'branch-failure' || !ctx.request) {
      ctx.logger.error('tmx t_reuse_branch: only in a branch-failure route');
      return -1;
    }
    const b = this.branchEntry(run.txn, run.branch);
    if (!b) return -1;
    try {
      setRuriBranch(ctx, b);
    } catch (err) {
      ctx.logger.error(`tmx t_reuse_branch: ${errText(err)}`);
      return -1;
    }
    ctx.state.branches = [];
    return 1;
  }

  // ------------------------------------------------------------------ events

  private localResponse(txn: TmTxn, status: number): void {
    const fn = this.cfg.eventCallbackLres;
    const res = txn.server.lastResponse;
    if (fn === '' || !res || !this.tm.routeRunner) return;
    const ctx = new RouteContext(res, txn.info, txn.services, 'event', fn, txn.state);
    this.tm.runRoute(ctx, fn, { txn, branch: 0, code: status }, ['tm:local-response']);
  }

  // ------------------------------------------------------------------ suspend / continue / drop

  /** tmx t_suspend(): the request route may end; t_continue resumes. 1 ok, -1 error. */
  suspend(ctx: RouteContext): number {
    if (ctx.routeType !== 'request' || !ctx.request) {
      ctx.logger.error('tmx t_suspend: only for a request in the request route');
      return -1;
    }
    const txn = this.tm.txnOf(ctx) ?? this.tm.newTran(ctx);
    const x = txn && this.extras.get(txn);
    if (!txn || !x) return -1;
    if (txn.server.replied) {
      ctx.logger.error('tmx t_suspend: the transaction has a final reply already');
      return -1;
    }
    if (x.suspended) return 1;
    x.suspended = true;
    const ms = txn.fr ?? this.tm.cfg.frTimer;
    x.suspendTimer = this.tm.timerScheduler.after(ms, () => this.suspendTimeout(txn));
    return 1;
  }

  isSuspended(txn: TmTxn): boolean {
    return this.extras.get(txn)?.suspended === true;
  }

  private suspendTimeout(txn: TmTxn): void {
    const x = this.extras.get(txn);
    if (!x?.suspended) return;
    x.suspended = false;
    x.suspendTimer = undefined;
    if (txn.server.replied) return;
    this.logger.info(`tm: suspended transaction ${x.index}:${x.label} not continued in time`);
    const cb = txn.cb.onFailure;
    if (cb && !txn.server.canceled) {
      txn.cb.onFailure = undefined;
      txn.best = { status: 408, res: undefined, branch: undefined };
      txn.inFailure = true;
      const fctx = new RouteContext(this.failureRequest(txn), txn.info, txn.services, 'failure', cb, txn.state);
      try {
        this.tm.runRoute(fctx, cb, { txn, branch: 0, code: 408 });
      } finally {
        txn.inFailure = false;
      }
      if (txn.server.replied || txn.branches.some((b) => b.status === 0)) return;
    }
    this.tm.reply(this.txnContext(txn, 'tm'), 408, 'Request Timeout');
  }

  /** tmx t_continue(tindex, tlabel, fname): run fname as a failure route of the suspended transaction. */
  continue(ctx: RouteContext, index: number, label: number, fname: string): number {
    const txn = this.byIndex(index, label);
    const x = txn && this.extras.get(txn);
    if (!txn || !x) {
      ctx.logger.error(`tmx t_continue: no transaction ${index}:${label}`);
      return -1;
    }
    if (!x.suspended) {
      ctx.logger.error(`tmx t_continue: transaction ${index}:${label} is not suspended`);
      return -1;
    }
    if (fname === '') {
      ctx.logger.error('tmx t_continue: empty function name');
      return -1;
    }
    x.suspended = false;
    x.suspendTimer?.cancel();
    x.suspendTimer = undefined;
    const rctx = new RouteContext(txn.req, txn.info, txn.services, 'failure', fname, txn.state);
    txn.inFailure = true;
    try {
      this.tm.runRoute(rctx, fname, { txn, branch: 0, code: 0 });
    } finally {
      txn.inFailure = false;
    }
    if (!txn.server.replied && !txn.branches.some((b) => b.status === 0) && txn.server.state !== 'Terminated') {
      this.logger.warn(`tmx t_continue: ${fname} neither relayed nor replied: 500`);
      this.tm.reply(this.txnContext(txn, fname), 500, 'Server Internal Error');
    }
    return 1;
  }

  /** CANCEL the pending branches of an INVITE transaction (indexes, or all). */
  cancelBranches(txn: TmTxn, which: (b: TmBranch) => boolean, reason?: string): number {
    if (!txn.server.isInvite) return 0;
    let n = 0;
    for (const b of txn.branches) {
      if (b.status !== 0 || !b.client || !which(b)) continue;
      b.client.cancel(undefined, reason ? { headers: [['Reason', reason]] } : undefined);
      n++;
    }
    return n;
  }

  /** tmx t_drop([rcode]): end the transaction without a reply; it lingers wt_timer to absorb retransmissions. */
  drop(ctx: RouteContext, rcode: number): number {
    const txn = this.tm.txnOf(ctx);
    const x = txn && this.extras.get(txn);
    if (!txn || !x) return -1;
    if (!Number.isInteger(rcode) || rcode < 100 || rcode > 699) {
      ctx.logger.error(`tmx t_drop: invalid code ${rcode}`);
      return -1;
    }
    if (!txn.server.replied) txn.server.finalStatus = rcode;
    x.suspended = false;
    x.suspendTimer?.cancel();
    x.suspendTimer = undefined;
    this.cancelBranches(txn, () => true);
    ctx.replied = true;
    const server = txn.server;
    this.tm.timerScheduler.after(this.cfg.wtTimer, () => server.terminate());
    return 1;
  }

  /** tmx t_cancel_callid(callid, cseq, flag, rcode). */
  cancelCallid(ctx: RouteContext, callId: string, cseq: string, flag: number, rcode: number): number {
    const txn = this.byCallIdCseq(callId, cseq, true);
    if (!txn) {
      ctx.logger.debug(`tmx t_cancel_callid: no INVITE transaction ${callId} ${cseq}`);
      return -1;
    }
    if (flag > 0 && flag < 32) txn.state.flags = (txn.state.flags | (1 << flag)) >>> 0;
    if (!txn.server.replied) txn.server.canceled = true;
    this.cancelBranches(txn, () => true, rcode >= 100 && rcode <= 699 ? `SIP;cause=${rcode}` : undefined);
    return 1;
  }

  /** tmx t_reply_callid(callid, cseq, code, reason). */
  replyCallid(ctx: RouteContext, callId: string, cseq: string, code: number, reason: string): number {
    const txn = this.byCallIdCseq(callId, cseq, false);
    if (!txn) {
      ctx.logger.debug(`tmx t_reply_callid: no transaction ${callId} ${cseq}`);
      return -1;
    }
    return this.tm.reply(this.txnContext(txn, 'tmx'), code, reason);
  }
}
