/** What the RPC layer (pike.top) and other modules get from `ctx.api('pike')`. */

/** Kamailio's pike.top filters: HOT = over the density now, WARM = above half of it, ALL = every tracked address. */
export type PikeTopFilter = 'HOT' | 'WARM' | 'ALL';

export interface PikeTopEntry {
  ip: string;
  /** Requests in the previous and in the current sampling unit. */
  hitsPrev: number;
  hitsCurr: number;
  status: 'HOT' | 'WARM' | 'COLD';
  /** Whether the address is reported blocked (pike_check_req answers < 0). */
  blocked: boolean;
  /** Seconds before the address is forgotten without new requests. */
  expires: number;
}

export interface PikeApi {
  /** Count a request from `ip` and tell whether it is over the limit: 1, -1 (blocked), -2 (just blocked); 1 for a bad address. */
  check(ip: string): number;
  /** Whether `ip` is blocked now (without counting a request). */
  isBlocked(ip: string): boolean;
  /** The tracked addresses matching the filter, hottest first (sum of both units, then the current one). */
  top(filter?: PikeTopFilter): PikeTopEntry[];
  /** How many addresses are tracked. */
  size(): number;
}
