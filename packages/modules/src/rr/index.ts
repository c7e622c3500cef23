/**
 * rr: Record-Route and Route processing (Kamailio's rr module): KSR.rr.record_route,
 * loose_route, add_rr_param, check_route_param, is_direction, … with Kamailio's names and types,
 * plus $fti, $tti and $rdir.
 */
import { PvNameError, defineModule, type KemiExportDef, type ModuleParamSpec, type PvValue, type RouteContext } from '@ksr/core';
import { RecordRouter, RR_PRELOADED, type RrConfig } from './rr.js';

export { RecordRouter, RR_PRELOADED, normalizeParams, type RrConfig } from './rr.js';

type Def = KemiExportDef<RouteContext>;

/** What rr offers to other modules (dialog, tm, …): `ctx.api<RrApi>('rr')`. */
export interface RrApi {
  recordRoute(ctx: RouteContext, params?: string): number;
  looseRoute(ctx: RouteContext, mode?: number): number;
  addRrParam(ctx: RouteContext, param: string): number;
  checkRouteParam(ctx: RouteContext, re: string): number;
  isDirection(ctx: RouteContext, dir: 'downstream' | 'upstream'): number;
  /** A parameter of the local Route entry (after loose_route): its value, "" for a flag, undefined when absent. */
  getRouteParam(ctx: RouteContext, name: string): string | undefined;
  /** Render our Record-Route for the current destination (call just before sending). */
  refresh(ctx: RouteContext): void;
}

const int: ModuleParamSpec = { type: 'int' };

const PARAMS: Record<string, ModuleParamSpec> = {
  append_fromtag: int,
  enable_double_rr: { type: 'int', check: (v) => ([0, 1, 2].includes(Number(v)) ? undefined : 'must be 0, 1 or 2') },
  enable_full_lr: int,
  add_username: int,
  enable_socket_mismatch_warning: int,
  custom_user_avp: { type: 'str' },
  force_send_socket: int,
  ignore_sips: int,
  sockname_mode: int,
  loose_route_mode: int,
};

function exportsOf(rr: RecordRouter): Def[] {
  const t = (name: string, params: Def['params'], paramNames: string[], doc: string, fn: Def['fn']): Def => ({ name, returns: 'int', params, paramNames, doc, fn });
  return [
    t('record_route', [], [], 'Add our Record-Route (two when the in and out sockets differ and enable_double_rr is on). 1 ok, -1 error or already added.', (ctx: RouteContext) =>
      rr.recordRoute(ctx),
    ),
    t('record_route_params', ['str'], ['params'], 'record_route() with these URI parameters (";name=value").', (ctx: RouteContext, p: string) => rr.recordRoute(ctx, p)),
    t('loose_route', [], [], 'Route by the Route headers (RFC 3261 §16.4/§16.12). 1 routed, -3 initial request whose Route set was only ours, -1 no Route or error.', (ctx: RouteContext) =>
      rr.looseRoute(ctx, rr.cfg.looseRouteMode),
    ),
    t('loose_route_preloaded', [], [], '1 when loose_route() finds a preloaded Route set of ours only in an initial request, else -1.', (ctx: RouteContext) =>
      rr.looseRoute(ctx, 0) === RR_PRELOADED ? 1 : -1,
    ),
    t('loose_route_mode', ['int'], ['vmode'], 'loose_route() with mode bits: 1 = loose routing only (no strict-router check of the R-URI), 2 = no flow tokens.', (ctx: RouteContext, m: number) =>
      rr.looseRoute(ctx, m),
    ),
    t('remove_record_route', [], [], 'Remove the Record-Route headers record_route*() added. 1.', (ctx: RouteContext) => rr.removeRecordRoute(ctx)),
    t('add_rr_param', ['str'], ['param'], 'Add a URI parameter (";name=value") to our Record-Route, before or after record_route().', (ctx: RouteContext, p: string) =>
      rr.addRrParam(ctx, p),
    ),
    t('check_route_param', ['str'], ['re'], 'Do the URI parameters of our Route entry match the regular expression? 1 yes, -1 no.', (ctx: RouteContext, re: string) =>
      rr.checkRouteParam(ctx, re),
    ),
    t('is_direction', ['str'], ['dir'], 'Is the in-dialog request going "downstream" (caller to callee) or "upstream"? (ftag of our Route vs the From tag) 1 yes, -1 no.', (ctx: RouteContext, d: string) =>
      rr.isDirection(ctx, d),
    ),
    t('record_route_preset_one', ['str'], ['sroute'], 'Add one Record-Route with this "host[:port][;params]".', (ctx: RouteContext, a: string) => rr.recordRoutePreset(ctx, a, undefined)),
    t('record_route_preset', ['str', 'str'], ['sroute1', 'sroute2'], 'Add Record-Route(s) with these "host[:port][;params]" (the first faces the next hop; "" for none; add r2=on yourself).', (ctx: RouteContext, a: string, b: string) =>
      rr.recordRoutePreset(ctx, a, b),
    ),
    t('record_route_advertised_address', ['str'], ['addr'], 'record_route() with this host[:port] (two entries when the transport changes).', (ctx: RouteContext, a: string) =>
      rr.recordRouteAdvertised(ctx, a),
    ),
    t('next_hop_route', [], [], '1 when loose_route() took the next hop from a Route header after ours, else -1.', (ctx: RouteContext) => rr.nextHopRoute(ctx)),
  ];
}

export const rrModule = defineModule({
  name: 'rr',
  params: PARAMS,
  create(ctx) {
    const p = ctx.params;
    const cfg: RrConfig = {
      appendFromtag: p.int('append_fromtag', 1) !== 0,
      enableDoubleRr: p.int('enable_double_rr', 1),
      enableFullLr: p.int('enable_full_lr', 0) !== 0,
      addUsername: p.int('add_username', 0) !== 0,
      customUserAvp: p.str('custom_user_avp', ''),
      forceSendSocket: p.int('force_send_socket', 0) !== 0,
      ignoreSips: p.int('ignore_sips', 0) !== 0,
      looseRouteMode: p.int('loose_route_mode', 0),
      enableSocketMismatchWarning: p.int('enable_socket_mismatch_warning', 1) !== 0,
    };
    if (cfg.customUserAvp !== '') {
      const acc = ctx.pv.lookup(cfg.customUserAvp);
      if (acc instanceof PvNameError) throw new Error(`custom_user_avp: ${acc.message}`);
    }
    if (p.int('sockname_mode', 0) !== 0) ctx.logger.warn('sockname_mode is not supported (sockets have no names): ignored');
    const rr = new RecordRouter(cfg, ctx.pv);

    // $fti / $tti: From / To tag as in the initial request; $rdir(id|name): the direction
    const tagPv = (name: string, initial: 'from' | 'to') => () => ({
      name,
      get: (c: RouteContext): PvValue => {
        const req = c.request;
        if (!req) return null;
        const up = rr.direction(req, c) === 'upstream';
        const which = (initial === 'from') !== up ? req.from : req.to;
        return which.tag ?? null;
      },
    });
    ctx.pv.register('fti', tagPv('$fti', 'from'), { replace: true });
    ctx.pv.register('tti', tagPv('$tti', 'to'), { replace: true });
    ctx.pv.register(
      'rdir',
      (spec) => {
        const key = spec.param ?? 'id';
        if (key !== 'id' && key !== 'name') throw new PvNameError(spec.text, '$rdir takes id or name');
        return {
          name: spec.text,
          get: (c: RouteContext): PvValue => {
            const req = c.request;
            if (!req) return null;
            const up = rr.direction(req, c) === 'upstream';
            return key === 'name' ? (up ? 'upstream' : 'downstream') : up ? 2 : 1;
          },
        };
      },
      { param: 'optional', replace: true },
    );

    const api: RrApi = {
      recordRoute: (c, params) => rr.recordRoute(c, params ?? ''),
      looseRoute: (c, mode) => rr.looseRoute(c, mode ?? cfg.looseRouteMode),
      addRrParam: (c, param) => rr.addRrParam(c, param),
      checkRouteParam: (c, re) => rr.checkRouteParam(c, re),
      isDirection: (c, dir) => rr.isDirection(c, dir),
      getRouteParam: (c, name) => rr.routeParam(c, name),
      refresh: (c) => rr.refresh(c),
    };
    return { exports: exportsOf(rr), api };
  },
});
