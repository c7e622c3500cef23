/**
 * The points where tm.ts calls into the extension files (registry, branch-failure route,
 * t_save_lumps, t_drop_replies, local-response event, internal error reply). index.ts sets
 * `tm.hooks` to the object built in ext.ts; tm.ts works without it.
 */
import type { Branch, RouteContext, SipRequest } from '@ksr/core';
import type { TmBranch, TmTxn } from './tm.js';

export interface TmHooks {
  /** A transaction was created (t_newtran, t_relay, t_reply …). */
  created(txn: TmTxn): void;
  /** A branch got its negative final (≥ 300 or a local 408/503), before the transaction decides whether it is complete. */
  branchFailed(txn: TmTxn, branch: TmBranch): void;
  /** The request a failure route runs on (a fresh copy of the saved request, t_save_lumps). */
  failureRequest(txn: TmTxn): SipRequest;
  /** A branch is about to be sent, built from `b` (the destination-set entry after the branch route). */
  branchSent(txn: TmTxn, branch: TmBranch, b: Branch): void;
  /** t_relay sent at least one branch. */
  relayed(ctx: RouteContext, txn: TmTxn): void;
  /** t_relay could not send any branch. */
  relayFailed(ctx: RouteContext, txn: TmTxn): void;
  /**
   * t_drop_replies: true = this branch's reply no longer takes part in the best-reply choice,
   * false = it does (t_drop_replies("n")), undefined = the default (failure_reply_mode).
   */
  replyDropped(txn: TmTxn, branch: TmBranch): boolean | undefined;
  /** A reply was generated locally and sent in the transaction (t_reply). */
  localResponse(txn: TmTxn, status: number): void;
}
