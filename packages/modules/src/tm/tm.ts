/**
 * tm: stateful proxying on top of @ksr/core's TransactionLayer — t_relay with parallel and
 * serial forking, reply relaying with best-reply selection (RFC 3261 §16.7), CANCEL propagation,
 * the onreply / failure / branch route callbacks. Written from Kamailio's documentation.
 */
import {
  MessageState,
  RouteContext,
  TransactionLayer,
  TransactionStateError,
  isRequest,
  parseMessage,
  parseUri,
  sip,
  statelessBranch,
  type Branch,
  type ClientTransaction,
  type Logger,
  type ReceiveInfo,
  type RouteServices,
  type SendTarget,
  type ServerTransaction,
  type SipRequest,
  type SipResponse,
  type SipUri,
  type TimerHandle,
  type TimerScheduler,
  type TransactionStats,
} from '@ksr/core';
import type { RrApi } from '../rr/index.js';
import type { TmRouteRunner } from './api.js';
import type { TmHooks } from './hooks.js';

export interface TmConfig {
  frTimer: number;
  frInvTimer: number;
  autoInv100: boolean;
  restartFrOnEachReply: boolean;
  /**
   * failure_reply_mode: which replies of earlier serial-forking legs take part in the best-reply
   * choice once a failure route relayed again: 0 all; 1 all earlier replies dropped (decided when
   * the failure route starts); 2 the replies of the last leg dropped (at each failure route, so
   * every earlier leg ends up dropped too); 3 all earlier replies dropped when a new leg is sent.
   * t_drop_replies() (tm hooks) overrides it per branch.
   */
  failureReplyMode: number;
  wtTimer: number;
  /** max_inv_lifetime / max_noninv_lifetime (ms): a transaction's pending branches time out then. */
  maxInvLifetime?: number;
  maxNoninvLifetime?: number;
}

/** Callback names set by t_on_* (resolved when they run). */
interface Callbacks {
  onReply?: string | undefined;
  onFailure?: string | undefined;
  onBranch?: string | undefined;
  onBranchFailure?: string | undefined;
}

/** Per-message settings made before the transaction exists (t_set_fr, t_set_auto_inv_100 …). */
interface Pending extends Callbacks {
  fr?: number | undefined;
  frInv?: number | undefined;
  /** t_set_retr: retransmission T1 / T2 (ms) for the branches (undefined = the layer's). */
  retrT1?: number | undefined;
  retrT2?: number | undefined;
  autoInv100?: boolean | undefined;
  disable6xx?: boolean;
  noE2eCancelReason?: boolean;
  /** t_set_max_lifetime before the transaction exists (ms, undefined = the parameter). */
  maxInvLifetime?: number | undefined;
  maxNoninvLifetime?: number | undefined;
}

/** The lifetime of a transaction (max_inv_lifetime / max_noninv_lifetime, t_set_max_lifetime). */
interface Lifetime {
  start: number;
  ms: number;
  timer: TimerHandle | undefined;
  expired: boolean;
}

export interface TmBranch {
  idx: number;
  uri: string;
  client: ClientTransaction | undefined;
  /** Final status of the branch (a received final, or a local 408/503); 0 while pending. */
  status: number;
  reply: SipResponse | undefined;
  timedOut: boolean;
  /** Any reply (provisional or final) was received. */
  replied: boolean;
  /** The branch belongs to an earlier round (before a failure route relayed again). */
  old: boolean;
}

export interface TmTxn {
  server: ServerTransaction;
  /** The request as the request route left it (the same object is used by failure routes). */
  req: SipRequest;
  info: ReceiveInfo;
  state: MessageState;
  services: RouteServices;
  cb: Callbacks;
  fr: number | undefined;
  frInv: number | undefined;
  /** t_set_retr: retransmission T1 / T2 (ms) of the branches sent from now on. */
  retrT1: number | undefined;
  retrT2: number | undefined;
  disable6xx: boolean;
  noE2eCancelReason: boolean;
  branches: TmBranch[];
  /** A 2xx was relayed upstream. */
  forwarded2xx: boolean;
  /** The failure route is running (t_relay adds branches instead of finishing). */
  inFailure: boolean;
  /** Best final reply of the finished round: the status and the response (undefined for a local 408). */
  best: { status: number; res: SipResponse | undefined; branch: TmBranch | undefined } | undefined;
  /** Replies already stripped of our Via. */
  stripped: WeakSet<SipResponse>;
}

/** What a route run by tm is about: its transaction, branch, reply code. */
export interface RunInfo {
  txn: TmTxn;
  branch: number;
  code: number;
}

const CANCEL_REASON_200: [string, string] = ['Reason', 'SIP;cause=200;text="Call completed elsewhere"'];

export function errText(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

/**
 * Rank of a final reply in the best-reply choice (lower wins): class (6xx first unless disabled,
 * then 3xx, 4xx, 5xx), then the preferred codes inside the class, then received over local.
 */
export function replyPriority(status: number, received: boolean, disable6xx = false): number {
  const cls = Math.floor(status / 100);
  const rank = cls >= 6 ? (disable6xx ? 6 : 0) : cls;
  let sub = 1;
  if (cls === 4) sub = status === 401 || status === 407 ? 0 : status === 415 || status === 420 || status === 484 ? 1 : 2;
  else if (cls === 5) sub = status === 503 ? 2 : 1;
  return rank * 100 + sub * 10 + (received ? 0 : 1);
}

function unbracket(h: string): string {
  return h.startsWith('[') && h.endsWith(']') ? h.slice(1, -1) : h;
}

/** A one-shot TimerScheduler over the module Clock. */
export function clockScheduler(clock: { now(): number; every(ms: number, fn: () => void): { cancel(): void } }): TimerScheduler {
  return {
    now: () => clock.now(),
    after(ms, fn) {
      const h = clock.every(Math.max(1, ms), () => {
        h.cancel();
        fn();
      });
      return h;
    },
  };
}

export class Tm {
  private layerInst: TransactionLayer | undefined;
  private services: RouteServices | undefined;
  private runner: TmRouteRunner | undefined;
  /** Transactions by the MessageState of their request (request / failure / branch routes). */
  private readonly byState = new WeakMap<MessageState, TmTxn>();
  private readonly pending = new WeakMap<MessageState, Pending>();
  /** Route runs started by tm (onreply, failure, branch). */
  private readonly runs = new WeakMap<RouteContext, RunInfo>();
  private lastReplyInfo: ReceiveInfo | undefined;
  private readonly cancelOf = new WeakMap<ServerTransaction, TmTxn>();
  private readonly lifetimes = new WeakMap<TmTxn, Lifetime>();
  /** Serial-forking leg of each branch (0 = sent from the request route, +1 per failure route that relayed). */
  private readonly legOf = new WeakMap<TmBranch, number>();
  private readonly legs = new WeakMap<TmTxn, { current: number; opened: boolean }>();
  /** Branches whose replies failure_reply_mode drops from the best-reply choice. */
  private readonly modeDropped = new WeakSet<TmBranch>();
  /** The extension files' hooks (ext.ts), set by index.ts. */
  hooks: TmHooks | undefined;

  constructor(
    readonly cfg: TmConfig,
    private scheduler: TimerScheduler,
    private readonly logger: Logger,
    private readonly rr: () => RrApi | undefined,
  ) {}

  // ------------------------------------------------------------------ wiring

  setScheduler(s: TimerScheduler): void {
    if (this.layerInst) throw new Error('tm: the transaction layer exists already');
    this.scheduler = s;
  }

  attachRouting(r: TmRouteRunner | undefined): void {
    this.runner = r;
  }

  get layer(): TransactionLayer | undefined {
    return this.layerInst;
  }

  /** The script runner attached by the server wiring (event callbacks). */
  get routeRunner(): TmRouteRunner | undefined {
    return this.runner;
  }

  /** The timer scheduler (t_suspend's timeout). */
  get timerScheduler(): TimerScheduler {
    return this.scheduler;
  }

  stats(): TransactionStats | undefined {
    return this.layerInst?.stats;
  }

  useServices(s: RouteServices): TransactionLayer {
    this.services ??= s;
    if (!this.layerInst) {
      this.layerInst = new TransactionLayer({
        send: (t, d) => this.services!.send(t, d),
        scheduler: this.scheduler,
        logger: this.logger,
        timers: { timerB: this.cfg.frTimer, timerF: this.cfg.frTimer, ...(this.cfg.wtTimer > 0 ? { timerJ: this.cfg.wtTimer } : {}) },
        autoInv100: this.cfg.autoInv100,
      });
    }
    return this.layerInst;
  }

  // ------------------------------------------------------------------ filters

  /** Before the request route: absorb retransmissions and ACKs of our non-2xx finals. */
  filterRequest(ctx: RouteContext): boolean {
    const req = ctx.request;
    if (!req || !this.layerInst) return false;
    const layer = this.useServices(ctx.services);
    if (req.method === 'ACK') {
      const t = layer.match(req);
      return t !== undefined && t.ack();
    }
    const t = layer.match(req);
    if (!t) return false;
    t.retransmission();
    return true;
  }

  /** A received reply: true when it belongs to one of our client transactions. */
  filterResponse(res: SipResponse, info: ReceiveInfo): boolean {
    if (!this.layerInst) return false;
    this.lastReplyInfo = info;
    try {
      return this.layerInst.receiveResponse(res);
    } finally {
      this.lastReplyInfo = undefined;
    }
  }

  // ------------------------------------------------------------------ lookups

  /** The transaction of the context (created, or the one a tm route runs for). */
  txnOf(ctx: RouteContext): TmTxn | undefined {
    return this.runs.get(ctx)?.txn ?? this.byState.get(ctx.state);
  }

  runInfo(ctx: RouteContext): RunInfo | undefined {
    return this.runs.get(ctx);
  }

  pendingOf(ctx: RouteContext): Pending {
    let p = this.pending.get(ctx.state);
    if (!p) {
      p = {};
      this.pending.set(ctx.state, p);
    }
    return p;
  }

  /** Set a callback name (t_on_*): on the transaction when it exists, else for the one t_relay creates. */
  setCallback(ctx: RouteContext, which: keyof Callbacks, name: string): void {
    const t = this.txnOf(ctx);
    const v = name === '' ? undefined : name;
    if (t) t.cb[which] = v;
    this.pendingOf(ctx)[which] = v;
  }

  getCallback(ctx: RouteContext, which: keyof Callbacks): string | undefined {
    return this.txnOf(ctx)?.cb[which] ?? this.pending.get(ctx.state)?.[which];
  }

  lookupRequest(ctx: RouteContext): ServerTransaction | undefined {
    const req = ctx.request;
    if (!req || !this.layerInst) return undefined;
    return this.layerInst.match(req);
  }

  lookupCancel(ctx: RouteContext): ServerTransaction | undefined {
    const req = ctx.request;
    if (!req || req.method !== 'CANCEL' || !this.layerInst) return undefined;
    return this.layerInst.matchCancel(req);
  }

  // ------------------------------------------------------------------ t_newtran

  /** Create the server transaction of the context's request (t_newtran). */
  newTran(ctx: RouteContext): TmTxn | undefined {
    const existing = this.txnOf(ctx);
    if (existing) return existing;
    const req = ctx.request;
    if (!req) return undefined;
    const layer = this.useServices(ctx.services);
    const p = this.pending.get(ctx.state) ?? {};
    let server: ServerTransaction;
    try {
      server = layer.create(req, ctx.info, p.autoInv100 === undefined ? {} : { autoInv100: p.autoInv100 });
    } catch (err) {
      if (err instanceof TransactionStateError) {
        const t = layer.match(req);
        t?.retransmission();
      } else this.logger.error(`tm: cannot create a transaction: ${errText(err)}`);
      return undefined;
    }
    const txn: TmTxn = {
      server,
      req,
      info: ctx.info,
      state: ctx.state,
      services: ctx.services,
      cb: { onReply: p.onReply, onFailure: p.onFailure, onBranch: p.onBranch, onBranchFailure: p.onBranchFailure },
      fr: p.fr,
      frInv: p.frInv,
      retrT1: p.retrT1,
      retrT2: p.retrT2,
      disable6xx: p.disable6xx ?? false,
      noE2eCancelReason: p.noE2eCancelReason ?? false,
      branches: [],
      forwarded2xx: false,
      inFailure: false,
      best: undefined,
      stripped: new WeakSet(),
    };
    server.data = txn;
    server.onTerminated = () => {
      this.lifetimes.get(txn)?.timer?.cancel();
      for (const b of txn.branches) if (b.client && b.client.state !== 'Terminated' && b.status === 0) b.client.terminate();
    };
    this.byState.set(ctx.state, txn);
    this.startLifetime(txn, p);
    this.hooks?.created(txn);
    return txn;
  }

  // ------------------------------------------------------------------ t_reply

  /** Reply in the transaction (t_reply); creates it in the request route when absent. */
  reply(ctx: RouteContext, code: number, reason: string): number {
    if (!Number.isInteger(code) || code < 100 || code > 699) {
      ctx.logger.error(`tm t_reply: invalid status code ${code}`);
      return -1;
    }
    if (/[\r\n]/.test(reason)) {
      ctx.logger.error('tm t_reply: the reason contains CR/LF');
      return -1;
    }
    if (ctx.request?.method === 'ACK') {
      ctx.logger.error('tm t_reply: cannot reply to an ACK');
      return -1;
    }
    let txn = this.txnOf(ctx);
    if (!txn) {
      if (ctx.routeType !== 'request') return -1;
      txn = this.newTran(ctx);
      if (!txn) return -1;
    }
    const st = txn.state;
    const headers = [...st.replyHeaders];
    const body = st.replyBody;
    try {
      txn.server.reply(code, reason === '' ? undefined : reason, {
        headers,
        ...(body ? { body: body.body, contentType: body.contentType } : {}),
      });
    } catch (err) {
      ctx.logger.error(`tm t_reply: cannot send ${code}: ${errText(err)}`);
      return -1;
    }
    if (code >= 200) this.cancelPending(txn, code < 300);
    ctx.replied = true;
    this.hooks?.localResponse(txn, code);
    return 1;
  }

  // ------------------------------------------------------------------ t_relay

  /**
   * t_relay and friends: relay the context's request statefully to the R-URI branch (or `to`)
   * and the additional branches. 1 ok, -1 error.
   */
  relay(ctx: RouteContext, fname: string, to?: { uri: string }): number {
    const req = ctx.request;
    if (!req) {
      ctx.logger.error(`tm ${fname}: the message is a reply`);
      return -1;
    }
    this.useServices(ctx.services);
    if (req.method === 'ACK') return this.forwardAck(ctx, fname, req, to?.uri);
    if (req.method === 'CANCEL') {
      const inv = this.layerInst!.matchCancel(req);
      const invTxn = inv?.data as TmTxn | undefined;
      if (inv && invTxn) return this.relayCancel(ctx, req, inv, invTxn);
    }
    const txn = this.newTran(ctx);
    if (!txn) return ctx.routeType === 'request' ? 0 : -1;
    if (txn.server.replied && !txn.inFailure) {
      ctx.logger.error(`tm ${fname}: the transaction has a final reply already`);
      return -1;
    }
    if (txn.inFailure && this.isExpired(txn)) {
      ctx.logger.error(`tm ${fname}: the transaction outlived its lifetime (max_inv_lifetime / t_set_max_lifetime): no new branch`);
      return -1;
    }
    // callbacks set after t_newtran (t_on_* before t_relay) land in pending too; only the request
    // route's: in failure routes they would re-arm the one-shot failure route
    const p = ctx.routeType === 'request' ? this.pending.get(ctx.state) : undefined;
    if (p) {
      if (p.onReply !== undefined) txn.cb.onReply = p.onReply;
      if (p.onFailure !== undefined) txn.cb.onFailure = p.onFailure;
      if (p.onBranch !== undefined) txn.cb.onBranch = p.onBranch;
      if (p.fr !== undefined) txn.fr = p.fr;
      if (p.frInv !== undefined) txn.frInv = p.frInv;
      if (p.retrT1 !== undefined) txn.retrT1 = p.retrT1;
      if (p.retrT2 !== undefined) txn.retrT2 = p.retrT2;
    }
    const targets: Branch[] = [];
    const st = ctx.state;
    const ruri = req.newRequestUri ?? req.uri;
    if (to) targets.push({ uri: ruri, dstUri: to.uri, q: -1, flags: st.branchFlags[0] ?? 0 });
    else {
      const base = this.failureBase.get(txn);
      const ruriBranch = !txn.inFailure || !base || base.uri !== ruri || base.du !== st.dstUri || st.branches.length === 0;
      if (ruriBranch) {
        targets.push({
          uri: ruri,
          ...(st.dstUri ? { dstUri: st.dstUri } : {}),
          ...(st.ruriPath ? { path: st.ruriPath } : {}),
          ...(st.sendSocketId !== undefined ? { socketId: st.sendSocketId } : {}),
          q: -1,
          flags: st.branchFlags[0] ?? 0,
        });
      }
      targets.push(...st.branches);
    }
    st.branches = [];
    // a failure route that relays opens a new serial-forking leg
    const leg = this.legs.get(txn) ?? { current: 0, opened: true };
    this.legs.set(txn, leg);
    const opening = txn.inFailure && !leg.opened;
    if (opening) leg.current++;
    let sent = 0;
    for (const b of targets) if (this.sendBranch(ctx, txn, req, b, fname)) sent++;
    if (opening) {
      if (sent > 0) {
        leg.opened = true;
        if (this.cfg.failureReplyMode === 3) for (const b of txn.branches) if ((this.legOf.get(b) ?? 0) < leg.current) this.modeDropped.add(b);
      } else leg.current--;
    }
    if (sent === 0) {
      ctx.logger.error(`tm ${fname}: no branch could be sent`);
      this.hooks?.relayFailed(ctx, txn);
      return -1;
    }
    this.hooks?.relayed(ctx, txn);
    ctx.relayed = true;
    return 1;
  }

  /** R-URI / $du at the start of a failure route (a changed one makes a new R-URI branch). */
  private readonly failureBase = new WeakMap<TmTxn, { uri: string; du: string | undefined }>();

  private sendBranch(ctx: RouteContext, txn: TmTxn, req: SipRequest, b: Branch, fname: string): boolean {
    const idx = txn.branches.length;
    const st = ctx.state;
    const saved = { du: st.dstUri, sock: st.sendSocketId, uri: req.newRequestUri };
    let clone: SipRequest;
    try {
      // the per-branch destination as rr's refresh sees it
      if ((req.newRequestUri ?? req.uri) !== b.uri) req.setRequestUri(b.uri);
      st.dstUri = b.dstUri;
      st.sendSocketId = b.socketId ?? saved.sock;
      this.rr()?.refresh(ctx);
      clone = parseMessage(req.serialize()) as SipRequest;
    } catch (err) {
      ctx.logger.error(`tm ${fname}: cannot build branch ${idx} to ${b.uri}: ${errText(err)}`);
      return false;
    } finally {
      if (saved.uri !== undefined && saved.uri !== (req.newRequestUri ?? req.uri)) req.setRequestUri(saved.uri);
      else if (saved.uri === undefined && req.newRequestUri !== undefined && req.newRequestUri !== req.uri) req.setRequestUri(req.uri);
      st.dstUri = saved.du;
      st.sendSocketId = saved.sock;
    }
    // branch route: the branch's own copy of the request; drop = not sent
    const onBranch = txn.cb.onBranch;
    const bstate = st;
    if (onBranch) {
      const bctx = new RouteContext(clone, txn.info, ctx.services, 'branch', onBranch, bstate);
      const savedDu = bstate.dstUri;
      bstate.dstUri = b.dstUri;
      const r = this.runRoute(bctx, onBranch, { txn, branch: idx, code: 0 });
      const du = bstate.dstUri;
      bstate.dstUri = savedDu;
      if (r.dropped) {
        ctx.logger.debug(`tm: branch ${idx} to ${b.uri} dropped by ${onBranch}`);
        return false;
      }
      clone = bctx.msg as SipRequest;
      if ((clone.newRequestUri ?? clone.uri) !== b.uri) b = { ...b, uri: clone.newRequestUri ?? clone.uri };
      b = { ...b, ...(du ? { dstUri: du } : {}) };
    }
    const target = this.resolveTarget(ctx, b, fname);
    if (!target) return false;
    try {
      if (b.path) {
        if (!clone.insertHeaderBefore('Route', 'Route', b.path)) clone.appendHeader('Route', b.path);
      }
      const adv = st.advertisedAddress;
      const host = adv ? (sip.isIPv6(adv) ? `[${adv}]` : adv) : target.via.host;
      const port = st.advertisedPort ?? String(target.via.port);
      clone.addVia(`SIP/2.0/${target.t.proto.toUpperCase()} ${host}:${port};branch=${sip.generateBranch()}${st.localRport ? ';rport' : ''}`);
    } catch (err) {
      ctx.logger.error(`tm ${fname}: cannot build branch ${idx} to ${b.uri}: ${errText(err)}`);
      return false;
    }
    const branch: TmBranch = { idx, uri: b.uri, client: undefined, status: 0, reply: undefined, timedOut: false, replied: false, old: false };
    txn.branches.push(branch);
    this.legOf.set(branch, this.legs.get(txn)?.current ?? 0);
    this.hooks?.branchSent(txn, branch, b);
    const isInv = req.method === 'INVITE';
    const fr = txn.fr ?? this.cfg.frTimer;
    try {
      branch.client = this.layerInst!.createClient(
        clone,
        target.t,
        {
          onResponse: (res) => this.onBranchResponse(txn, branch, res),
          onTimeout: (c) => {
            // fr_inv timeout of a branch that sent a provisional: CANCEL it (RFC 3261 §16.8, as Kamailio)
            if (c.isInvite && c.state === 'Proceeding') c.cancel();
            this.onBranchFinal(txn, branch, 408, undefined, true);
          },
          onTransportError: (err) => {
            this.logger.warn(`tm: branch ${idx} to ${b.uri}: ${errText(err)}`);
            this.onBranchFinal(txn, branch, 503, undefined, false);
          },
        },
        {
          fr,
          ...(isInv ? { frInv: txn.frInv ?? this.cfg.frInvTimer, restartFrOnEachReply: this.cfg.restartFrOnEachReply } : {}),
          ...(txn.retrT1 !== undefined ? { t1: txn.retrT1 } : {}),
          ...(txn.retrT2 !== undefined ? { t2: txn.retrT2 } : {}),
        },
      );
    } catch (err) {
      txn.branches.pop();
      ctx.logger.error(`tm ${fname}: cannot send branch ${idx} to ${b.uri}: ${errText(err)}`);
      return false;
    }
    return true;
  }

  resolveTarget(ctx: RouteContext, b: Branch, fname: string): { t: SendTarget; via: { host: string; port: number } } | undefined {
    const dest = b.dstUri || b.uri;
    let u: SipUri;
    try {
      u = parseUri(dest) as SipUri;
    } catch {
      ctx.logger.error(`tm ${fname}: invalid destination ${JSON.stringify(dest)}`);
      return undefined;
    }
    if ((u.scheme !== 'sip' && u.scheme !== 'sips') || !u.host) {
      ctx.logger.error(`tm ${fname}: cannot relay to ${dest}: not a sip:/sips: URI`);
      return undefined;
    }
    const proto = (u.params.get('transport') ?? (u.scheme === 'sips' ? 'tls' : 'udp')).toLowerCase();
    if (proto !== 'udp' && proto !== 'tcp') {
      ctx.logger.error(`tm ${fname}: cannot relay to ${dest}: transport ${proto} is not supported (udp and tcp only)`);
      return undefined;
    }
    const address = unbracket(b.received && !b.dstUri ? b.received : u.host);
    const family = sip.isIPv4(address) ? 4 : sip.isIPv6(address) ? 6 : 0;
    if (family === 0) {
      ctx.logger.error(`tm ${fname}: cannot relay to ${dest}: DNS resolution is not supported yet (use an IP address)`);
      return undefined;
    }
    const local = ctx.services.localAddress(proto, family);
    if (!local) {
      ctx.logger.error(`tm ${fname}: cannot relay to ${dest}: no ${proto.toUpperCase()} IPv${family} listen socket`);
      return undefined;
    }
    const t: SendTarget = { proto, address, port: u.port ?? 5060 };
    if (b.socketId !== undefined) t.socketId = b.socketId;
    return { t, via: local };
  }

  /** ACK (of a 2xx) given to t_relay: forwarded statelessly, as Kamailio does. */
  private forwardAck(ctx: RouteContext, fname: string, req: SipRequest, to: string | undefined): number {
    const st = ctx.state;
    const b: Branch = { uri: req.newRequestUri ?? req.uri, q: -1, flags: 0, ...(to ?? st.dstUri ? { dstUri: (to ?? st.dstUri)! } : {}) };
    const target = this.resolveTarget(ctx, b, fname);
    if (!target) return -1;
    let data: Buffer;
    let added = false;
    try {
      const adv = st.advertisedAddress;
      const host = adv ? (sip.isIPv6(adv) ? `[${adv}]` : adv) : target.via.host;
      const port = st.advertisedPort ?? String(target.via.port);
      req.addVia(`SIP/2.0/${target.t.proto.toUpperCase()} ${host}:${port};branch=${statelessBranch(req, b.dstUri ?? b.uri)}`);
      added = true;
      data = req.serialize({ stream: target.t.proto !== 'udp' });
    } catch (err) {
      ctx.logger.error(`tm ${fname}: cannot build the ACK: ${errText(err)}`);
      return -1;
    } finally {
      if (added) req.removeTopVia();
    }
    ctx.services.send(target.t, data).catch((err: unknown) => ctx.logger.error(`tm ${fname}: sending the ACK failed: ${errText(err)}`));
    ctx.relayed = true;
    return 1;
  }

  /** t_relay of a CANCEL that matches an INVITE transaction: 200 to it, CANCEL every pending branch. */
  private relayCancel(ctx: RouteContext, req: SipRequest, inv: ServerTransaction, invTxn: TmTxn): number {
    const layer = this.layerInst!;
    let cancelTxn = layer.match(req);
    if (!cancelTxn) {
      try {
        cancelTxn = layer.create(req, ctx.info);
      } catch (err) {
        ctx.logger.error(`tm t_relay: cannot create the CANCEL transaction: ${errText(err)}`);
        return -1;
      }
    }
    this.cancelOf.set(cancelTxn, invTxn);
    if (!cancelTxn.replied) {
      try {
        cancelTxn.reply(200, 'canceling');
      } catch (err) {
        ctx.logger.error(`tm t_relay: cannot reply to the CANCEL: ${errText(err)}`);
      }
    }
    if (!inv.replied) {
      inv.canceled = true;
      const reason = req.header('reason');
      for (const b of invTxn.branches) {
        if (b.status !== 0 || !b.client) continue;
        b.client.cancel(undefined, reason && !invTxn.noE2eCancelReason ? { headers: [['Reason', reason]] } : undefined);
      }
      this.maybeFinish(invTxn);
    }
    ctx.relayed = true;
    ctx.replied = true;
    return 1;
  }

  // ------------------------------------------------------------------ replies

  private onBranchResponse(txn: TmTxn, branch: TmBranch, res: SipResponse): void {
    const status = res.status;
    branch.replied = true;
    const cbName = txn.cb.onReply;
    let dropped = false;
    if (cbName) {
      const info = this.lastReplyInfo ?? txn.info;
      const rctx = new RouteContext(res, info, txn.services, 'tm-onreply', cbName, txn.state);
      dropped = this.runRoute(rctx, cbName, { txn, branch: branch.idx, code: status }).dropped;
      res = rctx.msg as SipResponse;
    }
    if (status < 200) {
      if (status > 100 && !dropped && !txn.server.replied) this.relayUp(txn, res);
      return;
    }
    if (status < 300) {
      if (branch.status === 0) branch.status = status;
      branch.reply ??= res;
      if (!txn.server.replied || txn.forwarded2xx) {
        txn.forwarded2xx = true;
        this.relayUp(txn, res);
      }
      this.cancelPending(txn, true);
      return;
    }
    this.onBranchFinal(txn, branch, status, res, false);
  }

  private onBranchFinal(txn: TmTxn, branch: TmBranch, status: number, res: SipResponse | undefined, timeout: boolean): void {
    if (branch.status !== 0) return;
    branch.status = status;
    branch.reply = res;
    branch.timedOut = timeout;
    if (status >= 600 && !txn.disable6xx) this.cancelPending(txn, false);
    this.hooks?.branchFailed(txn, branch);
    this.maybeFinish(txn);
  }

  /** CANCEL every branch still waiting for a final reply. */
  private cancelPending(txn: TmTxn, after2xx: boolean): void {
    if (!txn.server.isInvite) return;
    for (const b of txn.branches) {
      if (b.status !== 0 || !b.client) continue;
      b.client.cancel(undefined, after2xx && !txn.noE2eCancelReason ? { headers: [CANCEL_REASON_200] } : undefined);
    }
  }

  /** Relay a branch's reply upstream (our Via removed). False when it could not be sent. */
  private relayUp(txn: TmTxn, res: SipResponse): boolean {
    try {
      if (!txn.stripped.has(res)) {
        res.removeTopVia();
        txn.stripped.add(res);
      }
      if (!res.currentHeaders().some((h) => h.key === 'via')) {
        // the downstream element dropped the Vias below ours: there is nobody to send it to
        this.logger.warn(`tm: a ${res.status} reply carries no Via besides ours; not relayed`);
        return false;
      }
      txn.server.sendResponse(res);
      return true;
    } catch (err) {
      this.logger.warn(`tm: cannot relay ${res.status}: ${errText(err)}`);
      return false;
    }
  }

  /** When every branch has its final reply: the failure route, or the best reply upstream. */
  private maybeFinish(txn: TmTxn): void {
    if (txn.inFailure) return;
    if (txn.branches.some((b) => b.status === 0)) return;
    if (txn.server.replied) return;
    const best = this.pickBest(txn);
    txn.best = best;
    const cb = txn.cb.onFailure;
    if (cb && best.status >= 300 && !txn.server.canceled) {
      txn.cb.onFailure = undefined; // one shot: the failure route arms it again for the next round
      txn.inFailure = true;
      for (const b of txn.branches) b.old = true;
      this.failureModeDrops(txn);
      // the failure route runs on a copy of the saved request (t_save_lumps): its R-URI is the base
      const freq = this.hooks?.failureRequest(txn) ?? txn.req;
      this.failureBase.set(txn, { uri: freq.newRequestUri ?? freq.uri, du: txn.state.dstUri });
      const fctx = new RouteContext(freq, txn.info, txn.services, 'failure', cb, txn.state);
      try {
        this.runRoute(fctx, cb, { txn, branch: best.branch?.idx ?? 0, code: best.status });
      } finally {
        txn.inFailure = false;
      }
      if (txn.server.replied) return;
      if (txn.branches.some((b) => b.status === 0)) return; // new branches: wait for them
    }
    this.sendBest(txn, txn.best ?? best);
  }

  private sendBest(txn: TmTxn, best: NonNullable<TmTxn['best']>): void {
    if (txn.server.replied) return;
    try {
      if (txn.server.canceled && best.status !== 487) {
        txn.server.reply(487, 'Request Terminated', { headers: [...txn.state.replyHeaders] });
      } else if (best.res) {
        const res = best.res;
        if (res.status === 503) {
          // RFC 3261 §16.7 step 6: a 503 is not relayed as such
          txn.server.reply(500, 'Server Error', { headers: [...txn.state.replyHeaders] });
          return;
        }
        if (res.status === 401 || res.status === 407) this.aggregateChallenges(txn, best.branch, res);
        if (!this.relayUp(txn, res)) txn.server.reply(res.status, res.reason, { headers: [...txn.state.replyHeaders] });
      } else txn.server.reply(best.status, best.status === 408 ? 'Request Timeout' : undefined, { headers: [...txn.state.replyHeaders] });
    } catch (err) {
      this.logger.warn(`tm: cannot send the final reply: ${errText(err)}`);
    }
  }

  /**
   * RFC 3261 §16.7 step 6 as Kamailio applies it: a 6xx wins (unless t_set_disable_6xx), else the
   * lowest class; inside 4xx 401/407 first, then 415/420/484, then the others; inside 5xx a 503
   * last. A received reply beats a local one (408 timeout, 503 send failure) of the same rank;
   * otherwise the earliest branch wins. Replies dropped by t_drop_replies / failure_reply_mode
   * take no part.
   */
  private pickBest(txn: TmTxn): NonNullable<TmTxn['best']> {
    let best: TmBranch | undefined;
    let bestPrio = Infinity;
    for (const b of txn.branches) {
      if (b.status < 300 || this.isReplyDropped(txn, b)) continue;
      const prio = replyPriority(b.status, b.reply !== undefined, txn.disable6xx);
      if (prio < bestPrio) {
        best = b;
        bestPrio = prio;
      }
    }
    if (!best) return { status: 408, res: undefined, branch: undefined };
    return { status: best.status, res: best.reply, branch: best };
  }

  /** Does this branch's reply stay out of the best-reply choice (t_drop_replies, else failure_reply_mode)? */
  isReplyDropped(txn: TmTxn, b: TmBranch): boolean {
    return this.hooks?.replyDropped(txn, b) ?? this.modeDropped.has(b);
  }

  /** The serial-forking leg of a branch (0 = the request route's t_relay). */
  legOfBranch(b: TmBranch): number {
    return this.legOf.get(b) ?? 0;
  }

  /** failure_reply_mode 1 / 2 at the start of a failure route (3 waits for a new leg, in relay()). */
  private failureModeDrops(txn: TmTxn): void {
    const mode = this.cfg.failureReplyMode;
    const leg = this.legs.get(txn) ?? { current: 0, opened: true };
    leg.opened = false;
    this.legs.set(txn, leg);
    if (mode !== 1 && mode !== 2) return;
    for (const b of txn.branches) if (mode === 1 || this.legOfBranch(b) === leg.current) this.modeDropped.add(b);
  }

  /**
   * RFC 3261 §16.7 step 7 (Kamailio's aggregate_challenges): a relayed 401/407 carries the
   * WWW-Authenticate and Proxy-Authenticate headers of every other 401/407 of the transaction.
   */
  private aggregateChallenges(txn: TmTxn, chosen: TmBranch | undefined, res: SipResponse): void {
    const have = new Set(res.currentHeaders().filter((h) => h.key === 'www-authenticate' || h.key === 'proxy-authenticate').map((h) => `${h.key}:${h.value}`));
    for (const b of txn.branches) {
      if (b === chosen || !b.reply || (b.status !== 401 && b.status !== 407) || this.isReplyDropped(txn, b)) continue;
      for (const h of b.reply.currentHeaders()) {
        if (h.key !== 'www-authenticate' && h.key !== 'proxy-authenticate') continue;
        const k = `${h.key}:${h.value}`;
        if (have.has(k)) continue;
        have.add(k);
        try {
          res.appendHeader(h.key === 'www-authenticate' ? 'WWW-Authenticate' : 'Proxy-Authenticate', h.value);
        } catch (err) {
          this.logger.warn(`tm: cannot aggregate a challenge: ${errText(err)}`);
        }
      }
    }
  }

  // ------------------------------------------------------------------ lifetimes

  private startLifetime(txn: TmTxn, p: Pending): void {
    const inv = txn.server.isInvite;
    const set = inv ? p.maxInvLifetime : p.maxNoninvLifetime;
    const life: Lifetime = { start: this.scheduler.now(), ms: set ?? this.defaultLifetime(inv), timer: undefined, expired: false };
    this.lifetimes.set(txn, life);
    this.armLifetime(txn, life);
  }

  private defaultLifetime(inv: boolean): number {
    return (inv ? this.cfg.maxInvLifetime : this.cfg.maxNoninvLifetime) ?? (inv ? 180000 : 32000);
  }

  private armLifetime(txn: TmTxn, life: Lifetime): void {
    life.timer?.cancel();
    life.timer = undefined;
    if (txn.server.state === 'Terminated') return;
    const left = life.start + life.ms - this.scheduler.now();
    life.timer = this.scheduler.after(Math.max(0, left), () => {
      life.timer = undefined;
      this.lifetimeExpired(txn, life);
    });
  }

  /** The lifetime elapsed: every branch still waiting for its final reply times out now (408; CANCEL after a provisional). */
  private lifetimeExpired(txn: TmTxn, life: Lifetime): void {
    life.expired = true;
    if (txn.server.replied || txn.server.state === 'Terminated') return;
    const pending = txn.branches.filter((b) => b.status === 0 && b.client);
    if (pending.length > 0) this.logger.debug(`tm: transaction ${txn.server.id} outlived its lifetime (${life.ms} ms): ${pending.length} branch(es) time out`);
    for (const b of pending) if (b.status === 0) b.client!.timeout();
  }

  /** t_is_expired: the transaction exists and outlived its lifetime. */
  isExpired(txn: TmTxn): boolean {
    const life = this.lifetimes.get(txn);
    return life !== undefined && (life.expired || this.scheduler.now() - life.start >= life.ms);
  }

  /** t_set_max_lifetime(inv, noninv): ms, 0 = the parameter; the current transaction, else the next one. */
  setMaxLifetime(ctx: RouteContext, inv: number, noninv: number): number {
    if (!Number.isInteger(inv) || !Number.isInteger(noninv) || inv < 0 || noninv < 0) {
      ctx.logger.error(`tm t_set_max_lifetime: invalid lifetimes ${inv}, ${noninv}`);
      return -1;
    }
    const p = this.pendingOf(ctx);
    p.maxInvLifetime = inv > 0 ? inv : undefined;
    p.maxNoninvLifetime = noninv > 0 ? noninv : undefined;
    const t = this.txnOf(ctx);
    const life = t && this.lifetimes.get(t);
    if (t && life && !life.expired) {
      const v = t.server.isInvite ? inv : noninv;
      life.ms = v > 0 ? v : this.defaultLifetime(t.server.isInvite);
      this.armLifetime(t, life);
    }
    return 1;
  }

  // ------------------------------------------------------------------ routes

  runRoute(ctx: RouteContext, name: string, info: RunInfo, args?: readonly string[]): { dropped: boolean } {
    if (!this.runner) {
      this.logger.error(`tm: cannot run ${name}: no routing engine attached to tm`);
      return { dropped: false };
    }
    if (this.runner.hasFunction && !this.runner.hasFunction(name)) {
      this.logger.error(`tm: the script has no function ${name}`);
      return { dropped: false };
    }
    this.runs.set(ctx, info);
    try {
      const r = this.runner.run(ctx, name, args);
      return { dropped: r.dropped || ctx.dropRequested };
    } catch (err) {
      this.logger.error(`tm: route ${name} failed: ${errText(err)}`);
      return { dropped: false };
    }
  }

  // ------------------------------------------------------------------ misc for exports

  /** The reply code in scope: the reply of an onreply route, the best reply of a failure route, else the last one sent. */
  replyCode(ctx: RouteContext): number {
    const r = this.runs.get(ctx);
    if (r) {
      if (ctx.routeType === 'tm-onreply' && ctx.response) return ctx.response.status;
      if (ctx.routeType === 'failure') return r.txn.best?.status ?? r.code;
      return r.code;
    }
    if (ctx.response) return ctx.response.status;
    const t = this.byState.get(ctx.state);
    return t?.server.lastResponse?.status ?? 0;
  }

  branchIndex(ctx: RouteContext): number {
    return this.runs.get(ctx)?.branch ?? 0;
  }

  /** Release the transaction (t_release). */
  release(ctx: RouteContext): number {
    const t = this.txnOf(ctx);
    if (!t) return -1;
    t.server.terminate();
    this.byState.delete(t.state);
    return 1;
  }
}
