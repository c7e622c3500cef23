/**
 * KSR.kx: typed getters for the common message and runtime attributes (Kamailio's kemix module,
 * module "kx"). Faster and simpler than KSR.pv.get for the same values, and without names to
 * parse. Names, return types and null behaviour follow kemix:
 *
 *  - xval getters give null when the value is absent; the ones with gete_/getw_ twins (ruser,
 *    rhost, fuser, fhost, tuser, thost, duri, cturi, ua, au, body) give "" / "<<null>>" there;
 *  - get_callid, get_srcuri, get_def and get_env give "" instead of null (as kemix does);
 *  - int getters: get_status −1 for requests, get_protoid, get_conid −1 without a TCP
 *    connection, get_bodylen / get_msglen / get_timestamp, get_msgtype 1 request / 2 reply,
 *    get_defn / get_envn the value as an integer (0 when absent or not numeric);
 *  - get_srcport and get_rcvport are xval integers.
 *  - ifdef / ifndef look at the config's #!define names (a define without value counts).
 *
 * Not provided (no equivalent in ksr yet): get_send_sock, get_send_sock_name,
 * get_send_sock_port (no forced send socket), get_rcv_sock_name (sockets have no names),
 * get_rcvadvip / get_rcvadvport (the advertised address of the receiving socket is not known to
 * the route context).
 */
import process from 'node:process';
import { requestCredentials } from '../../pv/auth.js';
import {
  bodyText,
  currentRuri,
  firstContactUri,
  methodOf,
  nonEmpty,
  protoId,
  ruriText,
  socketUri,
  strToInt,
  uriHost,
  uriUser,
} from '../../pv/util.js';
import type { RouteContext } from '../../routing/context.js';
import type { NullMode } from '../convention.js';
import type { KemiExportDef, KemiXval } from '../types.js';
import { getterVariants } from '../variants.js';

type Def = KemiExportDef<RouteContext>;
type Get = (ctx: RouteContext) => KemiXval;

/** get_<n> only (null when absent). */
function plain(name: string, fn: Get, doc: string): Def {
  return { name: `get_${name}`, returns: 'xval', params: [], fn, doc };
}

/** get_<n>, gete_<n>, getw_<n>. */
function family(name: string, fn: Get, doc: string): Def[] {
  const names: Partial<Record<NullMode, string>> = { null: `get_${name}`, empty: `gete_${name}`, print: `getw_${name}` };
  return getterVariants<RouteContext>(names, [], fn, doc);
}

function int(name: string, fn: (ctx: RouteContext) => number, doc: string): Def {
  return { name, returns: 'int', params: [], fn, doc };
}

const fromUri = (ctx: RouteContext) => ctx.msg.from.uri;
const toUri = (ctx: RouteContext) => ctx.msg.to.uri;

export const kxExports: readonly Def[] = [
  plain('ruri', ruriText, 'Request-URI ($ru); null for replies'),
  ...family('ruser', (ctx) => uriUser(currentRuri(ctx)), 'Request-URI user ($rU)'),
  ...family('rhost', (ctx) => uriHost(currentRuri(ctx)), 'Request-URI host ($rd)'),
  plain('ouri', (ctx) => ctx.request?.uri ?? null, 'Request-URI as received ($ou); null for replies'),
  plain('furi', (ctx) => fromUri(ctx).raw, 'From URI ($fu)'),
  ...family('fuser', (ctx) => uriUser(fromUri(ctx)), 'From URI user ($fU)'),
  ...family('fhost', (ctx) => uriHost(fromUri(ctx)), 'From URI host ($fd)'),
  plain('turi', (ctx) => toUri(ctx).raw, 'To URI ($tu)'),
  ...family('tuser', (ctx) => uriUser(toUri(ctx)), 'To URI user ($tU)'),
  ...family('thost', (ctx) => uriHost(toUri(ctx)), 'To URI host ($td)'),
  ...family('duri', (ctx) => nonEmpty(ctx.state.dstUri), 'Destination URI ($du)'),
  ...family('cturi', firstContactUri, 'URI of the first Contact ($ctu); null for "*"'),
  plain('nhuri', (ctx) => nonEmpty(ctx.state.dstUri) ?? ruriText(ctx), 'Next hop: $du when set, else $ru'),
  plain('srcuri', (ctx) => socketUri(ctx.info.remote, ctx.info.proto, false), 'Source address as a SIP URI ($su)'),
  ...family('ua', (ctx) => ctx.msg.header('user-agent') ?? null, 'User-Agent ($ua)'),
  plain('srcip', (ctx) => ctx.info.remote.address, 'Source IP ($si)'),
  plain('srcport', (ctx) => ctx.info.remote.port, 'Source port ($sp), an integer'),
  plain('rcvip', (ctx) => ctx.info.local.address, 'Local IP the message arrived on ($Ri)'),
  plain('rcvport', (ctx) => ctx.info.local.port, 'Local port the message arrived on ($Rp), an integer'),
  plain('proto', (ctx) => ctx.info.proto, 'Transport the message arrived on ($pr): "udp" or "tcp"'),
  int('get_protoid', (ctx) => protoId(ctx.info.proto), 'Transport id ($prid): 1 udp, 2 tcp'),
  ...family('au', (ctx) => nonEmpty(requestCredentials(ctx)?.user), 'Auth username user part ($au)'),
  plain('method', methodOf, 'SIP method ($rm); the CSeq method for replies'),
  int('get_status', (ctx) => ctx.response?.status ?? -1, 'Reply status code ($rs); -1 for requests'),
  { name: 'gets_status', returns: 'xval', params: [], fn: (ctx: RouteContext) => (ctx.response ? String(ctx.response.status) : null), doc: 'Reply status code as a string; null for requests' },
  ...family('body', bodyText, 'Message body ($rb)'),
  int('get_bodylen', (ctx) => ctx.msg.body.length, 'Body length in bytes ($bs)'),
  int('get_timestamp', () => Math.floor(Date.now() / 1000), 'Unix time in seconds'),
  { name: 'get_callid', returns: 'xval', params: [], fn: (ctx: RouteContext) => ctx.msg.callId, doc: 'Call-ID ($ci)' },
  int('get_conid', (ctx) => ctx.info.connectionId ?? -1, 'TCP connection id; -1 when the message did not come over TCP'),
  { name: 'get_msgbuf', returns: 'xval', params: [], fn: (ctx: RouteContext) => ctx.msg.raw.toString('utf8'), doc: 'The message as received ($mb)' },
  int('get_msglen', (ctx) => ctx.msg.raw.length, 'Message length in bytes ($ml)'),
  int('get_msgtype', (ctx) => (ctx.request ? 1 : 2), '1 for a request, 2 for a reply'),
  {
    name: 'get_def',
    returns: 'xval',
    params: ['str'],
    paramNames: ['dname'],
    doc: 'Value of a #!define ("" when not defined or defined without value)',
    fn: (ctx: RouteContext, name: string) => ctx.services.defines.get(name) ?? '',
  },
  {
    name: 'get_defn',
    returns: 'int',
    params: ['str'],
    paramNames: ['dname'],
    doc: 'Value of a #!define as an integer (0 when not defined or not numeric)',
    fn: (ctx: RouteContext, name: string) => {
      const n = strToInt((ctx.services.defines.get(name) ?? '').trim());
      return n !== undefined && n >= -2147483648 && n <= 2147483647 ? n : 0;
    },
  },
  {
    name: 'ifdef',
    returns: 'bool',
    params: ['str'],
    paramNames: ['dname'],
    doc: 'True when the name is #!defined',
    fn: (ctx: RouteContext, name: string) => ctx.services.defines.has(name),
  },
  {
    name: 'ifndef',
    returns: 'bool',
    params: ['str'],
    paramNames: ['dname'],
    doc: 'True when the name is not #!defined',
    fn: (ctx: RouteContext, name: string) => !ctx.services.defines.has(name),
  },
  {
    name: 'get_env',
    returns: 'xval',
    params: ['str'],
    paramNames: ['envname'],
    doc: 'Value of an environment variable ("" when not set)',
    fn: (_ctx: RouteContext, name: string) => (name.length === 0 ? '' : (process.env[name] ?? '')),
  },
  {
    name: 'get_envn',
    returns: 'int',
    params: ['str'],
    paramNames: ['envname'],
    doc: 'Value of an environment variable as an integer (0 when not set or not numeric)',
    fn: (_ctx: RouteContext, name: string) => {
      const n = strToInt((process.env[name] ?? '').trim());
      return n !== undefined && n >= -2147483648 && n <= 2147483647 ? n : 0;
    },
  },
];
