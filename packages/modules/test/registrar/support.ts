/**
 * Test support for the rr / registrar / usrloc unit tests: hand-built module contexts, a fake
 * clock, route services with real listen sockets and "myself", and SIP message builders.
 */
import {
  MemorySharedVars,
  MessageState,
  RouteContext,
  StatsRegistry,
  parseMessage,
  type Logger,
  type ModuleContext,
  type PvRegistry,
  type ReceiveInfo,
  type RouteServices,
  type RouteType,
  type SocketInfo,
} from '@ksr/core';
import { sipText, type RecordedReply } from '../../../core/test/support/context.js';
import { FakeClock, recordingLogger, testModuleContext } from '../support/common.js';

export { FakeClock, recordingLogger } from '../support/common.js';

export function moduleContext(
  name: string,
  params: Record<string, string | number | Array<string | number>> = {},
  opts: { clock?: FakeClock; logger?: Logger; pv?: PvRegistry; stats?: StatsRegistry; apis?: Record<string, unknown> } = {},
): ModuleContext {
  return testModuleContext(name, params, opts);
}

export { instantiate, type Fn } from '../support/common.js';

/** Listen sockets: UDP and TCP on 127.0.0.1:5060, UDP on 10.0.0.1:5060 (ids 0, 1, 2). */
export const SOCKETS: SocketInfo[] = [
  { id: 0, proto: 'udp', local: { address: '127.0.0.1', port: 5060, family: 4 } },
  { id: 1, proto: 'tcp', local: { address: '127.0.0.1', port: 5060, family: 4 } },
  { id: 2, proto: 'udp', local: { address: '10.0.0.1', port: 5060, family: 4 } },
];

export interface Services extends RouteServices {
  replies: RecordedReply[];
}

/** Route services whose "myself" knows the sockets (host + port + proto) and the alias ksr.test. */
export function services(opts: { sockets?: SocketInfo[]; logger?: Logger } = {}): Services {
  const socks = opts.sockets ?? SOCKETS;
  const replies: RecordedReply[] = [];
  const bare = (h: string) => h.toLowerCase().replace(/^\[|\]$/g, '');
  return {
    logger: opts.logger ?? recordingLogger().logger,
    myself: {
      isMyself(host, port, proto) {
        const h = bare(host);
        if (h === 'ksr.test') return port === undefined || port === 5060;
        return socks.some((s) => bare(s.local.address) === h && (port === undefined || s.local.port === port) && (!proto || s.proto === proto.toLowerCase()));
      },
    },
    defines: new Map(),
    debugLevel: () => 2,
    vars: new Map(),
    shv: new MemorySharedVars(),
    replies,
    reply: async (_ctx, status, reason, extra) => {
      replies.push({ status, reason, ...(extra ? { extra } : {}) });
      return true;
    },
    send: async () => {},
    localAddress(proto, family) {
      const s = socks.find((x) => x.proto === proto && x.local.family === family);
      return s ? { host: s.local.address, port: s.local.port } : undefined;
    },
    sockets: () => socks,
    setDebugLevel: () => {},
  };
}

export function context(
  lines: string[],
  opts: { services?: RouteServices; info?: Partial<ReceiveInfo>; routeType?: RouteType; state?: MessageState; body?: string } = {},
): RouteContext {
  const msg = parseMessage(sipText(lines, opts.body ?? ''));
  const info: ReceiveInfo = {
    proto: 'udp',
    local: { address: '127.0.0.1', port: 5060, family: 4 },
    remote: { address: '192.0.2.10', port: 5070, family: 4 },
    socketId: 0,
    ...(opts.info ?? {}),
  };
  return new RouteContext(msg, info, opts.services ?? services(), opts.routeType ?? 'request', 'ksr_request_route', opts.state ?? new MessageState());
}

let seq = 0;

/** A REGISTER for `user` (To = From = sip:user@ksr.test). */
export function register(
  user: string,
  opts: { contacts?: string[]; expires?: number; callId?: string; cseq?: number; extra?: string[]; to?: string } = {},
): string[] {
  const callId = opts.callId ?? `reg-${user}-${++seq}@192.0.2.10`;
  return [
    'REGISTER sip:ksr.test SIP/2.0',
    `Via: SIP/2.0/UDP 192.0.2.10:5070;branch=z9hG4bK-reg${++seq};rport`,
    'Max-Forwards: 70',
    `From: <sip:${user}@ksr.test>;tag=f${seq}`,
    `To: ${opts.to ?? `<sip:${user}@ksr.test>`}`,
    `Call-ID: ${callId}`,
    `CSeq: ${opts.cseq ?? 1} REGISTER`,
    ...(opts.contacts ?? [`<sip:${user}@192.0.2.10:5070>`]).map((c) => `Contact: ${c}`),
    ...(opts.expires !== undefined ? [`Expires: ${opts.expires}`] : []),
    ...(opts.extra ?? []),
  ];
}

/** An INVITE to `ruri`. */
export function invite(ruri: string, extra: string[] = [], opts: { toTag?: string; method?: string } = {}): string[] {
  const m = opts.method ?? 'INVITE';
  return [
    `${m} ${ruri} SIP/2.0`,
    `Via: SIP/2.0/UDP 192.0.2.10:5070;branch=z9hG4bK-inv${++seq};rport`,
    'Max-Forwards: 70',
    'From: "Alice" <sip:alice@atlanta.test>;tag=a1',
    `To: <sip:bob@ksr.test>${opts.toTag ? `;tag=${opts.toTag}` : ''}`,
    `Call-ID: call-${seq}@192.0.2.10`,
    `CSeq: 10 ${m}`,
    'Contact: <sip:alice@192.0.2.10:5070>',
    ...extra,
  ];
}

/** The header lines of a message as it would be sent. */
export function sentHeaders(ctx: RouteContext): string[] {
  return ctx.msg.serialize().toString('utf8').split('\r\n\r\n')[0]!.split('\r\n');
}
