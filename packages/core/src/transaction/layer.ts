/**
 * The transaction layer: tables of server and client transactions, matching
 * (RFC 3261 §17.1.3, §17.2.3 incl. the RFC 2543 fallback), timers, stats.
 * It never touches sockets: it is given `send(target, bytes)`.
 */
import { silentLogger, type Logger } from '../log.js';
import { MAGIC_COOKIE, type SipRequest, type SipResponse, type Via } from '../sip/index.js';
import type { ReceiveInfo, SendTarget } from '../transport/types.js';
import { ClientTransaction, topVia, type ClientHandlers, type ClientOptions } from './client.js';
import { ServerTransaction } from './server.js';
import { realScheduler, type TimerHandle, type TimerScheduler } from './timer.js';
import {
  resolveTimers,
  TransactionStateError,
  type LayerCore,
  type SendFn,
  type TransactionStats,
  type TransactionTimers,
} from './types.js';

export interface TransactionLayerOptions {
  send: SendFn;
  scheduler?: TimerScheduler;
  logger?: Logger;
  timers?: Partial<TransactionTimers>;
  /** Send "100 Trying" as soon as an INVITE server transaction is created (tm's auto_inv_100). Default true. */
  autoInv100?: boolean;
}

export interface ServerOptions {
  /** Where responses go; default `defaultReplyTarget(req, info)` (RFC 3261 §18.2.2 + RFC 3581). */
  replyTarget?: SendTarget;
  /** Overrides the layer's autoInv100 for this transaction. */
  autoInv100?: boolean;
}

export type ReceiveResult =
  | { kind: 'new'; txn: ServerTransaction }
  | { kind: 'retransmission'; txn: ServerTransaction }
  /** ACK of our non-2xx final (or its retransmission): absorbed. */
  | { kind: 'ack'; txn: ServerTransaction }
  /** ACK not absorbed (2xx ACK, or matched a transaction in Accepted/Proceeding): route it. */
  | { kind: 'ack-2xx'; txn?: ServerTransaction }
  /**
   * A new CANCEL: `cancelTxn` is its own (new) server transaction — reply
   * 200/481 on it; `txn` is the INVITE server transaction it cancels
   * (`canceled` set when it had no final response yet), undefined when none.
   */
  | { kind: 'cancel'; txn: ServerTransaction | undefined; cancelTxn: ServerTransaction };

const DEFAULT_PORT: Record<string, number> = { TLS: 5061, WSS: 443, WS: 80 };

function sentBy(v: Via): string {
  return `${v.host.toLowerCase()}:${v.port ?? DEFAULT_PORT[v.transport] ?? 5060}`;
}

/**
 * The key a request matches under (§17.2.3). `method` is the transaction's
 * method (ACK → INVITE). RFC 3261 branch → 'b|branch|sent-by|method'; else the
 * RFC 2543 tuple (Call-ID, CSeq number, method, From tag, R-URI, top Via); the
 * To tag is checked after the lookup.
 */
export function serverKey(req: SipRequest, method: string = req.method): string | undefined {
  const v = req.via[0];
  if (!v) return undefined;
  if (v.branch !== undefined && v.branch.startsWith(MAGIC_COOKIE)) return `b|${v.branch}|${sentBy(v)}|${method}`;
  return `o|${req.callId}|${req.cseq.seq}|${method}|${req.from.tag ?? ''}|${req.uri}|${v.raw}`;
}

/** RFC 3261 §18.2.2 with RFC 3581: TCP → the connection; UDP → source address, Via port (or source port when rport). */
export function defaultReplyTarget(req: SipRequest, info: ReceiveInfo): SendTarget {
  const v = req.via[0];
  const useSrcPort = info.proto !== 'udp' || v?.rport !== undefined || v === undefined;
  const port = useSrcPort ? info.remote.port : (v.port ?? 5060);
  const t: SendTarget = { proto: info.proto, address: info.remote.address, port, socketId: info.socketId };
  if (info.connectionId !== undefined) t.connectionId = info.connectionId;
  return t;
}

const FINAL_CLASSES = ['2xx', '3xx', '4xx', '5xx', '6xx'] as const;

export class TransactionLayer {
  readonly timers: TransactionTimers;
  private readonly servers = new Map<string, ServerTransaction>();
  private readonly clients = new Map<string, ClientTransaction>();
  private readonly scheduler: TimerScheduler;
  private readonly logger: Logger;
  private readonly sendFn: SendFn;
  private readonly autoInv100: boolean;
  private readonly core: LayerCore;
  private readonly counters = {
    waiting: 0,
    total: 0,
    created: 0,
    freed: 0,
    rpl_received: 0,
    rpl_generated: 0,
    rpl_sent: 0,
    '2xx': 0,
    '3xx': 0,
    '4xx': 0,
    '5xx': 0,
    '6xx': 0,
  };

  constructor(opts: TransactionLayerOptions) {
    this.timers = resolveTimers(opts.timers);
    this.scheduler = opts.scheduler ?? realScheduler;
    this.logger = (opts.logger ?? silentLogger).child({ mod: 'transaction' });
    this.sendFn = opts.send;
    this.autoInv100 = opts.autoInv100 ?? true;
    const c = this.counters;
    this.core = {
      timers: this.timers,
      logger: this.logger,
      schedule: (ms: number, fn: () => void): TimerHandle => this.scheduler.after(ms, fn),
      send: (target, data) => {
        try {
          return this.sendFn(target, data);
        } catch (err) {
          return Promise.reject(err);
        }
      },
      markWaiting: () => {
        c.waiting++;
      },
      freeServer: (txn, waited) => {
        const t = txn as ServerTransaction;
        for (const k of t.keys) if (this.servers.get(k) === t) this.servers.delete(k);
        c.freed++;
        if (waited) c.waiting--;
      },
      freeClient: (txn, waited) => {
        const t = txn as ClientTransaction;
        if (this.clients.get(t.key) === t) this.clients.delete(t.key);
        c.freed++;
        if (waited) c.waiting--;
      },
      countReply: (kind, status, final) => {
        if (kind === 'received') c.rpl_received++;
        else if (kind === 'generated') c.rpl_generated++;
        else {
          c.rpl_sent++;
          if (final) c[FINAL_CLASSES[Math.floor(status / 100) - 2]!]++;
        }
      },
      createCancel: (invite, req, handlers) => this.addClient(req, invite.target, handlers, {}, invite),
    };
  }

  /** A copy of the counters (Kamailio tm's stats names). */
  get stats(): TransactionStats {
    return { current: this.servers.size + this.clients.size, ...this.counters };
  }

  /** The live server transactions, oldest first (RPC tm.list). */
  serverTransactions(): ServerTransaction[] {
    return [...new Set(this.servers.values())];
  }

  /** Table sizes (for tests and diagnostics). */
  get size(): { server: number; client: number } {
    return { server: this.servers.size, client: this.clients.size };
  }

  // ---------------------------------------------------------------- server side

  /**
   * The server transaction a request belongs to, without side effects: an
   * ACK returns its INVITE transaction, a CANCEL its own CANCEL transaction
   * (see matchCancel for the INVITE it cancels).
   */
  match(req: SipRequest): ServerTransaction | undefined {
    const method = req.method === 'ACK' ? 'INVITE' : req.method;
    return this.lookup(req, method);
  }

  /** The INVITE server transaction a CANCEL refers to (tm's t_lookup_original). */
  matchCancel(req: SipRequest): ServerTransaction | undefined {
    if (req.method !== 'CANCEL') return undefined;
    return this.lookup(req, 'INVITE');
  }

  private lookup(req: SipRequest, method: string, key = serverKey(req, method)): ServerTransaction | undefined {
    if (key === undefined) return undefined;
    const t = this.servers.get(key);
    if (!t || key.startsWith('b|')) return t;
    // RFC 2543: the To tag must match too; an ACK carries the To tag of our response.
    const want = req.method === 'ACK' ? (t.lastResponse?.to.tag ?? t.toTag) : t.request.to.tag;
    return req.to.tag === want ? t : undefined;
  }

  /**
   * Create a server transaction (tm's t_newtran). Throws TypeError for ACK,
   * TransactionStateError when a transaction for the request already exists.
   * Sends "100 Trying" for an INVITE when autoInv100 is on.
   */
  create(req: SipRequest, info: ReceiveInfo, opts: ServerOptions = {}): ServerTransaction {
    if (req.method === 'ACK') throw new TypeError('ACK does not create a server transaction');
    const key = serverKey(req, req.method);
    if (key === undefined) throw new TypeError('request has no Via');
    if (this.lookup(req, req.method, key)) throw new TransactionStateError('a transaction already exists for this request');
    const txn = new ServerTransaction(this.core, req, info, opts.replyTarget ?? defaultReplyTarget(req, info), [key]);
    this.servers.set(key, txn);
    this.counters.total++;
    this.counters.created++;
    if (txn.isInvite && (opts.autoInv100 ?? this.autoInv100)) txn.reply(100);
    return txn;
  }

  /**
   * match + create in one step (the usual entry point for every received
   * request). Retransmissions get the last response again; the ACK of a
   * non-2xx final is absorbed; a CANCEL gets its own transaction and marks the
   * INVITE transaction `canceled`.
   */
  receiveRequest(req: SipRequest, info: ReceiveInfo, opts?: ServerOptions): ReceiveResult {
    if (req.method === 'ACK') {
      const t = this.match(req);
      if (t && t.ack()) return { kind: 'ack', txn: t };
      return t ? { kind: 'ack-2xx', txn: t } : { kind: 'ack-2xx' };
    }
    const existing = this.match(req);
    if (existing) {
      existing.retransmission();
      return { kind: 'retransmission', txn: existing };
    }
    if (req.method === 'CANCEL') {
      const inv = this.matchCancel(req);
      const cancelTxn = this.create(req, info, opts);
      if (inv && !inv.replied && inv.state !== 'Terminated') inv.canceled = true;
      return { kind: 'cancel', txn: inv, cancelTxn };
    }
    return { kind: 'new', txn: this.create(req, info, opts) };
  }

  // ---------------------------------------------------------------- client side

  /**
   * Start a client transaction for `req`, which must already carry our top Via
   * (with an RFC 3261 branch) as its current first Via. Sends it to `target`.
   * Throws TypeError for ACK, a missing branch, or a duplicate branch+method.
   */
  createClient(req: SipRequest, target: SendTarget, handlers: ClientHandlers, opts: ClientOptions = {}): ClientTransaction {
    if (req.method === 'ACK') throw new TypeError('ACK is sent without a client transaction');
    const txn = this.addClient(req, target, handlers, opts);
    txn.start();
    return txn;
  }

  private addClient(
    req: SipRequest,
    target: SendTarget,
    handlers: ClientHandlers,
    opts: ClientOptions,
    cancels?: ClientTransaction,
  ): ClientTransaction {
    const branch = topVia(req.currentHeaders())?.branch;
    if (!branch) throw new TypeError('the request has no top Via branch');
    const key = `${branch}|${req.cseq.method}`;
    if (this.clients.has(key)) throw new TypeError(`a client transaction for ${key} exists`);
    const txn = new ClientTransaction(this.core, req, target, handlers, branch, key, opts, cancels);
    this.clients.set(key, txn);
    this.counters.created++;
    return txn;
  }

  /** The client transaction a response belongs to (top Via branch + CSeq method, §17.1.3), without side effects. */
  matchResponse(res: SipResponse): ClientTransaction | undefined {
    const branch = res.via[0]?.branch;
    if (branch === undefined) return undefined;
    return this.clients.get(`${branch}|${res.cseq.method}`);
  }

  /** Hand a response to its client transaction. False when none matched (forward it statelessly). */
  receiveResponse(res: SipResponse): boolean {
    const t = this.matchResponse(res);
    if (!t) return false;
    this.counters.rpl_received++;
    t.receive(res);
    return true;
  }

  /** Terminate every transaction (shutdown). */
  clear(): void {
    for (const t of [...this.servers.values()]) t.terminate();
    for (const t of [...this.clients.values()]) t.terminate();
  }
}
