/**
 * The in-memory tables of the permissions module: addresses (exact IPs, IPv4/IPv6 subnets, domain
 * names; by group, with port and tag) and trusted peers (source IP, protocol, From / R-URI
 * patterns, tag, priority). Built whole and swapped in one assignment, so a reload that fails
 * leaves the old table in place.
 */
import { isIP } from 'node:net';

export interface ParsedIp {
  family: 4 | 6;
  /** The address as a number (32 or 128 bits). */
  value: bigint;
}

/** Parse an IPv4 or IPv6 literal (brackets allowed); IPv4-mapped IPv6 becomes IPv4. */
export function parseIp(text: string): ParsedIp | undefined {
  let s = text.trim();
  if (s.startsWith('[') && s.endsWith(']')) s = s.slice(1, -1);
  const fam = isIP(s);
  if (fam === 4) {
    let v = 0n;
    for (const part of s.split('.')) v = (v << 8n) | BigInt(Number(part));
    return { family: 4, value: v };
  }
  if (fam !== 6) return undefined;
  // embedded IPv4 tail (::ffff:1.2.3.4, 64:ff9b::1.2.3.4)
  let tail: number[] = [];
  const lastColon = s.lastIndexOf(':');
  if (s.slice(lastColon + 1).includes('.')) {
    const v4 = s.slice(lastColon + 1).split('.').map(Number);
    tail = [(v4[0]! << 8) | v4[1]!, (v4[2]! << 8) | v4[3]!];
    s = s.slice(0, lastColon + 1) + '0:0';
  }
  const [head, rest] = s.includes('::') ? (s.split('::') as [string, string]) : [s, undefined];
  const h = head === '' ? [] : head.split(':');
  const r = rest === undefined ? [] : rest === '' ? [] : rest.split(':');
  const groups = rest === undefined ? h : [...h, ...Array<string>(8 - h.length - r.length).fill('0'), ...r];
  if (groups.length !== 8) return undefined;
  const nums = groups.map((g) => parseInt(g, 16));
  if (tail.length) {
    nums[6] = tail[0]!;
    nums[7] = tail[1]!;
  }
  let v = 0n;
  for (const n of nums) v = (v << 16n) | BigInt(n);
  if (v >> 32n === 0xffffn) return { family: 4, value: v & 0xffffffffn };
  return { family: 6, value: v };
}

function maskBits(family: 4 | 6, mask: number): bigint {
  const width = family === 4 ? 32 : 128;
  const all = (1n << BigInt(width)) - 1n;
  return mask >= width ? all : (all << BigInt(width - mask)) & all;
}

export interface AddressRow {
  grp: number;
  ipAddr: string;
  mask: number;
  port: number;
  tag: string | null;
}

interface IpEntry {
  grp: number;
  family: 4 | 6;
  net: bigint;
  mask: number;
  maskValue: bigint;
  port: number;
  tag: string | null;
  text: string;
}

interface DomainEntry {
  grp: number;
  name: string;
  port: number;
  tag: string | null;
}

export interface AddressMatch {
  grp: number;
  tag: string | null;
}

/** Addresses, subnets and domain names by group. Immutable once built. */
export class AddressTable {
  /** Exact (full-mask) entries by "family:value". */
  private readonly exact = new Map<string, IpEntry[]>();
  /** Subnets, longest mask first. */
  private readonly subnets: IpEntry[] = [];
  private readonly domains = new Map<string, DomainEntry[]>();
  readonly size: number;
  /** Rows that could not be used, with the reason. */
  readonly rejected: Array<{ row: AddressRow; reason: string }> = [];

  constructor(rows: readonly AddressRow[]) {
    let n = 0;
    for (const row of rows) {
      const why = this.add(row);
      if (why) this.rejected.push({ row, reason: why });
      else n++;
    }
    this.subnets.sort((a, b) => b.mask - a.mask);
    this.size = n;
  }

  private add(row: AddressRow): string | undefined {
    if (!Number.isInteger(row.grp) || row.grp < 1) return `invalid group ${row.grp} (groups are 1 or more)`;
    if (!Number.isInteger(row.port) || row.port < 0 || row.port > 65535) return `invalid port ${row.port}`;
    const ip = parseIp(row.ipAddr);
    if (!ip) {
      const name = row.ipAddr.trim().toLowerCase();
      if (!/^[a-z0-9]([a-z0-9-]*[a-z0-9])?(\.[a-z0-9]([a-z0-9-]*[a-z0-9])?)*\.?$/.test(name)) return `invalid address ${JSON.stringify(row.ipAddr)}`;
      const list = this.domains.get(name) ?? [];
      list.push({ grp: row.grp, name, port: row.port, tag: row.tag });
      this.domains.set(name, list);
      return undefined;
    }
    const width = ip.family === 4 ? 32 : 128;
    // IPv4-mapped rows: a mask given for the IPv6 form counts from bit 96
    let mask = row.mask;
    if (ip.family === 4 && row.ipAddr.includes(':') && mask > 32) mask -= 96;
    if (!Number.isInteger(mask) || mask < 0 || mask > width) return `invalid mask ${row.mask}`;
    if (mask === 0) mask = width; // Kamailio: 0 means a single address
    const maskValue = maskBits(ip.family, mask);
    const e: IpEntry = { grp: row.grp, family: ip.family, net: ip.value & maskValue, mask, maskValue, port: row.port, tag: row.tag, text: row.ipAddr };
    if (mask === width) {
      const k = `${ip.family}:${ip.value}`;
      const list = this.exact.get(k) ?? [];
      list.push(e);
      this.exact.set(k, list);
    } else this.subnets.push(e);
    return undefined;
  }

  /**
   * The first match for (address, port), in group `grp` when given: exact addresses first, then
   * the most specific subnet; a name that is not an IP matches domain entries. Port 0 in the
   * table matches any port.
   */
  match(address: string, port: number, grp?: number): AddressMatch | undefined {
    const ip = parseIp(address);
    const portOk = (p: number): boolean => p === 0 || p === port;
    const grpOk = (g: number): boolean => grp === undefined || g === grp;
    if (!ip) {
      for (const d of this.domains.get(address.trim().toLowerCase()) ?? []) if (grpOk(d.grp) && portOk(d.port)) return { grp: d.grp, tag: d.tag };
      return undefined;
    }
    for (const e of this.exact.get(`${ip.family}:${ip.value}`) ?? []) if (grpOk(e.grp) && portOk(e.port)) return { grp: e.grp, tag: e.tag };
    for (const e of this.subnets) {
      if (e.family === ip.family && (ip.value & e.maskValue) === e.net && grpOk(e.grp) && portOk(e.port)) return { grp: e.grp, tag: e.tag };
    }
    return undefined;
  }

  /** RPC dumps. */
  dumpAddresses(): Array<{ group: number; ip: string; port: number; tag: string | null }> {
    return [...this.exact.values()].flat().map((e) => ({ group: e.grp, ip: e.text, port: e.port, tag: e.tag }));
  }
  dumpSubnets(): Array<{ group: number; ip: string; mask: number; port: number; tag: string | null }> {
    return this.subnets.map((e) => ({ group: e.grp, ip: e.text, mask: e.mask, port: e.port, tag: e.tag }));
  }
  dumpDomains(): Array<{ group: number; domain: string; port: number; tag: string | null }> {
    return [...this.domains.values()].flat().map((d) => ({ group: d.grp, domain: d.name, port: d.port, tag: d.tag }));
  }
}

export interface TrustedRow {
  srcIp: string;
  proto: string;
  fromPattern: string | null;
  ruriPattern: string | null;
  tag: string | null;
  priority: number;
}

export interface TrustedEntry extends TrustedRow {
  from: RegExp | undefined;
  ruri: RegExp | undefined;
}

const PROTOS = new Set(['any', 'udp', 'tcp', 'tls', 'sctp', 'ws', 'wss', 'none']);

/** Compile one trusted row; a string when it cannot be used. */
export function compileTrusted(row: TrustedRow): TrustedEntry | string {
  const proto = row.proto.trim().toLowerCase();
  if (!PROTOS.has(proto)) return `invalid proto ${JSON.stringify(row.proto)}`;
  const re = (p: string | null): RegExp | undefined | string => {
    if (p === null || p === '') return undefined;
    try {
      return new RegExp(p);
    } catch (err) {
      return `invalid pattern ${JSON.stringify(p)}: ${err instanceof Error ? err.message : String(err)}`;
    }
  };
  const from = re(row.fromPattern);
  if (typeof from === 'string') return from;
  const ruri = re(row.ruriPattern);
  if (typeof ruri === 'string') return ruri;
  return { ...row, proto, from, ruri };
}

/** Does the entry accept (source IP, protocol, From URI, R-URI)? */
export function trustedMatches(e: TrustedEntry, srcIp: string, proto: string, fromUri: string, ruri: string): boolean {
  if (e.srcIp !== srcIp) return false;
  if (e.proto === 'none') return false;
  if (e.proto !== 'any' && e.proto !== proto.toLowerCase()) return false;
  if (e.from && !e.from.test(fromUri)) return false;
  if (e.ruri && !e.ruri.test(ruri)) return false;
  return true;
}

/** Trusted peers by source IP, highest priority first. */
export class TrustedTable {
  private readonly bySrc = new Map<string, TrustedEntry[]>();
  readonly size: number;
  readonly rejected: Array<{ row: TrustedRow; reason: string }> = [];

  constructor(rows: readonly TrustedRow[]) {
    let n = 0;
    for (const row of rows) {
      const e = compileTrusted(row);
      if (typeof e === 'string') {
        this.rejected.push({ row, reason: e });
        continue;
      }
      const list = this.bySrc.get(e.srcIp) ?? [];
      list.push(e);
      this.bySrc.set(e.srcIp, list);
      n++;
    }
    for (const list of this.bySrc.values()) list.sort((a, b) => b.priority - a.priority);
    this.size = n;
  }

  matches(srcIp: string, proto: string, fromUri: string, ruri: string): TrustedEntry[] {
    return (this.bySrc.get(srcIp) ?? []).filter((e) => trustedMatches(e, srcIp, proto, fromUri, ruri));
  }

  dump(): TrustedRow[] {
    return [...this.bySrc.values()].flat().map(({ srcIp, proto, fromPattern, ruriPattern, tag, priority }) => ({ srcIp, proto, fromPattern, ruriPattern, tag, priority }));
  }
}
