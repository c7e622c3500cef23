import { isIP } from 'node:net';
import {
  MemorySharedVars,
  type KsrConfig,
  type Logger,
  type MyselfChecker,
  type RouteContext,
  type RouteServices,
  type SipServer,
  type SocketInfo,
} from '@ksr/core';

function bare(host: string): string {
  const h = host.trim().toLowerCase();
  return h.startsWith('[') && h.endsWith(']') ? h.slice(1, -1) : h;
}

/**
 * Who "myself" is (Kamailio's is_myself / `uri == myself`): the addresses and ports of the
 * listen sockets, their advertised addresses, and every `alias=`. A wildcard socket (0.0.0.0, ::)
 * matches its port on any address.
 */
export class Myself implements MyselfChecker {
  private readonly entries: Array<{ host: string; port: number | undefined; proto: string | undefined }> = [];
  private wildcardPorts = new Set<number>();

  constructor(sockets: readonly SocketInfo[], aliases: KsrConfig['aliases']) {
    for (const s of sockets) {
      const addr = bare(s.local.address);
      if (addr === '0.0.0.0' || addr === '::') this.wildcardPorts.add(s.local.port);
      else this.entries.push({ host: addr, port: s.local.port, proto: s.proto });
      if (s.advertise) this.entries.push({ host: bare(s.advertise.address), port: s.advertise.port ?? s.local.port, proto: s.proto });
    }
    for (const a of aliases) this.entries.push({ host: bare(a.host), port: a.port, proto: a.proto });
  }

  isMyself(host: string, port?: number, proto?: string): boolean {
    const h = bare(host);
    const p = proto?.toLowerCase();
    for (const e of this.entries) {
      if (e.host !== h) continue;
      if (port !== undefined && e.port !== undefined && e.port !== port) continue;
      if (p && e.proto && e.proto !== p && e.proto !== 'any') continue;
      return true;
    }
    if (isIP(h) && (port === undefined ? this.wildcardPorts.size > 0 : this.wildcardPorts.has(port))) return true;
    return false;
  }
}

export interface ServicesOptions {
  server: SipServer;
  logger: Logger;
  cfg: KsrConfig;
  debugLevel: () => number;
  setDebugLevel: (level: number | undefined) => void;
}

/** The RouteServices KSR exports use, backed by the running server. */
export function createServices(opts: ServicesOptions): RouteServices {
  const { server, cfg } = opts;
  // The sockets are known only once the server listens; services exist earlier (a script may call
  // KSR functions while it loads), so "myself" is computed on first use after the sockets opened.
  let myself: Myself | undefined;
  const currentMyself = (): Myself => {
    if (myself) return myself;
    const m = new Myself(server.transport.sockets, cfg.aliases);
    if (server.transport.sockets.length > 0) myself = m;
    return m;
  };
  const scriptLogger = opts.logger.child({ mod: 'script' });
  return {
    logger: scriptLogger,
    myself: { isMyself: (host, port, proto) => currentMyself().isMyself(host, port, proto) },
    defines: cfg.defines,
    debugLevel: opts.debugLevel,
    vars: new Map(),
    shv: new MemorySharedVars(),
    async reply(ctx: RouteContext, status, reason, extra) {
      const req = ctx.request;
      if (!req) return false;
      const headers = [...ctx.state.replyHeaders, ...(extra?.headers ?? [])];
      // textops set_reply_body: the body of the next local reply, unless the caller gives one
      const body = extra?.body === undefined && ctx.state.replyBody ? { body: ctx.state.replyBody.body, contentType: ctx.state.replyBody.contentType } : {};
      try {
        await server.reply(req, ctx.info, status, reason, { ...extra, ...body, headers, forceRport: ctx.state.forceRport });
        ctx.replied = true;
        return true;
      } catch (err) {
        opts.logger.warn({ err, callId: req.callId }, `could not send ${status} ${reason}`);
        return false;
      }
    },
    send: (target, data) => server.send(target, data),
    sockets: () => server.transport.sockets,
    setDebugLevel(level) {
      // pino children keep the level they were made with: move the script logger along
      opts.setDebugLevel(level);
      scriptLogger.level = opts.logger.level;
    },
    localAddress(proto, family) {
      const s = server.transport.sockets.find((x) => x.proto === proto && x.local.family === family);
      if (!s) return undefined;
      const host = s.advertise?.address ?? s.local.address;
      const port = s.advertise?.port ?? s.local.port;
      return { host: isIP(host) === 6 ? `[${host}]` : host, port };
    },
  };
}
