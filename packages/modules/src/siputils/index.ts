/**
 * siputils: SIP message and URI checks and helpers (Kamailio's siputils module, KEMI
 * `KSR.siputils`): has_totag, is_request/is_reply, is_first_hop, URI parameter tests and edits of
 * the Request-URI, string class checks, options_reply, URI / AoR comparison, Contact encoding
 * (encode_contact, contact_param_encode and their decoders), hdr_date_check, GRUU detection.
 * Also, as ksr extensions (Kamailio has them in the native config only): tel2sip, is_e164,
 * is_uri_user_e164, is_supported.
 *
 * Functions return 1 / -1 as Kamailio's (check with `> 0`: -1 is true in Lua, JS and Python);
 * bad arguments give -1 and an error log, never an exception.
 */
import {
  PvNameError,
  defineModule,
  myselfUri,
  requestCredentials,
  sip,
  uriEquals,
  type KemiExportDef,
  type ModuleContext,
  type RouteContext,
  type SipRequest,
  type SipUri,
} from '@ksr/core';
import type { SlApi } from '../sl/api.js';
import { rewriteContacts, type UriRewrite } from './contact.js';

type Def = KemiExportDef<RouteContext>;

const MOD = 'siputils';

function fail(ctx: RouteContext, fname: string, why: string): -1 {
  ctx.logger.error(`KSR.${MOD}.${fname}: ${why}`);
  return -1;
}

const ok = (b: boolean): number => (b ? 1 : -1);

function parse(text: string): SipUri | undefined {
  try {
    return sip.parseUri(text);
  } catch {
    return undefined;
  }
}

/** The Request-URI as it is now (after seturi & co). */
function ruriText(req: SipRequest): string {
  return req.newRequestUri ?? req.uri;
}

function unbracket(h: string): string {
  return h.startsWith('[') && h.endsWith(']') ? h.slice(1, -1) : h;
}

function isIp(h: string): boolean {
  const u = unbracket(h);
  return sip.isIPv4(u) || sip.isIPv6(u);
}

/** Methods an OPTIONS answer lists in Allow by default (ksr: a proxy routes all of them). */
export const DEFAULT_ALLOW = 'INVITE, ACK, CANCEL, BYE, OPTIONS, INFO, UPDATE, PRACK, SUBSCRIBE, NOTIFY, PUBLISH, MESSAGE, REFER, REGISTER';

const CTL = /[\x00-\x08\x0a-\x1f\x7f]/;
const noCtl = (v: string | number): string | undefined => (CTL.test(String(v)) ? 'control characters are not allowed' : undefined);

export const siputilsModule = defineModule({
  name: MOD,
  params: {
    options_accept: { type: 'str', check: noCtl },
    options_accept_encoding: { type: 'str', check: noCtl },
    options_accept_language: { type: 'str', check: noCtl },
    options_support: { type: 'str', check: noCtl },
    /** ksr extension: the Allow header of options_reply ("" = none). */
    options_allow: { type: 'str', check: noCtl },
    contact_flds_separator: {
      type: 'str',
      check: (v) => (String(v).length === 0 || /[A-Za-z0-9@:;<>\s]/.test(String(v)[0]!) ? 'the first character must not be a letter, a digit, a blank or one of @:;<>' : undefined),
    },
    /** Accepted for configuration compatibility; ring_insert_callid is not implemented. */
    ring_timeout: { type: 'int' },
    /** Accepted for configuration compatibility; the RPID functions are not implemented. */
    rpid_prefix: { type: 'str' },
    rpid_suffix: { type: 'str' },
    rpid_avp: { type: 'str' },
  },
  optionalDependencies: ['sl'],
  create(mctx: ModuleContext) {
    const p = mctx.params;
    const optionsHeaders: Array<[string, string]> = [];
    const allow = p.str('options_allow', DEFAULT_ALLOW);
    if (allow !== '') optionsHeaders.push(['Allow', allow]);
    for (const [name, param, dflt] of [
      ['Accept', 'options_accept', '*/*'],
      ['Accept-Encoding', 'options_accept_encoding', ''],
      ['Accept-Language', 'options_accept_language', 'en'],
      ['Supported', 'options_support', ''],
    ] as const) {
      const v = p.str(param, dflt).trim();
      if (v !== '') optionsHeaders.push([name, v]);
    }
    const sep = p.str('contact_flds_separator', '*')[0]!;
    const now = (): number => mctx.clock.now();
    const sl = (): SlApi | undefined => mctx.api<SlApi | undefined>('sl');

    const request = (ctx: RouteContext, fname: string): SipRequest | undefined => {
      const req = ctx.request;
      if (!req) fail(ctx, fname, 'the message is a reply');
      return req;
    };

    /** The current R-URI parsed; undefined (logged) when it does not parse. */
    const ruri = (ctx: RouteContext, fname: string): SipUri | undefined => {
      const req = request(ctx, fname);
      if (!req) return undefined;
      const u = parse(ruriText(req));
      if (!u) fail(ctx, fname, `the Request-URI ${JSON.stringify(ruriText(req))} does not parse`);
      return u;
    };

    const setRuri = (ctx: RouteContext, fname: string, uri: string): number => {
      try {
        ctx.request!.setRequestUri(uri);
        return 1;
      } catch (err) {
        return fail(ctx, fname, `invalid Request-URI ${JSON.stringify(uri)}: ${(err as Error).message}`);
      }
    };

    const contacts = (ctx: RouteContext, fname: string, rw: UriRewrite, needChange: boolean): number => {
      if (!ctx.msg.currentHeaders().some((h) => h.key === 'contact')) return -1;
      const r = rewriteContacts(ctx.msg, rw);
      if (typeof r === 'string') return fail(ctx, fname, r);
      return ok(needChange ? r.changed > 0 : r.seen > 0);
    };

    /** sip:prefix*user*password*host*port*proto@hostpart (the older form without password decodes too). */
    const decodeUri = (u: SipUri): string | undefined => {
      if ((u.scheme !== 'sip' && u.scheme !== 'sips') || u.user === undefined) return undefined;
      // the encoded form has no password part: a ':' in the user was taken as one
      const userText = u.password !== undefined ? `${u.user}:${u.password}` : u.user;
      const f = userText.split(sep);
      if (f.length !== 5 && f.length !== 6) return undefined;
      const [user, password, host, port, proto] = f.length === 6 ? f.slice(1) : [f[1], '', ...f.slice(2)];
      if (!host) return undefined;
      if (port && !/^\d{1,5}$/.test(port)) return undefined;
      const userinfo = user ? `${user}${password ? `:${password}` : ''}@` : '';
      const out = `${u.scheme}:${userinfo}${host}${port ? `:${port}` : ''}${proto ? `;transport=${proto}` : ''}`;
      return parse(out) ? out : undefined;
    };

    const b64 = (s: string): string => Buffer.from(s, 'utf8').toString('base64url');
    const unb64 = (s: string): string | undefined => (/^[A-Za-z0-9_-]+={0,2}$/.test(s) ? Buffer.from(s, 'base64url').toString('utf8') : undefined);

    const msgExports: Def[] = [
      {
        name: 'has_totag',
        returns: 'int',
        params: [],
        doc: 'Does the To header have a tag (a request inside a dialog)? 1 yes, -1 no.',
        fn: (ctx: RouteContext) => ok(!!ctx.msg.to.tag),
      },
      {
        name: 'is_request',
        returns: 'int',
        params: [],
        doc: 'Is the message a request? 1 yes, -1 no.',
        fn: (ctx: RouteContext) => ok(ctx.isRequest),
      },
      {
        name: 'is_reply',
        returns: 'int',
        params: [],
        doc: 'Is the message a reply? 1 yes, -1 no.',
        fn: (ctx: RouteContext) => ok(!ctx.isRequest),
      },
      {
        name: 'is_sip',
        returns: 'int',
        params: [],
        doc: 'Is the message SIP (always, ksr handles no HTTP)? 1.',
        fn: () => 1,
      },
      {
        name: 'is_http',
        returns: 'int',
        params: [],
        doc: 'Is the message HTTP? -1: ksr receives SIP only.',
        fn: () => -1,
      },
      ...([
        ['is_first_hop', undefined],
        ['is_first_hop_mode', 'int'],
      ] as const).map(
        ([name, param]): Def => ({
          name,
          returns: 'int',
          params: param ? ['int'] : [],
          ...(param ? { paramNames: ['mode'] } : {}),
          doc:
            'Is this server the first hop? A request: it has a single Via. A reply: its top Record-Route is this server and, with mode 0, an IP address that is not the source of the reply (mode 1: any host). 1 yes, -1 no.',
          fn: (ctx: RouteContext, mode = 0) => {
            if (mode !== 0 && mode !== 1) return fail(ctx, name, `invalid mode ${mode} (0 or 1)`);
            if (ctx.isRequest) return ok(ctx.msg.via.length === 1);
            const rr = ctx.msg.recordRoute[0]?.uri;
            if (!rr || !myselfUri(ctx, rr)) return -1;
            if (mode === 1) return 1;
            return ok(isIp(rr.host) && unbracket(rr.host).toLowerCase() !== ctx.info.remote.address.toLowerCase());
          },
        }),
      ),
      {
        name: 'is_user',
        returns: 'int',
        params: ['str'],
        paramNames: ['suser'],
        doc: 'Is suser the user of the digest credentials (Proxy-Authorization, else Authorization)? 1 yes, -1 no.',
        fn: (ctx: RouteContext, user: string) => ok(user !== '' && requestCredentials(ctx)?.user === user),
      },
      {
        name: 'is_supported',
        returns: 'int',
        params: ['str'],
        paramNames: ['option'],
        doc: 'ksr extension: is the option tag (path, 100rel, timer, gruu, outbound, …) listed in a Supported header? 1 yes, -1 no.',
        fn: (ctx: RouteContext, option: string) => {
          const o = option.trim().toLowerCase();
          if (o === '') return fail(ctx, 'is_supported', 'empty option');
          return ok(ctx.msg.headerValues('supported').some((v) => v.toLowerCase() === o));
        },
      },
      {
        name: 'hdr_date_check',
        returns: 'int',
        params: ['int'],
        paramNames: ['tdiff'],
        doc: 'Does the message have a Date header no older than tdiff seconds? 1 yes, -1 no (or no/unparsable Date).',
        fn: (ctx: RouteContext, tdiff: number) => {
          if (!Number.isInteger(tdiff) || tdiff < 0) return fail(ctx, 'hdr_date_check', `invalid time difference ${tdiff}`);
          const d = ctx.msg.header('date');
          if (d === undefined) return -1;
          const t = Date.parse(d);
          if (Number.isNaN(t)) {
            ctx.logger.debug(`KSR.siputils.hdr_date_check: cannot parse Date ${JSON.stringify(d)}`);
            return -1;
          }
          return ok(now() - t <= tdiff * 1000);
        },
      },
      {
        name: 'options_reply',
        returns: 'int',
        params: [],
        doc: 'Answer an OPTIONS for this server (no user in the R-URI) with 200 OK and Allow, Accept, Accept-Encoding, Accept-Language, Supported (modparams; empty ones left out). 1 sent, -1 not such a request.',
        fn: (ctx: RouteContext) => {
          const req = ctx.request;
          if (!req || req.method !== 'OPTIONS') return fail(ctx, 'options_reply', 'not an OPTIONS request');
          const u = parse(ruriText(req));
          if (!u) return fail(ctx, 'options_reply', 'the Request-URI does not parse');
          if (u.user !== undefined && u.user !== '') return fail(ctx, 'options_reply', 'the Request-URI has a user: not for this server');
          const s = sl();
          if (s) return s.reply(ctx, 200, 'OK', { headers: [...optionsHeaders] });
          ctx.services.reply(ctx, 200, 'OK', { headers: [...optionsHeaders] }).catch((err: unknown) => {
            ctx.logger.error(`KSR.siputils.options_reply: ${(err as Error).message}`);
          });
          return 1;
        },
      },
    ];

    const uriExports: Def[] = [
      {
        name: 'is_uri',
        returns: 'int',
        params: ['str'],
        paramNames: ['suri'],
        doc: 'Is the string a valid sip:, sips:, tel: or urn: URI? 1 yes, -1 no.',
        fn: (_ctx: RouteContext, s: string) => {
          const u = parse(s);
          return ok(!!u && (u.scheme === 'sip' || u.scheme === 'sips' || u.scheme === 'tel' || u.scheme === 'urn') && !/\s/.test(s));
        },
      },
      {
        name: 'uri_param',
        returns: 'int',
        params: ['str'],
        paramNames: ['sparam'],
        doc: 'Does the (current) Request-URI have this parameter without a value? 1 yes, -1 no.',
        fn: (ctx: RouteContext, name: string) => {
          const u = ruri(ctx, 'uri_param');
          return ok(!!u && u.params.get(name.trim().toLowerCase()) === null);
        },
      },
      {
        name: 'uri_param_any',
        returns: 'int',
        params: ['str'],
        paramNames: ['sparam'],
        doc: 'Does the (current) Request-URI have this parameter, with or without a value? 1 yes, -1 no.',
        fn: (ctx: RouteContext, name: string) => {
          const u = ruri(ctx, 'uri_param_any');
          return ok(!!u && u.params.has(name.trim().toLowerCase()));
        },
      },
      {
        name: 'uri_param_value',
        returns: 'int',
        params: ['str', 'str'],
        paramNames: ['sparam', 'svalue'],
        doc: 'Does the (current) Request-URI have this parameter with this value (case-sensitive)? 1 yes, -1 no.',
        fn: (ctx: RouteContext, name: string, value: string) => {
          const u = ruri(ctx, 'uri_param_value');
          return ok(!!u && u.params.get(name.trim().toLowerCase()) === value);
        },
      },
      {
        name: 'add_uri_param',
        returns: 'int',
        params: ['str'],
        paramNames: ['param'],
        doc: 'Append a parameter ("name" or "name=value") to the Request-URI. 1 ok, -1 invalid.',
        fn: (ctx: RouteContext, param: string) => {
          const req = request(ctx, 'add_uri_param');
          if (!req) return -1;
          const pt = param.trim();
          if (pt === '' || /[;\s?]/.test(pt)) return fail(ctx, 'add_uri_param', `invalid parameter ${JSON.stringify(param)}`);
          const cur = ruriText(req);
          const u = parse(`${cur};${pt}`);
          const name = pt.split('=', 1)[0]!.toLowerCase();
          if (!u || !u.params.has(name)) return fail(ctx, 'add_uri_param', `invalid parameter ${JSON.stringify(param)}`);
          return setRuri(ctx, 'add_uri_param', `${cur};${pt}`);
        },
      },
      {
        name: 'uri_param_rm',
        returns: 'int',
        params: ['str'],
        paramNames: ['sparam'],
        doc: 'Remove a parameter from the Request-URI. 1 removed, -1 absent or invalid.',
        fn: (ctx: RouteContext, name: string) => {
          const u = ruri(ctx, 'uri_param_rm');
          const n = name.trim().toLowerCase();
          if (!u || n === '') return -1;
          if (!u.params.delete(n)) return -1;
          return setRuri(ctx, 'uri_param_rm', u.toString());
        },
      },
      {
        name: 'is_gruu',
        returns: 'int',
        params: [],
        doc: 'Is the (current) Request-URI a GRUU (RFC 5627)? 1 public (gr=value), 2 temporary (gr without value), -1 no.',
        fn: (ctx: RouteContext) => {
          const u = ctx.request ? parse(ruriText(ctx.request)) : undefined;
          if (!u || !u.params.has('gr')) return -1;
          return u.params.get('gr') === null ? 2 : 1;
        },
      },
      {
        name: 'cmp_uri',
        returns: 'int',
        params: ['str', 'str'],
        paramNames: ['uri1', 'uri2'],
        doc: 'Are the two URIs equal by the RFC 3261 §19.1.4 rules? 1 yes, -1 no (or one does not parse).',
        fn: (ctx: RouteContext, a: string, b: string) => {
          if (!parse(a) || !parse(b)) return fail(ctx, 'cmp_uri', `cannot parse ${JSON.stringify(parse(a) ? b : a)}`);
          return ok(uriEquals(a, b));
        },
      },
      {
        name: 'cmp_aor',
        returns: 'int',
        params: ['str', 'str'],
        paramNames: ['uri1', 'uri2'],
        doc: 'Are the two SIP URIs the same address of record (user, host ignoring case, port)? "sip:" is added when missing. 1 yes, -1 no.',
        fn: (ctx: RouteContext, a: string, b: string) => {
          const pa = parse(/^[a-z][a-z0-9+.-]*:/i.test(a) ? a : `sip:${a}`);
          const pb = parse(/^[a-z][a-z0-9+.-]*:/i.test(b) ? b : `sip:${b}`);
          if (!pa || !pb || (pa.scheme !== 'sip' && pa.scheme !== 'sips') || (pb.scheme !== 'sip' && pb.scheme !== 'sips')) {
            return fail(ctx, 'cmp_aor', `both must be SIP URIs: ${JSON.stringify(a)}, ${JSON.stringify(b)}`);
          }
          const dec = (s: string | undefined): string => (s ?? '').replace(/%([0-9a-f]{2})/gi, (_m, h: string) => String.fromCharCode(parseInt(h, 16)));
          return ok(dec(pa.user) === dec(pb.user) && pa.host.toLowerCase() === pb.host.toLowerCase() && (pa.port ?? 5060) === (pb.port ?? 5060));
        },
      },
      {
        name: 'cmp_hdr_name',
        returns: 'int',
        params: ['str', 'str'],
        paramNames: ['shname1', 'shname2'],
        doc: 'Do the two names name the same header (any case, compact forms)? 1 yes, -1 no.',
        fn: (_ctx: RouteContext, a: string, b: string) => ok(a.trim() !== '' && sip.canonicalHeaderName(a.trim()) === sip.canonicalHeaderName(b.trim())),
      },
      {
        name: 'tel2sip',
        returns: 'int',
        params: ['str', 'str', 'str'],
        paramNames: ['uri', 'hostpart', 'res'],
        doc: 'ksr extension: turn a tel: URI into sip:number;params@hostpart;user=phone (RFC 3261 §19.1.6) and store it in the pseudo-variable res. 1 converted, 2 not a tel: URI (res untouched), -1 error.',
        fn: (ctx: RouteContext, uri: string, hostpart: string, res: string) => {
          const t = uri.trim();
          if (!/^tel:/i.test(t)) return 2;
          const host = hostpart.trim();
          if (host === '' || !parse(`sip:${host}`)) return fail(ctx, 'tel2sip', `invalid host part ${JSON.stringify(hostpart)}`);
          const [number, ...params] = t.slice(4).split(';');
          const digits = number!.replace(/[-.()]/g, '');
          if (!/^\+?[0-9A-Fa-f*#]+$/.test(digits)) return fail(ctx, 'tel2sip', `invalid telephone number ${JSON.stringify(number)}`);
          const user = [digits, ...params.map((x) => x.toLowerCase())].join(';');
          const out = `sip:${user}@${host};user=phone`;
          if (!parse(out)) return fail(ctx, 'tel2sip', `cannot build a SIP URI from ${JSON.stringify(uri)}`);
          const acc = mctx.pv.lookup(res);
          if (acc instanceof PvNameError) return fail(ctx, 'tel2sip', acc.message);
          if (!acc.set) return fail(ctx, 'tel2sip', `${res} is read-only`);
          return acc.set(ctx, out) ? 1 : -1;
        },
      },
    ];

    const e164 = (s: string): boolean => /^\+\d{2,15}$/.test(s);
    const stringExports: Def[] = [
      {
        name: 'is_numeric',
        returns: 'int',
        params: ['str'],
        paramNames: ['tval'],
        doc: 'Is the string only decimal digits (and not empty)? 1 yes, -1 no.',
        fn: (_ctx: RouteContext, s: string) => ok(/^[0-9]+$/.test(s)),
      },
      {
        name: 'is_alphanum',
        returns: 'int',
        params: ['str'],
        paramNames: ['tval'],
        doc: 'Is the string only ASCII letters and digits (and not empty)? 1 yes, -1 no.',
        fn: (_ctx: RouteContext, s: string) => ok(/^[A-Za-z0-9]+$/.test(s)),
      },
      {
        name: 'is_alphanumex',
        returns: 'int',
        params: ['str', 'str'],
        paramNames: ['tval', 'eset'],
        doc: 'Is the string only ASCII letters, digits and characters of eset (and not empty)? 1 yes, -1 no.',
        fn: (_ctx: RouteContext, s: string, eset: string) => ok(s.length > 0 && [...s].every((c) => /[A-Za-z0-9]/.test(c) || eset.includes(c))),
      },
      {
        name: 'is_tel_number',
        returns: 'int',
        params: ['str'],
        paramNames: ['tval'],
        doc: 'Is the string a telephone number: an optional + then digits? 1 yes, -1 no.',
        fn: (_ctx: RouteContext, s: string) => ok(/^\+?[0-9]+$/.test(s)),
      },
      {
        name: 'is_e164',
        returns: 'int',
        params: ['str'],
        paramNames: ['tval'],
        doc: 'ksr extension: is the string an E.164 number (+ and 2 to 15 digits)? 1 yes, -1 no.',
        fn: (_ctx: RouteContext, s: string) => ok(e164(s)),
      },
      {
        name: 'is_uri_user_e164',
        returns: 'int',
        params: ['str'],
        paramNames: ['uri'],
        doc: 'ksr extension: is the user part of the URI an E.164 number? 1 yes, -1 no.',
        fn: (_ctx: RouteContext, s: string) => {
          const u = parse(s);
          return ok(!!u && (u.scheme === 'sip' || u.scheme === 'sips' || u.scheme === 'tel') && e164(u.user ?? ''));
        },
      },
    ];

    const contactExports: Def[] = [
      {
        name: 'encode_contact',
        returns: 'int',
        params: ['str', 'str'],
        paramNames: ['eprefix', 'eaddr'],
        doc: 'Rewrite every Contact URI sip:user:password@host:port;transport=proto as sip:eprefix*user*password*host*port*proto@eaddr (separator: contact_flds_separator; other URI parameters are dropped). 1 ok, -1 error or no Contact.',
        fn: (ctx: RouteContext, prefix: string, eaddr: string) => {
          const host = eaddr.trim();
          if (host === '' || !parse(`sip:${host}`) || parse(`sip:${host}`)!.user !== undefined) return fail(ctx, 'encode_contact', `invalid host part ${JSON.stringify(eaddr)}`);
          if (prefix.includes(sep) || /[@:;<>\s]/.test(prefix)) return fail(ctx, 'encode_contact', `invalid prefix ${JSON.stringify(prefix)}`);
          return contacts(
            ctx,
            'encode_contact',
            (u) => {
              if (u.scheme !== 'sip' && u.scheme !== 'sips') return new Error(`cannot encode a ${u.scheme}: contact`);
              const f = [prefix, u.user ?? '', u.password ?? '', u.host, u.port === undefined ? '' : String(u.port), u.params.get('transport') ?? ''];
              return `${u.scheme}:${f.join(sep)}@${host}`;
            },
            true,
          );
        },
      },
      {
        name: 'decode_contact',
        returns: 'int',
        params: [],
        doc: 'Decode a Request-URI made by encode_contact back into sip:user:password@host:port;transport=proto. 1 ok, -1 not encoded.',
        fn: (ctx: RouteContext) => {
          const u = ruri(ctx, 'decode_contact');
          if (!u) return -1;
          const d = decodeUri(u);
          if (!d) return -1;
          return setRuri(ctx, 'decode_contact', d);
        },
      },
      {
        name: 'decode_contact_header',
        returns: 'int',
        params: [],
        doc: 'Decode the Contact URIs made by encode_contact (others are left alone). 1 when one was decoded, -1 none.',
        fn: (ctx: RouteContext) => contacts(ctx, 'decode_contact_header', (u) => decodeUri(u), true),
      },
      {
        name: 'contact_param_encode',
        returns: 'int',
        params: ['str', 'str'],
        paramNames: ['nparam', 'saddr'],
        doc: 'Replace every Contact URI by the SIP URI saddr with a parameter nparam holding the old URI in base64url. 1 ok, -1 error or no Contact.',
        fn: (ctx: RouteContext, pname: string, saddr: string) => {
          const n = pname.trim();
          if (!/^[A-Za-z0-9\-_.!~*'()]+$/.test(n)) return fail(ctx, 'contact_param_encode', `invalid parameter name ${JSON.stringify(pname)}`);
          const a = parse(saddr.trim());
          if (!a || (a.scheme !== 'sip' && a.scheme !== 'sips') || a.headers.size > 0) return fail(ctx, 'contact_param_encode', `invalid address ${JSON.stringify(saddr)}`);
          return contacts(ctx, 'contact_param_encode', (u) => `${saddr.trim()};${n}=${b64(u.raw)}`, true);
        },
      },
      {
        name: 'contact_param_decode',
        returns: 'int',
        params: ['str'],
        paramNames: ['nparam'],
        doc: 'Replace every Contact URI that has the parameter nparam by the URI it encodes (contact_param_encode). 1 when one was decoded, -1 none or invalid.',
        fn: (ctx: RouteContext, pname: string) => {
          const n = pname.trim().toLowerCase();
          if (n === '') return fail(ctx, 'contact_param_decode', 'empty parameter name');
          return contacts(
            ctx,
            'contact_param_decode',
            (u) => {
              const v = u.params.get(n);
              if (v === undefined || v === null) return undefined;
              const d = unb64(v);
              return d && parse(d) ? d : new Error(`parameter ${n} does not hold an encoded URI`);
            },
            true,
          );
        },
      },
      {
        name: 'contact_param_decode_ruri',
        returns: 'int',
        params: ['str'],
        paramNames: ['nparam'],
        doc: 'Replace the Request-URI by the URI its parameter nparam encodes (contact_param_encode). 1 ok, -1 no such parameter or invalid.',
        fn: (ctx: RouteContext, pname: string) => {
          const u = ruri(ctx, 'contact_param_decode_ruri');
          if (!u) return -1;
          const v = u.params.get(pname.trim().toLowerCase());
          if (v === undefined || v === null) return -1;
          const d = unb64(v);
          if (!d || !parse(d)) return fail(ctx, 'contact_param_decode_ruri', `parameter ${pname} does not hold an encoded URI`);
          return setRuri(ctx, 'contact_param_decode_ruri', d);
        },
      },
      {
        name: 'contact_param_rm',
        returns: 'int',
        params: ['str'],
        paramNames: ['nparam'],
        doc: 'Remove the parameter nparam from every Contact URI. 1 when one was removed, -1 none.',
        fn: (ctx: RouteContext, pname: string) => {
          const n = pname.trim().toLowerCase();
          if (n === '') return fail(ctx, 'contact_param_rm', 'empty parameter name');
          return contacts(
            ctx,
            'contact_param_rm',
            (u) => {
              if (!u.params.delete(n)) return undefined;
              return u.toString();
            },
            true,
          );
        },
      },
      {
        name: 'contact_param_check',
        returns: 'int',
        params: ['str'],
        paramNames: ['nparam'],
        doc: 'Does a Contact URI have the parameter nparam? 1 yes, -1 no.',
        fn: (ctx: RouteContext, pname: string) => {
          const n = pname.trim().toLowerCase();
          if (n === '') return fail(ctx, 'contact_param_check', 'empty parameter name');
          return ok(ctx.msg.contact.contacts.some((c) => c.uri.params.has(n)));
        },
      },
    ];

    return { exports: [...msgExports, ...uriExports, ...stringExports, ...contactExports] };
  },
});
