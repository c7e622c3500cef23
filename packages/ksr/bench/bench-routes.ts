/**
 * Part 1 of `pnpm bench`: the harness's own route scripts (packages/ksr/bench/routes/route.*,
 * copies of ../shared/bench/routes/) run in-process, through the real server, modules and
 * engine, against a parsed REGISTER and a parsed INVITE, per engine, and the same decisions
 * written as plain TypeScript calling the same export functions directly (the lower bound).
 *
 * Each message is fresh (own Call-ID and branch: the INVITE is a new tm transaction, the REGISTER
 * an update of the same AOR's binding). Messages are parsed before the clock starts; what is timed
 * is the request route run (`routing.onRequest`: route context, request filters, the script and
 * every module call it makes). The sends the route starts (200 OK, 100 Trying, the relayed INVITE)
 * leave on the next tick and are not in the figure. Median over batches after a warm-up.
 */
import type { KemiExport, RouteContext, SipRequest } from '@ksr/core';
import { RouteContext as RouteContextClass } from '@ksr/core';
import { median } from './lib.js';
import { ENGINE_DEFINES, flush, inviteText, parseReq, registerText, startBenchServer, type BenchEngine, type BenchServer } from './bench-server.js';

export interface RouteFigure {
  engine: string;
  message: 'REGISTER' | 'INVITE';
  routeUs: number;
  /** KSR calls the route makes for this message (counted on the plain TypeScript route). */
  ksrCalls: number;
  /** (engine route − plain TS route) / KSR calls: what the engine and the binding add per call. */
  overheadPerCallUs: number | undefined;
}

type Fn = (ctx: RouteContext, ...args: never[]) => unknown;

/** route.lua's decisions written against the export functions (no runtime, no engine). Counts calls. */
export function plainTsRoute(b: BenchServer): { route: (ctx: RouteContext) => void; calls: () => number } {
  let n = 0;
  const f = (m: string, name: string): Fn => {
    const e: KemiExport<RouteContext> | undefined = b.registry.find(m, name);
    if (!e) throw new Error(`no export KSR.${m ? `${m}.` : ''}${name}`);
    const fn = e.fn as Fn;
    return (ctx, ...a) => {
      n++;
      return fn(ctx, ...a);
    };
  };
  const sanity = f('sanity', 'sanity_check') as (c: RouteContext, a: number, b: number) => number;
  const maxfwd = f('maxfwd', 'process_maxfwd') as (c: RouteContext, a: number) => number;
  const sendReply = f('sl', 'send_reply') as (c: RouteContext, a: number, b: string) => number;
  const slReplyError = f('sl', 'sl_reply_error');
  const isOptions = f('', 'is_OPTIONS');
  const isCancel = f('', 'is_CANCEL');
  const isInvite = f('', 'is_INVITE');
  const isAck = f('', 'is_ACK');
  const isRegister = f('', 'is_REGISTER');
  const isMyselfRuri = f('', 'is_myself_ruri');
  const hasRuriUser = f('corex', 'has_ruri_user') as (c: RouteContext) => number;
  const hasTotag = f('siputils', 'has_totag') as (c: RouteContext) => number;
  const looseRoute = f('rr', 'loose_route') as (c: RouteContext) => number;
  const recordRoute = f('rr', 'record_route');
  const tCheckTrans = f('tm', 't_check_trans') as (c: RouteContext) => number;
  const tRelay = f('tm', 't_relay') as (c: RouteContext) => number;
  const tOnFailure = f('tm', 't_on_failure') as (c: RouteContext, s: string) => unknown;
  const tOnReply = f('tm', 't_on_reply') as (c: RouteContext, s: string) => unknown;
  const save = f('registrar', 'save') as (c: RouteContext, t: string, fl: number) => number;
  const lookup = f('registrar', 'lookup') as (c: RouteContext, t: string) => number;
  const pvGet = f('pv', 'get') as (c: RouteContext, s: string) => unknown;
  let authOn: boolean | undefined;
  const relay = (ctx: RouteContext): void => {
    if (isInvite(ctx)) tOnFailure(ctx, 'ksr_failure_route');
    if (!isAck(ctx)) tOnReply(ctx, 'ksr_onreply_route');
    if (tRelay(ctx) < 0) slReplyError(ctx);
  };
  const route = (ctx: RouteContext): void => {
    if (sanity(ctx, 1511, 7) < 0) return;
    if (maxfwd(ctx, 10) < 0) {
      sendReply(ctx, 483, 'Too Many Hops');
      return;
    }
    if (isOptions(ctx) && isMyselfRuri(ctx) && hasRuriUser(ctx) < 0) {
      sendReply(ctx, 200, 'OK');
      return;
    }
    if (isCancel(ctx)) {
      if (tCheckTrans(ctx) > 0) relay(ctx);
      return;
    }
    if (hasTotag(ctx) > 0) {
      if (looseRoute(ctx) > 0) return relay(ctx);
      if (isAck(ctx)) {
        if (tCheckTrans(ctx) > 0) tRelay(ctx);
        return;
      }
      sendReply(ctx, 404, 'Not Here');
      return;
    }
    if (isInvite(ctx)) recordRoute(ctx);
    if (isRegister(ctx)) {
      authOn ??= pvGet(ctx, '$shv(bench_auth)') === 1;
      if (save(ctx, 'location', 0) < 0) slReplyError(ctx);
      return;
    }
    if (!isMyselfRuri(ctx)) return relay(ctx);
    if (hasRuriUser(ctx) < 0) {
      sendReply(ctx, 484, 'Address Incomplete');
      return;
    }
    if (lookup(ctx, 'location') < 0) {
      sendReply(ctx, 404, 'Not Found');
      return;
    }
    relay(ctx);
  };
  return { route, calls: () => n };
}

/**
 * Median µs per message of each runner over `batches` batches of `n` fresh messages after `warm`
 * warm-up messages per runner. The runners' batches alternate (A, B, A, B …) so JIT tier-up, the
 * growing transaction table and GC pressure hit them alike.
 */
async function timeRoutes(make: () => SipRequest, runners: ReadonlyArray<(req: SipRequest) => void>, n: number, batches: number, warm: number): Promise<number[]> {
  for (const run of runners) {
    for (let i = 0; i < warm; i++) {
      run(make());
      if (i % 100 === 99) await flush();
    }
  }
  await flush();
  const per: number[][] = runners.map(() => []);
  for (let b = 0; b < batches; b++) {
    for (let r = 0; r < runners.length; r++) {
      const run = runners[r]!;
      const msgs: SipRequest[] = [];
      for (let i = 0; i < n; i++) msgs.push(make());
      const t0 = process.hrtime.bigint();
      for (const m of msgs) run(m);
      per[r]!.push(Number(process.hrtime.bigint() - t0) / 1000 / n);
      await flush();
    }
  }
  return per.map(median);
}

export interface RouteBenchOptions {
  engines?: BenchEngine[];
  /** Messages per batch, batches, warm-up messages. */
  n?: number;
  batches?: number;
  warm?: number;
}

export async function runRouteBench(o: RouteBenchOptions = {}): Promise<RouteFigure[]> {
  const engines = o.engines ?? ['lua', 'js', 'python'];
  const n = o.n ?? 200;
  const batches = o.batches ?? 11;
  const warm = o.warm ?? 1000;
  const out: RouteFigure[] = [];
  for (const engine of engines) {
    const b = await startBenchServer(engine);
    try {
      const routing = b.running.routing!;
      const port = b.port;
      const sinkPort = b.sink.port;
      // bob's binding (the call scenario registers him first)
      routing.onRequest(parseReq(registerText('bob', port, sinkPort)), b.info);
      let u = 0;
      const mkReg = (): SipRequest => parseReq(registerText(`user${String((u++ % 10000) + 1).padStart(5, '0')}`, port, sinkPort));
      const mkInv = (): SipRequest => parseReq(inviteText(port, sinkPort));
      const viaRouting = (req: SipRequest): void => routing.onRequest(req, b.info);
      const p = plainTsRoute(b);
      const direct = (req: SipRequest): void => {
        const ctx = new RouteContextClass(req, b.info, routing.services, 'request', 'ksr_request_route');
        p.route(ctx);
      };
      let c0 = p.calls();
      direct(mkReg());
      const regCalls = p.calls() - c0;
      c0 = p.calls();
      direct(mkInv());
      const invCalls = p.calls() - c0;
      const [plainReg, reg] = await timeRoutes(mkReg, [direct, viaRouting], n, batches, warm);
      const [plainInv, inv] = await timeRoutes(mkInv, [direct, viaRouting], n, batches, warm);
      const label = ENGINE_DEFINES[engine].label;
      out.push({ engine: `plain TypeScript, same server as ${engine}`, message: 'REGISTER', routeUs: plainReg!, ksrCalls: regCalls, overheadPerCallUs: undefined });
      out.push({ engine: label, message: 'REGISTER', routeUs: reg!, ksrCalls: regCalls, overheadPerCallUs: (reg! - plainReg!) / regCalls });
      out.push({ engine: `plain TypeScript, same server as ${engine}`, message: 'INVITE', routeUs: plainInv!, ksrCalls: invCalls, overheadPerCallUs: undefined });
      out.push({ engine: label, message: 'INVITE', routeUs: inv!, ksrCalls: invCalls, overheadPerCallUs: (inv! - plainInv!) / invCalls });
    } finally {
      await b.stop();
    }
  }
  return out;
}
