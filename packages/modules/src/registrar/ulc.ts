/**
 * $ulc(profile=>attr): the contacts reg_fetch_contacts() copied into a named profile (and the
 * "exp" profile, filled with each contact usrloc removes as expired). Profiles belong to the
 * worker and keep their content until fetched again or freed, as in Kamailio.
 */
import { PvNameError, type PvAccessor, type PvSpec, type PvValue, type RouteContext } from '@ksr/core';
import type { UlContact } from '../usrloc/api.js';

export interface UlcProfile {
  aor: string;
  table: string;
  aorhash: number;
  contacts: UlContact[];
}

export const RECORD_ATTRS = ['aor', 'domain', 'aorhash', 'count'] as const;
export const CONTACT_ATTRS = [
  'addr',
  'path',
  'received',
  'expires',
  'callid',
  'q',
  'cseq',
  'flags',
  'cflags',
  'user_agent',
  'socket',
  'modified',
  'methods',
  'ruid',
  'regid',
  'instance',
  'conid',
  'server_id',
] as const;

const ALL_ATTRS = new Set<string>([...RECORD_ATTRS, ...CONTACT_ATTRS]);

export class UlcProfiles {
  private readonly profiles = new Map<string, UlcProfile>();

  set(name: string, p: UlcProfile): void {
    this.profiles.set(name, p);
  }

  free(name: string): void {
    this.profiles.delete(name);
  }

  get(name: string): UlcProfile | undefined {
    return this.profiles.get(name);
  }

  /** A record attribute (aor, domain, aorhash, count); undefined for unknown names. */
  recordAttr(name: string, attr: string): PvValue | undefined {
    const p = this.profiles.get(name);
    switch (attr) {
      case 'aor':
        return p ? p.aor : null;
      case 'domain':
        return p ? p.table : null;
      case 'aorhash':
        return p ? p.aorhash : null;
      case 'count':
        return p ? p.contacts.length : 0;
      default:
        return undefined;
    }
  }

  /** A contact attribute of contact `idx` (0 = first); null when there is no such contact or value. */
  contactAttr(name: string, attr: string, idx: number): PvValue | undefined {
    if (!(CONTACT_ATTRS as readonly string[]).includes(attr)) return undefined;
    const c = this.profiles.get(name)?.contacts[idx];
    if (!c) return null;
    switch (attr) {
      case 'addr':
        return c.uri;
      case 'path':
        return c.path ?? null;
      case 'received':
        return c.received ?? null;
      case 'expires':
        return Math.floor(c.expires / 1000);
      case 'callid':
        return c.callid;
      case 'q':
        return c.q;
      case 'cseq':
        return c.cseq;
      case 'flags':
        return c.flags;
      case 'cflags':
        return c.cflags;
      case 'user_agent':
        return c.userAgent ?? null;
      case 'socket':
        return c.socket ?? null;
      case 'modified':
        return Math.floor(c.lastModified / 1000);
      case 'methods':
        return c.methods ? c.methods.join(',') : null;
      case 'ruid':
        return c.ruid;
      case 'regid':
        return c.regId;
      case 'instance':
        return c.instance ?? null;
      case 'conid':
        return c.connectionId ?? null;
      case 'server_id':
        return c.serverId;
      default:
        return undefined;
    }
  }

  /** The $ulc pseudo-variable class factory. */
  pvFactory(): (spec: PvSpec) => PvAccessor {
    return (spec) => {
      const param = spec.param ?? '';
      const sep = param.indexOf('=>');
      if (sep <= 0) throw new PvNameError(spec.text, 'expected $ulc(profile=>attr)');
      const profile = param.slice(0, sep).trim();
      const attr = param.slice(sep + 2).trim();
      if (profile === '' || !ALL_ATTRS.has(attr)) throw new PvNameError(spec.text, `unknown $ulc attribute "${attr}"`);
      const index = spec.index;
      if (index?.kind === 'all') throw new PvNameError(spec.text, '$ulc takes a contact index, not [*]');
      const isRecord = (RECORD_ATTRS as readonly string[]).includes(attr);
      return {
        name: spec.text,
        get: (ctx: RouteContext): PvValue => {
          if (isRecord) return this.recordAttr(profile, attr) ?? null;
          let idx = 0;
          if (index?.kind === 'int') idx = index.n;
          else if (index?.kind === 'pv') {
            const v = Number(index.pv.get(ctx));
            if (!Number.isInteger(v)) return null;
            idx = v;
          }
          if (idx < 0) idx += this.profiles.get(profile)?.contacts.length ?? 0;
          if (idx < 0) return null;
          return this.contactAttr(profile, attr, idx) ?? null;
        },
      };
    };
  }
}
