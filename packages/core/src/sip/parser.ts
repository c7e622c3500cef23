/**
 * parseMessage: bytes -> SipRequest | SipResponse (RFC 3261 §7, §20, §25).
 *
 * One pass over the bytes finds lines (LF via Buffer#indexOf, CRLF or bare
 * LF), header names and trimmed value pieces as offsets; the header section is
 * then decoded once as latin1 (1:1 with bytes; values containing non-ASCII
 * bytes are re-decoded as UTF-8), and the hot headers are parsed eagerly.
 */
import { C_DIGIT, C_TOKEN, CTL, hasBareControl, hasNonAscii, is, isToken, parseDecimal, skipWs, trimWs } from './chars.js';
import { SipParseError, quote } from './errors.js';
import { canonicalHeaderName, splitTopLevel } from './headers.js';
import {
  SipRequest,
  SipResponse,
  type CSeq,
  type ContactList,
  type HeaderField,
  type MessageInit,
} from './message.js';
import { parseNameAddr, parseRouteParam, type NameAddr } from './nameaddr.js';
import { parseUri, type SipUri } from './uri.js';
import { parseVia, type Via } from './via.js';

export interface ParseLimits {
  /** Largest message (start line + headers + body) in bytes. */
  maxMessageSize: number;
  /** Largest number of header fields (lines, not comma-separated values). */
  maxHeaders: number;
  /** Largest header field (incl. its continuation lines) or start line, in bytes. */
  maxLineLength: number;
}

export const DEFAULT_LIMITS: Readonly<ParseLimits> = Object.freeze({
  maxMessageSize: 65535,
  maxHeaders: 256,
  maxLineLength: 8192,
});

export interface ParseOptions {
  limits?: Partial<ParseLimits>;
  /** Stream transport (TCP/TLS/WS): Content-Length is mandatory. */
  stream?: boolean;
}

/**
 * Parse one SIP message. Throws SipParseError — and nothing else — for any
 * malformed input.
 */
export function parseMessage(data: Buffer, opts?: ParseOptions): SipRequest | SipResponse {
  try {
    return parse(data, opts);
  } catch (err) {
    if (err instanceof SipParseError) throw err;
    // Safety net: a bug must not turn into a crash of the receive loop.
    throw new SipParseError(`internal parser error: ${err instanceof Error ? err.message : String(err)}`);
  }
}

function withCtx<T>(ctx: string, fn: () => T): T {
  try {
    return fn();
  } catch (err) {
    if (err instanceof SipParseError) throw new SipParseError(`${ctx}: ${err.reason}`);
    throw err;
  }
}

function limitNumber(v: unknown, dflt: number): number {
  return typeof v === 'number' && v > 0 ? v : dflt;
}

function parse(input: unknown, opts: ParseOptions | undefined): SipRequest | SipResponse {
  let data: Buffer;
  if (Buffer.isBuffer(input)) data = input;
  else if (input instanceof Uint8Array) data = Buffer.from(input.buffer, input.byteOffset, input.byteLength);
  else throw new SipParseError('input is not a Buffer');

  const l = opts?.limits;
  const maxSize = limitNumber(l?.maxMessageSize, DEFAULT_LIMITS.maxMessageSize);
  const maxHeaders = limitNumber(l?.maxHeaders, DEFAULT_LIMITS.maxHeaders);
  const maxLine = limitNumber(l?.maxLineLength, DEFAULT_LIMITS.maxLineLength);
  const stream = opts?.stream === true;

  const total = data.length;
  // RFC 3261 §7.5: ignore CRLFs before the start line
  let base = 0;
  while (base < total && (data[base] === 13 || data[base] === 10)) base++;
  if (base >= total) throw new SipParseError('empty message');
  const limitEnd = Math.min(total, base + maxSize);
  const endErr = (what: string): SipParseError =>
    total > limitEnd
      ? new SipParseError(`message exceeds maxMessageSize (${maxSize} bytes)`)
      : new SipParseError(`truncated message: ${what}`);

  // --- start line
  let lf = data.indexOf(10, base);
  if (lf === -1 || lf >= limitEnd) {
    if (lf === -1 && total - base > maxLine) throw new SipParseError(`start line exceeds maxLineLength (${maxLine} bytes)`);
    throw endErr('start line not terminated');
  }
  const slEnd = data[lf - 1] === 13 ? lf - 1 : lf;
  if (slEnd - base > maxLine) throw new SipParseError(`start line exceeds maxLineLength (${maxLine} bytes)`);
  let nextCR = data.indexOf(13, base);
  if (nextCR !== -1 && nextCR < slEnd) throw new SipParseError('bare CR in start line');
  if (slEnd === base) throw new SipParseError('empty start line');

  // --- header lines (offsets only)
  const hS: number[] = []; // line start
  const hE: number[] = []; // end (after the last line's LF)
  const hNE: number[] = []; // name end
  const hP: number[] = []; // first piece index
  const hPN: number[] = []; // piece count
  const pS: number[] = [];
  const pE: number[] = [];
  let cur = -1;
  let pos = lf + 1;
  let headersEnd: number;
  let bodyStart: number;
  for (;;) {
    if (pos >= limitEnd) throw endErr('missing empty line after the headers');
    const b = data[pos]!;
    if (b === 10) {
      headersEnd = pos;
      bodyStart = pos + 1;
      break;
    }
    if (b === 13) {
      if (pos + 1 >= limitEnd) throw endErr('missing empty line after the headers');
      if (data[pos + 1] === 10) {
        headersEnd = pos;
        bodyStart = pos + 2;
        break;
      }
      throw new SipParseError('bare CR in header section');
    }
    lf = data.indexOf(10, pos);
    if (lf === -1 || lf >= limitEnd) {
      if (lf === -1 && total - pos > maxLine) throw new SipParseError(`header line exceeds maxLineLength (${maxLine} bytes)`);
      throw endErr('header line not terminated');
    }
    const ce = data[lf - 1] === 13 ? lf - 1 : lf;
    if (nextCR !== -1 && nextCR < pos) nextCR = data.indexOf(13, pos);
    if (nextCR !== -1 && nextCR < ce) throw new SipParseError('bare CR in header line');
    let vs: number;
    if (b === 32 || b === 9) {
      // continuation line (folding)
      if (cur < 0) throw new SipParseError('continuation line before the first header');
      if (ce - hS[cur]! > maxLine) throw new SipParseError(`header line exceeds maxLineLength (${maxLine} bytes)`);
      hE[cur] = lf + 1;
      vs = pos;
    } else {
      if (hS.length >= maxHeaders) throw new SipParseError(`too many header fields (maxHeaders ${maxHeaders})`);
      if (ce - pos > maxLine) throw new SipParseError(`header line exceeds maxLineLength (${maxLine} bytes)`);
      let i = pos;
      while (i < ce && is(data[i]!, C_TOKEN)) i++;
      if (i === pos) throw new SipParseError(`invalid header name in line ${quote(data.toString('latin1', pos, Math.min(ce, pos + 40)))}`);
      const ne = i;
      while (i < ce && (data[i] === 32 || data[i] === 9)) i++;
      if (i >= ce || data[i] !== 58) {
        throw new SipParseError(
          i >= ce
            ? `header line without colon: ${quote(data.toString('latin1', pos, Math.min(ce, pos + 40)))}`
            : `invalid header name in line ${quote(data.toString('latin1', pos, Math.min(ce, pos + 40)))}`,
        );
      }
      cur = hS.length;
      hS.push(pos);
      hE.push(lf + 1);
      hNE.push(ne);
      hP.push(pS.length);
      hPN.push(0);
      vs = i + 1;
    }
    // trimmed value piece
    let ve = ce;
    while (vs < ve && (data[vs] === 32 || data[vs] === 9)) vs++;
    while (ve > vs && (data[ve - 1] === 32 || data[ve - 1] === 9)) ve--;
    if (ve > vs) {
      pS.push(vs);
      pE.push(ve);
      hPN[cur]!++;
    }
    pos = lf + 1;
  }

  // --- decode once
  const text = data.toString('latin1', base, headersEnd);
  const anyHigh = hasNonAscii(text);
  // RFC 3261 §25.1: no control characters except HTAB (and inside a quoted-pair, which
  // intmeth uses). A native regex screens the whole section; the precise check runs only on a hit.
  const anyCtl = CTL.test(text);
  if (anyCtl && CTL.test(text.slice(0, slEnd - base))) throw new SipParseError('control character in start line');
  const headers: HeaderField[] = new Array(hS.length);
  const spans: number[] = new Array(hS.length * 2);
  for (let h = 0; h < hS.length; h++) {
    const name = text.slice(hS[h]! - base, hNE[h]! - base);
    const p0 = hP[h]!;
    const pn = hPN[h]!;
    let value: string;
    if (pn === 0) value = '';
    else if (pn === 1) value = text.slice(pS[p0]! - base, pE[p0]! - base);
    else {
      value = text.slice(pS[p0]! - base, pE[p0]! - base);
      for (let k = 1; k < pn; k++) value += ` ${text.slice(pS[p0 + k]! - base, pE[p0 + k]! - base)}`;
    }
    if (anyHigh && hasNonAscii(value)) {
      value = data.toString('utf8', pS[p0]!, pE[p0]!);
      for (let k = 1; k < pn; k++) value += ` ${data.toString('utf8', pS[p0 + k]!, pE[p0 + k]!)}`;
    }
    if (anyCtl && hasBareControl(value)) throw new SipParseError(`control character in header ${quote(name)}`);
    headers[h] = { name, key: canonicalHeaderName(name), value };
    spans[2 * h] = hS[h]! - base;
    spans[2 * h + 1] = hE[h]! - base;
  }

  // --- hot headers
  const via: Via[] = [];
  let from: NameAddr | undefined;
  let fromRaw = '';
  let to: NameAddr | undefined;
  let toRaw = '';
  let callId: string | undefined;
  let cseq: CSeq | undefined;
  let cseqRaw = '';
  let maxForwards: number | undefined;
  let contentLength: number | undefined;
  const contact: ContactList = { star: false, contacts: [] };
  const route: NameAddr[] = [];
  const recordRoute: NameAddr[] = [];
  for (let h = 0; h < headers.length; h++) {
    const hf = headers[h]!;
    const v = hf.value;
    switch (hf.key) {
      case 'via':
        for (const x of withCtx('invalid Via header', () => parseVia(v))) via.push(x);
        break;
      case 'from':
        if (from) {
          if (v !== fromRaw) throw new SipParseError('conflicting duplicate From headers');
        } else {
          from = withCtx('invalid From header', () => parseNameAddr(v));
          fromRaw = v;
        }
        break;
      case 'to':
        if (to) {
          if (v !== toRaw) throw new SipParseError('conflicting duplicate To headers');
        } else {
          to = withCtx('invalid To header', () => parseNameAddr(v));
          toRaw = v;
        }
        break;
      case 'call-id':
        if (callId !== undefined) {
          if (v !== callId) throw new SipParseError('conflicting duplicate Call-ID headers');
        } else {
          checkCallId(v);
          callId = v;
        }
        break;
      case 'cseq':
        if (cseq) {
          if (v !== cseqRaw) throw new SipParseError('conflicting duplicate CSeq headers');
        } else {
          cseq = parseCSeq(v);
          cseqRaw = v;
        }
        break;
      case 'max-forwards': {
        const n = parseDecimal(v, 0, v.length, 255);
        if (n < 0) throw new SipParseError(`invalid Max-Forwards ${quote(v)}: expected 0..255`);
        if (maxForwards !== undefined && n !== maxForwards) throw new SipParseError('conflicting duplicate Max-Forwards headers');
        maxForwards = n;
        break;
      }
      case 'content-length': {
        const n = parseDecimal(v, 0, v.length, 0xffffffff);
        if (n < 0) throw new SipParseError(`invalid Content-Length ${quote(v)}`);
        if (contentLength !== undefined && n !== contentLength) throw new SipParseError('conflicting duplicate Content-Length headers');
        contentLength = n;
        break;
      }
      case 'contact':
        if (v === '*') {
          contact.star = true;
          break;
        }
        withCtx('invalid Contact header', () => parseAddrList(v, contact.contacts));
        break;
      case 'route':
        withCtx('invalid Route header', () => parseAddrList(v, route, true));
        break;
      case 'record-route':
        withCtx('invalid Record-Route header', () => parseAddrList(v, recordRoute, true));
        break;
      default:
        break;
    }
  }
  if (contact.star && contact.contacts.length > 0) throw new SipParseError("Contact '*' mixed with addresses");
  if (via.length === 0) throw new SipParseError('missing required header Via');
  if (!from) throw new SipParseError('missing required header From');
  if (!to) throw new SipParseError('missing required header To');
  if (callId === undefined) throw new SipParseError('missing required header Call-ID');
  if (!cseq) throw new SipParseError('missing required header CSeq');

  // --- framing
  let end: number;
  if (contentLength !== undefined) {
    end = bodyStart + contentLength;
    if (end > total) {
      throw new SipParseError(`Content-Length ${contentLength} larger than the ${total - bodyStart} body bytes present`);
    }
  } else {
    if (stream) throw new SipParseError('missing Content-Length (mandatory on stream transports)');
    end = total;
  }
  if (end - base > maxSize) throw new SipParseError(`message exceeds maxMessageSize (${maxSize} bytes)`);

  const raw = data.subarray(base, end);
  const init: MessageInit = {
    raw,
    headers,
    spans,
    startLineEnd: spans.length > 0 ? spans[0]! : headersEnd - base,
    headersEnd: headersEnd - base,
    bodyStart: bodyStart - base,
    via,
    from,
    to,
    callId,
    cseq,
    maxForwards,
    contentLength,
    contact,
    route,
    recordRoute,
  };

  // --- start line
  const line = text.slice(0, slEnd - base);
  if (line.length >= 4 && line.slice(0, 4).toUpperCase() === 'SIP/') {
    const sp1 = line.indexOf(' ');
    const version = sp1 === -1 ? line : line.slice(0, sp1);
    if (version.toUpperCase() !== 'SIP/2.0') throw new SipParseError(`unsupported SIP version ${quote(version)}`);
    const codeEnd = sp1 + 4;
    if (line.length < codeEnd || (line.length > codeEnd && line.charCodeAt(codeEnd) !== 32)) {
      throw new SipParseError(`invalid status line ${quote(line)}`);
    }
    for (let i = sp1 + 1; i < codeEnd; i++) {
      if (!is(line.charCodeAt(i), C_DIGIT)) throw new SipParseError(`invalid status code in ${quote(line)}`);
    }
    const status = parseDecimal(line, sp1 + 1, codeEnd, 999);
    if (status < 100 || status > 699) throw new SipParseError(`status code ${status} out of range 100..699`);
    let reason = line.length > codeEnd ? line.slice(codeEnd + 1) : '';
    if (hasNonAscii(reason)) reason = data.toString('utf8', base + codeEnd + 1, slEnd);
    return new SipResponse(init, { status, reason, version });
  }

  const sp1 = line.indexOf(' ');
  const sp2 = line.lastIndexOf(' ');
  if (sp1 <= 0 || sp2 === sp1) throw new SipParseError(`malformed request line ${quote(line)}`);
  const method = line.slice(0, sp1);
  if (!isToken(method)) throw new SipParseError(`invalid method ${quote(method)}`);
  const version = line.slice(sp2 + 1);
  if (version.length === 0) throw new SipParseError(`malformed request line (trailing whitespace) ${quote(line)}`);
  if (version.toUpperCase() !== 'SIP/2.0') throw new SipParseError(`unsupported SIP version ${quote(version)}`);
  const uri = line.slice(sp1 + 1, sp2);
  if (uri.length === 0 || uri.indexOf(' ') !== -1 || uri.indexOf('\t') !== -1) {
    throw new SipParseError(`whitespace in Request-URI or between request line elements: ${quote(line)}`);
  }
  const ruri: SipUri = withCtx('invalid Request-URI', () => parseUri(uri));
  if (ruri.headers.size > 0) throw new SipParseError(`Request-URI must not contain headers: ${quote(uri)}`);
  return new SipRequest(init, { method, uri, ruri, version, uriStart: sp1 + 1, uriEnd: sp2 });
}

function checkCallId(v: string): void {
  if (v.length === 0) throw new SipParseError('empty Call-ID');
  for (let i = 0; i < v.length; i++) {
    const c = v.charCodeAt(i);
    if (c <= 32 || c === 127) throw new SipParseError(`invalid Call-ID ${quote(v)}`);
  }
}

/** CSeq = 1*DIGIT LWS Method; seq <= 2^32-1. */
export function parseCSeq(v: string): CSeq {
  let i = 0;
  while (i < v.length && is(v.charCodeAt(i), C_DIGIT)) i++;
  const seq = parseDecimal(v, 0, i, 0xffffffff);
  if (seq === -2) throw new SipParseError(`CSeq number out of range (max 4294967295): ${quote(v)}`);
  if (seq < 0) throw new SipParseError(`invalid CSeq ${quote(v)}`);
  const ms = skipWs(v, i);
  if (ms === i) throw new SipParseError(`invalid CSeq ${quote(v)}: expected number SP method`);
  const method = v.slice(ms);
  if (!isToken(method)) throw new SipParseError(`invalid CSeq method ${quote(method)}`);
  return { seq, method };
}

function parseAddrList(v: string, out: NameAddr[], route = false): void {
  if (v.length === 0) return; // an empty list header contributes nothing
  for (const part of splitTopLevel(v)) {
    if (part.length === 0) throw new SipParseError(`empty element in ${quote(v)}`);
    out.push(route ? parseRouteParam(trimWs(part)) : parseNameAddr(trimWs(part)));
  }
}
