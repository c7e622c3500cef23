/**
 * Self-verifying nonces: everything a server needs to accept a nonce is inside it, signed with
 * HMAC-SHA256 under the module's secret, so every server that shares the secret accepts the
 * nonces of the others without shared state.
 *
 * Layout (before base64url):
 *   [0]      version (1)
 *   [1]      auth_checks flags bound into the nonce (1 R-URI, 2 Call-ID, 4 From-tag, 8 source IP)
 *   [2..5]   creation time, seconds since the epoch (uint32 BE)
 *   [6..9]   expiry time, seconds since the epoch (uint32 BE)
 *   [10..17] nonce id (random; the key of the nonce-count / one-time-nonce tables)
 *   [18..33] binding: HMAC(secret, "bind" ‖ the bound message fields), 16 bytes (only when flags ≠ 0)
 *   [..+16]  HMAC-SHA256(secret, "nonce" ‖ all previous bytes), first 16 bytes
 *
 * The nonce-count table (nonce_count) and the used-nonce table (one_time_nonce) are behind the
 * NonceStateStore interface; the memory implementation bounds its size and forgets expired nonces.
 */
import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';

export const CHECK_URI = 1;
export const CHECK_CALLID = 2;
export const CHECK_FROMTAG = 4;
export const CHECK_SRCIP = 8;

const VERSION = 1;
const MAC_LEN = 16;
const BIND_LEN = 16;
const HEAD_LEN = 18;

/** The message fields a nonce can be bound to. */
export interface BindingFields {
  uri: string;
  callId: string;
  fromTag: string;
  srcIp: string;
}

export interface DecodedNonce {
  flags: number;
  created: number;
  expires: number;
  /** Hex of the 8 id bytes. */
  id: string;
}

export type NonceCheck =
  | { ok: true; nonce: DecodedNonce }
  | { ok: false; reason: 'invalid' | 'expired' | 'future' | 'binding'; nonce?: DecodedNonce };

export class NonceCodec {
  constructor(
    private readonly secret: Buffer,
    /** nonce_auth_max_drift, seconds. */
    private readonly maxDrift = 3,
  ) {}

  private mac(data: Buffer): Buffer {
    return createHmac('sha256', this.secret).update('nonce\0').update(data).digest().subarray(0, MAC_LEN);
  }

  private bind(flags: number, f: BindingFields): Buffer {
    const h = createHmac('sha256', this.secret).update('bind\0');
    if (flags & CHECK_URI) h.update(`u\0${f.uri}\0`);
    if (flags & CHECK_CALLID) h.update(`c\0${f.callId}\0`);
    if (flags & CHECK_FROMTAG) h.update(`f\0${f.fromTag}\0`);
    if (flags & CHECK_SRCIP) h.update(`s\0${f.srcIp}\0`);
    return h.digest().subarray(0, BIND_LEN);
  }

  /** A new nonce valid from `nowMs` for `expireSec` seconds, bound to the fields named by `flags`. */
  create(nowMs: number, expireSec: number, flags: number, fields: BindingFields | undefined): string {
    const now = Math.floor(nowMs / 1000);
    const f = flags & 15;
    const head = Buffer.alloc(HEAD_LEN);
    head[0] = VERSION;
    head[1] = f;
    head.writeUInt32BE(now >>> 0, 2);
    head.writeUInt32BE((now + Math.max(0, expireSec)) >>> 0, 6);
    randomBytes(8).copy(head, 10);
    const parts: Buffer[] = [head];
    if (f !== 0) parts.push(this.bind(f, fields ?? { uri: '', callId: '', fromTag: '', srcIp: '' }));
    const body = Buffer.concat(parts);
    return Buffer.concat([body, this.mac(body)]).toString('base64url');
  }

  /** Decode and authenticate without time or binding checks (undefined when forged or malformed). */
  decode(nonce: string): DecodedNonce | undefined {
    if (nonce.length > 128 || !/^[A-Za-z0-9_-]+$/.test(nonce)) return undefined;
    const buf = Buffer.from(nonce, 'base64url');
    if (buf.length < HEAD_LEN + MAC_LEN || buf[0] !== VERSION) return undefined;
    // a canonical encoding only: another spelling of the same bytes is another nonce
    if (buf.toString('base64url') !== nonce) return undefined;
    const flags = buf[1]!;
    const want = HEAD_LEN + (flags !== 0 ? BIND_LEN : 0) + MAC_LEN;
    if (buf.length !== want || flags > 15) return undefined;
    const body = buf.subarray(0, want - MAC_LEN);
    const mac = buf.subarray(want - MAC_LEN);
    if (!timingSafeEqual(mac, this.mac(body))) return undefined;
    return { flags, created: buf.readUInt32BE(2), expires: buf.readUInt32BE(6), id: buf.subarray(10, 18).toString('hex') };
  }

  /**
   * Full check: authentic, not expired, not from the future beyond max drift, bound to the same
   * fields when `requiredFlags` ≠ 0 (the nonce must carry exactly the flags required for this
   * kind of request).
   */
  check(nonce: string, nowMs: number, requiredFlags: number, fields: BindingFields): NonceCheck {
    const d = this.decode(nonce);
    if (!d) return { ok: false, reason: 'invalid' };
    const now = Math.floor(nowMs / 1000);
    if (d.created > now + this.maxDrift) return { ok: false, reason: 'future', nonce: d };
    if (now >= d.expires) return { ok: false, reason: 'expired', nonce: d };
    const req = requiredFlags & 15;
    if (d.flags !== req) return { ok: false, reason: 'binding', nonce: d };
    if (req !== 0) {
      const buf = Buffer.from(nonce, 'base64url');
      const got = buf.subarray(HEAD_LEN, HEAD_LEN + BIND_LEN);
      if (!timingSafeEqual(got, this.bind(req, fields))) return { ok: false, reason: 'binding', nonce: d };
    }
    return { ok: true, nonce: d };
  }
}

/**
 * Per-nonce state for replay protection. An interface so that several workers or servers can
 * share it later (a shared-memory table, a database, redis); the memory one serves one worker.
 */
export interface NonceStateStore {
  /** The highest nc accepted for this nonce, or undefined when none was. */
  lastNc(id: string): number | undefined;
  /** Remember that nc was used for this nonce (kept until expiresSec, seconds since the epoch). */
  setNc(id: string, nc: number, expiresSec: number): void;
  /** Has this nonce been used (one_time_nonce)? */
  isUsed(id: string): boolean;
  /** Mark the nonce used (one_time_nonce). */
  markUsed(id: string, expiresSec: number): void;
  /** Forget entries that expired before nowSec. */
  prune(nowSec: number): void;
  readonly size: number;
}

/** A bounded in-memory table: when full, the oldest entries make room (as Kamailio's nc array). */
export class MemoryNonceStateStore implements NonceStateStore {
  private readonly nc = new Map<string, { nc: number; exp: number }>();
  private readonly used = new Map<string, number>();
  constructor(private readonly maxEntries = 1 << 20) {}

  lastNc(id: string): number | undefined {
    return this.nc.get(id)?.nc;
  }
  setNc(id: string, nc: number, expiresSec: number): void {
    this.nc.delete(id);
    this.nc.set(id, { nc, exp: expiresSec });
    this.evict(this.nc);
  }
  isUsed(id: string): boolean {
    return this.used.has(id);
  }
  markUsed(id: string, expiresSec: number): void {
    this.used.set(id, expiresSec);
    this.evict(this.used);
  }
  prune(nowSec: number): void {
    for (const [k, v] of this.nc) if (v.exp <= nowSec) this.nc.delete(k);
    for (const [k, exp] of this.used) if (exp <= nowSec) this.used.delete(k);
  }
  get size(): number {
    return this.nc.size + this.used.size;
  }
  private evict(m: Map<string, unknown>): void {
    while (m.size > this.maxEntries) {
      const first = m.keys().next();
      if (first.done) break;
      m.delete(first.value);
    }
  }
}
