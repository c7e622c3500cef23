/**
 * Serial/parallel forking by q-value (Kamailio tm's t_load_contacts / t_next_contacts /
 * t_next_contact_flow), written from the tm module documentation.
 *
 * t_load_contacts moves the destination set (the R-URI branch when it was rewritten, and the
 * appended branches) into the XAVP named
 * by `contacts_avp`, highest q first, one record per contact; the last record of each group of
 * equal q carries `last=1`. t_next_contacts takes the next group: its first contact becomes the
 * R-URI branch, the others additional branches (one per +sip.instance; the duplicates go to
 * `contact_flows_avp`). t_next_contact_flow, in a branch-failure route, takes the next contact of
 * the failed branch's +sip.instance from `contact_flows_avp`.
 */
import { parseUri, type Branch, type MessageState, type RouteContext, type ScriptValue, type SipUri, type XavpRecord } from '@ksr/core';

export interface ContactsConfig {
  contactsAvp: string;
  flowsAvp: string;
}

function record(b: Branch, last: boolean): XavpRecord {
  const r: XavpRecord = new Map<string, ScriptValue[]>();
  r.set('uri', [b.uri]);
  if (b.dstUri) r.set('dst_uri', [b.dstUri]);
  if (b.path) r.set('path', [b.path]);
  if (b.socketId !== undefined) r.set('socket', [b.socketId]);
  r.set('flags', [b.flags]);
  r.set('q', [b.q]);
  if (b.instance) r.set('instance', [b.instance]);
  if (b.ruid) r.set('ruid', [b.ruid]);
  if (b.received) r.set('received', [b.received]);
  if (last) r.set('last', [1]);
  return r;
}

function field(r: XavpRecord, name: string): ScriptValue | undefined {
  return r.get(name)?.[0];
}

function toBranch(r: XavpRecord): Branch | undefined {
  const uri = field(r, 'uri');
  if (typeof uri !== 'string' || uri === '') return undefined;
  const b: Branch = { uri, q: Number(field(r, 'q') ?? -1), flags: Number(field(r, 'flags') ?? 0) >>> 0 };
  const du = field(r, 'dst_uri');
  if (typeof du === 'string' && du !== '') b.dstUri = du;
  const path = field(r, 'path');
  if (typeof path === 'string' && path !== '') b.path = path;
  const sock = field(r, 'socket');
  if (sock !== undefined && Number.isInteger(Number(sock))) b.socketId = Number(sock);
  const inst = field(r, 'instance');
  if (typeof inst === 'string' && inst !== '') b.instance = inst;
  const ruid = field(r, 'ruid');
  if (typeof ruid === 'string' && ruid !== '') b.ruid = ruid;
  const rcv = field(r, 'received');
  if (typeof rcv === 'string' && rcv !== '') b.received = rcv;
  return Number.isFinite(b.q) ? b : undefined;
}

/** The R-URI branch as a Branch. */
function ruriBranch(ctx: RouteContext): Branch | undefined {
  const req = ctx.request;
  if (!req) return undefined;
  const st = ctx.state;
  const b: Branch = { uri: req.newRequestUri ?? req.uri, q: st.ruriQ, flags: st.branchFlags[0] ?? 0 };
  if (st.dstUri) b.dstUri = st.dstUri;
  if (st.ruriPath) b.path = st.ruriPath;
  if (st.sendSocketId !== undefined) b.socketId = st.sendSocketId;
  return b;
}

/** The destination URI for a contact's `received` address (NAT): its host, the contact's port and transport. */
function receivedDst(uri: string, received: string): string | undefined {
  try {
    const u = parseUri(uri) as SipUri;
    const host = received.includes(':') && !received.startsWith('[') ? `[${received}]` : received;
    const tr = u.params.get('transport');
    return `sip:${host}${u.port ? `:${u.port}` : ''}${tr ? `;transport=${tr}` : ''}`;
  } catch {
    return undefined;
  }
}

/** +sip.instance / ruid of the contact put into the R-URI by t_next_contacts & co (MessageState has no field for them). */
export const ruriAttrs = new WeakMap<MessageState, { uri: string; instance?: string; ruid?: string }>();

/** Make `b` the R-URI branch (R-URI, $du, Path, send socket, branch flags, q). */
export function setRuriBranch(ctx: RouteContext, b: Branch): void {
  const st = ctx.state;
  ctx.request!.setRequestUri(b.uri);
  st.dstUri = b.dstUri ?? (b.received ? receivedDst(b.uri, b.received) : undefined);
  st.ruriPath = b.path;
  st.sendSocketId = b.socketId;
  st.branchFlags[0] = b.flags >>> 0;
  st.ruriQ = b.q;
  ruriAttrs.set(st, { uri: b.uri, ...(b.instance ? { instance: b.instance } : {}), ...(b.ruid ? { ruid: b.ruid } : {}) });
}

function checkConfig(ctx: RouteContext, cfg: ContactsConfig, fname: string, flows: boolean): boolean {
  if (cfg.contactsAvp === '' || (flows && cfg.flowsAvp === '')) {
    ctx.logger.error(`tm ${fname}: the tm parameter ${cfg.contactsAvp === '' ? 'contacts_avp' : 'contact_flows_avp'} is not set`);
    return false;
  }
  if (!ctx.request) {
    ctx.logger.error(`tm ${fname}: the message is a reply`);
    return false;
  }
  return true;
}

/**
 * t_load_contacts([mode]): mode 0 sorts by q (equal q = one parallel group, unspecified q is the
 * lowest); mode 1 orders the contacts by a random draw weighted by q (q 0 / unspecified last),
 * one contact per group. 1 ok (also when there was at most one branch: nothing to do), -1 error.
 */
export function loadContacts(ctx: RouteContext, cfg: ContactsConfig, mode: number, random: () => number = Math.random): number {
  if (!checkConfig(ctx, cfg, 't_load_contacts', false)) return -1;
  if (mode !== 0 && mode !== 1) {
    ctx.logger.error(`tm t_load_contacts: invalid mode ${mode} (0 or 1)`);
    return -1;
  }
  const st = ctx.state;
  // the R-URI is a contact only when it was rewritten (lookup, seturi): an AoR left as received is not
  const all = ctx.request!.newRequestUri !== undefined ? [ruriBranch(ctx)!, ...st.branches] : [...st.branches];
  if (all.length <= 1) return 1;
  const rank = (q: number): number => (q < 0 ? -1 : q);
  let groups: Branch[][];
  if (mode === 0) {
    const sorted = all.map((b, i) => ({ b, i })).sort((x, y) => rank(y.b.q) - rank(x.b.q) || x.i - y.i);
    groups = [];
    for (const { b } of sorted) {
      const g = groups.at(-1);
      if (g && rank(g[0]!.q) === rank(b.q)) g.push(b);
      else groups.push([b]);
    }
  } else {
    const weighted = all.filter((b) => b.q > 0);
    const rest = all.filter((b) => !(b.q > 0));
    const order: Branch[] = [];
    while (weighted.length > 0) {
      const total = weighted.reduce((s, b) => s + b.q, 0);
      let x = random() * total;
      let k = 0;
      while (k < weighted.length - 1 && x >= weighted[k]!.q) x -= weighted[k++]!.q;
      order.push(weighted.splice(k, 1)[0]!);
    }
    groups = [...order, ...rest].map((b) => [b]);
  }
  const list: XavpRecord[] = [];
  for (const g of groups) g.forEach((b, i) => list.push(record(b, i === g.length - 1)));
  // newest first: the head of the XAVP is the highest-priority contact
  const existing = st.xavps.get(cfg.contactsAvp) ?? [];
  st.xavps.set(cfg.contactsAvp, [...list, ...existing]);
  st.branches = [];
  return 1;
}

/** t_next_contacts(): 1 a destination set was made, -2 nothing left, -1 error. */
export function nextContacts(ctx: RouteContext, cfg: ContactsConfig): number {
  if (!checkConfig(ctx, cfg, 't_next_contacts', false)) return -1;
  const st = ctx.state;
  const list = st.xavps.get(cfg.contactsAvp);
  if (!list || list.length === 0) return -2;
  const group: Branch[] = [];
  while (list.length > 0) {
    const r = list.shift()!;
    const b = toBranch(r);
    if (b) group.push(b);
    else ctx.logger.warn(`tm t_next_contacts: skipping a ${cfg.contactsAvp} record without a valid uri`);
    if (field(r, 'last') !== undefined) break;
  }
  if (list.length === 0) st.xavps.delete(cfg.contactsAvp);
  if (group.length === 0) return -2;
  // one contact per +sip.instance; the others wait in contact_flows_avp
  const seen = new Set<string>();
  const chosen: Branch[] = [];
  const flows: Branch[] = [];
  for (const b of group) {
    if (b.instance && seen.has(b.instance)) flows.push(b);
    else {
      if (b.instance) seen.add(b.instance);
      chosen.push(b);
    }
  }
  if (flows.length > 0) {
    if (cfg.flowsAvp === '') ctx.logger.warn('tm t_next_contacts: contact_flows_avp is not set: contacts of an instance already tried are dropped');
    else {
      const fl = st.xavps.get(cfg.flowsAvp) ?? [];
      st.xavps.set(cfg.flowsAvp, [...fl, ...flows.map((b) => record(b, true))]);
    }
  }
  try {
    setRuriBranch(ctx, chosen[0]!);
  } catch (err) {
    ctx.logger.error(`tm t_next_contacts: cannot use ${chosen[0]!.uri} as Request-URI: ${(err as Error).message}`);
    return -1;
  }
  st.branches = chosen.slice(1);
  return 1;
}

/**
 * t_next_contact_flow(): in a branch-failure route, the next contact of the failed branch's
 * +sip.instance becomes the R-URI branch. 1 ok, -2 none left, -1 error.
 */
export function nextContactFlow(ctx: RouteContext, cfg: ContactsConfig, instance: string | undefined): number {
  if (!checkConfig(ctx, cfg, 't_next_contact_flow', true)) return -1;
  const st = ctx.state;
  const list = st.xavps.get(cfg.flowsAvp);
  if (!list || list.length === 0 || !instance) return -2;
  const i = list.findIndex((r) => field(r, 'instance') === instance);
  if (i < 0) return -2;
  const b = toBranch(list[i]!);
  list.splice(i, 1);
  if (list.length === 0) st.xavps.delete(cfg.flowsAvp);
  if (!b) return -1;
  try {
    setRuriBranch(ctx, b);
  } catch (err) {
    ctx.logger.error(`tm t_next_contact_flow: cannot use ${b.uri} as Request-URI: ${(err as Error).message}`);
    return -1;
  }
  st.branches = [];
  return 1;
}
