/**
 * registrar: REGISTER processing (save) and location lookups (lookup & co) over usrloc, with
 * Kamailio's KEMI names and types (KSR.registrar.*). Replies go through sl when it is loaded,
 * else through the core's stateless reply.
 */
import { defineModule, type KemiExportDef, type KemiXval, type ModuleParams, type ModuleParamSpec, type RouteContext } from '@ksr/core';
import type { UsrlocApi } from '../usrloc/api.js';
import { Registrar, type RegistrarConfig } from './registrar.js';
import type { SlApi } from '../sl/api.js';
import { CONTACT_ATTRS, RECORD_ATTRS } from './ulc.js';

export { Registrar, SAVE_FLAGS, type RegistrarConfig } from './registrar.js';
export type { SlApi } from '../sl/api.js';

type Def = KemiExportDef<RouteContext>;

const int: ModuleParamSpec = { type: 'int' };
const str: ModuleParamSpec = { type: 'str' };
const nonNegative: ModuleParamSpec = { type: 'int', check: (v) => (Number(v) >= 0 ? undefined : 'must be >= 0') };

const PARAMS: Record<string, ModuleParamSpec> = {
  default_expires: nonNegative,
  default_expires_range: { type: 'int', check: (v) => (Number(v) >= 0 && Number(v) <= 100 ? undefined : 'must be 0..100') },
  expires_range: { type: 'int', check: (v) => (Number(v) >= 0 && Number(v) <= 100 ? undefined : 'must be 0..100') },
  min_expires: nonNegative,
  max_expires: nonNegative,
  default_q: { type: 'int', check: (v) => (Number(v) >= -1 && Number(v) <= 1000 ? undefined : 'must be -1 (none) or 0..1000') },
  realm_prefix: str,
  append_branches: int,
  case_sensitive: int,
  received_avp: str,
  received_param: str,
  max_contacts: nonNegative,
  retry_after: nonNegative,
  sock_flag: int,
  sock_hdr_name: str,
  method_filtering: int,
  use_path: int,
  path_mode: { type: 'int', check: (v) => ([0, 1, 2].includes(Number(v)) ? undefined : 'must be 0, 1 or 2') },
  path_use_received: int,
  path_check_local: int,
  xavp_cfg: str,
  xavp_rcd: str,
  contact_max_size: { type: 'int', check: (v) => (Number(v) > 0 ? undefined : 'must be > 0') },
  // accepted; not implemented (see README)
  gruu_enabled: int,
  outbound_mode: int,
  regid_mode: int,
  flow_timer: int,
  reg_callid_avp: str,
  event_callback: str,
};

function config(p: ModuleParams): RegistrarConfig {
  const minExpires = p.int('min_expires', 60);
  return {
    defaultExpires: p.int('default_expires', 3600),
    defaultExpiresRange: p.int('default_expires_range', 0),
    expiresRange: p.int('expires_range', 0),
    minExpires,
    maxExpires: p.int('max_expires', 0),
    defaultQ: p.int('default_q', -1),
    realmPrefix: p.str('realm_prefix', ''),
    appendBranches: p.int('append_branches', 1) !== 0,
    caseSensitive: p.int('case_sensitive', 0) !== 0,
    receivedAvp: p.str('received_avp', ''),
    receivedParam: p.str('received_param', 'received'),
    maxContacts: p.int('max_contacts', 0),
    retryAfter: p.int('retry_after', 0),
    sockFlag: p.int('sock_flag', -1),
    sockHdrName: p.str('sock_hdr_name', ''),
    methodFiltering: p.int('method_filtering', 0) !== 0,
    usePath: p.int('use_path', 0) !== 0,
    pathMode: p.int('path_mode', 2),
    pathUseReceived: p.int('path_use_received', 0) !== 0,
    pathCheckLocal: p.int('path_check_local', 0) !== 0,
    xavpCfg: p.str('xavp_cfg', ''),
    xavpRcd: p.str('xavp_rcd', ''),
    regidMode: p.int('regid_mode', 0) !== 0,
    contactMaxSize: p.int('contact_max_size', 512),
  };
}

function exportsOf(reg: Registrar): Def[] {
  const t = (name: string, params: Def['params'], paramNames: string[], doc: string, fn: Def['fn']): Def => ({ name, returns: 'int', params, paramNames, doc, fn });
  return [
    t('save', ['str', 'int'], ['table', 'flags'], 'Process a REGISTER (RFC 3261 §10.3) into the table and reply (flags: 0x02 no reply, 0x04 one contact per AOR, 0x08 no expires range). 1 added, 2 updated, 3 removed, 4 listed, -1 error, -2 too many contacts.', (ctx: RouteContext, table: string, flags: number) =>
      reg.save(ctx, table, flags),
    ),
    t('save_uri', ['str', 'int', 'str'], ['table', 'flags', 'uri'], 'save() for the AOR of this URI instead of the To URI.', (ctx: RouteContext, table: string, flags: number, uri: string) =>
      reg.save(ctx, table, flags, uri),
    ),
    t('lookup', ['str'], ['table'], 'Rewrite the R-URI with the best contact of its AOR, the others become branches. 1 found, -1 none, -2 method not allowed, -3 error.', (ctx: RouteContext, table: string) =>
      reg.lookup(ctx, table, undefined, 'ruri'),
    ),
    t('lookup_uri', ['str', 'str'], ['table', 'uri'], 'lookup() for the AOR of this URI (the R-URI is still rewritten).', (ctx: RouteContext, table: string, uri: string) =>
      reg.lookup(ctx, table, uri, 'ruri'),
    ),
    t('lookup_to_dset', ['str', 'str'], ['table', 'uri'], 'Add every contact of the AOR of the URI ("" = R-URI) as a branch; the R-URI is not changed.', (ctx: RouteContext, table: string, uri: string) =>
      reg.lookup(ctx, table, uri, 'dset'),
    ),
    t('lookup_branches', ['str'], ['table'], 'lookup() for the R-URI and every plain additional branch.', (ctx: RouteContext, table: string) => reg.lookupBranches(ctx, table)),
    t('registered', ['str'], ['table'], 'Is the AOR of the R-URI (To URI for replies) registered? 1 yes, -1 no.', (ctx: RouteContext, table: string) => reg.registered(ctx, table, undefined, 0, 0)),
    t('registered_uri', ['str', 'str'], ['table', 'uri'], 'Is the AOR of this URI registered? 1 yes, -1 no.', (ctx: RouteContext, table: string, uri: string) =>
      reg.registered(ctx, table, uri, 0, 0),
    ),
    t('registered_flags', ['str', 'str', 'int'], ['table', 'uri', 'flags'], 'registered_uri() matching $xavp(xavp_cfg=>match_callid|match_received|match_contact) (flags 1|2|4).', (ctx: RouteContext, table: string, uri: string, f: number) =>
      reg.registered(ctx, table, uri, f, 0),
    ),
    t('registered_action', ['str', 'str', 'int', 'int'], ['table', 'uri', 'flags', 'aflags'], 'registered_flags() with action flags (2: do not fill xavp_rcd).', (ctx: RouteContext, table: string, uri: string, f: number, af: number) =>
      reg.registered(ctx, table, uri, f, af),
    ),
    t('set_q_override', ['str'], ['q'], 'Use this q ("0".."1") for the contacts save() stores for this request.', (ctx: RouteContext, q: string) => reg.setQOverride(ctx, q)),
    t('add_sock_hdr', ['str'], ['hdr_name'], 'Add a header naming the receiving socket (proto:address:port).', (ctx: RouteContext, name: string) => reg.addSockHdr(ctx, name)),
    t('unregister', ['str', 'str'], ['table', 'uri'], 'Remove every contact of the AOR of the URI. 1 done, -1 bad URI, -3 no contact.', (ctx: RouteContext, table: string, uri: string) =>
      reg.unregister(ctx, table, uri, undefined),
    ),
    t('unregister_ruid', ['str', 'str', 'str'], ['table', 'uri', 'ruid'], 'Remove the contact with this ruid ("" uri: any AOR). 1 done, -1 bad URI, -3 no contact.', (ctx: RouteContext, table: string, uri: string, ruid: string) =>
      reg.unregister(ctx, table, uri, ruid),
    ),
    t('reg_fetch_contacts', ['str', 'str', 'str'], ['table', 'uri', 'profile'], 'Copy the contacts of the AOR of the URI into $ulc(profile=>…). 1 found, -1 none.', (ctx: RouteContext, table: string, uri: string, profile: string) =>
      reg.fetchContacts(ctx, table, uri, profile),
    ),
    t('reg_free_contacts', ['str'], ['profile'], 'Empty the $ulc profile.', (ctx: RouteContext, profile: string) => {
      if (profile === '') {
        ctx.logger.error('registrar reg_free_contacts: empty profile name');
        return -1;
      }
      reg.ulc.free(profile);
      return 1;
    }),
    t('reg_send_reply', [], [], 'Send the reply prepared by save() with flag 0x02. 1 sent, -1 none.', (ctx: RouteContext) => reg.sendPendingReply(ctx)),
    {
      name: 'ulc_rget',
      returns: 'xval',
      params: ['str', 'str'],
      paramNames: ['profile', 'attr'],
      doc: `A record attribute of a $ulc profile: ${RECORD_ATTRS.join(', ')}.`,
      fn: (ctx: RouteContext, profile: string, attr: string): KemiXval => {
        const v = reg.ulc.recordAttr(profile, attr);
        if (v === undefined) ctx.logger.error(`registrar ulc_rget: unknown attribute ${JSON.stringify(attr)}`);
        return v ?? null;
      },
    },
    {
      name: 'ulc_cget',
      returns: 'xval',
      params: ['str', 'str', 'int'],
      paramNames: ['profile', 'attr', 'idx'],
      doc: `A contact attribute of a $ulc profile: ${CONTACT_ATTRS.join(', ')}.`,
      fn: (ctx: RouteContext, profile: string, attr: string, idx: number): KemiXval => {
        const v = reg.ulc.contactAttr(profile, attr, idx);
        if (v === undefined) ctx.logger.error(`registrar ulc_cget: unknown attribute ${JSON.stringify(attr)}`);
        return v ?? null;
      },
    },
  ];
}

export const registrarModule = defineModule({
  name: 'registrar',
  params: PARAMS,
  dependencies: ['usrloc'],
  optionalDependencies: ['sl'],
  create(ctx) {
    const cfg = config(ctx.params);
    const ul = ctx.api<UsrlocApi>('usrloc');
    if (!ul) throw new Error('the usrloc module is not loaded');
    const sl = ctx.api<SlApi | undefined>('sl');
    if (cfg.defaultExpires < cfg.minExpires && cfg.minExpires > 0) {
      ctx.logger.warn(`default_expires ${cfg.defaultExpires} is below min_expires ${cfg.minExpires}: min_expires is used`);
    }
    for (const p of ['gruu_enabled', 'outbound_mode', 'flow_timer', 'reg_callid_avp']) {
      if (ctx.params.has(p)) ctx.logger.warn(`parameter ${p} is accepted but not implemented (GRUU / outbound are off)`);
    }
    // usrloc:contact-expired: the event_callback function runs for every contact usrloc's timer
    // removes as expired, with $ulc(exp=>…) holding that contact
    const eventCallback = ctx.params.str('event_callback', '');
    const reg = new Registrar(ctx, cfg, ul, sl, ctx.pv);
    ctx.pv.register('ulc', reg.ulc.pvFactory(), { param: 'required', index: true, replace: true });
    const unsubscribe = ul.onExpired((c) => {
      reg.ulc.set('exp', { aor: c.aor, table: c.table, aorhash: ul.aorHash(c.aor), contacts: [c] });
      if (eventCallback !== '') ctx.events?.run(eventCallback, 'usrloc:contact-expired');
    });
    const stat = (name: string, v: number): void => {
      const c = ctx.stats.counter('registrar', name);
      c.reset();
      c.inc(v);
    };
    stat('max_expires', cfg.maxExpires);
    stat('max_contacts', cfg.maxContacts);
    stat('default_expires', cfg.defaultExpires);
    ctx.stats.counter('registrar', 'accepted_regs');
    ctx.stats.counter('registrar', 'rejected_regs');
    return {
      exports: exportsOf(reg),
      api: reg,
      destroy() {
        unsubscribe();
      },
    };
  },
});
