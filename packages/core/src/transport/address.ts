import { isIP, SocketAddress } from 'node:net';

/** 4 or 6 for a literal IP, 0 otherwise. Accepts an IPv6 zone (`fe80::1%eth0`); no brackets. */
export function ipFamily(address: string): 0 | 4 | 6 {
  return isIP(address) as 0 | 4 | 6;
}

/** Remove brackets around an IPv6 literal if present. */
export function unbracket(address: string): string {
  return address.length > 1 && address.startsWith('[') && address.endsWith(']') ? address.slice(1, -1) : address;
}

const MAPPED_V4 = /^::ffff:(\d{1,3}(?:\.\d{1,3}){3})$/i;

/**
 * Canonical text of a literal IP, so equal addresses give equal map keys:
 * IPv6 is compressed/lower-cased the way the OS reports peers, IPv4-mapped IPv6
 * becomes plain IPv4 (we never bind dual-stack, so such a peer is reached over IPv4).
 * Returns null when `address` is not a literal IP.
 */
export function canonicalIp(address: string): { address: string; family: 4 | 6 } | null {
  const a = unbracket(address);
  const fam = ipFamily(a);
  if (fam === 4) return { address: a, family: 4 };
  if (fam !== 6) return null;
  const m = MAPPED_V4.exec(a);
  if (m && ipFamily(m[1] as string) === 4) return { address: m[1] as string, family: 4 };
  const pct = a.indexOf('%');
  const base = pct < 0 ? a : a.slice(0, pct);
  let canon: string;
  try {
    canon = new SocketAddress({ address: base, family: 'ipv6' }).address;
  } catch {
    canon = base.toLowerCase();
  }
  return { address: pct < 0 ? canon : canon + a.slice(pct), family: 6 };
}

export function isUnspecified(address: string): boolean {
  return address === '0.0.0.0' || address === '::';
}

export function isLoopback(address: string, family: 4 | 6): boolean {
  return family === 4 ? address.startsWith('127.') : address === '::1';
}

/** `udp:1.2.3.4:5060`, `tcp:[::1]:5060` */
export function formatAddr(proto: string, address: string, port: number): string {
  return `${proto}:${address.includes(':') ? `[${address}]` : address}:${port}`;
}
