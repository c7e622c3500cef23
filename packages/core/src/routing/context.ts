/**
 * The per-message route context: what KSR functions act on while a route runs.
 *
 * A context lives for one route run (request, reply, failure, …). State that must survive from
 * one route run to the next for the same message or transaction (message flags, branch flags,
 * destination URI, AVPs) lives in `MessageState`, which the transaction layer carries along.
 */
import type { Logger } from '../log.js';
import type { SipRequest, SipResponse } from '../sip/index.js';
import type { ReceiveInfo, SendTarget, SocketInfo } from '../transport/index.js';

export type RouteType = 'request' | 'reply' | 'onsend' | 'branch' | 'failure' | 'tm-onreply' | 'branch-failure' | 'event';

/** A value of an AVP or of a script variable. */
export type ScriptValue = string | number;

/** Extended AVPs ($xavp(name=>field)): ordered lists of records, newest first. */
export type XavpRecord = Map<string, ScriptValue[]>;

/** State that belongs to the message (and later its transaction), not to one route run. */
export class MessageState {
  /** Message flags (setflag/isflagset), 32 bits. */
  flags = 0;
  /** Branch flags per branch index (setbflag/setbiflag); branch 0 is the Request-URI branch. */
  branchFlags: number[] = [0];
  /** Destination URI ($du): where the request goes instead of the Request-URI. */
  dstUri: string | undefined = undefined;
  /** AVPs ($avp(name)): a name holds a stack of values, newest first. */
  readonly avps = new Map<string, ScriptValue[]>();
  /** Extended AVPs ($xavp(name)): a name holds a list of records, newest first. */
  readonly xavps = new Map<string, XavpRecord[]>();
  /** Forwarding preferences set by set_forward_close/no_connect and set_reply_close/no_connect. */
  forwardClose = false;
  forwardNoConnect = false;
  replyClose = false;
  replyNoConnect = false;
  /** set_advertised_address / set_advertised_port for this message. */
  advertisedAddress: string | undefined = undefined;
  advertisedPort: string | undefined = undefined;
  /** force_rport() was called: reply to the source port even if the Via had no rport. */
  forceRport = false;
  /** Additional branches (append_branch, lookup of several contacts), in order. */
  branches: Branch[] = [];
  /**
   * q-value ×1000 of the Request-URI branch (0..1000), -1 when not given: set by whoever puts a
   * contact into the R-URI (registrar lookup, tm t_next_contacts); tm t_load_contacts sorts by it.
   */
  ruriQ = -1;
  /** Listen socket id to send from (set_send_socket), or undefined for the default. */
  sendSocketId: number | undefined = undefined;
  /** Path of the Request-URI branch (registrar lookup of a contact with Path). */
  ruriPath: string | undefined = undefined;
  /** add_local_rport() was called: the Via ksr adds when it forwards this request carries `;rport` (RFC 3581). */
  localRport = false;
  /**
   * Header fields for the replies ksr generates locally for this request (KSR.hdr.append_to_reply,
   * Kamailio's reply lumps). Whoever builds a local reply (sl_send_reply, t_reply, the error reply)
   * adds these, in order, before its own extra headers.
   */
  replyHeaders: Array<[string, string]> = [];
  /**
   * The last error a module recorded for this request, as the reply that describes it (Kamailio's
   * "last internal error"): KSR.sl.sl_reply_error() answers with it, else with sl's default_code /
   * default_reason. Modules set it when a function fails for a reason the client should hear
   * (sanity: the failed check's reply).
   */
  lastError: { code: number; reason: string } | undefined = undefined;
  /**
   * Body for the replies ksr generates locally for this request (textops set_reply_body):
   * whoever builds a local reply without a body of its own uses this one and its Content-Type.
   */
  replyBody: { body: string; contentType: string } | undefined = undefined;
}

/** Variables shared by every route run in one worker ($var): they keep their values between messages, as in Kamailio. */
export type WorkerVars = Map<string, ScriptValue | null>;

/** Shared variables ($shv): visible to every worker. An interface so they can move to shared memory. */
export interface SharedVars {
  get(name: string): ScriptValue | null | undefined;
  set(name: string, value: ScriptValue | null): void;
}

export class MemorySharedVars implements SharedVars {
  private readonly map = new Map<string, ScriptValue | null>();
  get(name: string): ScriptValue | null | undefined {
    return this.map.get(name);
  }
  set(name: string, value: ScriptValue | null): void {
    this.map.set(name, value);
  }
}

/** Does a host (with optional port and protocol) name this server? (listen sockets + aliases) */
export interface MyselfChecker {
  isMyself(host: string, port?: number, proto?: string): boolean;
}

/** What core and module exports may reach from a context. Supplied by the server wiring. */
export interface RouteServices {
  readonly logger: Logger;
  readonly myself: MyselfChecker;
  /** The config's #!defines (for KSR.kx.ifdef & co). */
  readonly defines: ReadonlyMap<string, string | null>;
  /** The current log level as a Kamailio debug number (KSR.get_debug). */
  debugLevel(): number;
  /** $var storage of this worker. */
  readonly vars: WorkerVars;
  /** $shv storage. */
  readonly shv: SharedVars;
  /**
   * Send a stateless reply to the context's request (sl_send_reply and the error outcome use it).
   * Resolves false when it could not be sent.
   */
  reply(
    ctx: RouteContext,
    status: number,
    reason: string,
    extra?: { headers?: Array<[string, string]>; body?: string | Buffer; contentType?: string; toTag?: string },
  ): Promise<boolean>;
  /** Send bytes to a target (stateless forwarding). */
  send(target: SendTarget, data: Buffer): Promise<void>;
  /**
   * The address and port this server puts in a Via / Record-Route for a protocol and IP family
   * (the advertised address of the matching listen socket), or undefined when none listens.
   */
  localAddress(proto: 'udp' | 'tcp', family: 4 | 6): { host: string; port: number } | undefined;
  /** The listen sockets (ids, protocols, addresses, advertised addresses). */
  sockets(): readonly SocketInfo[];
  /** Change the log level as a Kamailio debug number (kex setdebug); undefined restores the configured level. */
  setDebugLevel(level: number | undefined): void;
}

/** An additional branch of a request (append_branch, registrar lookup); branch 0 is the Request-URI. */
export interface Branch {
  uri: string;
  dstUri?: string;
  /** q-value ×1000 (0..1000), -1 when not given. */
  q: number;
  /** Path header value (RFC 3327) to turn into Route headers when the branch is sent. */
  path?: string;
  /** Branch flags. */
  flags: number;
  /** Listen socket id to send from (set_send_socket / the contact's received socket). */
  socketId?: number;
  /** The contact's `received` address (NAT), sent to instead of the URI host. */
  received?: string;
  /** The contact's instance/ruid, for usrloc. */
  instance?: string;
  ruid?: string;
}

export class RouteContext {
  /** Script flags (setsflag): reset for each route run, restored afterwards (Kamailio's sflags). */
  scriptFlags = 0;
  /** Set by KSR.x.drop() / KSR.set_drop(): the request branch / reply / onsend message is not sent. */
  dropRequested = false;
  /** Set by KSR.x.exit() / drop(): the route ends; any further KSR call ends it again. */
  exitRequested = false;
  /** A reply was sent for this request (stateless or stateful). */
  replied = false;
  /** The request was relayed (stateless forward or t_relay). */
  relayed = false;
  /** The last int returned by a KSR function ($rc / $retcode). */
  lastReturn = 1;
  /** Per-module scratch space for this route run. */
  private readonly data = new Map<symbol, unknown>();

  constructor(
    /**
     * The message the route acts on. Replaced (not edited) by functions that apply the pending
     * edits and re-parse (textopsx msg_apply_changes, change_reply_status): read it after the
     * route rather than keeping the original.
     */
    public msg: SipRequest | SipResponse,
    /** Where the message came from; corex set_source_address / set_recv_socket replace it. */
    public info: ReceiveInfo,
    readonly services: RouteServices,
    public routeType: RouteType,
    /** The function name that runs (ksr_request_route, a t_on_failure name, …). */
    public routeName: string,
    readonly state: MessageState = new MessageState(),
  ) {}

  get isRequest(): boolean {
    return 'method' in this.msg;
  }

  get request(): SipRequest | undefined {
    return 'method' in this.msg ? (this.msg as SipRequest) : undefined;
  }

  get response(): SipResponse | undefined {
    return 'status' in this.msg ? (this.msg as SipResponse) : undefined;
  }

  get logger(): Logger {
    return this.services.logger;
  }

  getData<T>(key: symbol): T | undefined {
    return this.data.get(key) as T | undefined;
  }

  setData(key: symbol, value: unknown): void {
    this.data.set(key, value);
  }
}
