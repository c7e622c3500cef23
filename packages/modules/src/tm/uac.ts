/**
 * Requests tm sends on its own: t_uac_send (a new local request, statefully; the script's
 * tm:local-request event callback may change its R-URI / $du first) and t_replicate (a copy of
 * the current request to another destination; its replies are absorbed).
 */
import { MessageState, RouteContext, parseMessage, sip, type Branch, type ClientHandlers, type SendTarget, type SipRequest } from '@ksr/core';
import { errText, type Tm } from './tm.js';

export interface UacConfig {
  /** tm `event_callback` ("" = none). */
  eventCallback: string;
  /** The full User-Agent header line added to local requests that have none ("" = none). */
  userAgent?: string;
}

const TOKEN = /^[A-Za-z0-9.!%*_+`'~-]+$/;


/** Handlers of a client transaction whose replies nobody waits for. */
function absorbing(ctx: RouteContext, what: string): ClientHandlers {
  return {
    onResponse: (res) => ctx.logger.debug(`tm ${what}: reply ${res.status} absorbed`),
    onTimeout: () => ctx.logger.debug(`tm ${what}: timeout`),
    onTransportError: (err) => ctx.logger.warn(`tm ${what}: ${errText(err)}`),
  };
}

/** "[proto:]addr[:port]" → the id of a listen socket, undefined = none given, null = not found. */
function socketId(ctx: RouteContext, spec: string): number | undefined | null {
  const s = spec.trim();
  if (s === '') return undefined;
  const m = /^(?:(udp|tcp|tls|sctp|ws|wss):)?(\[[0-9A-Fa-f:.]+\]|[^:]+)(?::(\d{1,5}))?$/i.exec(s);
  if (!m) return null;
  const proto = m[1]?.toLowerCase();
  const addr = m[2]!.replace(/^\[|\]$/g, '');
  const port = m[3] ? Number(m[3]) : undefined;
  const found = ctx.services.sockets().find((k) => (!proto || k.proto === proto) && k.local.address === addr && (port === undefined || k.local.port === port));
  return found ? found.id : null;
}

function viaFor(state: MessageState, target: { t: SendTarget; via: { host: string; port: number } }, branch: string): string {
  const adv = state.advertisedAddress;
  const host = adv ? (sip.isIPv6(adv) ? `[${adv}]` : adv) : sip.isIPv6(target.via.host) ? `[${target.via.host}]` : target.via.host;
  const port = state.advertisedPort ?? String(target.via.port);
  return `SIP/2.0/${target.t.proto.toUpperCase()} ${host}:${port};branch=${branch}`;
}

export class TmUac {
  /** Local requests sent (tmx UAC_transactions). */
  sent = 0;

  constructor(
    private readonly tm: Tm,
    private readonly cfg: UacConfig,
  ) {}

  /** t_uac_send(method, ruri, nexthop, socket, headers, body): 1 sent, -1 error. */
  send(ctx: RouteContext, method: string, ruri: string, nexthop: string, socket: string, headers: string, body: string): number {
    const f = 't_uac_send';
    const m = method.trim().toUpperCase();
    if (!TOKEN.test(m)) {
      ctx.logger.error(`tm ${f}: invalid method ${JSON.stringify(method)}`);
      return -1;
    }
    if (m === 'INVITE' || m === 'ACK' || m === 'CANCEL') {
      ctx.logger.error(`tm ${f}: ${m} is not supported (no local dialog handling)`);
      return -1;
    }
    const lines = headers.split(/\r?\n/).map((l) => l.trim()).filter((l) => l !== '');
    const names = new Set(lines.map((l) => l.slice(0, Math.max(0, l.indexOf(':'))).trim().toLowerCase()));
    const has = (...n: string[]): boolean => n.some((x) => names.has(x));
    if (!has('from', 'f') || !has('to', 't')) {
      ctx.logger.error(`tm ${f}: the headers must include From and To`);
      return -1;
    }
    if (body !== '' && !has('content-type', 'c')) {
      ctx.logger.error(`tm ${f}: a body needs a Content-Type header`);
      return -1;
    }
    const sock = socketId(ctx, socket);
    if (sock === null) {
      ctx.logger.error(`tm ${f}: no listen socket ${JSON.stringify(socket)}`);
      return -1;
    }
    const out: string[] = [];
    for (const l of lines) {
      const name = l.slice(0, l.indexOf(':')).trim().toLowerCase();
      if (name === 'via' || name === 'v' || name === 'content-length' || name === 'l') continue;
      if ((name === 'from' || name === 'f') && !/;\s*tag=/i.test(l)) out.push(`${l};tag=${sip.generateTag()}`);
      else out.push(l);
    }
    if (!has('call-id', 'i')) out.push(`Call-ID: ${sip.generateTag()}${sip.generateTag()}@ksr`);
    if (!has('cseq')) out.push(`CSeq: 10 ${m}`);
    if (!has('max-forwards')) out.push('Max-Forwards: 70');
    if (this.cfg.userAgent && !has('user-agent')) out.push(this.cfg.userAgent);
    const bodyBuf = Buffer.from(body, 'utf8');
    let req: SipRequest;
    try {
      const text = `${m} ${ruri.trim()} SIP/2.0\r\nVia: SIP/2.0/UDP 0.0.0.0:9;branch=${sip.generateBranch()}\r\n${out.join('\r\n')}\r\nContent-Length: ${bodyBuf.length}\r\n\r\n`;
      req = parseMessage(Buffer.concat([Buffer.from(text, 'utf8'), bodyBuf])) as SipRequest;
      if (!('method' in req) || req.cseq.method !== m) throw new Error(`the CSeq method is not ${m}`);
    } catch (err) {
      ctx.logger.error(`tm ${f}: cannot build the request: ${errText(err)}`);
      return -1;
    }
    const state = new MessageState();
    if (nexthop.trim() !== '') state.dstUri = nexthop.trim();
    if (sock !== undefined) state.sendSocketId = sock;
    // tm:local-request: the script may still change $ru, $du, the send socket, headers
    const fn = this.cfg.eventCallback;
    const runner = this.tm.routeRunner;
    if (fn !== '' && runner && (!runner.hasFunction || runner.hasFunction(fn))) {
      const ectx = new RouteContext(req, ctx.info, ctx.services, 'event', fn, state);
      try {
        runner.run(ectx, fn, ['tm:local-request']);
      } catch (err) {
        ctx.logger.error(`tm ${f}: ${fn}("tm:local-request") failed: ${errText(err)}`);
      }
      if (ectx.dropRequested) {
        ctx.logger.info(`tm ${f}: the local request was dropped by ${fn}`);
        return -1;
      }
      req = ectx.msg as SipRequest;
    }
    const b: Branch = { uri: req.newRequestUri ?? req.uri, q: -1, flags: 0, ...(state.dstUri ? { dstUri: state.dstUri } : {}), ...(state.sendSocketId !== undefined ? { socketId: state.sendSocketId } : {}) };
    if (!this.sendStateful(ctx, req, b, state, f)) return -1;
    this.sent++;
    return 1;
  }

  /** t_replicate(uri): a copy of the request to uri ("" = $du, else the R-URI); replies absorbed. 1 / -1. */
  replicate(ctx: RouteContext, uri: string): number {
    const f = 't_replicate';
    const req = ctx.request;
    if (!req || req.method === 'ACK' || req.method === 'CANCEL') {
      ctx.logger.error(`tm ${f}: only for requests other than ACK and CANCEL`);
      return -1;
    }
    let copy: SipRequest;
    try {
      copy = parseMessage(req.serialize()) as SipRequest;
    } catch (err) {
      ctx.logger.error(`tm ${f}: cannot copy the request: ${errText(err)}`);
      return -1;
    }
    const ruri = req.newRequestUri ?? req.uri;
    const st = ctx.state;
    const dst = uri.trim() !== '' ? uri.trim() : st.dstUri;
    const b: Branch = { uri: ruri, q: -1, flags: 0, ...(dst ? { dstUri: dst } : {}), ...(st.sendSocketId !== undefined ? { socketId: st.sendSocketId } : {}) };
    return this.sendStateful(ctx, copy, b, st, f, true) ? 1 : -1;
  }

  private sendStateful(ctx: RouteContext, req: SipRequest, b: Branch, state: MessageState, fname: string, addVia = false): boolean {
    const layer = this.tm.useServices(ctx.services);
    const target = this.tm.resolveTarget(ctx, b, fname);
    if (!target) return false;
    let out: SipRequest;
    try {
      const via = viaFor(state, target, sip.generateBranch());
      if (addVia) req.addVia(via);
      else req.replaceHeader('Via', via);
      out = parseMessage(req.serialize({ stream: target.t.proto !== 'udp' })) as SipRequest;
    } catch (err) {
      ctx.logger.error(`tm ${fname}: cannot build the request: ${errText(err)}`);
      return false;
    }
    try {
      layer.createClient(out, target.t, absorbing(ctx, fname), { fr: this.tm.cfg.frTimer });
    } catch (err) {
      ctx.logger.error(`tm ${fname}: cannot send: ${errText(err)}`);
      return false;
    }
    return true;
  }
}
