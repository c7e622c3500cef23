/**
 * SipRequest / SipResponse: a parsed message over its original bytes, plus an
 * edit list applied only by serialize().
 *
 * Edit model ("lumps"): the original header fields are slots over byte ranges
 * of `raw`. The first edit copies the slot list into an edit list; each entry
 * is either an untouched original (its bytes are copied verbatim), an original
 * whose value was replaced (re-rendered as `Name: value\r\n`, the name as
 * written), or a new header. Deleting a header drops its entry (the whole
 * line, continuation lines included). The R-URI and the body are separate
 * replace lumps. serialize() walks the list and coalesces adjacent untouched
 * byte ranges, so an edit touches only the bytes it must.
 */
import { C_VALUE, hasBareControl, is, isToken, parseDecimal, scanQuoted, trimWs } from './chars.js';
import { SipParseError, quote } from './errors.js';
import { LIST_HEADERS, canonicalHeaderName, nextTopLevelComma, splitTopLevel } from './headers.js';
import type { NameAddr } from './nameaddr.js';
import { parseUri, type SipUri } from './uri.js';
import { parseVia, type Via } from './via.js';

export interface HeaderField {
  /** Header name as written. */
  readonly name: string;
  /** canonicalHeaderName(name). */
  readonly key: string;
  /** Unfolded, SP/HTAB-trimmed value. */
  readonly value: string;
}

export interface CSeq {
  seq: number;
  method: string;
}

export interface ContactList {
  /** `Contact: *` (REGISTER remove-all). */
  star: boolean;
  contacts: NameAddr[];
}

export interface SerializeOptions {
  /**
   * The bytes go on a stream transport: a Content-Length header is added when
   * the message has none (it is always present after setBody()).
   */
  stream?: boolean;
}

/** @internal Everything the parser hands to the message constructors. */
export interface MessageInit {
  raw: Buffer;
  headers: HeaderField[];
  /** [start, end) byte offsets in raw of each header field's lines (incl. continuation lines and line end). */
  spans: number[];
  /** Offset of the first header line (end of the start line incl. its line end). */
  startLineEnd: number;
  /** Offset of the empty line that ends the header section. */
  headersEnd: number;
  /** Offset of the first body byte. */
  bodyStart: number;
  via: Via[];
  from: NameAddr;
  to: NameAddr;
  callId: string;
  cseq: CSeq;
  maxForwards: number | undefined;
  contentLength: number | undefined;
  contact: ContactList;
  route: NameAddr[];
  recordRoute: NameAddr[];
}

interface Entry {
  /** Index into the original headers, -1 for an added header. */
  orig: number;
  name: string;
  key: string;
  value: string;
  /** Must be rendered from name/value instead of copying the original bytes. */
  dirty: boolean;
}

interface EditState {
  entries: Entry[];
  body: Buffer | undefined;
  uri: string | undefined;
}

/** token / host / quoted-string, as accepted by parseHeaderParams. */
function isParamValue(v: string): boolean {
  if (v.length === 0) return false;
  if (v.charCodeAt(0) === 34) return scanQuoted(v, 0) === v.length;
  for (let i = 0; i < v.length; i++) if (!is(v.charCodeAt(i), C_VALUE)) return false;
  return true;
}

function checkName(name: string): void {
  if (typeof name !== 'string' || !isToken(name)) throw new TypeError(`invalid header name ${quote(String(name))}`);
}

function checkValue(value: string): void {
  if (typeof value !== 'string') throw new TypeError('header value must be a string');
  if (hasBareControl(value)) throw new TypeError(`header value contains CR, LF or another control character: ${quote(value)}`);
}

/**
 * Replace or add parameter `name` in a single via-parm / element text.
 * Parameters start at the first ';' (outside quotes).
 */
function setParamInElement(elem: string, name: string, value: string | null): string {
  const lname = name.toLowerCase();
  const rendered = value === null ? name : `${name}=${value}`;
  const n = elem.length;
  let i = 0;
  // find first ';'
  while (i < n && elem.charCodeAt(i) !== 59) i++;
  while (i < n) {
    // elem[i] === ';'
    const ps = i + 1;
    let j = ps;
    let inQ = false;
    while (j < n) {
      const c = elem.charCodeAt(j);
      if (inQ) {
        if (c === 92) j++;
        else if (c === 34) inQ = false;
      } else if (c === 34) inQ = true;
      else if (c === 59) break;
      j++;
    }
    const seg = elem.slice(ps, j);
    const eq = seg.indexOf('=');
    const pn = trimWs(eq === -1 ? seg : seg.slice(0, eq)).toLowerCase();
    if (pn === lname) {
      // keep surrounding whitespace of the segment
      let a = ps;
      while (a < j && (elem.charCodeAt(a) === 32 || elem.charCodeAt(a) === 9)) a++;
      let b = j;
      while (b > a && (elem.charCodeAt(b - 1) === 32 || elem.charCodeAt(b - 1) === 9)) b--;
      return elem.slice(0, a) + rendered + elem.slice(b);
    }
    i = j;
  }
  return `${trimWs(elem)};${rendered}`;
}

export abstract class SipMessage {
  /** Exactly this message's bytes (a view of the input buffer; leading CRLFs and trailing datagram bytes excluded). */
  readonly raw: Buffer;
  /** Header fields of the original message, in order (edits are not reflected). */
  readonly headers: readonly HeaderField[];
  readonly via: Via[];
  readonly from: NameAddr;
  readonly to: NameAddr;
  readonly callId: string;
  readonly cseq: CSeq;
  readonly maxForwards: number | undefined;
  readonly contentLength: number | undefined;
  readonly contact: ContactList;
  readonly route: NameAddr[];
  readonly recordRoute: NameAddr[];
  /** Body bytes (a view of raw). */
  readonly body: Buffer;

  /** @internal */ protected readonly _spans: number[];
  /** @internal */ protected readonly _startLineEnd: number;
  /** @internal */ protected readonly _headersEnd: number;
  /** @internal */ protected readonly _bodyStart: number;
  /** @internal */ protected _edit: EditState | undefined;
  private _modified = false;
  private _lists: Map<string, string[]> | undefined;
  private _expires: number | undefined | null = null; // null: not computed yet

  /** @internal Use parseMessage() / buildReply(). */
  constructor(init: MessageInit) {
    this.raw = init.raw;
    this.headers = init.headers;
    this._spans = init.spans;
    this._startLineEnd = init.startLineEnd;
    this._headersEnd = init.headersEnd;
    this._bodyStart = init.bodyStart;
    this.via = init.via;
    this.from = init.from;
    this.to = init.to;
    this.callId = init.callId;
    this.cseq = init.cseq;
    this.maxForwards = init.maxForwards;
    this.contentLength = init.contentLength;
    this.contact = init.contact;
    this.route = init.route;
    this.recordRoute = init.recordRoute;
    this.body = init.raw.subarray(init.bodyStart);
  }

  // ---------------------------------------------------------------- lookups

  /** First value of the header (any case, compact forms resolved), original message. */
  header(name: string): string | undefined {
    const key = canonicalHeaderName(name);
    const hs = this.headers;
    for (let i = 0; i < hs.length; i++) if (hs[i]!.key === key) return hs[i]!.value;
    return undefined;
  }

  /**
   * All values of the header in order. List-syntax headers (see LIST_HEADERS)
   * are split on commas outside quotes and `<>`, empty elements dropped.
   */
  headerValues(name: string): string[] {
    const key = canonicalHeaderName(name);
    const cached = this._lists?.get(key);
    if (cached) return cached.slice();
    const out: string[] = [];
    const split = LIST_HEADERS.has(key);
    for (const h of this.headers) {
      if (h.key !== key) continue;
      if (!split) out.push(h.value);
      else for (const v of splitTopLevel(h.value)) if (v.length > 0) out.push(v);
    }
    (this._lists ??= new Map()).set(key, out);
    return out.slice();
  }

  hasHeader(name: string): boolean {
    return this.header(name) !== undefined;
  }

  /**
   * Expires header as delta-seconds (lazy). Undefined when absent; throws
   * SipParseError when not a number in 0..2^32-1.
   */
  get expires(): number | undefined {
    if (this._expires !== null) return this._expires;
    const v = this.header('expires');
    if (v === undefined) return (this._expires = undefined);
    const n = parseDecimal(v, 0, v.length, 0xffffffff);
    if (n < 0) throw new SipParseError(`invalid Expires ${quote(v)}: expected 0..4294967295`);
    return (this._expires = n);
  }

  /** Content-Type header value (lazy), undefined when absent. */
  get contentType(): string | undefined {
    return this.header('content-type');
  }

  // ------------------------------------------------------------------ edits

  /** True once any edit has been recorded. */
  get modified(): boolean {
    return this._modified;
  }

  /** @internal */
  protected edits(): EditState {
    if (this._edit) return this._edit;
    this._edit = { entries: this.originalEntries(), body: undefined, uri: undefined };
    return this._edit;
  }

  private originalEntries(): Entry[] {
    return this.headers.map((h, i) => ({ orig: i, name: h.name, key: h.key, value: h.value, dirty: false }));
  }

  /** @internal */
  protected touch(): void {
    this._modified = true;
  }

  private newEntry(name: string, value: string): Entry {
    checkName(name);
    checkValue(value);
    return { orig: -1, name, key: canonicalHeaderName(name), value: trimWs(value), dirty: true };
  }

  /** Append a header after the last header (repeated calls keep call order). */
  appendHeader(name: string, value: string): void {
    const e = this.newEntry(name, value);
    this.edits().entries.push(e);
    this.touch();
  }

  /** Insert a header before the first header (the latest call ends up first). */
  insertHeader(name: string, value: string): void {
    const e = this.newEntry(name, value);
    this.edits().entries.unshift(e);
    this.touch();
  }

  /** Insert immediately before the first current header named `existing`; false when there is none. */
  insertHeaderBefore(existing: string, name: string, value: string): boolean {
    const e = this.newEntry(name, value);
    const key = canonicalHeaderName(existing);
    const list = this.edits().entries;
    const idx = list.findIndex((x) => x.key === key);
    if (idx === -1) return false;
    list.splice(idx, 0, e);
    this.touch();
    return true;
  }

  /** Insert immediately after the first current header named `existing`; false when there is none. */
  appendHeaderAfter(existing: string, name: string, value: string): boolean {
    const e = this.newEntry(name, value);
    const key = canonicalHeaderName(existing);
    const list = this.edits().entries;
    const idx = list.findIndex((x) => x.key === key);
    if (idx === -1) return false;
    list.splice(idx + 1, 0, e);
    this.touch();
    return true;
  }

  /**
   * Remove all header fields named `name` (compact forms included), or only
   * the `index`-th (0-based) among them. Counts over the current (edited)
   * header list. Returns the number removed.
   */
  removeHeader(name: string, index?: number): number {
    const key = canonicalHeaderName(name);
    if (!this._edit && !this.headers.some((h) => h.key === key)) return 0;
    const list = this.edits().entries;
    let removed = 0;
    let seen = 0;
    for (let i = 0; i < list.length; i++) {
      if (list[i]!.key !== key) continue;
      if (index === undefined || seen === index) {
        list.splice(i, 1);
        i--;
        removed++;
        if (index !== undefined) break;
      }
      seen++;
    }
    if (removed > 0) this.touch();
    return removed;
  }

  /** Replace the value of the first current header named `name` (position and name spelling kept). */
  replaceHeader(name: string, value: string): boolean {
    checkValue(value);
    const key = canonicalHeaderName(name);
    if (!this._edit && !this.headers.some((h) => h.key === key)) return false;
    const e = this.edits().entries.find((x) => x.key === key);
    if (!e) return false;
    e.value = trimWs(value);
    e.dirty = true;
    this.touch();
    return true;
  }

  /**
   * Replace the body. Content-Length is always rewritten (the first one gets
   * the new length, duplicates are removed; appended when absent).
   * contentType: a non-empty string sets Content-Type (replacing the first,
   * appended when absent); `''` removes Content-Type; undefined keeps the
   * existing Content-Type unless the new body is empty, in which case it is
   * removed.
   */
  setBody(body: Buffer | string, contentType?: string): void {
    const buf = typeof body === 'string' ? Buffer.from(body, 'utf8') : body;
    if (!Buffer.isBuffer(buf)) throw new TypeError('body must be a Buffer or a string');
    if (contentType !== undefined && contentType !== '') checkValue(contentType);
    const ed = this.edits();
    ed.body = buf;
    const list = ed.entries;
    // Content-Length
    let first: Entry | undefined;
    for (let i = 0; i < list.length; i++) {
      const e = list[i]!;
      if (e.key !== 'content-length') continue;
      if (!first) first = e;
      else {
        list.splice(i, 1);
        i--;
      }
    }
    const len = String(buf.length);
    if (first) {
      if (first.value !== len) {
        first.value = len;
        first.dirty = true;
      }
    } else list.push({ orig: -1, name: 'Content-Length', key: 'content-length', value: len, dirty: true });
    // Content-Type
    if (contentType === '' || (contentType === undefined && buf.length === 0)) {
      for (let i = 0; i < list.length; i++) {
        if (list[i]!.key === 'content-type') {
          list.splice(i, 1);
          i--;
        }
      }
    } else if (contentType !== undefined) {
      const ct = list.find((e) => e.key === 'content-type');
      if (ct) {
        ct.value = trimWs(contentType);
        ct.dirty = true;
      } else {
        const clIdx = list.findIndex((e) => e.key === 'content-length');
        const entry = { orig: -1, name: 'Content-Type', key: 'content-type', value: trimWs(contentType), dirty: true };
        list.splice(clIdx === -1 ? list.length : clIdx, 0, entry);
      }
    }
    this.touch();
  }

  /**
   * Add or replace a parameter on the top Via value (the first Via value of
   * the message as it will be serialized). `value === null` writes a flag
   * parameter (`;rport`). No-op when the message has no Via left.
   */
  setTopViaParam(name: string, value: string | null): void {
    checkName(name);
    if (value !== null) {
      checkValue(value);
      if (!isParamValue(value)) throw new TypeError(`invalid Via parameter value ${quote(value)}`);
    }
    const e = this.edits().entries.find((x) => x.key === 'via');
    if (!e) return;
    const comma = nextTopLevelComma(e.value, 0);
    const firstEnd = comma === -1 ? e.value.length : comma;
    const first = e.value.slice(0, firstEnd);
    const updated = setParamInElement(first, name, value);
    const trail = comma === -1 ? '' : e.value.slice(firstEnd);
    e.value = (comma === -1 ? updated : `${trimWs(updated)}${trail}`);
    e.dirty = true;
    this.touch();
  }

  /** Push a new top Via (placed right before the first current Via header). Throws SipParseError when invalid. */
  addVia(value: string): void {
    checkValue(value);
    parseVia(value);
    const e: Entry = { orig: -1, name: 'Via', key: 'via', value: trimWs(value), dirty: true };
    const list = this.edits().entries;
    const idx = list.findIndex((x) => x.key === 'via');
    list.splice(idx === -1 ? 0 : idx, 0, e);
    this.touch();
  }

  /**
   * Remove the top Via value: the whole first Via header when it holds one
   * value, else only its first comma-separated value.
   */
  removeTopVia(): void {
    if (!this._edit && this.via.length === 0) return;
    const list = this.edits().entries;
    const idx = list.findIndex((x) => x.key === 'via');
    if (idx === -1) return;
    const e = list[idx]!;
    const comma = nextTopLevelComma(e.value, 0);
    const rest = comma === -1 ? '' : trimWs(e.value.slice(comma + 1));
    if (rest.length === 0) list.splice(idx, 1);
    else {
      e.value = rest;
      e.dirty = true;
    }
    this.touch();
  }

  /**
   * The header list as it will be serialized (name, key, value), reflecting
   * all edits. Values of untouched headers are the parsed (unfolded) values.
   */
  currentHeaders(): HeaderField[] {
    const list = this._edit ? this._edit.entries : this.originalEntries();
    return list.map((e) => ({ name: e.name, key: e.key, value: e.value }));
  }

  /** @internal Via fields for a locally generated reply: the received Vias with in-place edits (added Vias ignored). */
  replyViaValues(): string[] {
    const out: string[] = [];
    const byOrig = new Map<number, Entry>();
    if (this._edit) for (const e of this._edit.entries) if (e.orig >= 0) byOrig.set(e.orig, e);
    this.headers.forEach((h, i) => {
      if (h.key !== 'via') return;
      const e = byOrig.get(i);
      out.push(e ? e.value : h.value);
    });
    return out;
  }

  // ------------------------------------------------------------- serialize

  /** @internal New start line bytes, or undefined to copy the original one. */
  protected startLineReplacement(): Buffer | undefined {
    return undefined;
  }

  /**
   * Apply the edits. Without edits returns `raw` itself. Untouched header
   * lines, the start line (unless the R-URI changed), the empty line and the
   * body (unless replaced) are copied byte for byte.
   */
  serialize(opts?: SerializeOptions): Buffer {
    const ed = this._edit;
    let addCl = false;
    if (opts?.stream === true) {
      addCl = ed ? !ed.entries.some((e) => e.key === 'content-length') : this.contentLength === undefined;
    }
    if (!ed && !addCl) return this.raw;
    const entries = ed ? ed.entries : this.originalEntries();
    const body = ed?.body ?? this.body;
    const raw = this.raw;
    const spans = this._spans;
    const out: Buffer[] = [];
    // at most one of (range, text) is pending at a time
    let runS = -1;
    let runE = -1;
    let text = '';
    const flush = (): void => {
      if (runS >= 0) {
        if (runE > runS) out.push(raw.subarray(runS, runE));
        runS = runE = -1;
      }
      if (text.length > 0) {
        out.push(Buffer.from(text, 'utf8'));
        text = '';
      }
    };
    const addRange = (s: number, e: number): void => {
      if (runS >= 0 && runE === s) {
        runE = e;
        return;
      }
      flush();
      runS = s;
      runE = e;
    };
    const addText = (t: string): void => {
      if (runS >= 0) flush();
      text += t;
    };

    const sl = this.startLineReplacement();
    if (sl) out.push(sl);
    else addRange(0, this._startLineEnd);
    for (const e of entries) {
      if (e.orig >= 0 && !e.dirty) addRange(spans[2 * e.orig]!, spans[2 * e.orig + 1]!);
      else addText(`${e.name}: ${e.value}\r\n`);
    }
    if (addCl) addText(`Content-Length: ${body.length}\r\n`);
    if (ed?.body === undefined) {
      addRange(this._headersEnd, raw.length);
      flush();
    } else {
      addRange(this._headersEnd, this._bodyStart);
      flush();
      if (body.length > 0) out.push(body);
    }
    return Buffer.concat(out);
  }
}

export class SipRequest extends SipMessage {
  readonly method: string;
  /** Raw Request-URI text. */
  readonly uri: string;
  readonly version: string;
  readonly ruri: SipUri;
  private readonly _uriStart: number;
  private readonly _uriEnd: number;

  /** @internal */
  constructor(
    init: MessageInit,
    line: { method: string; uri: string; ruri: SipUri; version: string; uriStart: number; uriEnd: number },
  ) {
    super(init);
    this.method = line.method;
    this.uri = line.uri;
    this.ruri = line.ruri;
    this.version = line.version;
    this._uriStart = line.uriStart;
    this._uriEnd = line.uriEnd;
  }

  /** Set a new Request-URI (applied by serialize(); `uri`/`ruri` keep showing the original). Throws SipParseError when invalid. */
  setRequestUri(uri: string): void {
    if (typeof uri !== 'string' || /[\s]/.test(uri)) throw new SipParseError(`invalid Request-URI ${quote(String(uri))}`);
    const u = parseUri(uri);
    if (u.headers.size > 0) throw new SipParseError(`Request-URI must not contain headers: ${quote(uri)}`);
    this.edits().uri = uri;
    this.touch();
  }

  /** The Request-URI set by setRequestUri(), if any. */
  get newRequestUri(): string | undefined {
    return this._edit?.uri;
  }

  protected override startLineReplacement(): Buffer | undefined {
    const u = this._edit?.uri;
    if (u === undefined) return undefined;
    return Buffer.concat([
      this.raw.subarray(0, this._uriStart),
      Buffer.from(u, 'utf8'),
      this.raw.subarray(this._uriEnd, this._startLineEnd),
    ]);
  }
}

export class SipResponse extends SipMessage {
  readonly status: number;
  readonly reason: string;
  readonly version: string;

  /** @internal */
  constructor(init: MessageInit, line: { status: number; reason: string; version: string }) {
    super(init);
    this.status = line.status;
    this.reason = line.reason;
    this.version = line.version;
  }
}

export function isRequest(m: SipRequest | SipResponse): m is SipRequest {
  return m instanceof SipRequest;
}
