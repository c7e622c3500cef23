/**
 * usrloc's RPC commands (Kamailio's names, parameter order and result shapes): ul.dump [brief],
 * ul.lookup table AOR, ul.rm table AOR, ul.rm_contact table AOR contact,
 * ul.add table AOR contact expires Q path flags cflags methods, ul.flush.
 */
import { RpcError, type RpcCommand } from '@ksr/core';
import { UL_FLAGS, type UsrlocApi } from './api.js';
import { ALL_METHODS, maskToMethods } from './db.js';

function strParam(params: readonly unknown[], i: number, name: string): string {
  const v = params[i];
  if (typeof v === 'string' && v !== '') return v;
  if (typeof v === 'number' && Number.isFinite(v)) return String(v);
  throw new RpcError(400, `missing or invalid parameter ${i + 1} (${name})`);
}

function numParam(params: readonly unknown[], i: number, name: string, opts: { float?: boolean } = {}): number {
  const v = params[i];
  const n = typeof v === 'number' ? v : typeof v === 'string' && v.trim() !== '' ? Number(v) : NaN;
  if (!Number.isFinite(n) || (!opts.float && !Number.isInteger(n))) throw new RpcError(400, `missing or invalid parameter ${i + 1} (${name}): expected a number`);
  return n;
}

function table(ul: UsrlocApi, name: string): string {
  if (!ul.tables().includes(name)) throw new RpcError(404, 'Table not found');
  return name;
}

function aorParam(ul: UsrlocApi, params: readonly unknown[], i: number): string {
  const aor = strParam(params, i, 'AOR');
  if (ul.useDomain && !aor.includes('@')) throw new RpcError(400, 'AOR must be user@domain (use_domain is on)');
  return aor;
}

export function usrlocRpc(ul: UsrlocApi): RpcCommand[] {
  return [
    {
      name: 'ul.dump',
      doc: 'Dump the location tables (ul.dump [brief]).',
      handler(params) {
        const d = ul.dump();
        if (params[0] !== 'brief') return d;
        for (const dom of d.Domains) {
          for (const rec of dom.Domain.AoRs) {
            rec.Info.Contacts = rec.Info.Contacts.map((c) => ({ Contact: { Address: c.Contact.Address, Expires: c.Contact.Expires } })) as typeof rec.Info.Contacts;
          }
        }
        return d;
      },
    },
    {
      name: 'ul.lookup',
      doc: 'The contacts of an AOR (ul.lookup table AOR).',
      handler(params) {
        const t = table(ul, strParam(params, 0, 'table'));
        const r = ul.lookup(t, aorParam(ul, params, 1));
        if (!r) throw new RpcError(404, 'AOR not found');
        return r;
      },
    },
    {
      name: 'ul.rm',
      doc: 'Delete an AOR with all its contacts (ul.rm table AOR).',
      handler(params) {
        const t = table(ul, strParam(params, 0, 'table'));
        if (ul.removeRecord(t, aorParam(ul, params, 1)) === 0) throw new RpcError(404, 'AOR not found');
        return null;
      },
    },
    {
      name: 'ul.rm_contact',
      doc: 'Delete one contact of an AOR (ul.rm_contact table AOR contact).',
      handler(params) {
        const t = table(ul, strParam(params, 0, 'table'));
        const aor = aorParam(ul, params, 1);
        const uri = strParam(params, 2, 'contact');
        const rec = ul.record(t, aor);
        if (!rec || rec.length === 0) throw new RpcError(404, 'AOR not found');
        const c = rec.find((x) => x.uri === uri);
        if (!c || !ul.remove(t, aor, c.ruid)) throw new RpcError(404, 'Contact not found');
        return null;
      },
    },
    {
      name: 'ul.add',
      doc: 'Add or update a contact (ul.add table AOR contact expires Q path flags cflags methods).',
      handler(params) {
        const t = strParam(params, 0, 'table');
        if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(t)) throw new RpcError(400, 'invalid table name');
        const aor = aorParam(ul, params, 1);
        const uri = strParam(params, 2, 'contact');
        if (!/^sips?:/i.test(uri)) throw new RpcError(400, 'contact must be a SIP URI');
        const expiresS = numParam(params, 3, 'expires');
        if (expiresS < 0) throw new RpcError(400, 'expires must be >= 0');
        const q = numParam(params, 4, 'Q', { float: true });
        if (q > 1 || (q < 0 && q !== -1)) throw new RpcError(400, 'Q must be between 0 and 1');
        const pathRaw = params[5] === undefined || params[5] === null ? '0' : strParam(params, 5, 'path');
        const flags = numParam(params, 6, 'flags');
        const cflags = numParam(params, 7, 'cflags');
        const methodsMask = numParam(params, 8, 'methods');
        const methods = methodsMask === 0 || methodsMask >>> 0 === ALL_METHODS ? undefined : maskToMethods(methodsMask);
        const now = ul.now();
        const fields = {
          expires: expiresS === 0 ? 0 : now + expiresS * 1000,
          q: q < 0 ? -1 : Math.round(q * 1000),
          callid: 'dfl-call-id-ul-rpc',
          cseq: 1,
          userAgent: 'ksr RPC',
          flags: (flags | UL_FLAGS.RPC) >>> 0,
          cflags: cflags >>> 0,
          ...(pathRaw !== '0' ? { path: pathRaw } : {}),
          ...(methods !== undefined ? { methods } : {}),
        };
        ul.registerTable(t);
        const existing = ul.record(t, aor)?.find((c) => c.uri === uri);
        if (existing) ul.update(existing, { ...fields, path: fields.path, methods: fields.methods });
        else ul.insert(t, aor, { uri, ...fields });
        return null;
      },
    },
    {
      name: 'ul.flush',
      doc: 'Write the pending changes to the database now (db_mode 2).',
      handler() {
        const s = ul.store as { flushNow?: () => number; flush?: () => Promise<void> };
        if (s.flushNow) return { Flushed: s.flushNow() };
        void s.flush?.();
        return null;
      },
    },
  ];
}
