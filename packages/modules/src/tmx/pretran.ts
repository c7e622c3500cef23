/**
 * t_precheck_trans: which requests are being processed right now, keyed like their transaction,
 * so that a retransmission arriving before t_newtran (in another worker) can be told apart.
 * An interface so that the table can move to shared memory when `children=N` starts N workers.
 */
import { serverKey, type SipRequest } from '@ksr/core';

export interface PretranTable {
  /** Mark `key` as in progress by `owner`. false when another owner holds it already. */
  claim(key: string, owner: number): boolean;
  /** Release `key` if `owner` holds it. */
  release(key: string, owner: number): void;
  readonly size: number;
}

export class MemoryPretranTable implements PretranTable {
  private readonly map = new Map<string, number>();
  claim(key: string, owner: number): boolean {
    const cur = this.map.get(key);
    if (cur !== undefined && cur !== owner) return false;
    this.map.set(key, owner);
    return true;
  }
  release(key: string, owner: number): void {
    if (this.map.get(key) === owner) this.map.delete(key);
  }
  get size(): number {
    return this.map.size;
  }
}

/**
 * The matching key of a request's server transaction, the transaction layer's own (RFC 3261
 * §17.2.3 with the RFC 2543 fallback). undefined for ACK and CANCEL (not tracked) and for a
 * request without a Via.
 */
export function pretranKey(req: SipRequest): string | undefined {
  if (req.method === 'ACK' || req.method === 'CANCEL') return undefined;
  return serverKey(req);
}
