/**
 * Test support for textops, textopsx, siputils and corex: module instances over a hand-built
 * ModuleContext, and route contexts over real parsed messages whose logger records lines.
 */
import {
  MessageState,
  createPvRegistry,
  parseMessage,
  type KemiExportDef,
  type KsrModuleDef,
  type Logger,
  type ModuleContext,
  type ModuleInstance,
  type PvRegistry,
  type ReceiveInfo,
  type RouteContext,
  type RouteType,
  type SipRequest,
  type SipResponse,
} from '@ksr/core';
import { testModuleContext } from '../support/common.js';
import { INVITE_LINES, makeContext, sipText, testServices, type TestServices } from '../../../core/test/support/context.js';

export { INVITE_LINES, sipText };

export interface LoggedLine {
  level: string;
  msg: string;
}

/** A pino-like logger that records every line. */
export function recordingLogger(): Logger & { lines: LoggedLine[]; errors(): string[] } {
  const lines: LoggedLine[] = [];
  const at =
    (level: string) =>
    (a: unknown, b?: unknown): void => {
      lines.push({ level, msg: typeof a === 'string' ? a : typeof b === 'string' ? b : '' });
    };
  const logger = {
    lines,
    errors: () => lines.filter((l) => l.level === 'error').map((l) => l.msg),
    level: 'trace',
    isLevelEnabled: () => true,
    trace: at('trace'),
    debug: at('debug'),
    info: at('info'),
    warn: at('warn'),
    error: at('error'),
    fatal: at('fatal'),
    child: () => logger,
  };
  return logger as unknown as Logger & { lines: LoggedLine[]; errors(): string[] };
}

export { testConfig } from '../support/common.js';

export interface Loaded {
  instance: ModuleInstance;
  pv: PvRegistry;
  logger: ReturnType<typeof recordingLogger>;
  exp(name: string): KemiExportDef<RouteContext>;
  /** Call an export by name with the context and arguments. */
  call(name: string, ctx: RouteContext, ...args: Array<string | number>): unknown;
}

export async function load(
  def: KsrModuleDef,
  opts: { params?: Record<string, string | number>; apis?: Record<string, unknown>; now?: () => number; pv?: PvRegistry } = {},
): Promise<Loaded> {
  const values = new Map<string, Array<string | number>>();
  for (const [k, v] of Object.entries(opts.params ?? {})) {
    const spec = def.params[k];
    if (!spec) throw new Error(`module ${def.name} has no parameter ${k}`);
    const err = spec.check?.(v);
    if (err) throw new Error(`modparam ${def.name} ${k}: ${err}`);
    values.set(k, [v]);
  }
  const logger = recordingLogger();
  const pv = opts.pv ?? createPvRegistry();
  const mctx: ModuleContext = testModuleContext(def.name, values, {
    logger,
    clock: { now: opts.now ?? (() => Date.now()), every: () => ({ cancel() {} }) },
    pv,
    ...(opts.apis ? { apis: opts.apis } : {}),
    declared: [...(def.dependencies ?? []), ...(def.optionalDependencies ?? [])],
  });
  const instance = await def.create(mctx);
  const exp = (name: string): KemiExportDef<RouteContext> => {
    const e = instance.exports?.find((x) => x.name === name);
    if (!e) throw new Error(`module ${def.name} has no export ${name}`);
    return e;
  };
  return { instance, pv, logger, exp, call: (name, ctx, ...args) => exp(name).fn(ctx, ...args) };
}

export interface Ctx {
  ctx: RouteContext;
  services: TestServices;
  logger: ReturnType<typeof recordingLogger>;
  /** The message as it would be sent now. */
  out(): string;
  req(): SipRequest;
  res(): SipResponse;
}

/** A route context over a real parsed message, its logger recording. */
export function mk(
  data: string[] | Buffer | string = INVITE_LINES,
  opts: { body?: string; routeType?: RouteType; info?: Partial<ReceiveInfo>; state?: MessageState; sockets?: TestServices['sockets'] } = {},
): Ctx {
  const logger = recordingLogger();
  const services = testServices({ logger });
  if (opts.sockets) (services as { sockets: TestServices['sockets'] }).sockets = opts.sockets;
  const buf = typeof data === 'string' ? Buffer.from(data, 'utf8') : Buffer.isBuffer(data) ? data : sipText(data, opts.body ?? '');
  const ctx = makeContext(buf, { services, routeType: opts.routeType ?? 'request', ...(opts.info ? { info: opts.info } : {}), ...(opts.state ? { state: opts.state } : {}) });
  return {
    ctx,
    services,
    logger,
    out: () => ctx.msg.serialize().toString('utf8'),
    req: () => ctx.msg as SipRequest,
    res: () => ctx.msg as SipResponse,
  };
}

/** The message `out` parsed again (the serialized output must always re-parse). */
export function reparse(text: string): SipRequest | SipResponse {
  return parseMessage(Buffer.from(text, 'utf8'));
}

export const REPLY_LINES = [
  'SIP/2.0 200 OK',
  'Via: SIP/2.0/UDP 127.0.0.1:5060;branch=z9hG4bK-p1',
  'Via: SIP/2.0/UDP 192.0.2.10:5070;branch=z9hG4bK-inv1;rport=5070',
  'Record-Route: <sip:127.0.0.1;lr>',
  'From: "Alice" <sip:alice@atlanta.test>;tag=a1',
  'To: <sip:bob@ksr.test>;tag=b2',
  'Call-ID: call-1@192.0.2.10',
  'CSeq: 10 INVITE',
  'Contact: <sip:bob@192.0.2.20:5080>',
];

export const SDP = ['v=0', 'o=alice 1 1 IN IP4 192.0.2.10', 's=-', 'c=IN IP4 192.0.2.10', 't=0 0', 'm=audio 4000 RTP/AVP 0', 'a=rtpmap:0 PCMU/8000', ''].join('\r\n');
