/**
 * pike: flood detection per source IP address (Kamailio's pike module).
 *
 *   if KSR.pike.pike_check_req() < 0 then … ban $si … end
 *
 * Each address has a request counter for the current sampling unit (sampling_time_unit seconds,
 * aligned on the clock) and the count of the previous unit. An address is over the limit while
 * either count exceeds reqs_density_per_unit: it becomes blocked on the request that passes the
 * limit (-2, logged once at pike_log_level) and stays blocked (-1) until a whole unit passes
 * within the limit (the unblocking is logged too). Addresses without requests for
 * remove_latency seconds are forgotten; at most max_ips are tracked (the least recently seen
 * goes first). Every timer runs on ctx.clock.
 *
 * Unlike Kamailio's IP tree (which needs between x and 3x requests for IPv4, 9x for IPv6, to
 * block an address), the count is exact per address: x+1 requests in one unit block it.
 */
import { isIPv4, isIPv6 } from 'node:net';
import { defineModule, kamailioDebugToLevel, type KemiExportDef, type ModuleContext, type RouteContext } from '@ksr/core';
import type { PikeApi, PikeTopEntry, PikeTopFilter } from './api.js';
import { pikeRpc } from './rpc.js';

export type { PikeApi, PikeTopEntry, PikeTopFilter } from './api.js';

type Def = KemiExportDef<RouteContext>;

interface Entry {
  /** Index of the sampling unit `curr` counts. */
  unit: number;
  prev: number;
  curr: number;
  /** Last request, ms. */
  last: number;
  blocked: boolean;
}

/** Canonical text of an address (lower-case compressed IPv6; IPv4-mapped IPv6 as IPv4); undefined when not an IP. */
export function canonicalIp(ip: string): string | undefined {
  let s = ip.trim();
  if (s.startsWith('[') && s.endsWith(']')) s = s.slice(1, -1);
  if (isIPv4(s)) return s;
  if (!isIPv6(s)) return undefined;
  let host: string;
  try {
    host = new URL(`http://[${s}]/`).hostname.slice(1, -1);
  } catch {
    return undefined;
  }
  const mapped = /^::ffff:([0-9a-f]{1,4}):([0-9a-f]{1,4})$/.exec(host);
  if (mapped) {
    const hi = parseInt(mapped[1]!, 16);
    const lo = parseInt(mapped[2]!, 16);
    return `${hi >> 8}.${hi & 255}.${lo >> 8}.${lo & 255}`;
  }
  return host;
}

const positive = (v: string | number): string | undefined => (Number(v) > 0 ? undefined : 'must be greater than 0');
const nonNegative = (v: string | number): string | undefined => (Number(v) >= 0 ? undefined : 'must not be negative');

export const pikeModule = defineModule({
  name: 'pike',
  params: {
    sampling_time_unit: { type: 'int', check: positive },
    reqs_density_per_unit: { type: 'int', check: positive },
    remove_latency: { type: 'int', check: nonNegative },
    pike_log_level: { type: 'int' },
    /** ksr: the most addresses tracked at once. */
    max_ips: { type: 'int', check: positive },
  },
  create(ctx: ModuleContext) {
    const unitMs = ctx.params.int('sampling_time_unit', 2) * 1000;
    const density = ctx.params.int('reqs_density_per_unit', 30);
    // an address is kept at least until its previous unit no longer counts
    const latencyMs = Math.max(ctx.params.int('remove_latency', 120) * 1000, 2 * unitMs);
    const maxIps = ctx.params.int('max_ips', 100_000);
    const logLevel = kamailioDebugToLevel(ctx.params.int('pike_log_level', 0));
    const log = (msg: string): void => {
      if (logLevel !== 'silent') ctx.logger[logLevel](msg);
    };
    const blockedCounter = ctx.stats.counter('pike', 'blocked_ips');
    /** Insertion order = least recently seen first (an address moves to the end on each request). */
    const ips = new Map<string, Entry>();

    const roll = (e: Entry, unit: number): void => {
      if (e.unit === unit) return;
      e.prev = e.unit === unit - 1 ? e.curr : 0;
      e.curr = 0;
      e.unit = unit;
    };
    const hot = (e: Entry): boolean => e.curr > density || e.prev > density;

    const check = (raw: string): number => {
      const ip = canonicalIp(raw);
      if (ip === undefined) {
        ctx.logger.error(`pike: ${JSON.stringify(raw)} is not an IP address`);
        return 1;
      }
      const now = ctx.clock.now();
      const unit = Math.floor(now / unitMs);
      let e = ips.get(ip);
      if (e) ips.delete(ip);
      else {
        if (ips.size >= maxIps) {
          const oldest = ips.keys().next();
          if (!oldest.done) ips.delete(oldest.value);
        }
        e = { unit, prev: 0, curr: 0, last: now, blocked: false };
      }
      ips.set(ip, e);
      roll(e, unit);
      e.curr++;
      e.last = now;
      if (hot(e)) {
        if (e.blocked) return -1;
        e.blocked = true;
        blockedCounter.inc();
        log(`PIKE - BLOCKing ip ${ip}, ${e.curr} requests in the current ${unitMs / 1000} s unit (limit ${density})`);
        return -2;
      }
      if (e.blocked) {
        e.blocked = false;
        log(`PIKE - UNBLOCKing ip ${ip}`);
      }
      return 1;
    };

    /** Roll every entry to the current unit, report unblocked addresses, forget idle ones. */
    const tick = (): void => {
      const now = ctx.clock.now();
      const unit = Math.floor(now / unitMs);
      for (const [ip, e] of ips) {
        if (now - e.last >= latencyMs) {
          ips.delete(ip);
          continue;
        }
        roll(e, unit);
        if (e.blocked && !hot(e)) {
          e.blocked = false;
          log(`PIKE - UNBLOCKing ip ${ip}`);
        }
      }
    };
    const timer = ctx.clock.every(unitMs, tick);

    const api: PikeApi = {
      check,
      isBlocked(raw) {
        const ip = canonicalIp(raw);
        const e = ip === undefined ? undefined : ips.get(ip);
        if (!e) return false;
        roll(e, Math.floor(ctx.clock.now() / unitMs));
        return e.blocked && hot(e);
      },
      top(filter: PikeTopFilter = 'HOT') {
        const now = ctx.clock.now();
        const unit = Math.floor(now / unitMs);
        const out: PikeTopEntry[] = [];
        for (const [ip, e] of ips) {
          roll(e, unit);
          const status = hot(e) ? 'HOT' : e.curr > density / 2 || e.prev > density / 2 ? 'WARM' : 'COLD';
          if (filter === 'HOT' && status !== 'HOT') continue;
          if (filter === 'WARM' && status === 'COLD') continue;
          out.push({ ip, hitsPrev: e.prev, hitsCurr: e.curr, status, blocked: e.blocked, expires: Math.max(0, Math.ceil((e.last + latencyMs - now) / 1000)) });
        }
        return out.sort((a, b) => b.hitsPrev + b.hitsCurr - (a.hitsPrev + a.hitsCurr) || b.hitsCurr - a.hitsCurr);
      },
      size: () => ips.size,
    };

    const exports: Def[] = [
      {
        name: 'pike_check_req',
        returns: 'int',
        params: [],
        doc: 'Count the request from its source address: 1 within the limit, -1 blocked, -2 blocked by this request (first detection)',
        fn: (rctx: RouteContext) => check(rctx.info.remote.address),
      },
      {
        name: 'pike_check_ip',
        returns: 'int',
        params: ['str'],
        paramNames: ['strip'],
        doc: 'Like pike_check_req for the given address (1 when it is not an IP address)',
        fn: (_rctx: RouteContext, ip: string) => check(ip),
      },
    ];

    return {
      exports,
      api,
      rpc: pikeRpc(api),
      destroy() {
        timer.cancel();
        ips.clear();
      },
    };
  },
});
