/**
 * Server transactions, RFC 3261 §17.2 with the RFC 6026 "Accepted" state.
 *
 * INVITE (§17.2.1, RFC 6026 §7.1 / §8.5–8.7):
 *   Proceeding --1xx--> Proceeding (send)
 *   Proceeding --2xx--> Accepted (send; Timer L)        Accepted --2xx--> send (relayed retransmissions / forks)
 *   Proceeding --300-699--> Completed (send; G over UDP, H)
 *   Completed --INVITE retransmission--> resend final;  --G--> resend final, G = min(2G, T2)
 *   Completed --ACK--> Confirmed (I = T4 UDP / 0 TCP);  --H--> Terminated
 *   Confirmed --I--> Terminated;  Accepted --L--> Terminated
 *   Accepted: INVITE retransmissions are absorbed, ACKs go to the TU (RFC 6026 §8.7).
 * Non-INVITE (§17.2.2):
 *   Trying --1xx--> Proceeding; Trying/Proceeding --final--> Completed (J = 64*T1 UDP / 0 TCP)
 *   Proceeding/Completed --request retransmission--> resend the last response
 *   Completed --J--> Terminated
 */
import { buildReply, generateTag, type ReplyOptions, type SipRequest, type SipResponse } from '../sip/index.js';
import type { Proto, ReceiveInfo, SendTarget } from '../transport/types.js';
import type { TimerHandle } from './timer.js';
import { TransactionStateError, type LayerCore } from './types.js';

export type ServerState = 'Trying' | 'Proceeding' | 'Completed' | 'Confirmed' | 'Accepted' | 'Terminated';

let nextId = 1;

export class ServerTransaction {
  /** Unique per process ("s" + counter). */
  readonly id: string;
  readonly request: SipRequest;
  readonly info: ReceiveInfo;
  readonly isInvite: boolean;
  /** Where responses go (RFC 3261 §18.2.2, computed by the layer or given by the caller). */
  readonly replyTarget: SendTarget;
  /** The matching key(s) in the layer table. @internal */
  readonly keys: string[];
  /** To tag used for locally generated replies (one per transaction). */
  readonly toTag: string;
  state: ServerState;
  /** Set by the layer when a CANCEL for this INVITE arrived before a final response. */
  canceled = false;
  /** Free slot for the TU (tm keeps its branches here). */
  data: unknown = undefined;
  /** Called once when the transaction is freed. */
  onTerminated: ((txn: ServerTransaction) => void) | undefined = undefined;
  /** The last response sent (retransmitted on request retransmissions / Timer G). */
  lastResponse: SipResponse | undefined;
  /** Status of the final response sent, 0 until then. */
  finalStatus = 0;

  private lastBytes: Buffer | undefined;
  private timerG: TimerHandle | undefined;
  private gInterval = 0;
  private timerWait: TimerHandle | undefined;
  private waited = false;

  /** @internal Use TransactionLayer.create(). */
  constructor(
    private readonly core: LayerCore,
    request: SipRequest,
    info: ReceiveInfo,
    replyTarget: SendTarget,
    keys: string[],
  ) {
    this.id = `s${nextId++}`;
    this.request = request;
    this.info = info;
    this.isInvite = request.method === 'INVITE';
    this.replyTarget = replyTarget;
    this.keys = keys;
    this.toTag = request.to.tag ?? generateTag();
    this.state = this.isInvite ? 'Proceeding' : 'Trying';
  }

  get proto(): Proto {
    return this.replyTarget.proto;
  }

  private get reliable(): boolean {
    return this.replyTarget.proto !== 'udp';
  }

  /** True once a final response was sent. */
  get replied(): boolean {
    return this.finalStatus >= 200;
  }

  /**
   * Build a response locally (buildReply; the To tag is this transaction's
   * `toTag` unless `opts.toTag` is given) and send it. Returns it.
   */
  reply(status: number, reason?: string, opts?: ReplyOptions): SipResponse {
    this.checkCanSend(status);
    const res = buildReply(this.request, status, reason, { ...opts, toTag: opts?.toTag ?? this.toTag });
    this.core.countReply('generated', status, status >= 200);
    this.sendResponse(res);
    return res;
  }

  /**
   * Send a response (e.g. one relayed from a branch, its top Via already
   * removed) through this transaction, driving the state machine.
   * Throws TransactionStateError when the state does not allow it.
   */
  sendResponse(res: SipResponse): void {
    const status = res.status;
    this.checkCanSend(status);
    const bytes = res.serialize({ stream: this.reliable });
    const isFinal = status >= 200;
    const retransmitted2xx = this.state === 'Accepted';
    this.lastResponse = res;
    this.lastBytes = bytes;
    if (!retransmitted2xx) this.core.countReply('sent', status, isFinal);
    this.transmit(bytes);
    if (!isFinal) {
      if (this.state === 'Trying') this.state = 'Proceeding';
      return;
    }
    if (retransmitted2xx) return;
    this.finalStatus = status;
    if (this.isInvite && status < 300) {
      // RFC 6026 §8.5: Accepted, Timer L.
      this.enterWaiting('Accepted', this.core.timers.timerL);
    } else if (this.isInvite) {
      this.state = 'Completed';
      this.core.markWaiting();
      this.waited = true;
      if (!this.reliable) {
        this.gInterval = this.core.timers.t1;
        this.timerG = this.core.schedule(this.gInterval, () => this.fireG());
      }
      this.timerWait = this.core.schedule(this.core.timers.timerH, () => {
        this.timerWait = undefined;
        this.core.logger.debug({ txn: this.id }, 'Timer H fired: no ACK received');
        this.terminate();
      });
    } else {
      this.enterWaiting('Completed', this.reliable ? 0 : this.core.timers.timerJ);
    }
  }

  private checkCanSend(status: number): void {
    const s = this.state;
    if (s === 'Trying' || s === 'Proceeding') return;
    if (s === 'Accepted' && status >= 200 && status < 300) return;
    throw new TransactionStateError(`transaction ${this.id}: cannot send ${status} in state ${s}`);
  }

  /** @internal A retransmission of the request arrived. */
  retransmission(): void {
    if (this.state === 'Accepted' || this.state === 'Confirmed' || this.state === 'Terminated') return; // absorbed
    if (this.lastBytes) this.transmit(this.lastBytes);
  }

  /** @internal An ACK matched; returns true when it was absorbed as the ACK of our non-2xx final. */
  ack(): boolean {
    if (this.state === 'Completed' && this.isInvite) {
      this.timerG?.cancel();
      this.timerG = undefined;
      this.timerWait?.cancel();
      this.timerWait = undefined;
      this.state = 'Confirmed';
      const i = this.reliable ? 0 : this.core.timers.timerI;
      if (i <= 0) this.terminate();
      else this.timerWait = this.core.schedule(i, () => this.terminate());
      return true;
    }
    return this.state === 'Confirmed';
  }

  private fireG(): void {
    this.timerG = undefined;
    if (this.state !== 'Completed' || !this.lastBytes) return;
    this.transmit(this.lastBytes);
    this.gInterval = Math.min(2 * this.gInterval, this.core.timers.t2);
    this.timerG = this.core.schedule(this.gInterval, () => this.fireG());
  }

  private enterWaiting(state: ServerState, ms: number): void {
    this.state = state;
    this.core.markWaiting();
    this.waited = true;
    if (ms <= 0) this.terminate();
    else
      this.timerWait = this.core.schedule(ms, () => {
        this.timerWait = undefined;
        this.terminate();
      });
  }

  private transmit(bytes: Buffer): void {
    this.core.send(this.replyTarget, bytes).catch((err: unknown) => {
      this.core.logger.warn({ txn: this.id, err }, 'sending a response failed');
    });
  }

  /** Free the transaction now (cancels its timers, removes it from the layer, calls onTerminated). Idempotent. */
  terminate(): void {
    if (this.state === 'Terminated') return;
    this.state = 'Terminated';
    this.timerG?.cancel();
    this.timerWait?.cancel();
    this.timerG = this.timerWait = undefined;
    this.core.freeServer(this, this.waited);
    const cb = this.onTerminated;
    this.onTerminated = undefined;
    if (cb) {
      try {
        cb(this);
      } catch (err) {
        this.core.logger.error({ txn: this.id, err }, 'onTerminated handler threw');
      }
    }
  }
}
