/**
 * Best-effort answer to a request the parser rejected.
 *
 * RFC 3261 §8.2 / §21.4.1: a malformed request deserves "400 Bad Request" when a reply is
 * possible at all. A reply needs the Via, From, To, Call-ID and CSeq of the request; this
 * scanner picks their raw values out of the bytes without trusting anything else, so a message
 * the strict parser refused can still be answered. When any of them is missing (or the start line
 * is not a request line, or the request is an ACK, which is never answered) it returns undefined
 * and the message is dropped.
 *
 * The reply goes to the packet's source address and port (as if `rport` were present), never to
 * the sent-by of a Via we could not parse: that keeps a spoofed Via from turning us into a
 * reflector.
 */
import { CTL, isToken } from '../sip/chars.js';

const NEEDED: Record<string, string> = {
  via: 'via',
  v: 'via',
  from: 'from',
  f: 'from',
  to: 'to',
  t: 'to',
  'call-id': 'call-id',
  i: 'call-id',
  cseq: 'cseq',
};

const OUT_NAME: Record<string, string> = {
  via: 'Via',
  from: 'From',
  to: 'To',
  'call-id': 'Call-ID',
  cseq: 'CSeq',
};

const MAX_SCAN = 65535;
const MAX_VALUE = 1024;

export function buildMalformedReply(data: Buffer, toTag: string, status = 400, reason = 'Bad Request'): Buffer | undefined {
  const text = data.subarray(0, Math.min(data.length, MAX_SCAN)).toString('latin1');
  let pos = 0;
  // skip leading CRLFs (RFC 3261 §7.5)
  while (pos < text.length && (text[pos] === '\r' || text[pos] === '\n')) pos++;
  let eol = text.indexOf('\n', pos);
  if (eol < 0) return undefined;
  const startLine = text.slice(pos, eol).replace(/\r$/, '');
  const parts = startLine.split(' ');
  if (parts.length < 3) return undefined;
  const method = parts[0]!;
  if (!isToken(method) || method.toUpperCase().startsWith('SIP/')) return undefined; // a response or garbage
  if (method === 'ACK') return undefined;

  const found = new Map<string, string[]>();
  pos = eol + 1;
  while (pos < text.length) {
    eol = text.indexOf('\n', pos);
    const line = (eol < 0 ? text.slice(pos) : text.slice(pos, eol)).replace(/\r$/, '');
    if (line === '') break;
    pos = eol < 0 ? text.length : eol + 1;
    if (line[0] === ' ' || line[0] === '\t') continue; // folded continuation: ignored in salvage mode
    const colon = line.indexOf(':');
    if (colon <= 0) continue;
    const key = NEEDED[line.slice(0, colon).trim().toLowerCase()];
    if (!key) continue;
    const value = line.slice(colon + 1).trim();
    if (value === '' || value.length > MAX_VALUE || CTL.test(value)) continue;
    const list = found.get(key) ?? [];
    list.push(value);
    found.set(key, list);
  }
  for (const k of ['via', 'from', 'to', 'call-id', 'cseq']) {
    if (!found.has(k)) return undefined;
  }
  const lines = [`SIP/2.0 ${status} ${reason}`];
  for (const v of found.get('via')!) lines.push(`Via: ${v}`);
  lines.push(`From: ${found.get('from')![0]}`);
  const to = found.get('to')![0]!;
  lines.push(`To: ${/;\s*tag\s*=/i.test(to) ? to : `${to};tag=${toTag}`}`);
  lines.push(`${OUT_NAME['call-id']}: ${found.get('call-id')![0]}`);
  lines.push(`CSeq: ${found.get('cseq')![0]}`);
  lines.push('Content-Length: 0', '', '');
  return Buffer.from(lines.join('\r\n'), 'latin1');
}
