/**
 * sl: stateless replies (Kamailio's sl module). KSR.sl.sl_send_reply / send_reply /
 * send_reply_mode answer the current request without a transaction; sl_reply_error answers with
 * the last error a module recorded; sl_forward_reply forwards the current reply statelessly,
 * optionally with a new code of the same class.
 *
 * The To-tag of a reply is derived from the request (Call-ID, From-tag, top Via branch) and a
 * secret of this server, so every retransmission of a request is answered with the same tag, and
 * the tag carries a signature by which ACKs to sl's replies are recognised (api.isOwnAck /
 * api.filterAck). A request that already has a To-tag keeps it.
 *
 * Statistics (group "sl"): 1xx_replies, 200_replies, 202_replies, 2xx_replies, 300_replies,
 * 301_replies, 302_replies, 3xx_replies, 400_replies, 401_replies, 403_replies, 404_replies,
 * 407_replies, 408_replies, 483_replies, 4xx_replies, 500_replies, 5xx_replies, 6xx_replies,
 * xxx_replies, sent_replies, sent_err_replies, failures, received_ACKs. A code with its own
 * counter (200, 404, …) counts there and not in its class counter (2xx_replies counts the other
 * 2xx codes); every reply counts in sent_replies.
 *
 * See README.md for the differences from Kamailio.
 */
import { createHash } from 'node:crypto';
import {
  defineModule,
  forwardReply,
  parseMessage,
  sip,
  type Counter,
  type KemiExportDef,
  type Logger,
  type ModuleContext,
  type RouteContext,
  type SipRequest,
  type SipResponse,
} from '@ksr/core';
import type { SlApi, SlReplyExtra, SlTmHook } from './api.js';
import { slRpc } from './rpc.js';

export type { SlApi, SlReplyExtra, SlTmHook } from './api.js';

type Def = KemiExportDef<RouteContext>;

/** Codes with a counter of their own (the rest count in their class). */
const OWN_COUNTERS = [200, 202, 300, 301, 302, 400, 401, 403, 404, 407, 408, 483, 500] as const;
const CLASS_COUNTERS = ['1xx', '2xx', '3xx', '4xx', '5xx', '6xx'] as const;

/** Control characters (HTAB allowed) — not allowed in a reason phrase or a header value. */
const CTL = /[\x00-\x08\x0a-\x1f\x7f]/;
const TOKEN = /^[A-Za-z0-9\-.!%*_+`'~]+$/;

function errText(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

/** q ×1000 → "0.5", "1", "0.125". */
function qText(q: number): string {
  return String(Math.round(q) / 1000);
}


/** FNV-1a over the string's UTF-16 code units from `seed`, then murmur3's final mix. */
function hash32(s: string, seed: number): number {
  let h = (seed ^ 0x811c9dc5) >>> 0;
  for (let i = 0; i < s.length; i++) {
    h ^= s.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

function hex32(n: number): string {
  return n.toString(16).padStart(8, '0');
}

class Sl implements SlApi {
  private readonly secret: Buffer;
  private readonly seedA: number;
  private readonly seedB: number;
  /** Hex prefix of every To-tag sl makes: the signature ACKs are recognised by. */
  readonly signature: string;
  private readonly counters: Map<string, Counter>;
  private readonly sent: Counter;
  private readonly sentErr: Counter;
  private readonly failures: Counter;
  private readonly acks: Counter;

  constructor(
    private readonly mctx: ModuleContext,
    private readonly log: Logger,
    readonly defaultCode: number,
    readonly defaultReason: string,
  ) {
    // Derived from the listen sockets and aliases rather than random: the same for every worker
    // and across restarts (as Kamailio's signature), so a retransmission or an ACK that reaches
    // another worker or a restarted server still matches.
    const cfg = mctx.config;
    this.secret = createHash('sha256')
      .update('ksr-sl-totag\0')
      .update(JSON.stringify({ listen: cfg.listen ?? [], aliases: cfg.aliases ?? [] }))
      .digest();
    this.signature = this.secret.subarray(0, 4).toString('hex');
    this.seedA = this.secret.readUInt32BE(4);
    this.seedB = this.secret.readUInt32BE(8);
    const stat = (name: string): Counter => mctx.stats.counter('sl', name);
    this.counters = new Map();
    for (const c of OWN_COUNTERS) this.counters.set(String(c), stat(`${c}_replies`));
    for (const c of CLASS_COUNTERS) this.counters.set(c, stat(`${c}_replies`));
    this.counters.set('xxx', stat('xxx_replies'));
    this.sent = stat('sent_replies');
    this.sentErr = stat('sent_err_replies');
    this.failures = stat('failures');
    this.acks = stat('received_ACKs');
  }

  toTag(req: SipRequest): string {
    const top = req.via[0];
    // RFC 3261 branch: it names the transaction. Otherwise (RFC 2543) the CSeq number and the
    // top Via as received (an ACK repeats the INVITE's top Via and CSeq number).
    const key =
      top?.branch?.startsWith(sip.MAGIC_COOKIE) === true
        ? `${req.callId}\0${req.from.tag ?? ''}\0b\0${top.branch}`
        : `${req.callId}\0${req.from.tag ?? ''}\0v\0${req.cseq.seq}\0${top?.raw ?? ''}`;
    // A tag only has to be the same for a request and its retransmissions and differ between
    // transactions: a seeded 64-bit non-cryptographic hash does that at a fraction of an HMAC's
    // cost (this runs for every stateless reply).
    return `${this.signature}-${hex32(hash32(key, this.seedA))}${hex32(hash32(key, this.seedB))}`;
  }

  isOwnAck(req: SipRequest): boolean {
    if (req.method !== 'ACK') return false;
    const tag = req.to.tag;
    return tag !== undefined && tag.length > this.signature.length && tag.startsWith(`${this.signature}-`);
  }

  filterAck(ctx: RouteContext): boolean {
    const req = ctx.request;
    if (!req || !this.isOwnAck(req)) return false;
    this.acks.inc();
    return true;
  }

  private count(code: number): void {
    this.sent.inc();
    const own = this.counters.get(String(code));
    if (own) return own.inc();
    const cls = code >= 100 && code < 700 ? `${Math.floor(code / 100)}xx` : 'xxx';
    (this.counters.get(cls) ?? this.counters.get('xxx')!).inc();
  }

  /** The destination set as Contact headers of a 3xx: the R-URI when it was changed, then the branches. */
  private redirectContacts(ctx: RouteContext, req: SipRequest): Array<[string, string]> {
    const out: Array<[string, string]> = [];
    if (req.newRequestUri !== undefined) out.push(['Contact', `<${req.newRequestUri}>`]);
    for (const b of ctx.state.branches) {
      out.push(['Contact', `<${b.uri}>${b.q >= 0 ? `;q=${qText(b.q)}` : ''}`]);
    }
    return out;
  }

  reply(ctx: RouteContext, code: number, reason: string, extra?: SlReplyExtra, fname = 'sl.reply'): number {
    const req = ctx.request;
    if (!req) {
      this.log.error(`KSR.${fname}: the message is a reply; there is no request to reply to`);
      this.failures.inc();
      return -1;
    }
    if (req.method === 'ACK') {
      this.log.debug(`KSR.${fname}: an ACK is never replied to`);
      return -1;
    }
    if (!Number.isInteger(code) || code < 100 || code > 699) {
      this.log.error(`KSR.${fname}: invalid reply code ${code} (100..699)`);
      this.failures.inc();
      return -1;
    }
    if (CTL.test(reason)) {
      this.log.error(`KSR.${fname}: the reason phrase contains control characters: ${JSON.stringify(reason)}`);
      this.failures.inc();
      return -1;
    }
    const headers = [...(code >= 300 && code < 400 ? this.redirectContacts(ctx, req) : []), ...(extra?.headers ?? [])];
    for (const [name, value] of headers) {
      if (!TOKEN.test(name) || CTL.test(value)) {
        this.log.error(`KSR.${fname}: invalid reply header ${JSON.stringify(`${name}: ${value}`)}`);
        this.failures.inc();
        return -1;
      }
    }
    const opts: { headers?: Array<[string, string]>; body?: string | Buffer; contentType?: string; toTag: string } = {
      toTag: this.toTag(req),
    };
    if (headers.length > 0) opts.headers = headers;
    if (extra?.body !== undefined) opts.body = extra.body;
    if (extra?.contentType !== undefined) opts.contentType = extra.contentType;
    ctx.replied = true;
    this.count(code);
    const fail = (err?: unknown): void => {
      this.failures.inc();
      this.log.warn({ callId: req.callId, ...(err ? { err } : {}) }, `KSR.${fname}: sending ${code} ${reason} failed${err ? `: ${errText(err)}` : ''}`);
    };
    try {
      ctx.services.reply(ctx, code, reason, opts).then((ok) => {
        if (!ok) fail();
      }, fail);
    } catch (err) {
      fail(err);
    }
    return 1;
  }

  /** send_reply & co: statefully when tm is loaded and the request has a transaction. */
  replyMaybeStateful(ctx: RouteContext, code: number, reason: string, fname: string): number {
    const tm = this.tmHook();
    if (tm?.replyInTransaction) {
      const r = tm.replyInTransaction(ctx, code, reason);
      if (r !== undefined) return r;
    }
    return this.reply(ctx, code, reason, undefined, fname);
  }

  private tmHook(): SlTmHook | undefined {
    return this.mctx.api<SlTmHook | undefined>('tm');
  }

  /** The reply for sl_reply_error: the recorded last error, else default_code/default_reason. */
  errorReply(ctx: RouteContext): { code: number; reason: string } {
    return ctx.state.lastError ?? { code: this.defaultCode, reason: this.defaultReason };
  }

  replyError(ctx: RouteContext, stateful: boolean, fname: string): number {
    const { code, reason } = this.errorReply(ctx);
    const r = stateful ? this.replyMaybeStateful(ctx, code, reason, fname) : this.reply(ctx, code, reason, undefined, fname);
    if (r > 0) this.sentErr.inc();
    return r;
  }

  /** sl_forward_reply: forward the current reply, with a new code (same class) and/or reason. */
  forwardReply(ctx: RouteContext, codeText: string, reasonText: string): number {
    const res = ctx.response;
    if (!res) {
      this.log.error('KSR.sl.sl_forward_reply: the message is a request; it forwards replies only');
      return -1;
    }
    let code = res.status;
    const c = codeText.trim();
    if (c !== '') {
      if (!/^[1-6]\d\d$/.test(c)) {
        this.log.error(`KSR.sl.sl_forward_reply: invalid code ${JSON.stringify(codeText)}`);
        return -1;
      }
      code = Number(c);
      if (Math.floor(code / 100) !== Math.floor(res.status / 100)) {
        this.log.error(`KSR.sl.sl_forward_reply: ${code} is not of the class of the reply's ${res.status}`);
        return -1;
      }
    }
    if (CTL.test(reasonText)) {
      this.log.error(`KSR.sl.sl_forward_reply: the reason phrase contains control characters: ${JSON.stringify(reasonText)}`);
      return -1;
    }
    if (code === res.status && reasonText === '') return forwardReply(ctx, res);
    const reason = reasonText !== '' ? reasonText : code === res.status ? res.reason : sip.reasonPhrase(code);
    let changed: SipResponse;
    try {
      const bytes = res.serialize();
      const eol = bytes.indexOf('\n');
      const line = Buffer.from(`SIP/2.0 ${code} ${reason}\r\n`, 'utf8');
      const buf = Buffer.concat([line, bytes.subarray(eol + 1)]);
      changed = parseMessage(buf, { limits: { maxMessageSize: Math.max(buf.length, 65535) } }) as SipResponse;
    } catch (err) {
      this.log.error(`KSR.sl.sl_forward_reply: cannot rewrite the status line: ${errText(err)}`);
      return -1;
    }
    return forwardReply(ctx, changed);
  }
}

export const slModule = defineModule({
  name: 'sl',
  params: {
    default_code: { type: 'int', check: (v) => (Number(v) >= 100 && Number(v) <= 699 ? undefined : 'must be a reply code 100..699') },
    default_reason: { type: 'str', check: (v) => (CTL.test(String(v)) ? 'must not contain control characters' : undefined) },
    bind_tm: { type: 'int' },
    rich_redirect: { type: 'int' },
    event_callback_fl_ack: { type: 'str' },
    event_callback_lres_sent: { type: 'str' },
  },
  optionalDependencies: ['tm'],
  create(ctx) {
    const p = ctx.params;
    const sl = new Sl(ctx, ctx.logger, p.int('default_code', 500), p.str('default_reason', 'Internal Server Error'));
    const bindTm = p.int('bind_tm', 1) !== 0;
    if (p.int('rich_redirect', 0) !== 0) ctx.logger.warn('modparam sl rich_redirect: not supported yet; 3xx replies carry plain Contacts');
    for (const ev of ['event_callback_fl_ack', 'event_callback_lres_sent']) {
      if (p.has(ev)) ctx.logger.warn(`modparam sl ${ev}: sl event routes are not supported yet; ignored`);
    }
    const stateful = (c: RouteContext, code: number, reason: string, fname: string): number =>
      bindTm ? sl.replyMaybeStateful(c, code, reason, fname) : sl.reply(c, code, reason, undefined, fname);
    const exports: Def[] = [
      {
        name: 'sl_send_reply',
        returns: 'int',
        params: ['int', 'str'],
        paramNames: ['code', 'reason'],
        doc: 'Send a stateless reply to the request (3xx: the destination set as Contacts). 1 sent, -1 error.',
        fn: (c: RouteContext, code: number, reason: string) => sl.reply(c, code, reason, undefined, 'sl.sl_send_reply'),
      },
      {
        name: 'send_reply',
        returns: 'int',
        params: ['int', 'str'],
        paramNames: ['code', 'reason'],
        doc: 'Send a reply: statefully when tm is loaded and the request has a transaction, else statelessly. 1 sent, -1 error.',
        fn: (c: RouteContext, code: number, reason: string) => stateful(c, code, reason, 'sl.send_reply'),
      },
      {
        name: 'send_reply_mode',
        returns: 'int',
        params: ['int', 'str', 'int'],
        paramNames: ['code', 'reason', 'mode'],
        doc: 'Like send_reply; mode flags: 1 do not open a connection to send it, 2 close the connection after it.',
        fn: (c: RouteContext, code: number, reason: string, mode: number) => {
          if (!Number.isInteger(mode) || mode < 0 || mode > 3) {
            ctx.logger.error(`KSR.sl.send_reply_mode: invalid mode ${mode} (0..3)`);
            return -1;
          }
          if (mode & 1) c.state.replyNoConnect = true;
          if (mode & 2) c.state.replyClose = true;
          return stateful(c, code, reason, 'sl.send_reply_mode');
        },
      },
      {
        name: 'sl_reply_error',
        returns: 'int',
        params: [],
        doc: 'Send a stateless reply describing the last error a module recorded (else default_code/default_reason). 1 sent, -1 error.',
        fn: (c: RouteContext) => sl.replyError(c, false, 'sl.sl_reply_error'),
      },
      {
        name: 'send_reply_error',
        returns: 'int',
        params: [],
        doc: 'Like sl_reply_error, statefully when the request has a transaction (tm).',
        fn: (c: RouteContext) => sl.replyError(c, bindTm, 'sl.send_reply_error'),
      },
      {
        name: 'sl_forward_reply',
        returns: 'int',
        params: ['str', 'str'],
        paramNames: ['code', 'reason'],
        doc: 'Forward the current reply statelessly; a code ("" keeps it) must be of the same class, a reason ("" keeps it) replaces the phrase. 1 ok, -1 error.',
        fn: (c: RouteContext, code: string, reason: string) => sl.forwardReply(c, code, reason),
      },
    ];
    const api: SlApi = {
      reply: (c, code, reason, extra) => sl.reply(c, code, reason, extra),
      toTag: (req) => sl.toTag(req),
      isOwnAck: (req) => sl.isOwnAck(req),
      filterAck: (c) => sl.filterAck(c),
    };
    // ACKs to sl's own negative replies end here, before the request route (Kamailio's sl filter)
    return { exports, api, filterRequest: (c: RouteContext) => sl.filterAck(c), rpc: slRpc(ctx.stats) };
  },
});
