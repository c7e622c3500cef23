/**
 * What the tm module offers to the server wiring and to other modules (`ctx.api<TmApi>('tm')`).
 */
import type { ReceiveInfo, RouteContext, SipResponse, TimerScheduler, TransactionLayer, TransactionStats } from '@ksr/core';
import type { SlTmHook } from '../sl/api.js';

/** Runs a script function on a context, synchronously (the lead binds it to host.run(runtime, ctx, fn, args)). */
export interface TmRouteRunner {
  run(ctx: RouteContext, funcName: string, args?: readonly string[]): { kind: string; dropped: boolean };
  /** Does the script define this function? Optional: when absent every name is tried. */
  hasFunction?(funcName: string): boolean;
}

export interface TmApi extends SlTmHook {
  /** Give tm the means to run its route callbacks (onreply, failure, branch). Call once the engine is loaded. */
  attachRouting(runner: TmRouteRunner | undefined): void;
  /** Every received reply, after the core reply route and before stateless forwarding: true when tm took it. */
  filterResponse(res: SipResponse, info: ReceiveInfo): boolean;
  /** Use another timer scheduler (tests: FakeScheduler). Only before the first transaction. */
  setScheduler(s: TimerScheduler): void;
  /** The transaction layer (created on first use). */
  readonly layer: TransactionLayer | undefined;
  /** The layer's counters (undefined before the first transaction). */
  stats(): TransactionStats | undefined;
  /** Reply in the transaction of the context (t_reply). undefined when the request has none. */
  replyInTransaction(ctx: RouteContext, code: number, reason: string): number | undefined;
  /** Transaction control for the tmx module. */
  readonly control: TmControl;
}

/** What tmx reaches in tm (int results as the KEMI functions return them). */
export interface TmControl {
  /** Is there a transaction for the context (created, found, or the one a tm route runs for)? */
  hasTransaction(ctx: RouteContext): boolean;
  /** Suspend the request's transaction (created when absent): 1 ok, -1 error. */
  suspend(ctx: RouteContext): number;
  /** Run `fname` as a failure route of the suspended transaction index:label. 1 ok, -1 error. */
  resume(ctx: RouteContext, index: number, label: number, fname: string): number;
  /** End the transaction without a reply (its status becomes rcode). 1 ok, -1 error. */
  drop(ctx: RouteContext, rcode: number): number;
  /** CANCEL pending branches: "all", "others" (not the current reply's), "this". 1 ok, -1 error. */
  cancelBranches(ctx: RouteContext, mode: string): number;
  /** CANCEL the INVITE transaction of Call-ID + CSeq number, set message flag `flag` (> 0), Reason cause rcode (≥ 100). 1 / -1. */
  cancelCallid(ctx: RouteContext, callId: string, cseq: string, flag: number, rcode: number): number;
  /** Reply in the transaction of Call-ID + CSeq number. 1 / -1. */
  replyCallid(ctx: RouteContext, callId: string, cseq: string, code: number, reason: string): number;
  /** In a branch-failure route: the failed branch becomes the R-URI branch again. 1 / -1. */
  reuseBranch(ctx: RouteContext): number;
  /** Local requests sent (t_uac_send). */
  uacSent(): number;
}
