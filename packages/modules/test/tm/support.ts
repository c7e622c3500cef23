/** A tm instance over a FakeScheduler and recording services, with script routes as JS functions. */
import { FakeScheduler, buildReply, parseMessage, type KsrConfig, type RouteContext, type SipRequest, type SipResponse } from '@ksr/core';
import { INVITE_LINES, makeContext, testServices, type TestServices } from '../../../core/test/support/context.js';
import { createModule, type TestModule } from '../sl/module-context.js';
import { tmModule, type TmApi } from '../../src/tm/index.js';

export const UAS_INFO = {
  proto: 'udp' as const,
  local: { address: '127.0.0.1', port: 5060, family: 4 as const },
  remote: { address: '192.0.2.20', port: 5080, family: 4 as const },
  socketId: 0,
};

export interface Harness {
  mod: TestModule;
  api: TmApi;
  sched: FakeScheduler;
  services: TestServices;
  routes: Record<string, (ctx: RouteContext) => void>;
  call(name: string, ctx: RouteContext, ...args: unknown[]): unknown;
  /** A new request context (INVITE by default) with the harness services. */
  request(lines?: string[]): RouteContext;
  /** Sent messages, parsed. */
  sent(): Array<{ to: string; msg: SipRequest | SipResponse }>;
  /** Sent requests of a method to an address:port. */
  sentTo(method: string, to: string): SipRequest[];
  /** Replies sent to the caller (statuses). */
  upstream(): number[];
  /** Answer a sent request with a reply (as the downstream UAS would). */
  answer(req: SipRequest, status: number, toTag?: string): boolean;
}

export async function harness(params: Record<string, number | string> = {}, config?: KsrConfig): Promise<Harness> {
  const mod = await createModule(tmModule, { params, ...(config ? { config } : {}) });
  const api = mod.api<TmApi>();
  const sched = new FakeScheduler();
  api.setScheduler(sched);
  const services = testServices();
  const routes: Record<string, (ctx: RouteContext) => void> = {};
  api.attachRouting({
    run(ctx, name) {
      const f = routes[name];
      if (!f) throw new Error(`no route ${name}`);
      f(ctx);
      return { kind: 'ok', dropped: ctx.dropRequested };
    },
  });
  const parsed = () =>
    services.sent.map((s) => ({ to: `${s.target.address}:${s.target.port}`, msg: parseMessage(s.data) as SipRequest | SipResponse }));
  return {
    mod,
    api,
    sched,
    services,
    routes,
    call: (name, ctx, ...args) => (mod.fn(name) as (...a: unknown[]) => unknown)(ctx, ...args),
    request: (lines = INVITE_LINES) => makeContext(lines, { services }),
    sent: parsed,
    sentTo: (method, to) => parsed().filter((s) => s.to === to && 'method' in s.msg && s.msg.method === method).map((s) => s.msg as SipRequest),
    upstream: () => parsed().filter((s) => s.to === '192.0.2.10:5070' && 'status' in s.msg).map((s) => (s.msg as SipResponse).status),
    answer: (req, status, toTag = 'uas') => api.filterResponse(buildReply(req, status, undefined, { toTag }), UAS_INFO),
  };
}
