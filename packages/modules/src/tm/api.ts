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
}
