/**
 * Client transactions, RFC 3261 §17.1 with the RFC 6026 "Accepted" state.
 *
 * INVITE (§17.1.1, RFC 6026 §7.2 / §8.4):
 *   Calling: A (UDP: T1, 2T1, 4T1, … no cap), B → onTimeout, Terminated
 *   Calling/Proceeding --1xx--> Proceeding (A stops; to TU)
 *   Calling/Proceeding --2xx--> Accepted (Timer M; to TU); Accepted --2xx--> to TU (retransmissions, forks)
 *   Calling/Proceeding --300-699--> Completed (ACK sent; to TU; D = 32 s UDP / 0 TCP)
 *   Completed --300-699--> resend ACK (not to TU); D/M → Terminated
 * Non-INVITE (§17.1.2):
 *   Trying: E (UDP: T1 doubling, cap T2), F → onTimeout, Terminated
 *   Trying/Proceeding --1xx--> Proceeding (E continues, then every T2; to TU)
 *   Trying/Proceeding --final--> Completed (to TU; K = T4 UDP / 0 TCP); Completed absorbs responses
 */
import { parseMessage, parseVia, type SipRequest, type SipResponse, type Via } from '../sip/index.js';
import type { SendTarget } from '../transport/types.js';
import type { TimerHandle } from './timer.js';
import type { LayerCore } from './types.js';

export type ClientState =
  | 'Pending' // a CANCEL queued until the INVITE got a provisional response (§9.1)
  | 'Calling'
  | 'Trying'
  | 'Proceeding'
  | 'Completed'
  | 'Accepted'
  | 'Terminated';

export interface ClientHandlers {
  /** Every response the TU must see (see the state machines; absorbed retransmissions are not passed). */
  onResponse(res: SipResponse, txn: ClientTransaction): void;
  /** Timer B / F (or the fr_inv timer) fired without a final response. */
  onTimeout(txn: ClientTransaction): void;
  /** send() rejected; the transaction is terminated. */
  onTransportError(err: unknown, txn: ClientTransaction): void;
  onTerminated?(txn: ClientTransaction): void;
}

export interface ClientOptions {
  /** Override Timer B (INVITE) / Timer F (non-INVITE) for this transaction (tm's t_set_fr). */
  fr?: number;
  /**
   * INVITE only: after a provisional response, restart the final-response
   * timer with this value (Kamailio's fr_inv_timer, like a proxy's Timer C).
   * Default: Timer B keeps running from the start (RFC 3261).
   */
  frInv?: number;
  /** INVITE only: restart the final-response timer on every provisional (Kamailio's restart_fr_on_each_reply). */
  restartFrOnEachReply?: boolean;
  /** Retransmission intervals for this transaction (tm's t_set_retr): first interval (T1) and cap (T2), ms. */
  t1?: number;
  t2?: number;
}

export interface CancelOptions {
  /** Extra headers for the CANCEL (e.g. `['Reason', 'SIP;cause=200;text="Call completed elsewhere"']`). */
  headers?: Array<[string, string]>;
}

const NOOP_HANDLERS: ClientHandlers = {
  onResponse: () => {},
  onTimeout: () => {},
  onTransportError: () => {},
};

let nextId = 1;

type HeaderEntries = ReturnType<SipRequest['currentHeaders']>;

/** The current (edited) top Via of a request, from its header entries (`req.currentHeaders()`). */
export function topVia(headers: HeaderEntries): Via | undefined {
  for (const h of headers) if (h.key === 'via') return parseVia(h.value)[0];
  return undefined;
}

function currentValues(headers: HeaderEntries, key: string): string[] {
  return headers.filter((h) => h.key === key).map((h) => h.value);
}

function currentValue(headers: HeaderEntries, key: string): string {
  return currentValues(headers, key)[0] ?? '';
}

/** The R-URI the request will be sent with (setRequestUri applied). */
function requestUri(req: SipRequest): string {
  return req.newRequestUri ?? req.uri;
}

/**
 * Build a hop-by-hop request from an INVITE per RFC 3261 §9.1 (CANCEL) and
 * §17.1.1.3 (ACK for a non-2xx): same R-URI, Call-ID, From, CSeq number; To
 * from the INVITE (CANCEL) or from the response (ACK); one Via = the INVITE's
 * top Via; the INVITE's Route headers; Max-Forwards 70; no body.
 */
export function buildHopRequest(
  invite: SipRequest,
  method: 'CANCEL' | 'ACK',
  to: string,
  extra: Array<[string, string]> = [],
): SipRequest {
  // one copy of the edited header list serves every lookup below
  const headers = invite.currentHeaders();
  const via = topVia(headers)?.raw;
  if (via === undefined) throw new TypeError('request has no Via');
  let s = `${method} ${requestUri(invite)} SIP/2.0\r\n`;
  s += `Via: ${via}\r\n`;
  s += 'Max-Forwards: 70\r\n';
  s += `To: ${to}\r\n`;
  s += `From: ${currentValue(headers, 'from')}\r\n`;
  s += `Call-ID: ${currentValue(headers, 'call-id')}\r\n`;
  s += `CSeq: ${invite.cseq.seq} ${method}\r\n`;
  for (const r of currentValues(headers, 'route')) s += `Route: ${r}\r\n`;
  for (const [n, v] of extra) {
    if (/[\r\n]/.test(n) || /[\r\n]/.test(v)) throw new TypeError('header contains CR/LF');
    s += `${n}: ${v}\r\n`;
  }
  s += 'Content-Length: 0\r\n\r\n';
  return parseMessage(Buffer.from(s, 'utf8')) as SipRequest;
}

export class ClientTransaction {
  readonly id: string;
  readonly request: SipRequest;
  readonly target: SendTarget;
  readonly isInvite: boolean;
  /** Top Via branch of the request (with the method: the matching key, §17.1.3). */
  readonly branch: string;
  /** @internal */
  readonly key: string;
  state: ClientState;
  /** Free slot for the TU. */
  data: unknown = undefined;
  /** The last response passed to the TU. */
  lastResponse: SipResponse | undefined;
  /** The CANCEL transaction created by cancel(), if any. */
  cancelTxn: ClientTransaction | undefined;
  /** The INVITE this CANCEL belongs to. */
  readonly cancels: ClientTransaction | undefined;

  private readonly bytes: Buffer;
  private handlers: ClientHandlers;
  private timerRetr: TimerHandle | undefined;
  private retrInterval = 0;
  private timerFr: TimerHandle | undefined;
  private timerWait: TimerHandle | undefined;
  private ackBytes: Buffer | undefined;
  private waited = false;
  private expired = false;

  /** @internal Use TransactionLayer.createClient(). */
  constructor(
    private readonly core: LayerCore,
    request: SipRequest,
    target: SendTarget,
    handlers: ClientHandlers,
    branch: string,
    key: string,
    private readonly opts: ClientOptions,
    cancels?: ClientTransaction,
  ) {
    this.id = `c${nextId++}`;
    this.request = request;
    this.target = target;
    this.handlers = handlers;
    this.isInvite = request.method === 'INVITE';
    this.branch = branch;
    this.key = key;
    this.cancels = cancels;
    this.bytes = request.serialize({ stream: target.proto !== 'udp' });
    this.state = 'Pending';
  }

  private get reliable(): boolean {
    return this.target.proto !== 'udp';
  }

  /** @internal Send the request and start the timers. */
  start(): void {
    if (this.state !== 'Pending') return;
    const t = this.core.timers;
    this.state = this.isInvite ? 'Calling' : 'Trying';
    if (!this.reliable) {
      this.retrInterval = this.opts.t1 ?? t.t1;
      this.timerRetr = this.core.schedule(this.retrInterval, () => this.fireRetr());
    }
    this.startFr(this.opts.fr ?? (this.isInvite ? t.timerB : t.timerF));
    this.transmit(this.bytes);
  }

  private startFr(ms: number): void {
    this.timerFr?.cancel();
    this.timerFr = this.core.schedule(ms, () => {
      this.timerFr = undefined;
      this.timeout();
    });
  }

  /**
   * The final-response timeout, now (Timer B/F, the fr_inv timer, or the TU's own limit such as a
   * transaction lifetime): retransmissions stop and `onTimeout` runs. The transaction is then
   * terminated — unless it is an INVITE in Proceeding whose TU called `cancel()` from `onTimeout`
   * (RFC 3261 §16.8, Timer C: a branch that sent a provisional is CANCELled): it then stays until
   * the final response to the INVITE arrives (a non-2xx is ACKed and absorbed, a 2xx still goes to
   * the TU, provisionals are absorbed) or 64·T1 passed. No-op when already timed out or final.
   */
  timeout(): void {
    const s = this.state;
    if (this.expired || (s !== 'Calling' && s !== 'Trying' && s !== 'Proceeding')) return;
    this.core.logger.debug({ txn: this.id }, 'final response timeout');
    this.stopRunning();
    this.expired = true;
    this.safe(() => this.handlers.onTimeout(this));
    if (this.state !== 'Proceeding' || !this.isInvite) {
      this.terminate();
      return;
    }
    const c = this.cancelTxn;
    if (!c || c.state === 'Pending' || c.state === 'Terminated') {
      this.terminate();
      return;
    }
    // wait for the 487 (or a late 2xx) of the cancelled branch, bounded
    this.timerFr = this.core.schedule(64 * this.core.timers.t1, () => {
      this.timerFr = undefined;
      this.terminate();
    });
  }

  /** The final-response timeout fired (or timeout() was called): the TU saw onTimeout. */
  get timedOut(): boolean {
    return this.expired;
  }

  /** Timer A (INVITE: doubles without cap) / Timer E (non-INVITE: doubles up to T2, T2 in Proceeding). */
  private fireRetr(): void {
    this.timerRetr = undefined;
    const s = this.state;
    if (s !== 'Calling' && s !== 'Trying' && s !== 'Proceeding') return;
    if (this.isInvite && s !== 'Calling') return;
    this.transmit(this.bytes);
    const t2 = this.opts.t2 ?? this.core.timers.t2;
    this.retrInterval = this.isInvite ? 2 * this.retrInterval : s === 'Proceeding' ? t2 : Math.min(2 * this.retrInterval, t2);
    this.timerRetr = this.core.schedule(this.retrInterval, () => this.fireRetr());
  }

  /** @internal A response matched this transaction (branch + CSeq method). */
  receive(res: SipResponse): void {
    const st = res.status;
    const s = this.state;
    if (s === 'Terminated' || s === 'Pending') return;
    if (this.isInvite) {
      if (this.expired && s === 'Proceeding') {
        // timed out and cancelled: only the outcome of the CANCEL matters now
        if (st < 200) return;
        this.stopRunning();
        if (st < 300) {
          this.enterWaiting('Accepted', this.core.timers.timerM);
          this.toTu(res);
        } else {
          this.ackBytes = buildHopRequest(this.request, 'ACK', res.header('to') ?? '').serialize({ stream: this.reliable });
          this.transmit(this.ackBytes);
          this.state = 'Completed';
          this.lastResponse = res;
          this.enterWaiting('Completed', this.reliable ? 0 : this.core.timers.timerD);
        }
        return;
      }
      if (s === 'Calling' || s === 'Proceeding') {
        if (st < 200) {
          this.timerRetr?.cancel();
          this.timerRetr = undefined;
          const first = s === 'Calling';
          this.state = 'Proceeding';
          if (first && this.opts.frInv !== undefined) this.startFr(this.opts.frInv);
          else if (this.opts.restartFrOnEachReply) this.startFr(this.opts.frInv ?? this.opts.fr ?? this.core.timers.timerB);
          this.toTu(res);
          if (first && this.cancelTxn?.state === 'Pending') this.cancelTxn.start();
          return;
        }
        this.stopRunning();
        this.dropPendingCancel();
        if (st < 300) {
          this.enterWaiting('Accepted', this.core.timers.timerM);
          this.toTu(res);
        } else {
          this.ackBytes = buildHopRequest(this.request, 'ACK', res.header('to') ?? '').serialize({ stream: this.reliable });
          this.transmit(this.ackBytes);
          // Set the state before the TU sees the response, the wait timer after (TCP: D = 0 frees right away).
          this.state = 'Completed';
          this.toTu(res);
          this.enterWaiting('Completed', this.reliable ? 0 : this.core.timers.timerD);
        }
        return;
      }
      if (s === 'Accepted' && st >= 200 && st < 300) this.toTu(res);
      else if (s === 'Completed' && st >= 300 && this.ackBytes) this.transmit(this.ackBytes);
      return;
    }
    if (s === 'Trying' || s === 'Proceeding') {
      if (st < 200) {
        this.state = 'Proceeding';
        this.toTu(res);
        return;
      }
      this.stopRunning();
      this.state = 'Completed';
      this.toTu(res);
      this.enterWaiting('Completed', this.reliable ? 0 : this.core.timers.timerK);
    }
    // Completed: absorbed.
  }

  /**
   * Cancel this INVITE branch (RFC 3261 §9.1): builds the CANCEL and returns
   * its client transaction. Sent at once when a provisional response was
   * received, else queued ('Pending') until one arrives; dropped (terminated
   * unsent) when a final response or a timeout comes first. Returns the same
   * transaction on repeated calls, and undefined when a final response was
   * already received. Throws TypeError for non-INVITE transactions.
   */
  cancel(handlers?: Partial<ClientHandlers>, opts?: CancelOptions): ClientTransaction | undefined {
    if (!this.isInvite) throw new TypeError('only INVITE transactions can be cancelled');
    if (this.cancelTxn) return this.cancelTxn;
    if (this.state !== 'Calling' && this.state !== 'Proceeding') return undefined;
    const req = buildHopRequest(this.request, 'CANCEL', currentValue(this.request.currentHeaders(), 'to'), opts?.headers);
    const txn = this.core.createCancel(this, req, { ...NOOP_HANDLERS, ...handlers });
    this.cancelTxn = txn;
    if (this.state === 'Proceeding') txn.start();
    return txn;
  }

  private dropPendingCancel(): void {
    if (this.cancelTxn?.state === 'Pending') this.cancelTxn.terminate();
  }

  private stopRunning(): void {
    this.timerRetr?.cancel();
    this.timerFr?.cancel();
    this.timerRetr = this.timerFr = undefined;
  }

  private enterWaiting(state: ClientState, ms: number): void {
    if (this.state === 'Terminated') return; // the TU terminated us from onResponse
    this.state = state;
    if (!this.waited) {
      this.waited = true;
      this.core.markWaiting();
    }
    if (ms <= 0) this.terminate();
    else
      this.timerWait = this.core.schedule(ms, () => {
        this.timerWait = undefined;
        this.terminate();
      });
  }

  private toTu(res: SipResponse): void {
    this.lastResponse = res;
    this.safe(() => this.handlers.onResponse(res, this));
  }

  private safe(fn: () => void): void {
    try {
      fn();
    } catch (err) {
      this.core.logger.error({ txn: this.id, err }, 'client transaction handler threw');
    }
  }

  private transmit(bytes: Buffer): void {
    this.core.send(this.target, bytes).catch((err: unknown) => {
      if (this.state === 'Terminated') return;
      this.core.logger.warn({ txn: this.id, err }, 'sending a request failed');
      const s = this.state;
      if (s === 'Completed' || s === 'Accepted') return; // an ACK/late failure: the outcome is known already
      this.safe(() => this.handlers.onTransportError(err, this));
      this.terminate();
    });
  }

  /** Free the transaction now (timers cancelled, removed from the layer, onTerminated called). Idempotent. */
  terminate(): void {
    if (this.state === 'Terminated') return;
    this.state = 'Terminated';
    this.stopRunning();
    this.timerWait?.cancel();
    this.timerWait = undefined;
    this.dropPendingCancel();
    this.core.freeClient(this, this.waited);
    if (this.handlers.onTerminated) this.safe(() => this.handlers.onTerminated!(this));
  }
}

