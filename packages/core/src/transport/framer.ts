/**
 * StreamFramer: cuts a SIP byte stream (TCP) into whole messages.
 *
 * It knows just enough SIP to find message boundaries (RFC 3261 §7.5, §18.3):
 * the header section ends at the first empty line (CRLF CRLF, a bare LF LF is
 * accepted too) and the body is exactly Content-Length bytes long. On a stream
 * Content-Length is mandatory. Between messages, CR/LF bytes are skipped; the
 * exact sequence CRLF CRLF seen while idle is an RFC 5626 keep-alive ping.
 *
 * It does not import the SIP parser on purpose: this is a byte scanner, the
 * layer above parses what it emits.
 *
 * Usage: `for (const ev of framer.push(chunk)) ...`. After an `error` event the
 * framer is dead: later pushes return nothing and the connection must be closed.
 */

export type FramerEvent =
  | { type: 'message'; data: Buffer }
  | { type: 'ping' }
  | { type: 'error'; reason: string };

export interface StreamFramerOptions {
  /** Largest message (headers + body) accepted. Default 65535. */
  maxMessageSize?: number;
}

const CR = 0x0d;
const LF = 0x0a;
const SP = 0x20;
const HT = 0x09;
const COLON = 0x3a;

/** Below this capacity an emptied buffer is kept for reuse; above it is released. */
const KEEP_CAPACITY = 8192;

const NO_EVENTS: readonly FramerEvent[] = Object.freeze([]);

export class StreamFramer {
  readonly maxMessageSize: number;

  /** Bytes of the message in progress (always starts at offset 0). */
  private buf: Buffer | null = null;
  private len = 0;

  /** Between messages, how much of "\r\n\r\n" has been seen (0..3). */
  private pingState = 0;
  /** Inside a message. */
  private inMessage = false;
  /** Offset (from message start) where the search for the header end resumes. */
  private scanFrom = 0;
  /** Length of the header section including the empty line, or -1 while unknown. */
  private headerLen = -1;
  private bodyLen = 0;
  private dead = false;

  constructor(opts: StreamFramerOptions = {}) {
    const max = opts.maxMessageSize ?? 65535;
    if (!Number.isInteger(max) || max <= 0) throw new RangeError(`maxMessageSize must be a positive integer, got ${max}`);
    this.maxMessageSize = max;
  }

  /** Bytes held for a message not yet complete. */
  get buffered(): number {
    return this.len;
  }

  /** True after a framing error. */
  get failed(): boolean {
    return this.dead;
  }

  /** True while part of a message has been received (useful to log a truncated stream at close). */
  get midMessage(): boolean {
    return this.inMessage;
  }

  push(chunk: Buffer): readonly FramerEvent[] {
    if (this.dead || chunk.length === 0) return NO_EVENTS;
    let events: FramerEvent[] | null = null;

    // Fast path: nothing held, scan the chunk itself. Otherwise append and scan our buffer.
    let data: Buffer;
    let fromChunk: boolean;
    if (this.len === 0) {
      data = chunk;
      fromChunk = true;
    } else {
      this.append(chunk);
      data = (this.buf as Buffer).subarray(0, this.len);
      fromChunk = false;
    }

    let pos = 0; // start of the current message (or of the idle bytes) in `data`
    const end = data.length;

    while (pos < end) {
      if (!this.inMessage) {
        // Idle: skip CR/LF, spotting CRLFCRLF pings.
        while (pos < end) {
          const b = data[pos] as number;
          if (b !== CR && b !== LF) break;
          if (this.idleByte(b)) (events ??= []).push({ type: 'ping' });
          pos++;
        }
        if (pos >= end) break;
        this.inMessage = true;
        this.pingState = 0;
        this.scanFrom = 0;
        this.headerLen = -1;
        this.bodyLen = 0;
      }

      const avail = end - pos;

      if (this.headerLen < 0) {
        const hEnd = findHeaderEnd(data, pos + this.scanFrom, end);
        if (hEnd.end < 0) {
          if (avail >= this.maxMessageSize) {
            return this.fail(events, `header section exceeds ${this.maxMessageSize} bytes without end`);
          }
          this.scanFrom = hEnd.resume - pos;
          break;
        }
        const headerLen = hEnd.end - pos;
        const cl = contentLength(data, pos, hEnd.end);
        if (typeof cl === 'string') return this.fail(events, cl);
        if (headerLen + cl > this.maxMessageSize) {
          return this.fail(events, `message of ${headerLen + cl} bytes exceeds ${this.maxMessageSize}`);
        }
        this.headerLen = headerLen;
        this.bodyLen = cl;
      }

      const total = this.headerLen + this.bodyLen;
      if (avail < total) break;

      // Copy out: the chunk may be large and our buffer is reused.
      (events ??= []).push({ type: 'message', data: Buffer.from(data.subarray(pos, pos + total)) });
      pos += total;
      this.inMessage = false;
      this.headerLen = -1;
      this.scanFrom = 0;
    }

    // Keep the unfinished message (if any) at offset 0 of our buffer.
    const rest = this.inMessage ? end - pos : 0;
    if (rest === 0) {
      this.len = 0;
      if (this.buf && this.buf.length > KEEP_CAPACITY) this.buf = null;
    } else if (fromChunk) {
      this.len = 0;
      this.append(data.subarray(pos));
    } else if (pos > 0) {
      (this.buf as Buffer).copyWithin(0, pos, end);
      this.len = rest;
    }
    return events ?? NO_EVENTS;
  }

  /** Feed one idle CR/LF byte; true when it completes a CRLFCRLF ping. */
  private idleByte(b: number): boolean {
    // Match "\r\n\r\n": states 0 (nothing), 1 (\r), 2 (\r\n), 3 (\r\n\r).
    const expected = this.pingState === 0 || this.pingState === 2 ? CR : LF;
    if (b === expected) {
      if (this.pingState === 3) {
        this.pingState = 0;
        return true;
      }
      this.pingState++;
    } else {
      this.pingState = b === CR ? 1 : 0;
    }
    return false;
  }

  private fail(events: FramerEvent[] | null, reason: string): readonly FramerEvent[] {
    this.dead = true;
    this.buf = null;
    this.len = 0;
    this.inMessage = false;
    const out = events ?? [];
    out.push({ type: 'error', reason });
    return out;
  }

  private append(chunk: Buffer): void {
    const need = this.len + chunk.length;
    if (!this.buf || this.buf.length < need) {
      let cap = Math.max(this.buf ? this.buf.length * 2 : 1024, need);
      // No point in holding much more than one maximal message plus one read.
      cap = Math.max(need, Math.min(cap, this.maxMessageSize + 65536));
      const next = Buffer.allocUnsafe(cap);
      if (this.buf && this.len > 0) this.buf.copy(next, 0, 0, this.len);
      this.buf = next;
    }
    chunk.copy(this.buf, this.len);
    this.len = need;
  }
}

/**
 * Find the end of the header section in data[from, end): the offset just after
 * the empty line, or -1 with `resume` = where to scan from when more arrives.
 */
function findHeaderEnd(data: Buffer, from: number, end: number): { end: number; resume: number } {
  let i = from;
  for (;;) {
    const lf = data.indexOf(LF, i);
    if (lf < 0 || lf >= end) return { end: -1, resume: end };
    const n1 = lf + 1;
    if (n1 >= end) return { end: -1, resume: lf };
    const b1 = data[n1] as number;
    if (b1 === LF) return { end: n1 + 1, resume: 0 };
    if (b1 === CR) {
      const n2 = n1 + 1;
      if (n2 >= end) return { end: -1, resume: lf };
      if (data[n2] === LF) return { end: n2 + 1, resume: 0 };
    }
    i = n1;
  }
}

function isContentLengthName(data: Buffer, start: number, end: number): boolean {
  const n = end - start;
  if (n === 1) return ((data[start] as number) | 0x20) === 0x6c; // 'l'
  if (n !== 14) return false;
  const name = 'content-length';
  for (let k = 0; k < 14; k++) {
    let b = data[start + k] as number;
    if (b >= 0x41 && b <= 0x5a) b |= 0x20;
    if (b !== name.charCodeAt(k)) return false;
  }
  return true;
}

/**
 * Content-Length of the message whose header section is data[start, hEnd).
 * Returns the value, or a string describing why the stream cannot be framed.
 */
function contentLength(data: Buffer, start: number, hEnd: number): number | string {
  let value = -1;
  // Skip the start line.
  let line = data.indexOf(LF, start);
  if (line < 0 || line >= hEnd) return 'missing Content-Length';
  line++;
  while (line < hEnd) {
    let eol = data.indexOf(LF, line);
    if (eol < 0 || eol > hEnd) eol = hEnd;
    const first = data[line] as number;
    if (first === CR || first === LF) break; // the empty line
    // Header name: up to SP/HT/':'
    let p = line;
    while (p < eol) {
      const b = data[p] as number;
      if (b === COLON || b === SP || b === HT || b === CR) break;
      p++;
    }
    if (p > line && isContentLengthName(data, line, p)) {
      while (p < eol && (data[p] === SP || data[p] === HT)) p++;
      if (data[p] === COLON) {
        // Value runs to the end of the line plus any folded continuation lines.
        let vEnd = eol;
        while (vEnd + 1 < hEnd && (data[vEnd + 1] === SP || data[vEnd + 1] === HT)) {
          const next = data.indexOf(LF, vEnd + 1);
          vEnd = next < 0 || next > hEnd ? hEnd : next;
        }
        const v = parseDigits(data, p + 1, vEnd);
        if (typeof v === 'string') return v;
        if (value >= 0 && v !== value) return `conflicting Content-Length values ${value} and ${v}`;
        value = v;
        eol = vEnd;
      }
    }
    line = eol + 1;
  }
  if (value < 0) return 'missing Content-Length';
  return value;
}

/** Digits surrounded by optional linear whitespace (SP, HT, CR, LF of folding). */
function parseDigits(data: Buffer, from: number, to: number): number | string {
  let p = from;
  const isWs = (b: number): boolean => b === SP || b === HT || b === CR || b === LF;
  while (p < to && isWs(data[p] as number)) p++;
  let q = to;
  while (q > p && isWs(data[q - 1] as number)) q--;
  if (q === p) return 'empty Content-Length';
  let v = 0;
  for (let k = p; k < q; k++) {
    const b = data[k] as number;
    if (b < 0x30 || b > 0x39) {
      return `invalid Content-Length "${data.toString('latin1', p, Math.min(q, p + 20))}"`;
    }
    v = v * 10 + (b - 0x30);
    if (v > Number.MAX_SAFE_INTEGER / 10) return 'Content-Length too large';
  }
  return v;
}
