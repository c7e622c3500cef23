import { ErrorCodes } from '../errors.js';
import type { Logger } from '../log.js';
import type { SendTarget } from '../transport/types.js';
import type { SipRequest } from '../sip/index.js';
import type { TimerHandle } from './timer.js';
import type { ClientHandlers, ClientTransaction } from './client.js';

/** Timer values in milliseconds (RFC 3261 §17 / Table 4, RFC 6026 §8.4, §8.7). */
export interface TransactionTimers {
  /** RTT estimate. Default 500. */
  t1: number;
  /** Maximum retransmit interval for non-INVITE requests and INVITE responses. Default 4000. */
  t2: number;
  /** Maximum time a message stays in the network. Default 5000. */
  t4: number;
  /** INVITE client: final response timeout from the start (Kamailio fr_timer for INVITE before a 1xx). Default 64*T1. */
  timerB: number;
  /** Non-INVITE client timeout (Kamailio fr_timer). Default 64*T1. */
  timerF: number;
  /** INVITE client wait in Completed over UDP. Default 32000 (0 over TCP). */
  timerD: number;
  /** INVITE server: wait for an ACK in Completed. Default 64*T1. */
  timerH: number;
  /** INVITE server: Confirmed linger over UDP. Default T4 (0 over TCP). */
  timerI: number;
  /** Non-INVITE server: Completed linger over UDP. Default 64*T1 (0 over TCP). */
  timerJ: number;
  /** Non-INVITE client: Completed linger over UDP. Default T4 (0 over TCP). */
  timerK: number;
  /** INVITE server: Accepted linger (RFC 6026). Default 64*T1, also over TCP. */
  timerL: number;
  /** INVITE client: Accepted linger (RFC 6026). Default 64*T1, also over TCP. */
  timerM: number;
}

export function resolveTimers(t: Partial<TransactionTimers> = {}): TransactionTimers {
  const t1 = t.t1 ?? 500;
  const t4 = t.t4 ?? 5000;
  return {
    t1,
    t2: t.t2 ?? 4000,
    t4,
    timerB: t.timerB ?? 64 * t1,
    timerF: t.timerF ?? 64 * t1,
    timerD: t.timerD ?? 32000,
    timerH: t.timerH ?? 64 * t1,
    timerI: t.timerI ?? t4,
    timerJ: t.timerJ ?? 64 * t1,
    timerK: t.timerK ?? t4,
    timerL: t.timerL ?? 64 * t1,
    timerM: t.timerM ?? 64 * t1,
  };
}

/** Kamailio tm-style counters (a fresh plain object on every read). */
export interface TransactionStats {
  /** Transactions (server + client) alive now. */
  current: number;
  /** Of those, how many are in a lingering state (Completed/Confirmed/Accepted). */
  waiting: number;
  /** Server transactions ever created. */
  total: number;
  /** All transactions (server + client) ever created / freed. */
  created: number;
  freed: number;
  /** Responses matched to a client transaction. */
  rpl_received: number;
  /** Responses built locally by `reply()` (incl. the automatic 100). */
  rpl_generated: number;
  /** Responses sent by server transactions (generated or relayed, retransmissions excluded). */
  rpl_sent: number;
  /** Server transactions completed with a final response of each class. */
  '2xx': number;
  '3xx': number;
  '4xx': number;
  '5xx': number;
  '6xx': number;
}

export type SendFn = (target: SendTarget, data: Buffer) => Promise<void>;

/** @internal What a transaction needs from its layer. */
export interface LayerCore {
  readonly timers: TransactionTimers;
  readonly logger: Logger;
  schedule(ms: number, fn: () => void): TimerHandle;
  send(target: SendTarget, data: Buffer): Promise<void>;
  /** Entering Completed/Confirmed/Accepted (counted once per transaction). */
  markWaiting(): void;
  freeServer(txn: unknown, waited: boolean): void;
  freeClient(txn: unknown, waited: boolean): void;
  createCancel(invite: ClientTransaction, req: SipRequest, handlers: ClientHandlers): ClientTransaction;
  countReply(kind: 'generated' | 'sent' | 'received', status: number, final: boolean): void;
}

/** Thrown when an operation does not fit the transaction's state (e.g. a second final reply). */
export class TransactionStateError extends Error {
  readonly code = ErrorCodes.TRANSACTION_STATE;
  constructor(message: string) {
    super(message);
    this.name = 'TransactionStateError';
  }
}
