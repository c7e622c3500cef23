import { randomBytes } from 'node:crypto';
import { silentLogger, type Logger } from '../log.js';
import {
  SipParseError,
  buildReplyBytes,
  isRequest,
  parseMessage,
  type ParseLimits,
  type ParseOptions,
  type SipRequest,
  type SipResponse,
  type Via,
} from '../sip/index.js';
import {
  TransportLayer,
  type ListenSpec,
  type ReceiveInfo,
  type SendTarget,
  type TransportOptions,
} from '../transport/index.js';
import { unbracket } from '../transport/address.js';
import { buildMalformedReply } from './malformed.js';

export type RequestHandler = (req: SipRequest, info: ReceiveInfo) => void;
export type ResponseHandler = (res: SipResponse, info: ReceiveInfo) => void;

export interface SipServerOptions {
  logger?: Logger;
  listen: ListenSpec[];
  limits?: Partial<ParseLimits>;
  transport?: Omit<TransportOptions, 'onMessage' | 'logger'>;
  onRequest: RequestHandler;
  /** Responses that arrive at the server; dropped (and logged at debug) when absent. */
  onResponse?: ResponseHandler;
  /** Header line added to locally generated replies, e.g. "Server: ksr 0.1.0"; none when empty. */
  serverHeader?: string;
  /** At most this many 400 replies to malformed requests per second (the rest are dropped). */
  errorReplyRate?: number;
}

export interface ServerStats {
  requests: number;
  responses: number;
  parseErrors: number;
  malformedAnswered: number;
  malformedDropped: number;
  handlerErrors: number;
}

function sameAddress(a: string, b: string): boolean {
  return unbracket(a).toLowerCase() === unbracket(b).toLowerCase();
}

/**
 * Where a reply to a request goes (RFC 3261 §18.2.2 with RFC 3581 §4):
 * - over a stream, the connection the request came on (and, if it is gone, a new one to the
 *   source address and the sent-by port);
 * - over UDP, the source address (the `received` value) and the source port when the request
 *   asked for `rport`, else the sent-by port (5060 by default).
 * `maddr` multicast replies are not supported: the reply goes to the source address.
 * `forceRport` (KSR.force_rport) treats the request as if its Via had asked for rport.
 */
export function replyTarget(topVia: Via | undefined, info: ReceiveInfo, forceRport = false): SendTarget {
  const sentByPort = topVia?.port ?? 5060;
  const rport = forceRport || (topVia !== undefined && topVia.rport !== undefined);
  if (info.proto === 'tcp') {
    return {
      proto: 'tcp',
      address: info.remote.address,
      port: rport ? info.remote.port : sentByPort,
      ...(info.connectionId !== undefined ? { connectionId: info.connectionId } : {}),
    };
  }
  const port = rport ? info.remote.port : sentByPort;
  return { proto: info.proto, address: info.remote.address, port };
}

/**
 * The SIP server: transports below, parsing, RFC 3261 §18.2.1 / RFC 3581 Via stamping
 * (`received`, `rport`), stateless replies and malformed-message policy. Routing is above it,
 * reached through `onRequest` / `onResponse`.
 */
export class SipServer {
  readonly transport: TransportLayer;
  readonly stats: ServerStats = {
    requests: 0,
    responses: 0,
    parseErrors: 0,
    malformedAnswered: 0,
    malformedDropped: 0,
    handlerErrors: 0,
  };
  private readonly log: Logger;
  private readonly opts: SipServerOptions;
  /** parseMessage options per transport kind, built once. */
  private readonly parseOpts: { readonly dgram: ParseOptions; readonly stream: ParseOptions };
  /** The Server header of local replies as [name, value] (server_signature), split once. */
  private readonly serverHeader: [string, string] | undefined;
  private errorBudget: number;
  private errorBudgetSecond = 0;

  constructor(opts: SipServerOptions) {
    this.opts = opts;
    this.log = (opts.logger ?? silentLogger).child({ mod: 'server' });
    const limits = opts.limits ? { limits: opts.limits } : {};
    this.parseOpts = { dgram: { stream: false, ...limits }, stream: { stream: true, ...limits } };
    const colon = opts.serverHeader ? opts.serverHeader.indexOf(':') : -1;
    this.serverHeader = colon > 0 ? [opts.serverHeader!.slice(0, colon).trim(), opts.serverHeader!.slice(colon + 1).trim()] : undefined;
    this.errorBudget = opts.errorReplyRate ?? 200;
    this.transport = new TransportLayer({
      ...(opts.transport ?? {}),
      ...(opts.limits?.maxMessageSize !== undefined ? { maxMessageSize: opts.limits.maxMessageSize } : {}),
      logger: opts.logger ?? silentLogger,
      onMessage: (data, info) => this.receive(data, info),
    });
  }

  async start(): Promise<void> {
    await this.transport.listen(this.opts.listen);
  }

  async stop(): Promise<void> {
    await this.transport.close();
  }

  /** Entry point for every framed message from the transports (public for in-process tests). */
  receive(data: Buffer, info: ReceiveInfo): void {
    let msg: SipRequest | SipResponse;
    try {
      msg = parseMessage(data, info.proto === 'tcp' ? this.parseOpts.stream : this.parseOpts.dgram);
    } catch (err) {
      this.malformed(data, info, err);
      return;
    }
    try {
      if (isRequest(msg)) {
        this.stats.requests++;
        this.stampVia(msg, info);
        this.opts.onRequest(msg, info);
      } else {
        this.stats.responses++;
        if (this.opts.onResponse) this.opts.onResponse(msg, info);
        else this.log.debug({ status: msg.status, callId: msg.callId }, 'response dropped: nothing handles responses');
      }
    } catch (err) {
      // A handler bug must not take the server down; the routing runtime reports its own errors.
      this.stats.handlerErrors++;
      this.log.error({ err, peer: `${info.proto}:${info.remote.address}:${info.remote.port}` }, 'message handler failed');
    }
  }

  /** RFC 3261 §18.2.1 (`received` when sent-by differs from the source) and RFC 3581 (`rport`). */
  private stampVia(req: SipRequest, info: ReceiveInfo): void {
    const top = req.via[0];
    if (!top) return;
    const wantsRport = top.rport !== undefined;
    if (wantsRport || !sameAddress(top.host, info.remote.address)) {
      req.setTopViaParam('received', info.remote.address);
    }
    if (wantsRport) req.setTopViaParam('rport', String(info.remote.port));
  }

  private malformed(data: Buffer, info: ReceiveInfo, err: unknown): void {
    this.stats.parseErrors++;
    const reason = err instanceof SipParseError ? err.reason : String(err);
    const peer = `${info.proto}:${info.remote.address}:${info.remote.port}`;
    if (!(err instanceof SipParseError)) {
      // Not expected: the parser promises SipParseError only. Keep serving, but shout.
      this.log.error({ err, peer }, 'parser raised an unexpected error');
    }
    const reply = this.takeErrorBudget() ? buildMalformedReply(data, randomBytes(6).toString('hex')) : undefined;
    if (reply) {
      this.stats.malformedAnswered++;
      this.log.info({ peer, reason, bytes: data.length }, 'malformed SIP message answered with 400');
      const target: SendTarget = {
        proto: info.proto,
        address: info.remote.address,
        port: info.remote.port,
        ...(info.connectionId !== undefined ? { connectionId: info.connectionId } : {}),
      };
      const sent = this.transport.send(target, reply).catch((e: unknown) => {
        this.log.debug({ err: e, peer }, 'could not send 400 for a malformed message');
      });
      if (info.proto === 'tcp' && info.connectionId !== undefined) {
        const id = info.connectionId;
        void sent.finally(() => this.transport.closeConnection(id));
      }
    } else {
      this.stats.malformedDropped++;
      this.log.info({ peer, reason, bytes: data.length }, 'malformed SIP message dropped (no reply possible)');
      if (info.proto === 'tcp' && info.connectionId !== undefined) this.transport.closeConnection(info.connectionId);
    }
  }

  private takeErrorBudget(): boolean {
    const second = Math.floor(Date.now() / 1000);
    if (second !== this.errorBudgetSecond) {
      this.errorBudgetSecond = second;
      this.errorBudget = this.opts.errorReplyRate ?? 200;
    }
    if (this.errorBudget <= 0) return false;
    this.errorBudget--;
    return true;
  }

  /** Send a locally generated (stateless) reply to a request received by this server. */
  async reply(
    req: SipRequest,
    info: ReceiveInfo,
    status: number,
    reason?: string,
    extra?: { toTag?: string; headers?: Array<[string, string]>; body?: Buffer | string; contentType?: string; forceRport?: boolean },
  ): Promise<void> {
    if (req.method === 'ACK') return; // ACKs are never answered (RFC 3261 §17.1.1.3)
    const headers = [...(extra?.headers ?? [])];
    if (this.serverHeader) headers.push(this.serverHeader);
    const { forceRport, ...replyOpts } = extra ?? {};
    // built as bytes and sent: parsing a reply nobody reads again would double the work
    const bytes = buildReplyBytes(req, status, reason, { ...replyOpts, headers });
    await this.transport.send(replyTarget(req.via[0], info, forceRport === true), bytes);
  }

  send(target: SendTarget, data: Buffer): Promise<void> {
    return this.transport.send(target, data);
  }
}
