/**
 * The server's RPC command table: core commands (system.*, core.*, stats.*, cfg.*), corex.debug,
 * the routing engine's (app_lua.reload …), tm's (from its API), and every loaded module's own
 * `ModuleInstance.rpc`. A name registered twice stops the start-up (KSR_ERR_RPC_DUPLICATE).
 */
import { arch, platform } from 'node:os';
import {
  RpcError,
  RpcRegistry,
  rpcParams,
  type KsrConfig,
  type RouteServices,
  type RpcCommand,
  type SipServer,
  type StatsRegistry,
} from '@ksr/core';
import type { TmApi } from '@ksr/modules';
import type { LoadedModules } from './modules.js';
import { latencyNumbers, latencyOptions, type Routing } from './routing.js';
import { VERSION } from './version.js';

export interface RpcContext {
  cfg: KsrConfig;
  server: SipServer;
  modules: LoadedModules;
  routing: Routing | undefined;
  services: RouteServices;
  stats: StatsRegistry;
  /** When the server started (ms since the epoch). */
  startedAt: number;
  /** Change the cfg `debug` level now (the level KSR.resetdebug returns to as well). */
  setCoreDebug?: (level: number) => void;
}

/** Kamailio's cfg.* variables ksr can read and change at run time: group → name → accessor. */
interface CfgVar {
  doc: string;
  get(): number | null;
  set(v: number): void;
}

function cfgVars(c: RpcContext): Map<string, CfgVar> {
  // latency_*: the numbers as configured, changed by cfg.set and pushed to the route runtime
  const latency = latencyNumbers(c.cfg);
  const latencyVar = (name: keyof typeof latency, doc: string): [string, CfgVar] => [
    `core.${name}`,
    {
      doc,
      get: () => latency[name] ?? null,
      set: (v) => {
        if (name !== 'latency_cfg_log' && name !== 'latency_log' && v < 0) throw new RpcError(400, `${name} must be >= 0`);
        latency[name] = v;
        c.routing?.runtime.setLatency(latencyOptions(latency));
      },
    },
  ];
  return new Map<string, CfgVar>([
    latencyVar('latency_cfg_log', 'log level of "request-route executed in: N usec" (null: off)'),
    latencyVar('latency_limit_cfg', 'only routes that take at least this many microseconds are logged'),
    latencyVar('latency_log', 'log level of the slow KSR call alerts'),
    latencyVar('latency_limit_action', 'alert when one KSR call takes at least this many microseconds (0: off)'),
    [
      'core.debug',
      {
        doc: 'log level (Kamailio debug numbers: -1 error, 0 warn, 2 info, 3 debug, 4 trace)',
        get: () => c.services.debugLevel(),
        set: (v) => (c.setCoreDebug ? c.setCoreDebug(v) : c.services.setDebugLevel?.(v)),
      },
    ],
  ]);
}

function statLines(stats: StatsRegistry, filters: readonly string[]): string[] {
  const out: string[] = [];
  for (const f of filters.length > 0 ? filters : ['all']) for (const e of stats.select(f)) out.push(`${e.group}:${e.name} = ${e.value}`);
  return out;
}

function filtersOf(params: readonly unknown[]): string[] {
  return params.map((_, i) => rpcParams.str(params, i, 'statistic'));
}

function ctime(ms: number): string {
  // the asctime() text Kamailio prints (with its trailing newline)
  const d = new Date(ms);
  const days = ['Sun', 'Mon', 'Tue', 'Wed', 'Thu', 'Fri', 'Sat'];
  const months = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];
  const p2 = (n: number): string => String(n).padStart(2, '0');
  return `${days[d.getDay()]} ${months[d.getMonth()]} ${String(d.getDate()).padStart(2, ' ')} ${p2(d.getHours())}:${p2(d.getMinutes())}:${p2(d.getSeconds())} ${d.getFullYear()}\n`;
}

export function coreRpc(c: RpcContext, registry: RpcRegistry): RpcCommand[] {
  const vars = cfgVars(c);
  const cfgVar = (params: readonly unknown[]): [string, CfgVar] => {
    const key = `${rpcParams.str(params, 0, 'group')}.${rpcParams.str(params, 1, 'variable')}`;
    const v = vars.get(key);
    if (!v) throw new RpcError(404, `unknown cfg variable ${key} (known: ${[...vars.keys()].join(', ')})`);
    return [key, v];
  };
  const setVar = (params: readonly unknown[]): null => {
    rpcParams.max(params, 3);
    const [, v] = cfgVar(params);
    v.set(rpcParams.int(params, 2, 'value'));
    return null;
  };
  const moduleNames = (): string[] => {
    const names = new Set<string>();
    for (const m of c.cfg.modules) names.add(m.name);
    return [...names];
  };
  return [
    { name: 'system.listMethods', doc: 'Lists all RPC methods supported by the server', handler: () => registry.names() },
    {
      name: 'system.methodHelp',
      doc: 'Print the help string for a given method: system.methodHelp method',
      handler(params) {
        const name = rpcParams.str(params, 0, 'method');
        const doc = registry.help(name);
        if (doc === undefined) throw new RpcError(400, `command ${name} not found`);
        return doc;
      },
    },
    { name: 'core.echo', doc: 'Returns back its parameters', handler: (params) => [...params] },
    { name: 'core.version', doc: 'Returns the version string of the server', handler: () => `ksr ${VERSION} (${arch()}/${platform()}) node ${process.version}` },
    {
      name: 'core.info',
      doc: 'Version and build information',
      handler: () => ({ version: `ksr ${VERSION}`, id: 'ksr', compiler: `node ${process.version}`, compiled: 'from source (tsx)', flags: `${platform()}/${arch()}` }),
    },
    {
      name: 'core.uptime',
      doc: 'Current time, start time and uptime in seconds',
      handler: () => {
        const now = Date.now();
        return { now: ctime(now), up_since: ctime(c.startedAt), uptime: Math.floor((now - c.startedAt) / 1000) };
      },
    },
    { name: 'core.ps', doc: 'Process ids and descriptions', handler: () => [process.pid, 'main process - SIP routing and timers (ksr routes in one worker)'] },
    { name: 'core.psx', doc: 'Process details', handler: () => [{ IDX: 0, PID: process.pid, DSC: 'main process - SIP routing and timers' }] },
    { name: 'core.modules', doc: 'The loaded modules', handler: () => moduleNames() },
    {
      name: 'core.sockets_list',
      doc: 'The listen sockets',
      handler: () =>
        c.server.transport.sockets.map((s) => ({
          proto: s.proto,
          address: s.local.address,
          ipaddress: s.local.address,
          port: s.local.port,
          mcast: 'no',
          mhomed: 'no',
          ...(s.advertise ? { advertise: `${s.advertise.address}${s.advertise.port !== undefined ? `:${s.advertise.port}` : ''}` } : {}),
        })),
    },
    {
      name: 'core.aliases_list',
      doc: 'The alias= names of the server (myself)',
      handler: () => ({ myself_aliases: c.cfg.aliases.map((a) => ({ proto: a.proto ?? '*', address: a.host, port: a.port ?? 0 })) }),
    },
    {
      name: 'core.shmmem',
      doc: 'Memory: the V8 heap of the process (ksr has no shared memory pool)',
      handler: () => {
        const m = process.memoryUsage();
        return { total: m.heapTotal, free: m.heapTotal - m.heapUsed, used: m.heapUsed, real_used: m.rss, max_used: m.heapTotal, fragments: 0 };
      },
    },
    {
      name: 'stats.get_statistics',
      doc: 'Statistics as "group:name = value": stats.get_statistics all | group: | group:name | name …',
      handler: (params) => statLines(c.stats, filtersOf(params)),
    },
    {
      name: 'stats.fetch',
      doc: 'Statistics as a structure {"group.name": "value"}: stats.fetch all | group: | name …',
      handler: (params) => {
        const out: Record<string, string> = {};
        for (const f of params.length > 0 ? filtersOf(params) : ['all']) for (const e of c.stats.select(f)) out[`${e.group}.${e.name}`] = String(e.value);
        return out;
      },
    },
    {
      name: 'stats.reset_statistics',
      doc: 'Reset counters to 0 (current sizes are kept): stats.reset_statistics all | group: | name …',
      handler: (params) => {
        const filters = filtersOf(params);
        if (filters.length === 0) throw new RpcError(400, 'missing parameter: all, group: or a statistic name');
        for (const f of filters) c.stats.reset(f);
        return null;
      },
    },
    {
      name: 'stats.clear_statistics',
      doc: 'Return statistics, then reset them: stats.clear_statistics all | group: | name …',
      handler: (params) => {
        const filters = filtersOf(params);
        if (filters.length === 0) throw new RpcError(400, 'missing parameter: all, group: or a statistic name');
        const lines = statLines(c.stats, filters);
        for (const f of filters) c.stats.reset(f);
        return lines;
      },
    },
    {
      name: 'cfg.get',
      doc: 'Get a runtime config variable: cfg.get core debug',
      handler: (params) => {
        rpcParams.max(params, 2);
        return cfgVar(params)[1].get();
      },
    },
    { name: 'cfg.set', doc: 'Set a runtime config variable now: cfg.set core debug 3', handler: setVar },
    { name: 'cfg.seti', doc: 'Set an integer runtime config variable now: cfg.seti core debug 3', handler: setVar },
    { name: 'cfg.set_now_int', doc: 'Set an integer runtime config variable now: cfg.set_now_int core debug 3', handler: setVar },
    {
      name: 'cfg.list',
      doc: 'The runtime config variables ksr offers',
      handler: () => [...vars.entries()].map(([k, v]) => ({ name: k, value: v.get(), doc: v.doc })),
    },
  ];
}

/** corex.debug [level]: read or set the log level (only when corex is loaded, as in Kamailio). */
function corexRpc(c: RpcContext): RpcCommand[] {
  return [
    {
      name: 'corex.debug',
      doc: 'Get the log level, or set it: corex.debug [level]',
      handler: (params) => {
        rpcParams.max(params, 1);
        const level = rpcParams.optInt(params, 0, 'level');
        if (level !== undefined) (c.setCoreDebug ?? c.services.setDebugLevel)?.(level);
        return c.services.debugLevel();
      },
    },
  ];
}

/** Kamailio's RPC group of an engine module: app_python3 answers to "app_python". */
export function engineRpcGroup(module: string): string {
  return module === 'app_python3' ? 'app_python' : module;
}

/** app_<engine>.reload / .list / .api_list for the routing engine; counts reloads. */
export function engineRpc(routing: Routing, stats: StatsRegistry): RpcCommand[] {
  const group = engineRpcGroup(routing.engine.module.name);
  const statGroup = routing.engine.module.name;
  const reloads = stats.counter(statGroup, 'reloads');
  const failures = stats.counter(statGroup, 'reload_failures');
  stats.markNoReset(statGroup, 'reloads');
  stats.markNoReset(statGroup, 'reload_failures');
  stats.gauge(statGroup, 'generation', () => routing.host.generation);
  const mem = (): { heapBytes?: number } | undefined => {
    const e = routing.host.current as unknown as { memoryUsage?: () => { heapBytes?: number } | undefined };
    return typeof e.memoryUsage === 'function' ? e.memoryUsage() : undefined;
  };
  if (mem()?.heapBytes !== undefined) stats.gauge(statGroup, 'heap_bytes', () => mem()?.heapBytes ?? 0);
  const script = (): string => routing.host.current.scriptPath;
  const cmds: RpcCommand[] = [
    {
      name: `${group}.reload`,
      doc: `Reload the ${routing.engine.name} routing script; the running one stays on a failure (the error names file:line)`,
      handler: async () => {
        const before = routing.host.generation;
        const r = await routing.host.reload();
        if (!r.ok) {
          failures.inc();
          throw new RpcError(500, `reload failed, generation ${r.generation} keeps routing: ${r.error}`);
        }
        reloads.inc();
        return { old: before, new: r.generation, script: script(), ms: Math.round(r.ms * 10) / 10 };
      },
    },
    {
      name: `${group}.api_list`,
      doc: 'The KSR functions the scripts can call',
      handler: () => {
        const methods = routing.registry.exports.map((e) => ({ ret: e.returns, module: e.module, name: e.name, params: e.params.join(', ') || 'none' }));
        return { msize: methods.length, methods };
      },
    },
  ];
  if (group === 'app_lua' || group === 'app_jsdt' || group === 'app_python' || group === 'app_python3s') {
    cmds.push({
      name: `${group}.list`,
      doc: 'The loaded routing script',
      handler: () => [{ script: script(), engine: routing.engine.name, generation: routing.host.generation, request_route: routing.requestRoute, reply_route: routing.replyRoute ?? '' }],
    });
  }
  return cmds;
}

/** tm.stats and tm.list (Kamailio's tm RPC names and fields), from the TmApi. */
export function tmRpc(api: TmApi): RpcCommand[] {
  return [
    {
      name: 'tm.stats',
      doc: 'Transaction counters: current, waiting, total, replies per class …',
      handler() {
        const s = api.stats();
        return {
          current: s?.current ?? 0,
          waiting: s?.waiting ?? 0,
          total: s?.total ?? 0,
          total_local: 0,
          rpl_received: s?.rpl_received ?? 0,
          rpl_generated: s?.rpl_generated ?? 0,
          rpl_sent: s?.rpl_sent ?? 0,
          '6xx': s?.['6xx'] ?? 0,
          '5xx': s?.['5xx'] ?? 0,
          '4xx': s?.['4xx'] ?? 0,
          '3xx': s?.['3xx'] ?? 0,
          '2xx': s?.['2xx'] ?? 0,
          created: s?.created ?? 0,
          freed: s?.freed ?? 0,
          delayed_free: 0,
        };
      },
    },
    {
      name: 'tm.list',
      doc: 'The live server transactions',
      handler() {
        const layer = api.layer;
        if (!layer) return [];
        return layer.serverTransactions().map((t) => {
          const r = t.request;
          return {
            cell: t.id,
            method: r.method,
            ruri: r.uri,
            from: r.header('from') ?? '',
            to: r.header('to') ?? '',
            callid: r.callId,
            cseq: `${r.cseq.seq} ${r.cseq.method}`,
            state: t.state,
            status: t.finalStatus,
            canceled: t.canceled ? 1 : 0,
            source: `${t.info.proto}:${t.info.remote.address}:${t.info.remote.port}`,
          };
        });
      },
    },
  ];
}

/** Build the command table. Throws KsrError(RPC_DUPLICATE) on a name clash. */
export function buildRpc(c: RpcContext): RpcRegistry {
  const registry = new RpcRegistry();
  registry.add('core', coreRpc(c, registry));
  if (c.modules.list.some((m) => m.def.name === 'corex')) registry.add('corex', corexRpc(c));
  if (c.routing) registry.add(c.routing.engine.module.name, engineRpc(c.routing, c.stats));
  const tm = c.modules.api<TmApi>('tm');
  if (tm) registry.add('tm', tmRpc(tm));
  for (const { def, instance } of c.modules.list) if (instance.rpc && instance.rpc.length > 0) registry.add(def.name, instance.rpc);
  return registry;
}

/** Kamailio-style process/memory gauges (shmem group from the V8 heap, core uptime). */
export function processGauges(stats: StatsRegistry, server: SipServer, startedAt: number): void {
  stats.gauge('core', 'bad_msg_hdr', () => server.stats.parseErrors);
  stats.gauge('core', 'uptime', () => Math.floor((Date.now() - startedAt) / 1000));
  stats.gauge('shmem', 'total_size', () => process.memoryUsage().heapTotal);
  stats.gauge('shmem', 'used_size', () => process.memoryUsage().heapUsed);
  stats.gauge('shmem', 'real_used_size', () => process.memoryUsage().rss);
  stats.gauge('shmem', 'free_size', () => {
    const m = process.memoryUsage();
    return m.heapTotal - m.heapUsed;
  });
}
