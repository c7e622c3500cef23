/**
 * Route contexts over real parsed messages, for unit tests of KSR exports.
 * `services` records what the exports asked for (replies, sends) instead of using sockets.
 */
import { silentLogger, type Logger } from '../../src/log.js';
import { MemorySharedVars, MessageState, RouteContext, type RouteServices, type RouteType } from '../../src/routing/index.js';
import { parseMessage } from '../../src/sip/index.js';
import type { ReceiveInfo, SendTarget } from '../../src/transport/index.js';

export interface RecordedReply {
  status: number;
  reason: string;
  extra?: { headers?: Array<[string, string]>; body?: string | Buffer; contentType?: string };
}

export interface TestServices extends RouteServices {
  replies: RecordedReply[];
  sent: Array<{ target: SendTarget; data: Buffer }>;
}

export function testServices(opts: { logger?: Logger; myself?: string[]; defines?: Record<string, string | null>; debug?: number } = {}): TestServices {
  const myself = new Set((opts.myself ?? ['127.0.0.1', 'ksr.test']).map((h) => h.toLowerCase()));
  const replies: RecordedReply[] = [];
  const sent: Array<{ target: SendTarget; data: Buffer }> = [];
  return {
    logger: opts.logger ?? silentLogger,
    myself: { isMyself: (host: string) => myself.has(host.toLowerCase().replace(/^\[|\]$/g, '')) },
    defines: new Map(Object.entries(opts.defines ?? {})),
    debugLevel: () => opts.debug ?? 2,
    vars: new Map(),
    shv: new MemorySharedVars(),
    replies,
    sent,
    reply: async (_ctx, status, reason, extra) => {
      replies.push({ status, reason, ...(extra ? { extra } : {}) });
      return true;
    },
    send: async (target, data) => {
      sent.push({ target, data });
    },
    localAddress: (proto, family) => (family === 4 ? { host: '127.0.0.1', port: 5060 } : { host: '[::1]', port: 5060 }),
    sockets: () => [],
    setDebugLevel: () => {},
  };
}

export const DEFAULT_INFO: ReceiveInfo = {
  proto: 'udp',
  local: { address: '127.0.0.1', port: 5060, family: 4 },
  remote: { address: '192.0.2.10', port: 5070, family: 4 },
  socketId: 0,
};

/** A SIP message from lines (CRLF-joined, Content-Length computed when a body is given). */
export function sipText(lines: string[], body = ''): Buffer {
  const head = lines.filter((l) => !/^content-length\s*:/i.test(l));
  head.push(`Content-Length: ${Buffer.byteLength(body)}`);
  return Buffer.from(`${head.join('\r\n')}\r\n\r\n${body}`, 'utf8');
}

export const INVITE_LINES = [
  'INVITE sip:bob@ksr.test SIP/2.0',
  'Via: SIP/2.0/UDP 192.0.2.10:5070;branch=z9hG4bK-inv1;rport',
  'Max-Forwards: 70',
  'From: "Alice" <sip:alice@atlanta.test>;tag=a1',
  'To: <sip:bob@ksr.test>',
  'Call-ID: call-1@192.0.2.10',
  'CSeq: 10 INVITE',
  'Contact: <sip:alice@192.0.2.10:5070>',
  'User-Agent: test-ua/1.0',
  'Content-Type: application/sdp',
];

export function makeContext(
  data: Buffer | string[] = INVITE_LINES,
  opts: { info?: Partial<ReceiveInfo>; services?: RouteServices; routeType?: RouteType; body?: string; state?: MessageState } = {},
): RouteContext & { services: RouteServices } {
  const buf = Buffer.isBuffer(data) ? data : sipText(data, opts.body ?? '');
  const msg = parseMessage(buf);
  const info = { ...DEFAULT_INFO, ...(opts.info ?? {}) } as ReceiveInfo;
  return new RouteContext(msg, info, opts.services ?? testServices(), opts.routeType ?? 'request', 'ksr_request_route', opts.state ?? new MessageState());
}
