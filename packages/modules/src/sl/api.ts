/**
 * What the sl module offers to other modules (`ctx.api<SlApi>('sl')`): stateless replies with
 * sl's To-tag, statistics and reply lumps, and the recognition of ACKs to those replies.
 */
import type { RouteContext, SipRequest } from '@ksr/core';

export interface SlReplyExtra {
  /** Header fields added after the ones of KSR.hdr.append_to_reply (state.replyHeaders). */
  headers?: Array<[string, string]>;
  body?: string | Buffer;
  contentType?: string;
}

export interface SlApi {
  /**
   * Send a stateless reply to the context's request (as KSR.sl.sl_send_reply): the To-tag is
   * sl's (stable across retransmissions), 3xx replies carry the destination set as Contacts,
   * statistics are counted. 1 when the reply was handed to the transport, -1 when it could not
   * be built (a reply being routed, an ACK, a bad code, reason or header). A failure of the send
   * itself is logged and counted in `sl:failures`.
   */
  reply(ctx: RouteContext, code: number, reason: string, extra?: SlReplyExtra): number;
  /** The To-tag sl puts in its replies to this request (the same for every retransmission of it). */
  toTag(req: SipRequest): string;
  /**
   * Is this an ACK for a reply sl generated (its To-tag carries sl's signature)? Such ACKs end
   * here: Kamailio absorbs them before the request route runs.
   */
  isOwnAck(req: SipRequest): boolean;
  /**
   * The pre-routing ACK filter: true (and `sl:received_ACKs` counted) when the context's request
   * is an ACK to a reply of sl, so the caller drops it without running the request route.
   */
  filterAck(ctx: RouteContext): boolean;
}

/**
 * What sl looks for in the API of a loaded `tm` module so that send_reply(), send_reply_mode() and
 * send_reply_error() reply statefully when the request has a transaction (Kamailio's bind_tm).
 * `replyInTransaction` returns undefined when the request has no transaction (sl then replies
 * statelessly), else the result of the stateful reply (1 / -1).
 */
export interface SlTmHook {
  replyInTransaction?(ctx: RouteContext, code: number, reason: string): number | undefined;
}
