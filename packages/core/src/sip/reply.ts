/**
 * Locally generated responses (RFC 3261 §8.2.6) and reason phrases.
 */
import { CTL, hasBareControl, isToken } from './chars.js';
import { quote } from './errors.js';
import { generateTag } from './ids.js';
import type { SipRequest, SipResponse } from './message.js';
import { parseMessage } from './parser.js';

const PHRASES: Readonly<Record<number, string>> = {
  100: 'Trying',
  180: 'Ringing',
  181: 'Call Is Being Forwarded',
  182: 'Queued',
  183: 'Session Progress',
  199: 'Early Dialog Terminated',
  200: 'OK',
  202: 'Accepted',
  204: 'No Notification',
  300: 'Multiple Choices',
  301: 'Moved Permanently',
  302: 'Moved Temporarily',
  305: 'Use Proxy',
  380: 'Alternative Service',
  400: 'Bad Request',
  401: 'Unauthorized',
  402: 'Payment Required',
  403: 'Forbidden',
  404: 'Not Found',
  405: 'Method Not Allowed',
  406: 'Not Acceptable',
  407: 'Proxy Authentication Required',
  408: 'Request Timeout',
  410: 'Gone',
  412: 'Conditional Request Failed',
  413: 'Request Entity Too Large',
  414: 'Request-URI Too Long',
  415: 'Unsupported Media Type',
  416: 'Unsupported URI Scheme',
  417: 'Unknown Resource-Priority',
  420: 'Bad Extension',
  421: 'Extension Required',
  422: 'Session Interval Too Small',
  423: 'Interval Too Brief',
  424: 'Bad Location Information',
  428: 'Use Identity Header',
  429: 'Provide Referrer Identity',
  430: 'Flow Failed',
  433: 'Anonymity Disallowed',
  436: 'Bad Identity-Info',
  437: 'Unsupported Certificate',
  438: 'Invalid Identity Header',
  439: 'First Hop Lacks Outbound Support',
  440: 'Max-Breadth Exceeded',
  469: 'Bad Info Package',
  470: 'Consent Needed',
  480: 'Temporarily Unavailable',
  481: 'Call/Transaction Does Not Exist',
  482: 'Loop Detected',
  483: 'Too Many Hops',
  484: 'Address Incomplete',
  485: 'Ambiguous',
  486: 'Busy Here',
  487: 'Request Terminated',
  488: 'Not Acceptable Here',
  489: 'Bad Event',
  491: 'Request Pending',
  493: 'Undecipherable',
  494: 'Security Agreement Required',
  500: 'Server Internal Error',
  501: 'Not Implemented',
  502: 'Bad Gateway',
  503: 'Service Unavailable',
  504: 'Server Time-out',
  505: 'Version Not Supported',
  513: 'Message Too Large',
  555: 'Push Notification Service Not Supported',
  580: 'Precondition Failure',
  600: 'Busy Everywhere',
  603: 'Decline',
  604: 'Does Not Exist Anywhere',
  606: 'Not Acceptable',
  607: 'Unwanted',
  608: 'Rejected',
};

/** Standard reason phrase for a status code; 'Unknown' when there is none. */
export function reasonPhrase(status: number): string {
  return PHRASES[status] ?? 'Unknown';
}

export interface ReplyOptions {
  /** To tag to add when the request's To has none (status > 100); default generateTag(). */
  toTag?: string;
  /** Extra headers, written after CSeq in this order. */
  headers?: Array<[string, string]>;
  body?: Buffer | string;
  contentType?: string;
}

function noCrLf(what: string, v: string): void {
  if (hasBareControl(v)) throw new TypeError(`${what} contains CR, LF or another control character: ${quote(v)}`);
}

/**
 * Build a response to `req` (RFC 3261 §8.2.6): status line, all Via values
 * (as received, with setTopViaParam/replaceHeader edits of the received Vias;
 * Vias added by addVia are not copied), From, To (+ tag when missing and
 * status > 100), Call-ID, CSeq, opts.headers, Content-Type (when given),
 * Content-Length (always), body. Throws RangeError/TypeError on bad arguments.
 */
export function buildReply(
  req: SipRequest,
  status: number,
  reason?: string,
  opts?: ReplyOptions,
): SipResponse {
  const buf = buildReplyBytes(req, status, reason, opts);
  return parseMessage(buf, { limits: { maxMessageSize: Math.max(buf.length, 65535) } }) as SipResponse;
}

/**
 * The bytes `buildReply` would parse: for a reply that is only sent (a stateless reply), this skips
 * parsing the message just built. Same checks and errors as `buildReply`.
 */
export function buildReplyBytes(
  req: SipRequest,
  status: number,
  reason?: string,
  opts?: ReplyOptions,
): Buffer {
  if (!Number.isInteger(status) || status < 100 || status > 699) {
    throw new RangeError(`status must be an integer in 100..699, got ${status}`);
  }
  const phrase = reason ?? reasonPhrase(status);
  if (CTL.test(phrase)) throw new TypeError(`reason contains a control character: ${quote(phrase)}`);
  let head = `SIP/2.0 ${status} ${phrase}\r\n`;
  for (const v of req.replyViaValues()) head += `Via: ${v}\r\n`;
  head += `From: ${req.header('from') ?? ''}\r\n`;
  let to = req.header('to') ?? '';
  if (status > 100 && req.to.tag === undefined) {
    const tag = opts?.toTag ?? generateTag();
    if (!isToken(tag)) throw new TypeError(`invalid To tag ${quote(tag)}`);
    to += `;tag=${tag}`;
  }
  head += `To: ${to}\r\n`;
  head += `Call-ID: ${req.callId}\r\n`;
  head += `CSeq: ${req.header('cseq') ?? `${req.cseq.seq} ${req.cseq.method}`}\r\n`;
  for (const [name, value] of opts?.headers ?? []) {
    if (!isToken(name)) throw new TypeError(`invalid header name ${quote(name)}`);
    noCrLf(`header ${name}`, value);
    head += `${name}: ${value}\r\n`;
  }
  const body =
    opts?.body === undefined ? Buffer.alloc(0) : typeof opts.body === 'string' ? Buffer.from(opts.body, 'utf8') : opts.body;
  if (opts?.contentType !== undefined) {
    noCrLf('contentType', opts.contentType);
    head += `Content-Type: ${opts.contentType}\r\n`;
  }
  head += `Content-Length: ${body.length}\r\n\r\n`;
  return body.length > 0 ? Buffer.concat([Buffer.from(head, 'utf8'), body]) : Buffer.from(head, 'utf8');
}
