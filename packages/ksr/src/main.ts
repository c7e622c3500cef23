import { isIP } from 'node:net';
import {
  ConfigError,
  KsrError,
  SipServer,
  createLogger,
  kamailioDebugToLevel,
  loadConfig,
  createModuleCatalogue,
  moduleSchema,
  type EngineDescriptor,
  type KsrConfig,
  type ModuleCatalogue,
  type ModuleSchema,
  type KsrModuleDef,
  type Logger,
  type ReceiveInfo,
  type SipRequest,
  type SipResponse,
  type TransportListenSpec,
} from '@ksr/core';
import { builtinModules, type JsonrpcsApi, type TmApi } from '@ksr/modules';
import type { RpcRegistry } from '@ksr/core';
import { buildRpc, processGauges } from './rpc.js';
import { runCtl } from './ctl.js';
import { runDbCli } from './cli-db.js';
import pretty from 'pino-pretty';
import { USAGE, parseArgs, type CliOptions } from './args.js';
import { noEngineHandler } from './no-engine.js';
import { loadModules, type LoadedModules } from './modules.js';
import { setupRouting, type Routing } from './routing.js';
import { createServices } from './services.js';
import { VERSION } from './version.js';
import { availableEngines, engineModules } from './engines.js';

/**
 * Modules whose KEMI exports live in core: `kemix` (KSR.kx) is always bound, and loading it is
 * accepted so Kamailio configs that name it work unchanged.
 */
const CORE_MODULES: readonly ModuleSchema[] = [{ name: 'kemix', params: {} }];

/** Everything `loadmodule` may name: the modules package and the engines' app_* modules. */
export function catalogue(modules: readonly KsrModuleDef[] = builtinModules, engines?: readonly EngineDescriptor[]): ModuleCatalogue {
  const engineSchemas = engines ? engines.map((e) => e.module) : engineModules();
  return createModuleCatalogue([...CORE_MODULES, ...modules.map(moduleSchema), ...engineSchemas]);
}

export { VERSION };

export interface RunningServer {
  server: SipServer;
  routing?: Routing;
  modules: LoadedModules;
  /** The RPC command table (jsonrpcs serves it; tests call it directly). */
  rpc: RpcRegistry;
  logger: Logger;
  stop(): Promise<void>;
}

interface Io {
  stdout: (s: string) => void;
  stderr: (s: string) => void;
}

const defaultIo: Io = {
  stdout: (s) => process.stdout.write(s),
  stderr: (s) => process.stderr.write(s),
};

function globalValue(cfg: KsrConfig, name: string): string | number | boolean | undefined {
  return cfg.globals.get(name)?.value;
}

function asBool(v: string | number | boolean | undefined): boolean | undefined {
  if (v === undefined) return undefined;
  if (typeof v === 'boolean') return v;
  if (typeof v === 'number') return v !== 0;
  return /^(yes|on|true|1)$/i.test(v);
}

/** Turn the config's listen= lines (or -l overrides) into transport sockets. */
export function resolveListen(cfg: KsrConfig, overrides: readonly string[], log: Logger): TransportListenSpec[] {
  const defaultPort = Number(globalValue(cfg, 'port') ?? 5060);
  const disableTcp = asBool(globalValue(cfg, 'disable_tcp')) === true;
  const entries = overrides.length > 0 ? overrides.map((text) => parseListenOverride(text)) : cfg.listen;
  const out: TransportListenSpec[] = [];
  const source = entries.length > 0 ? entries : [{ proto: 'any' as const, address: '127.0.0.1', port: undefined }];
  for (const e of source) {
    let address = e.address === '*' ? '0.0.0.0' : e.address;
    if (address === 'localhost') address = '127.0.0.1';
    if (!isIP(address)) {
      throw new KsrError('KSR_ERR_CONFIG', `listen address '${e.address}' is not an IP address (host names are not resolved)`);
    }
    const port = e.port ?? defaultPort;
    const protos: Array<'udp' | 'tcp'> = e.proto === 'any' ? ['udp', 'tcp'] : e.proto === 'udp' || e.proto === 'tcp' ? [e.proto] : [];
    if (protos.length === 0) {
      log.warn(`listen=${e.proto}:${e.address}: transport ${e.proto} is not supported by ksr; ignored`);
      continue;
    }
    for (const proto of protos) {
      if (proto === 'tcp' && disableTcp) continue;
      out.push({ proto, address, port, ...(e.advertise ? { advertise: e.advertise } : {}) });
    }
  }
  if (out.length === 0) throw new KsrError('KSR_ERR_CONFIG', 'no usable listen address');
  return out;
}

function parseListenOverride(text: string): { proto: 'udp' | 'tcp' | 'any'; address: string; port: number | undefined; advertise?: { address: string; port?: number } } {
  let rest = text.trim();
  let proto: 'udp' | 'tcp' | 'any' = 'any';
  const m = /^(udp|tcp):(.*)$/i.exec(rest);
  if (m) {
    proto = m[1]!.toLowerCase() as 'udp' | 'tcp';
    rest = m[2]!;
  }
  let address = rest;
  let port: number | undefined;
  const v6 = /^\[([^\]]+)\](?::(\d+))?$/.exec(rest);
  if (v6) {
    address = v6[1]!;
    port = v6[2] !== undefined ? Number(v6[2]) : undefined;
  } else if (!isIP(rest)) {
    const colon = rest.lastIndexOf(':');
    if (colon > 0) {
      address = rest.slice(0, colon);
      port = Number(rest.slice(colon + 1));
    }
  }
  if (port !== undefined && !(Number.isInteger(port) && port >= 0 && port <= 65535)) {
    throw new KsrError('KSR_ERR_USAGE', `-l ${text}: bad port`);
  }
  return { proto, address, port };
}

const PINO_TO_DEBUG: Record<string, number> = { fatal: -2, error: -1, warn: 0, info: 2, debug: 3, trace: 4, silent: -5 };

/** The current log level as a Kamailio debug number (KSR.get_debug). */
function debugLevelOf(logger: Logger): number {
  return PINO_TO_DEBUG[logger.level] ?? 2;
}

/** Build the root logger from the command line and the config's globals. */
export function makeLogger(cli: CliOptions, cfg: KsrConfig | undefined): Logger {
  const debugBase = Number(cfg ? (globalValue(cfg, 'debug') ?? 2) : 2);
  const level = kamailioDebugToLevel((Number.isFinite(debugBase) ? debugBase : 2) + cli.debugIncrements);
  const toStderr = cli.logStderr || (cfg ? asBool(globalValue(cfg, 'log_stderror')) === true : false);
  const stream = toStderr ? process.stderr : process.stdout;
  const prefix = cfg ? globalValue(cfg, 'log_prefix') : undefined;
  const common = { level, ...(typeof prefix === 'string' && prefix !== '' ? { prefix } : {}) };
  if (stream.isTTY) {
    return createLogger({
      ...common,
      destination: pretty({ destination: toStderr ? 2 : 1, sync: true, colorize: true, translateTime: 'SYS:HH:MM:ss.l', ignore: 'pid,hostname' }),
    });
  }
  return createLogger({ ...common, destination: stream });
}

/**
 * Load the config, open the sockets and serve. Resolves once serving; the returned `stop`
 * closes everything.
 */
export async function startServer(
  cli: CliOptions,
  cfg: KsrConfig,
  logger: Logger,
  opts: { engines?: readonly EngineDescriptor[]; modules?: readonly KsrModuleDef[] } = {},
): Promise<RunningServer> {
  const children = Number(globalValue(cfg, 'children') ?? 1);
  if (children > 1) {
    logger.info(`children=${children}: this version routes in one worker; shared state is kept behind interfaces for more`);
  }
  if (!cfg.cfgengine) {
    logger.warn(
      'no cfgengine in the config: no routing script is loaded, so OPTIONS to this server get 200 and every other request gets 500 "No Routing Script"',
    );
  }
  const listen = resolveListen(cfg, cli.listen, logger);
  const serverSignature = asBool(globalValue(cfg, 'server_signature')) !== false;
  const serverHeaderCfg = globalValue(cfg, 'server_header');
  const serverHeader = !serverSignature
    ? ''
    : typeof serverHeaderCfg === 'string' && serverHeaderCfg !== ''
      ? serverHeaderCfg
      : `Server: ksr (${VERSION})`;
  const maxbuffer = globalValue(cfg, 'maxbuffer');
  const lifetime = globalValue(cfg, 'tcp_connection_lifetime');
  const maxConn = globalValue(cfg, 'tcp_max_connections');
  const connectTimeout = globalValue(cfg, 'tcp_connect_timeout');
  let routing: Routing | undefined;
  const server: SipServer = new SipServer({
    logger,
    listen,
    serverHeader,
    ...(typeof maxbuffer === 'number' ? { limits: { maxMessageSize: maxbuffer } } : {}),
    transport: {
      ...(typeof lifetime === 'number' ? { tcpConnectionLifetimeMs: lifetime * 1000 } : {}),
      ...(typeof maxConn === 'number' ? { tcpMaxConnections: maxConn } : {}),
      ...(typeof connectTimeout === 'number' ? { tcpConnectTimeoutMs: connectTimeout * 1000 } : {}),
    },
    onRequest: (req: SipRequest, info: ReceiveInfo) => (routing ? routing.onRequest(req, info) : noEngine(req, info)),
    onResponse: (res: SipResponse, info: ReceiveInfo) => routing?.onResponse(res, info),
  });
  const noEngine = noEngineHandler(() => server, logger);
  // the cfg `debug` level (cfg.set core debug changes it; KSR.resetdebug returns to it)
  let configuredLevel = logger.level;
  const services = createServices({
    server,
    logger,
    cfg,
    debugLevel: () => debugLevelOf(logger),
    setDebugLevel: (level) => {
      logger.level = level === undefined ? configuredLevel : kamailioDebugToLevel(level);
    },
  });
  const modules = await loadModules(cfg, opts.modules ?? builtinModules, services, logger);
  const jsonrpcs = modules.api<JsonrpcsApi>('jsonrpcs');
  // the script is loaded and validated before any socket opens
  try {
    routing = await setupRouting(
      cfg,
      opts.engines ?? availableEngines(),
      logger,
      services,
      modules.kemiTables(),
      modules.requestFilters(),
      modules.responseFilters(),
      {
        stats: modules.stats,
        ...(jsonrpcs ? { observeRoute: (route: string, engine: string, sec: number) => jsonrpcs.observeRoute(route, engine, sec) } : {}),
      },
    );
  } catch (err) {
    await modules.destroy();
    throw err;
  }
  // the RPC command table: a duplicate name stops the start-up before any socket opens
  const startedAt = Date.now();
  let rpc: RpcRegistry;
  try {
    rpc = buildRpc({
      cfg,
      server,
      modules,
      routing,
      services,
      stats: modules.stats,
      startedAt,
      setCoreDebug: (level) => {
        configuredLevel = kamailioDebugToLevel(level);
        services.setDebugLevel?.(level);
      },
    });
    processGauges(modules.stats, server, startedAt);
  } catch (err) {
    routing?.dispose();
    await modules.destroy();
    throw err;
  }
  try {
    await server.start();
  } catch (err) {
    routing?.dispose();
    await modules.destroy();
    throw err;
  }
  // tm runs its route callbacks (onreply, failure, branch) through the routing engine
  if (routing) {
    const r = routing;
    modules.api<TmApi>('tm')?.attachRouting({
      run: (ctx, fn, args) => r.host.run(r.runtime, ctx, fn, args),
      hasFunction: (fn) => r.host.current.hasFunction(fn),
    });
    // run-time event routes of modules (htable:expired:<table> …)
    modules.attachEvents((callback, event) => r.runEvent(callback, event));
  }
  jsonrpcs?.attach(rpc);
  // module start-up events (htable:mod-init …) run once the script is loaded and sockets are open
  for (const { instance } of modules.list) {
    for (const ev of instance.startupEvents ?? []) {
      if (routing) routing.runEvent(ev.callback, ev.event);
      else logger.warn(`event ${ev.event}: no routing engine to run ${ev.callback}`);
    }
  }
  for (const s of server.transport.sockets) {
    const host = s.local.family === 6 ? `[${s.local.address}]` : s.local.address;
    logger.info(`listening on ${s.proto}:${host}:${s.local.port}`);
  }
  const srv = server;
  const r = routing;
  return {
    server: srv,
    logger,
    ...(r ? { routing: r } : {}),
    modules,
    rpc,
    stop: async () => {
      await srv.stop();
      r?.dispose();
      await modules.destroy();
    },
  };
}

/** The `ksr` command. Returns the exit code. */
export async function main(argv: readonly string[], io: Io = defaultIo): Promise<number> {
  // `ksr ctl <method> [params…]`: the RPC client (kamcmd-like)
  if (argv[0] === 'ctl') return runCtl(argv.slice(1), io);
  // `ksr db init`, `ksr user add|rm|passwd|list`: the database (cli-db.ts)
  if (argv[0] === 'db' || argv[0] === 'user') return runDbCli(argv, io, (file) => loadConfig(file, { modules: catalogue() }));
  let cli: CliOptions;
  try {
    cli = parseArgs(argv);
  } catch (err) {
    io.stderr(`ksr: ${(err as Error).message}\n\n${USAGE}\n`);
    return 2;
  }
  if (cli.help) {
    io.stdout(`${USAGE}\n`);
    return 0;
  }
  if (cli.version) {
    io.stdout(`ksr ${VERSION} (node ${process.version})\n`);
    return 0;
  }
  let cfg: KsrConfig;
  try {
    cfg = loadConfig(cli.configFile, { defines: cli.defines, modules: catalogue() });
  } catch (err) {
    if (err instanceof ConfigError || err instanceof KsrError) {
      io.stderr(`ksr: error: ${err.message}\n`);
      return 1;
    }
    throw err;
  }
  const logger = makeLogger(cli, cfg);
  for (const w of cfg.warnings) logger.warn(`${w.loc.file}:${w.loc.line}: ${w.message}`);
  for (const flag of cli.ignored) logger.warn(`option ${flag} has no effect in ksr`);
  if (cli.checkOnly) {
    try {
      resolveListen(cfg, cli.listen, logger);
    } catch (err) {
      io.stderr(`ksr: error: ${(err as Error).message}\n`);
      return 1;
    }
    io.stdout(`${cli.configFile}: config file ok\n`);
    return 0;
  }
  let running: RunningServer;
  try {
    running = await startServer(cli, cfg, logger);
  } catch (err) {
    logger.fatal({ err }, `cannot start: ${(err as Error).message}`);
    logger.flush?.();
    return 1;
  }
  logger.info(`ksr ${VERSION} serving (${cli.configFile})`);
  return await new Promise<number>((resolve) => {
    let stopping = false;
    const onSignal = (sig: NodeJS.Signals): void => {
      if (stopping) {
        logger.warn(`${sig} again: exiting now`);
        resolve(1);
        return;
      }
      stopping = true;
      logger.info(`${sig} received: closing sockets`);
      const force = setTimeout(() => {
        logger.error('sockets did not close within 5 s: exiting anyway');
        resolve(1);
      }, 5000);
      force.unref();
      running.stop().then(
        () => {
          clearTimeout(force);
          logger.info('stopped');
          resolve(0);
        },
        (err: unknown) => {
          clearTimeout(force);
          logger.error({ err }, 'error while stopping');
          resolve(1);
        },
      );
    };
    process.on('SIGTERM', onSignal);
    process.on('SIGINT', onSignal);
  });
}

