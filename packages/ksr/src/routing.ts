import {
  ConfigError,
  buildCoreRegistry,
  forwardReply,
  parseMessage,
  ErrorCodes,
  KsrError,
  RouteContext,
  RouteRuntime,
  ScriptHost,
  kamailioDebugToLevel,
  type Counter,
  type StatsRegistry,
  type EngineDescriptor,
  type LatencySettings,
  type FrozenKemiRegistry,
  type KemiExportDef,
  type KsrConfig,
  type Logger,
  type ReceiveInfo,
  type RouteServices,
  type SipRequest,
  type SipResponse,
} from '@ksr/core';
import { VERSION } from './version.js';

/**
 * The KSR.* API the server binds: core's exports (KSR.*, pv, hdr, kx, x), then each loaded
 * module's table. docs/kemi-api.md and the editor stubs are generated from this same registry.
 */
export function buildRegistry(modules: ReadonlyArray<[string, readonly KemiExportDef<RouteContext>[]]> = []): FrozenKemiRegistry<RouteContext> {
  const reg = buildCoreRegistry();
  for (const [name, exports] of modules) reg.addModule(name, exports);
  return reg.freeze();
}

/** The message KSR functions see outside any route (Kamailio's "faked message"). */
function fakedMessage(): SipRequest {
  return parseMessage(
    Buffer.from(
      'OPTIONS sip:you@kamailio.org SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1\r\nFrom: <sip:you@kamailio.org>;tag=123\r\n' +
        'To: <sip:you@kamailio.org>\r\nCall-ID: 123\r\nCSeq: 1 OPTIONS\r\nContent-Length: 0\r\n\r\n',
    ),
  ) as SipRequest;
}

const FAKED_INFO: ReceiveInfo = {
  proto: 'udp',
  local: { address: '127.0.0.1', port: 5060, family: 4 },
  remote: { address: '127.0.0.1', port: 5060, family: 4 },
  socketId: -1,
};

function globalString(cfg: KsrConfig, name: string): string | undefined {
  const v = cfg.globals.get(name)?.value;
  return typeof v === 'string' ? v : undefined;
}

/** kemi.*_callback: a name, or "none"/"" to turn the callback off. */
function callbackName(cfg: KsrConfig, name: string, dflt: string | undefined): string | undefined {
  const v = globalString(cfg, name);
  if (v === undefined) return dflt;
  return v === '' || v.toLowerCase() === 'none' ? undefined : v;
}

/** Kamailio's method-specific core counters (core:rcv_requests_<method>). */
const COUNTED_METHODS = ['INVITE', 'CANCEL', 'ACK', 'BYE', 'INFO', 'REGISTER', 'SUBSCRIBE', 'NOTIFY', 'MESSAGE', 'OPTIONS', 'PRACK', 'UPDATE', 'REFER', 'PUBLISH', 'KDMQ'] as const;

/** What the routing counts and measures (optional: tests may set up routing without it). */
export interface RoutingOptions {
  /** Core statistics (core:rcv_requests …) and the engine's (app_lua:routes …) go here. */
  stats?: StatsRegistry;
  /** Every route run with its duration in seconds (the /metrics histogram). */
  observeRoute?: (route: string, engine: string, seconds: number) => void;
}

type PinoLevel = 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace';

/** The latency_* core parameters as Kamailio numbers (levels are Kamailio debug levels). */
export interface LatencyNumbers {
  /** latency_cfg_log; undefined = route times are not logged. */
  latency_cfg_log: number | undefined;
  latency_limit_cfg: number;
  latency_log: number;
  latency_limit_action: number;
}

export function latencyNumbers(cfg: KsrConfig): LatencyNumbers {
  const num = (name: string): number | undefined => {
    const v = cfg.globals.get(name)?.value;
    return typeof v === 'number' && Number.isFinite(v) ? v : undefined;
  };
  return {
    latency_cfg_log: num('latency_cfg_log'),
    latency_limit_cfg: num('latency_limit_cfg') ?? 0,
    latency_log: num('latency_log') ?? -1, // Kamailio's default: L_ERR
    latency_limit_action: num('latency_limit_action') ?? 0,
  };
}

/** latency_* core parameters → RouteRuntime options (Kamailio debug numbers for the levels). */
export function latencyOptions(cfg: KsrConfig | LatencyNumbers): LatencySettings {
  const n = 'globals' in cfg ? latencyNumbers(cfg) : cfg;
  const level = (x: number): PinoLevel => {
    const l = kamailioDebugToLevel(x);
    return l === 'silent' ? 'fatal' : l;
  };
  const cfgLog = n.latency_cfg_log;
  const limitCfg = n.latency_limit_cfg;
  const limitAction = n.latency_limit_action;
  const actionLog = n.latency_log;
  return {
    ...(cfgLog !== undefined ? { latencyLogLevel: level(cfgLog) } : {}),
    ...(limitCfg > 0 ? { latencyLimitUs: limitCfg } : {}),
    ...(limitAction > 0 ? { actionLatency: { limitUs: limitAction, level: level(actionLog) } } : {}),
  };
}

export interface Routing {
  readonly engine: EngineDescriptor;
  /** The frozen KSR.* registry the engine binds (app_*.api_list). */
  readonly registry: FrozenKemiRegistry<RouteContext>;
  readonly host: ScriptHost;
  readonly runtime: RouteRuntime;
  readonly requestRoute: string;
  readonly replyRoute: string | undefined;
  /** The services KSR functions reach. */
  readonly services: RouteServices;
  onRequest(req: SipRequest, info: ReceiveInfo): void;
  /**
   * Run an event route: `callback` of the script with the event name as argument (Kamailio's
   * event_callback modparams), on a faked message. Returns false when the script lacks it.
   */
  runEvent(callback: string, event: string): boolean;
  onResponse(res: SipResponse, info: ReceiveInfo): void;
  dispose(): void;
}

/**
 * Set up the routing engine named by `cfgengine`: check its module is loaded, find its script,
 * build the runtime over the frozen registry and load the script (validated before any socket
 * opens). Returns undefined when the config names no engine.
 */
export async function setupRouting(
  cfg: KsrConfig,
  engines: readonly EngineDescriptor[],
  logger: Logger,
  services: RouteServices,
  moduleTables: ReadonlyArray<[string, readonly KemiExportDef<RouteContext>[]]> = [],
  requestFilters: ReadonlyArray<(ctx: RouteContext) => boolean> = [],
  responseFilters: ReadonlyArray<(res: SipResponse, info: ReceiveInfo) => boolean> = [],
  opts: RoutingOptions = {},
): Promise<Routing | undefined> {
  if (!cfg.cfgengine) return undefined;
  const { name, loc } = cfg.cfgengine;
  if (name === 'native') {
    throw new ConfigError('cfgengine "native": ksr has no native routing language; use a KEMI engine (lua, jsdt, python, python3s)', loc);
  }
  // Several engines may answer to one name (Kamailio's app_python3 and app_python3s both use
  // "python"): the one whose module is loaded wins.
  const candidates = engines.filter((e) => e.cfgengineNames.includes(name));
  const engine = candidates.find((e) => cfg.modules.some((m) => m.name === e.module.name)) ?? candidates[0];
  if (!engine) {
    throw new ConfigError(`cfgengine "${name}": this engine is not available in ksr yet`, loc);
  }
  if (!cfg.modules.some((m) => m.name === engine.module.name)) {
    throw new ConfigError(`cfgengine "${name}" needs loadmodule "${engine.module.name}.so"`, loc);
  }
  const params = new Map<string, Array<string | number>>();
  for (const mp of cfg.modparams) {
    if (mp.module !== engine.module.name) continue;
    const list = params.get(mp.param) ?? [];
    list.push(mp.value);
    params.set(mp.param, list);
  }
  const scriptParam = engine.scriptParams.find((p) => params.has(p));
  const script = scriptParam ? params.get(scriptParam)!.at(-1) : undefined;
  if (typeof script !== 'string' || script === '') {
    throw new ConfigError(`cfgengine "${name}": no script: set modparam("${engine.module.name}", "${engine.scriptParams[0]}", "/path/to/script")`, loc);
  }
  const registry = buildRegistry(moduleTables);
  const requestRoute = callbackName(cfg, 'kemi.request_route_callback', 'ksr_request_route') ?? 'ksr_request_route';
  const replyRoute = callbackName(cfg, 'kemi.reply_route_callback', 'ksr_reply_route');
  const stats = opts.stats;
  const engineGroup = engine.module.name;
  const routesRun = stats?.counter(engineGroup, 'routes');
  const routeErrors = stats?.counter(engineGroup, 'route_errors');
  const observe = opts.observeRoute;
  const runtime = new RouteRuntime({
    registry,
    logger,
    // KSR calls made while the script loads (top-level code, mod_init) act on a faked message, as
    // in Kamailio
    initContext: () => new RouteContext(fakedMessage(), FAKED_INFO, services, 'event', 'script-init'),
    ...latencyOptions(cfg),
    ...(stats || observe
      ? {
          onRouteDone: (ctx: RouteContext, _func: string, seconds: number, kind: string) => {
            routesRun?.inc();
            if (kind === 'error') routeErrors?.inc();
            observe?.(ctx.routeType, engine.name, seconds);
          },
        }
      : {}),
  });
  const host = new ScriptHost(engine, {
    registry,
    invoke: runtime.invoke,
    logger,
    script,
    params,
    requiredFunctions: [requestRoute],
    version: VERSION,
  });
  try {
    await host.start();
  } catch (err) {
    if (err instanceof KsrError) throw err;
    throw new KsrError(ErrorCodes.SCRIPT_LOAD, `${script}: ${(err as Error).message}`, { cause: err });
  }
  const hasReplyRoute = replyRoute !== undefined && host.current.hasFunction(replyRoute);
  // core statistics, counted where they happen (Kamailio's names)
  const core = (name: string): Counter | undefined => stats?.counter('core', name);
  const rcvRequests = core('rcv_requests');
  const byMethod: Record<string, Counter | undefined> = {};
  for (const m of COUNTED_METHODS) byMethod[m] = core(`rcv_requests_${m.toLowerCase()}`);
  const unsupported = core('unsupported_methods');
  const rcvReplies = core('rcv_replies');
  const byClass = [1, 2, 3, 4, 5, 6].map((c) => core(`rcv_replies_${c}xx`));
  const fwdRequests = core('fwd_requests');
  const fwdReplies = core('fwd_replies');
  const dropRequests = core('drop_requests');
  const dropReplies = core('drop_replies');
  const errRequests = core('err_requests');
  const errReplies = core('err_replies');
  logger.info(`routing with ${engine.name}: ${script} (${requestRoute}${hasReplyRoute ? `, ${replyRoute}` : ''})`);
  return {
    engine,
    registry,
    host,
    runtime,
    requestRoute,
    replyRoute: hasReplyRoute ? replyRoute : undefined,
    services,
    onRequest(req, info) {
      const ctx = new RouteContext(req, info, services, 'request', requestRoute);
      if (rcvRequests) {
        rcvRequests.inc();
        const m = byMethod[req.method];
        if (m) m.inc();
        else if (!Object.hasOwn(byMethod, req.method)) unsupported!.inc();
      }
      for (const absorbed of requestFilters) if (absorbed(ctx)) return;
      const r = host.run(runtime, ctx, requestRoute);
      if (rcvRequests) {
        if (r.kind === 'error') errRequests!.inc();
        if (r.dropped) dropRequests!.inc();
        else if (ctx.relayed) fwdRequests!.inc();
      }
    },
    runEvent(callback, event) {
      if (!host.current.hasFunction(callback)) {
        logger.error(`event ${event}: the script has no function ${callback}`);
        return false;
      }
      const ctx = new RouteContext(fakedMessage(), FAKED_INFO, services, 'event', callback);
      host.run(runtime, ctx, callback, [event]);
      return true;
    },
    onResponse(res, info) {
      const ctx = new RouteContext(res, info, services, 'reply', replyRoute ?? 'reply');
      if (rcvReplies) {
        rcvReplies.inc();
        byClass[Math.floor(res.status / 100) - 1]?.inc();
      }
      if (hasReplyRoute && replyRoute !== undefined) {
        const r = host.run(runtime, ctx, replyRoute);
        if (r.kind === 'error') errReplies?.inc();
        if (r.dropped) {
          dropReplies?.inc();
          return;
        }
      }
      // Core stateless reply forwarding (as Kamailio's core does without a transaction): a reply
      // whose top Via is ours goes to the next Via; anything else is not ours to forward.
      if (ctx.relayed) return;
      // the route may have replaced the message (msg_apply_changes, change_reply_status)
      res = ctx.msg as SipResponse;
      // a module that owns the reply (tm: one of its transactions) takes it from here
      for (const taken of responseFilters) if (taken(res, info)) return;
      const top = res.via[0];
      if (!top || !services.myself.isMyself(top.host, top.port ?? 5060, top.transport.toLowerCase())) {
        logger.debug({ callId: res.callId, status: res.status }, 'reply dropped: its top Via is not ours');
        return;
      }
      if (forwardReply(ctx, res) > 0) fwdReplies?.inc();
    },
    dispose() {
      host.dispose();
    },
  };
}
