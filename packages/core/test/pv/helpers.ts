/**
 * Messages and helpers for the pseudo-variable, KSR.pv and KSR.kx tests.
 */
import { expect } from 'vitest';
import { coerceArgs, normaliseReturn } from '../../src/kemi/convention.js';
import type { KemiExportDef } from '../../src/kemi/types.js';
import { createLogger, type Logger } from '../../src/log.js';
import { createPvRegistry, type PvAccessor, type PvRegistry, type PvValue } from '../../src/pv/index.js';
import { PvNameError } from '../../src/pv/types.js';
import type { RouteContext, RouteServices } from '../../src/routing/context.js';
import type { ReceiveInfo } from '../../src/transport/index.js';
import { makeContext, testServices } from '../support/context.js';

/** An INVITE with display names, tags, digest credentials, a body, repeated and list headers. */
export const FULL_INVITE_LINES = [
  'INVITE sip:bob@ksr.test:5080;transport=tcp SIP/2.0',
  'Via: SIP/2.0/TCP [2001:db8::10]:5070;branch=z9hG4bK-a;rport',
  'Via: SIP/2.0/UDP 10.0.0.1;branch=z9hG4bK-b, SIP/2.0/UDP 10.0.0.2;branch=z9hG4bK-c',
  'Max-Forwards: 70',
  'From: "Alice Liddell" <sip:alice@atlanta.test>;tag=a1',
  'To: Bob <sip:bob@ksr.test>',
  'Call-ID: call-2@host',
  'CSeq: 42 INVITE',
  'Contact: <sip:alice@[2001:db8::10]:5070;transport=tcp>;expires=60, <sip:alice@10.0.0.9>;expires=30',
  'User-Agent: test-ua/2.0',
  'Authorization: Digest username="alice@atlanta.test", realm="ksr.test", nonce="abc", uri="sip:bob@ksr.test", response="0123", algorithm=MD5',
  'P-Asserted-Identity: "Alice" <sip:alice@atlanta.test>',
  'P-Preferred-Identity: Ally <sip:ally@pref.test>',
  'Diversion: <sip:carol@ksr.test>;reason=unconditional;counter=2;privacy=off',
  'Remote-Party-ID: <sip:rpid@atlanta.test>;party=calling',
  'Refer-To: <sip:dave@ksr.test>',
  'Route: <sip:proxy.ksr.test;lr>',
  'X-Multi: one',
  'X-Multi: two',
  'x-multi: three',
  'Content-Type: application/sdp',
];

export const SDP = 'v=0\r\no=- 1 1 IN IP6 2001:db8::10\r\ns=-\r\n';

/** Received over TCP from an IPv6 address. */
export const IPV6_INFO: Partial<ReceiveInfo> = {
  proto: 'tcp',
  local: { address: '2001:db8::1', port: 5060, family: 6 },
  remote: { address: '2001:db8::10', port: 5070, family: 6 },
  connectionId: 7,
};

export const REPLY_LINES = [
  'SIP/2.0 486 Busy Here',
  'Via: SIP/2.0/UDP 127.0.0.1:5060;branch=z9hG4bK-x',
  'Via: SIP/2.0/UDP 192.0.2.10:5070;branch=z9hG4bK-inv1;rport=5071',
  'From: "Alice" <sip:alice@atlanta.test>;tag=a1',
  'To: <sip:bob@ksr.test>;tag=b2',
  'Call-ID: call-1@192.0.2.10',
  'CSeq: 10 INVITE',
];

export function fullInvite(opts: { services?: RouteServices } = {}): RouteContext {
  return makeContext(FULL_INVITE_LINES, { body: SDP, info: IPV6_INFO, ...(opts.services ? { services: opts.services } : {}) });
}

export function reply(opts: { services?: RouteServices } = {}): RouteContext {
  return makeContext(REPLY_LINES, { routeType: 'reply', ...(opts.services ? { services: opts.services } : {}) });
}

/** A logger that collects error messages. */
export function errorLog(): { logger: Logger; errors: string[] } {
  const errors: string[] = [];
  const logger = createLogger({
    level: 'trace',
    destination: {
      write(s: string): void {
        for (const part of s.split('\n')) {
          if (!part.trim()) continue;
          const l = JSON.parse(part) as { level: number; msg: string };
          if (l.level === 50) errors.push(l.msg);
        }
      },
    },
  });
  return { logger, errors };
}

export function servicesWithLog(extra: Parameters<typeof testServices>[0] = {}): { services: ReturnType<typeof testServices>; errors: string[] } {
  const { logger, errors } = errorLog();
  return { services: testServices({ ...extra, logger }), errors };
}

/** A fresh registry so tests do not share the process-wide cache. */
export const reg: PvRegistry = createPvRegistry();

export function compiled(name: string, registry: PvRegistry = reg): PvAccessor {
  const a = registry.lookup(name);
  if (a instanceof PvNameError) throw a;
  return a;
}

export function pv(ctx: RouteContext, name: string): PvValue {
  return compiled(name).get(ctx);
}

export function setPv(ctx: RouteContext, name: string, v: PvValue): boolean {
  const a = compiled(name);
  if (!a.set) throw new Error(`${name} is read-only`);
  return a.set(ctx, v);
}

/**
 * Call an export the way the runtime does: arguments checked and coerced by the calling
 * convention, the result normalised (and required to respect the declared return type).
 */
export function callExport(table: readonly KemiExportDef<RouteContext>[], mod: string, ctx: RouteContext, name: string, ...args: unknown[]): unknown {
  const e = table.find((x) => x.name === name);
  if (!e) throw new Error(`no ${mod} export ${name}`);
  const coerced = coerceArgs({ qualified: `KSR.${mod}.${name}`, params: e.params }, args);
  if (typeof coerced === 'string') throw new Error(coerced);
  const out = normaliseReturn(e.returns, e.fn(ctx, ...coerced));
  expect(out.bug, `KSR.${mod}.${name}`).toBeUndefined();
  return out.value;
}
