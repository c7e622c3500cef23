/**
 * corex: core extensions (Kamailio's corex module, KEMI `KSR.corex`): branches of the destination
 * set, extended message flags (0..63), the send / receive socket and the source address of the
 * message, raw sends (send_data, sendx), R-URI user and User-Agent checks, faked-message
 * detection, and reading / writing a file.
 *
 * Every function returns -1 with an error log on bad arguments; none throws. See README.md for
 * the differences from Kamailio.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import {
  MAX_BRANCHES,
  canonicalIp,
  defineModule,
  sip,
  type Branch,
  type KemiExportDef,
  type KemiXval,
  type MessageState,
  type ReceiveInfo,
  type RouteContext,
  type SendTarget,
  type SipRequest,
  type SocketInfo,
} from '@ksr/core';

type Def = KemiExportDef<RouteContext>;

const MOD = 'corex';

function fail(ctx: RouteContext, fname: string, why: string): -1 {
  ctx.logger.error(`KSR.${MOD}.${fname}: ${why}`);
  return -1;
}

const ok = (b: boolean): number => (b ? 1 : -1);

/** A socket specification: `[proto:]address[:port]` (IPv6 in brackets when a port follows). */
export interface SocketSpec {
  proto: string | undefined;
  address: string;
  family: 4 | 6;
  port: number | undefined;
}

const PROTOS = new Set(['udp', 'tcp', 'tls', 'sctp', 'ws', 'wss']);

/** Parse a socket specification; a string describes the problem. Only literal IP addresses. */
export function parseSocketSpec(text: string): SocketSpec | string {
  let s = text.trim();
  let proto: string | undefined;
  const colon = s.indexOf(':');
  if (colon > 0 && PROTOS.has(s.slice(0, colon).toLowerCase()) && !s.startsWith('[')) {
    proto = s.slice(0, colon).toLowerCase();
    s = s.slice(colon + 1);
  }
  let host: string;
  let portText: string | undefined;
  if (s.startsWith('[')) {
    const close = s.indexOf(']');
    if (close === -1) return `missing ']' in ${JSON.stringify(text)}`;
    host = s.slice(1, close);
    const rest = s.slice(close + 1);
    if (rest !== '') {
      if (!rest.startsWith(':')) return `unexpected ${JSON.stringify(rest)} in ${JSON.stringify(text)}`;
      portText = rest.slice(1);
    }
  } else {
    const n = s.split(':').length - 1;
    if (n === 1) [host, portText] = s.split(':') as [string, string];
    else host = s; // no port, or a bare IPv6 address
  }
  const ip = canonicalIp(host);
  if (!ip) return `${JSON.stringify(host)} is not an IP address`;
  let port: number | undefined;
  if (portText !== undefined) {
    if (!/^\d{1,5}$/.test(portText) || Number(portText) < 1 || Number(portText) > 65535) return `invalid port ${JSON.stringify(portText)}`;
    port = Number(portText);
  }
  return { proto, address: ip.address, family: ip.family, port };
}

/** The listen socket a specification names: protocol (if given), address (bound or advertised), port (if given). */
export function findSocket(sockets: readonly SocketInfo[], spec: SocketSpec): SocketInfo | undefined {
  return sockets.find((s) => {
    if (spec.proto !== undefined && s.proto !== spec.proto) return false;
    const local = canonicalIp(s.local.address)?.address;
    const adv = s.advertise ? canonicalIp(s.advertise.address)?.address : undefined;
    if (local !== spec.address && adv !== spec.address) return false;
    if (spec.port === undefined) return true;
    return s.local.port === spec.port || (adv === spec.address && (s.advertise?.port ?? s.local.port) === spec.port);
  });
}

/** Extended message flags (0..63), kept with the message state so they follow the transaction. */
const xflags = new WeakMap<MessageState, bigint>();

/**
 * Replace the receive information of the route context (set_recv_socket, set_source_address).
 * RouteContext.info is declared readonly: the property is written anyway, with a new object, so
 * the transport's own ReceiveInfo is never mutated. See README.md.
 */
function replaceInfo(ctx: RouteContext, info: ReceiveInfo): void {
  ctx.info = info;
}

/** The request URI as it is now. */
function ruriText(req: SipRequest): string {
  return req.newRequestUri ?? req.uri;
}

export const corexModule = defineModule({
  name: MOD,
  params: {},
  create() {
    const socketOf = (ctx: RouteContext, fname: string, text: string): SocketInfo | undefined => {
      const spec = parseSocketSpec(text);
      if (typeof spec === 'string') {
        fail(ctx, fname, `invalid socket ${JSON.stringify(text)}: ${spec}`);
        return undefined;
      }
      const s = findSocket(ctx.services.sockets(), spec);
      if (!s) fail(ctx, fname, `no listen socket ${JSON.stringify(text)}`);
      return s;
    };

    const addBranch = (ctx: RouteContext, fname: string, uri: string | undefined, q: number): number => {
      const req = ctx.request;
      if (!req) return fail(ctx, fname, 'the message is a reply');
      const st = ctx.state;
      if (st.branches.length + 1 >= MAX_BRANCHES) return fail(ctx, fname, `too many branches (max_branches ${MAX_BRANCHES})`);
      const target = uri ?? ruriText(req);
      let scheme: string;
      try {
        scheme = sip.parseUri(target).scheme;
      } catch (err) {
        return fail(ctx, fname, `invalid URI ${JSON.stringify(target)}: ${(err as Error).message}`);
      }
      if ((scheme !== 'sip' && scheme !== 'sips' && scheme !== 'tel') || /\s/.test(target)) return fail(ctx, fname, `not a SIP URI: ${JSON.stringify(target)}`);
      const b: Branch = { uri: target, q, flags: st.branchFlags[0] ?? 0 };
      if (st.dstUri) b.dstUri = st.dstUri;
      if (st.ruriPath) b.path = st.ruriPath;
      if (st.sendSocketId !== undefined) b.socketId = st.sendSocketId;
      st.branches.push(b);
      return 1;
    };

    const xflag = (ctx: RouteContext, fname: string, flag: number, op: 'set' | 'reset' | 'test'): number => {
      if (!Number.isInteger(flag) || flag < 0 || flag > 63) return fail(ctx, fname, `flag ${flag} out of range (0..63)`);
      const bit = 1n << BigInt(flag);
      const cur = xflags.get(ctx.state) ?? 0n;
      if (op === 'test') return ok((cur & bit) !== 0n);
      xflags.set(ctx.state, op === 'set' ? cur | bit : cur & ~bit);
      return 1;
    };

    /** Where raw data for a SIP URI goes: a literal IP, udp or tcp. */
    const dataTarget = (ctx: RouteContext, fname: string, uri: string): SendTarget | undefined => {
      let u;
      try {
        u = sip.parseUri(uri.trim());
      } catch (err) {
        fail(ctx, fname, `invalid URI ${JSON.stringify(uri)}: ${(err as Error).message}`);
        return undefined;
      }
      if (u.scheme !== 'sip' && u.scheme !== 'sips') {
        fail(ctx, fname, `not a SIP URI: ${JSON.stringify(uri)}`);
        return undefined;
      }
      const proto = u.params.get('transport')?.toLowerCase() ?? (u.scheme === 'sips' ? 'tls' : 'udp');
      if (proto !== 'udp' && proto !== 'tcp') {
        fail(ctx, fname, `transport ${proto} is not supported (udp and tcp only)`);
        return undefined;
      }
      const ip = canonicalIp(u.host);
      if (!ip) {
        fail(ctx, fname, `${JSON.stringify(u.host)} is not an IP address (DNS resolution is not supported yet)`);
        return undefined;
      }
      return { proto, address: ip.address, port: u.port ?? 5060 };
    };

    const sendRaw = (ctx: RouteContext, fname: string, target: SendTarget, data: string): number => {
      const where = `${target.proto}:${target.address.includes(':') ? `[${target.address}]` : target.address}:${target.port}`;
      const failed = (err: unknown): void => {
        ctx.logger.error(`KSR.${MOD}.${fname}: sending to ${where} failed: ${err instanceof Error ? err.message : String(err)}`);
      };
      try {
        ctx.services.send(target, Buffer.from(data, 'utf8')).catch(failed);
      } catch (err) {
        failed(err);
        return -1;
      }
      return 1;
    };

    const noNames = (ctx: RouteContext, fname: string): number => fail(ctx, fname, 'socket names are not supported: listen sockets have no names in ksr');

    const exports: Def[] = [
      {
        name: 'append_branch',
        returns: 'int',
        params: [],
        doc: 'Add a branch with the current Request-URI (and $du, path, branch flags, send socket) to the destination set. 1 ok, -1 too many branches or a reply.',
        fn: (ctx: RouteContext) => addBranch(ctx, 'append_branch', undefined, -1),
      },
      {
        name: 'append_branch_uri',
        returns: 'int',
        params: ['str'],
        paramNames: ['uri'],
        doc: 'Add a branch with this SIP URI (and the message $du, path, branch flags, send socket) to the destination set. 1 ok, -1 invalid.',
        fn: (ctx: RouteContext, uri: string) => addBranch(ctx, 'append_branch_uri', uri.trim(), -1),
      },
      {
        name: 'append_branch_uri_q',
        returns: 'int',
        params: ['str', 'str'],
        paramNames: ['uri', 'q'],
        doc: 'append_branch_uri with a q value ("0".."1", e.g. "0.5"). 1 ok, -1 invalid.',
        fn: (ctx: RouteContext, uri: string, q: string) => {
          const qt = q.trim();
          const n = /^(0(\.\d{1,3})?|1(\.0{1,3})?)$/.test(qt) ? Math.round(Number(qt) * 1000) : NaN;
          if (Number.isNaN(n)) return fail(ctx, 'append_branch_uri_q', `invalid q value ${JSON.stringify(q)} (0 to 1, up to 3 decimals)`);
          return addBranch(ctx, 'append_branch_uri_q', uri.trim(), n);
        },
      },
      {
        name: 'setxflag',
        returns: 'int',
        params: ['int'],
        paramNames: ['fval'],
        doc: 'Set extended message flag 0..63. 1 ok, -1 out of range.',
        fn: (ctx: RouteContext, f: number) => xflag(ctx, 'setxflag', f, 'set'),
      },
      {
        name: 'resetxflag',
        returns: 'int',
        params: ['int'],
        paramNames: ['fval'],
        doc: 'Reset extended message flag 0..63. 1 ok, -1 out of range.',
        fn: (ctx: RouteContext, f: number) => xflag(ctx, 'resetxflag', f, 'reset'),
      },
      {
        name: 'isxflagset',
        returns: 'int',
        params: ['int'],
        paramNames: ['fval'],
        doc: 'Is extended message flag 0..63 set? 1 yes, -1 no or out of range.',
        fn: (ctx: RouteContext, f: number) => xflag(ctx, 'isxflagset', f, 'test'),
      },
      {
        name: 'set_send_socket',
        returns: 'int',
        params: ['str'],
        paramNames: ['ssock'],
        doc: 'Send the message (and the branches appended afterwards) from this listen socket: "proto:ip:port" (proto and port optional). 1 ok, -1 no such socket.',
        fn: (ctx: RouteContext, ssock: string) => {
          const s = socketOf(ctx, 'set_send_socket', ssock);
          if (!s) return -1;
          ctx.state.sendSocketId = s.id;
          return 1;
        },
      },
      {
        name: 'set_send_socket_name',
        returns: 'int',
        params: ['str'],
        paramNames: ['ssock'],
        doc: 'Not supported (listen sockets have no names in ksr): -1.',
        fn: (ctx: RouteContext) => noNames(ctx, 'set_send_socket_name'),
      },
      {
        name: 'set_recv_socket',
        returns: 'int',
        params: ['str'],
        paramNames: ['ssock'],
        doc: 'Treat the message as received on this listen socket ("proto:ip:port"): $Ri, $Rp and the socket replies leave from change. 1 ok, -1 no such socket.',
        fn: (ctx: RouteContext, ssock: string) => {
          const s = socketOf(ctx, 'set_recv_socket', ssock);
          if (!s) return -1;
          const info: ReceiveInfo = { ...ctx.info, proto: s.proto, local: { ...s.local }, socketId: s.id };
          if (s.proto !== ctx.info.proto) delete info.connectionId;
          replaceInfo(ctx, info);
          return 1;
        },
      },
      {
        name: 'set_recv_socket_name',
        returns: 'int',
        params: ['str'],
        paramNames: ['ssock'],
        doc: 'Not supported (listen sockets have no names in ksr): -1.',
        fn: (ctx: RouteContext) => noNames(ctx, 'set_recv_socket_name'),
      },
      {
        name: 'is_socket_name',
        returns: 'int',
        params: ['str'],
        paramNames: ['sockname'],
        doc: 'Is this the name of a listen socket? Always -1: listen sockets have no names in ksr.',
        fn: (ctx: RouteContext, name: string) => {
          ctx.logger.debug(`KSR.corex.is_socket_name(${JSON.stringify(name)}): listen sockets have no names in ksr`);
          return -1;
        },
      },
      {
        name: 'set_source_address',
        returns: 'int',
        params: ['str'],
        paramNames: ['saddr'],
        doc: 'Treat the message as coming from this address: "[proto:]ip:port" ($si, $sp, and where replies go). 1 ok, -1 invalid.',
        fn: (ctx: RouteContext, saddr: string) => {
          const spec = parseSocketSpec(saddr);
          if (typeof spec === 'string') return fail(ctx, 'set_source_address', `invalid address ${JSON.stringify(saddr)}: ${spec}`);
          if (spec.port === undefined) return fail(ctx, 'set_source_address', `a port is needed in ${JSON.stringify(saddr)}`);
          if (spec.proto !== undefined && spec.proto !== 'udp' && spec.proto !== 'tcp') {
            return fail(ctx, 'set_source_address', `protocol ${spec.proto} is not supported (udp and tcp only)`);
          }
          const info: ReceiveInfo = { ...ctx.info, remote: { address: spec.address, port: spec.port, family: spec.family } };
          if (spec.proto !== undefined) info.proto = spec.proto as ReceiveInfo['proto'];
          replaceInfo(ctx, info);
          return 1;
        },
      },
      {
        name: 'send_data',
        returns: 'int',
        params: ['str', 'str'],
        paramNames: ['uri', 'data'],
        doc: 'Send raw data to a SIP URI with an IP address (udp or tcp by ;transport=, port 5060 by default). 1 handed to the transport, -1 invalid (no DNS).',
        fn: (ctx: RouteContext, uri: string, data: string) => {
          const t = dataTarget(ctx, 'send_data', uri);
          return t ? sendRaw(ctx, 'send_data', t, data) : -1;
        },
      },
      {
        name: 'sendx',
        returns: 'int',
        params: ['str', 'str', 'str'],
        paramNames: ['uri', 'sock', 'data'],
        doc: 'send_data from the listen socket sock ("proto:ip:port"); the URI transport defaults to the socket protocol. 1 handed to the transport, -1 invalid.',
        fn: (ctx: RouteContext, uri: string, sock: string, data: string) => {
          const s = socketOf(ctx, 'sendx', sock);
          if (!s) return -1;
          const withProto = /;transport=/i.test(uri) ? uri : `${uri.trim()};transport=${s.proto}`;
          const t = dataTarget(ctx, 'sendx', withProto);
          if (!t) return -1;
          if (t.proto !== s.proto) return fail(ctx, 'sendx', `the URI transport ${t.proto} does not match the socket (${s.proto})`);
          if (canonicalIp(t.address)!.family !== s.local.family) return fail(ctx, 'sendx', 'the URI and the socket are of different IP families');
          return sendRaw(ctx, 'sendx', { ...t, socketId: s.id }, data);
        },
      },
      {
        name: 'has_ruri_user',
        returns: 'int',
        params: [],
        doc: 'Does the (current) Request-URI have a user part (a tel: number counts)? 1 yes, -1 no or a reply.',
        fn: (ctx: RouteContext) => {
          const req = ctx.request;
          if (!req) return -1;
          try {
            const u = sip.parseUri(ruriText(req));
            return ok(u.user !== undefined && u.user !== '');
          } catch {
            return -1;
          }
        },
      },
      {
        name: 'has_user_agent',
        returns: 'int',
        params: [],
        doc: 'Does the message have a (non-empty) User-Agent header? 1 yes, -1 no.',
        fn: (ctx: RouteContext) => ok((ctx.msg.header('user-agent') ?? '') !== ''),
      },
      {
        name: 'is_faked_msg',
        returns: 'int',
        params: [],
        doc: 'Is the message the internal faked one (event routes, script start-up)? 1 yes, -1 a message from the network.',
        // ksr's faked message comes with a receive info whose socket id is -1
        fn: (ctx: RouteContext) => ok(ctx.info.socketId < 0),
      },
      {
        name: 'file_read',
        returns: 'xval',
        params: ['str'],
        paramNames: ['fname'],
        doc: 'The content of a text file (UTF-8), null when it cannot be read. Blocks the worker while reading.',
        fn: (ctx: RouteContext, fname: string): KemiXval => {
          if (fname === '') {
            fail(ctx, 'file_read', 'empty file name');
            return null;
          }
          try {
            return readFileSync(fname, 'utf8');
          } catch (err) {
            fail(ctx, 'file_read', `cannot read ${JSON.stringify(fname)}: ${(err as Error).message}`);
            return null;
          }
        },
      },
      {
        name: 'file_write',
        returns: 'int',
        params: ['str', 'str'],
        paramNames: ['fname', 'fdata'],
        doc: 'Write the text to a file (created or replaced). 1 ok, -1 error. Blocks the worker while writing.',
        fn: (ctx: RouteContext, fname: string, data: string) => {
          if (fname === '') return fail(ctx, 'file_write', 'empty file name');
          try {
            writeFileSync(fname, data, 'utf8');
            return 1;
          } catch (err) {
            return fail(ctx, 'file_write', `cannot write ${JSON.stringify(fname)}: ${(err as Error).message}`);
          }
        },
      },
    ];
    return { exports };
  },
});

/** For other modules and tests: the extended flags of a message (bit n = flag n). */
export function extendedFlags(state: MessageState): bigint {
  return xflags.get(state) ?? 0n;
}
