/**
 * The tm exports added with the extension files (contacts, uac, ext): appended to index.ts's table.
 */
import type { KemiExportDef, RouteContext } from '@ksr/core';
import { loadContacts, nextContactFlow, nextContacts, type ContactsConfig } from './contacts.js';
import type { TmExt } from './ext.js';
import type { Tm } from './tm.js';
import type { TmUac } from './uac.js';

type Def = KemiExportDef<RouteContext>;

export function extExportsOf(tm: Tm, ext: TmExt, uac: TmUac, contacts: ContactsConfig): Def[] {
  const noArgs = (name: string, doc: string, fn: (ctx: RouteContext) => number): Def => ({ name, returns: 'int', params: [], doc, fn });
  const state = (name: string, doc: string, apply: (ctx: RouteContext, on: boolean) => void): Def => ({
    name,
    returns: 'int',
    params: ['int'],
    paramNames: ['state'],
    doc,
    fn: (ctx: RouteContext, s: number) => {
      apply(ctx, s !== 0);
      return 1;
    },
  });
  return [
    noArgs('t_load_contacts', 'Move the destination set into the contacts_avp XAVP, by q-value (equal q = one parallel group). 1 ok or nothing to do, -1 error.', (ctx) =>
      loadContacts(ctx, contacts, 0),
    ),
    {
      name: 't_load_contacts_mode',
      returns: 'int',
      params: ['int'],
      paramNames: ['mode'],
      doc: 't_load_contacts with mode 0 (by q, equal q in parallel) or 1 (random order weighted by q, one contact at a time). 1 ok, -1 error.',
      fn: (ctx: RouteContext, mode: number) => loadContacts(ctx, contacts, mode),
    },
    noArgs('t_next_contacts', 'Make the next group of contacts_avp the destination set (first one in the R-URI). 1 ok, -2 none left, -1 error.', (ctx) =>
      nextContacts(ctx, contacts),
    ),
    noArgs('t_next_contact_flow', 'In a branch-failure route: the next contact of the failed branch\'s +sip.instance from contact_flows_avp becomes the R-URI. 1 ok, -2 none, -1 error.', (ctx) => {
      const run = tm.runInfo(ctx);
      const txn = tm.txnOf(ctx);
      const inst = run && txn && ctx.routeType === 'branch-failure' ? ext.branchEntry(txn, run.branch)?.instance : undefined;
      return nextContactFlow(ctx, contacts, inst);
    }),
    {
      name: 't_replicate',
      returns: 'int',
      params: ['str'],
      paramNames: ['uri'],
      doc: 'Send a copy of the request statefully to uri ("" = $du, else the R-URI); its replies are absorbed. 1 ok, -1 error.',
      fn: (ctx: RouteContext, uri: string) => uac.replicate(ctx, uri),
    },
    {
      name: 't_uac_send',
      returns: 'int',
      params: ['str', 'str', 'str', 'str', 'str', 'str'],
      paramNames: ['method', 'ruri', 'nexthop', 'socket', 'headers', 'body'],
      doc: 'Send a new local request statefully (From and To required in headers; runs the event_callback with "tm:local-request"). 1 ok, -1 error.',
      fn: (ctx: RouteContext, method: string, ruri: string, nexthop: string, socket: string, headers: string, body: string) =>
        uac.send(ctx, method, ruri, nexthop, socket, headers, body),
    },
    {
      name: 't_drop_replies',
      returns: 'int',
      params: ['str'],
      paramNames: ['mode'],
      doc: 'In a failure route: leave out of the best-reply choice all replies so far ("a" or ""), those of the last round ("l"), or none ("n"). 1 ok, -1 error.',
      fn: (ctx: RouteContext, mode: string) => ext.dropReplies(ctx, mode),
    },
    noArgs('t_drop_replies_all', 'As t_drop_replies("a"). 1 ok, -1 error.', (ctx) => ext.dropReplies(ctx, 'a')),
    noArgs('t_save_lumps', 'Keep the request as it is now for the failure routes (later changes in this route are not in their branches). 1 ok, -1 without transaction.', (ctx) =>
      ext.saveLumps(ctx),
    ),
    state('t_set_disable_internal_reply', 'Do not (1) or do (0) send the internal 500 when t_relay cannot send any branch. 1.', (ctx, on) => {
      ext.pendingOf(ctx.state).noInternalReply = on;
      const t = tm.txnOf(ctx);
      const x = t && ext.extra(t);
      if (x) x.noInternalReply = on;
    }),
    state('t_set_disable_failover', 'Turn DNS failover off (1) or on (0) for the transaction. ksr does no DNS failover: recorded, always off. 1.', (ctx, on) => {
      ext.pendingOf(ctx.state).disableFailover = on;
      const t = tm.txnOf(ctx);
      const x = t && ext.extra(t);
      if (x) x.disableFailover = on;
    }),
    noArgs('t_is_retr_async_reply', 'Is the transaction suspended while processing a reply? ksr never suspends reply processing: -1.', () => -1),
  ];
}
