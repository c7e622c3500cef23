/**
 * Test support for auth / auth_db: a fake sl that records replies, a digest client that answers a
 * challenge like a UA would, and request builders.
 */
import { parseDigestCredentials, type ModuleContext, type RouteContext } from '@ksr/core';
import { makeContext } from '../../../core/test/support/context.js';
import { computeHa1, computeResponse, parseAlgorithm, baseOf } from '../../src/auth/digest.js';
import type { SlApi } from '../../src/sl/api.js';
import { FakeClock, recordingLogger, testModuleContext } from '../support/common.js';

export { FakeClock, recordingLogger };

export interface Reply {
  code: number;
  reason: string;
  headers: Array<[string, string]>;
}

export function fakeSl(replies: Reply[]): SlApi {
  return {
    reply: (_ctx, code, reason, extra) => {
      replies.push({ code, reason, headers: extra?.headers ?? [] });
      return 1;
    },
    toTag: () => 'tag',
    isOwnAck: () => false,
    filterAck: () => false,
  };
}

export { instantiate, type Fn } from '../support/common.js';

export function authContext(params: Record<string, string | number> = {}, clock = new FakeClock(), replies: Reply[] = []): { ctx: ModuleContext; clock: FakeClock; replies: Reply[] } {
  const ctx = testModuleContext('auth', params, { clock, apis: { sl: fakeSl(replies) }, declared: ['sl', 'tm'] });
  return { ctx, clock, replies };
}

export function register(extra: string[] = [], opts: { callId?: string; fromTag?: string; user?: string; domain?: string } = {}): string[] {
  const user = opts.user ?? 'alice';
  const domain = opts.domain ?? 'ksr.test';
  return [
    `REGISTER sip:${domain} SIP/2.0`,
    'Via: SIP/2.0/UDP 192.0.2.10:5070;branch=z9hG4bK-reg1;rport',
    'Max-Forwards: 70',
    `From: <sip:${user}@${domain}>;tag=${opts.fromTag ?? 'f1'}`,
    `To: <sip:${user}@${domain}>`,
    `Call-ID: ${opts.callId ?? 'reg-1@192.0.2.10'}`,
    'CSeq: 1 REGISTER',
    'Contact: <sip:alice@192.0.2.10:5070>',
    ...extra,
  ];
}

export function invite(extra: string[] = [], opts: { callId?: string; from?: string } = {}): string[] {
  return [
    'INVITE sip:bob@ksr.test SIP/2.0',
    'Via: SIP/2.0/UDP 192.0.2.10:5070;branch=z9hG4bK-inv1;rport',
    'Max-Forwards: 70',
    `From: <sip:${opts.from ?? 'alice'}@ksr.test>;tag=a1`,
    'To: <sip:bob@ksr.test>',
    `Call-ID: ${opts.callId ?? 'call-1@192.0.2.10'}`,
    'CSeq: 10 INVITE',
    'Contact: <sip:alice@192.0.2.10:5070>',
    ...extra,
  ];
}

export function request(lines: string[], opts: { src?: string } = {}): RouteContext {
  return makeContext(lines, opts.src ? { info: { remote: { address: opts.src, port: 5070, family: opts.src.includes(':') ? 6 : 4 } } } : {});
}

/** The challenge parameters of a WWW-/Proxy-Authenticate value. */
export function challengeParams(value: string): Map<string, string> {
  const c = parseDigestCredentials(value);
  if (!c) throw new Error(`not a digest challenge: ${value}`);
  return c.params;
}

/** The credentials a UA would send for a challenge. */
export function answer(
  challenge: string,
  o: { username?: string; password?: string; method?: string; uri?: string; nc?: number; cnonce?: string; qop?: string; nonce?: string; algorithm?: string; realm?: string } = {},
): string {
  const p = challengeParams(challenge);
  const alg = parseAlgorithm(o.algorithm ?? p.get('algorithm'))!;
  const username = o.username ?? 'alice';
  const realm = o.realm ?? p.get('realm')!;
  const nonce = o.nonce ?? p.get('nonce')!;
  const uri = o.uri ?? 'sip:ksr.test';
  const offered = p.get('qop');
  const qop = o.qop ?? (offered ? offered.split(',')[0] : undefined);
  const nc = (o.nc ?? 1).toString(16).padStart(8, '0');
  const cnonce = o.cnonce ?? 'c0ffee';
  const ha1 = computeHa1(baseOf(alg), username, realm, o.password ?? 'secret');
  const response = computeResponse({ algorithm: alg, ha1, method: o.method ?? 'REGISTER', uri, nonce, qop, nc, cnonce });
  const parts = [`Digest username="${username}"`, `realm="${realm}"`, `nonce="${nonce}"`, `uri="${uri}"`, `response="${response}"`];
  if (p.get('algorithm') || o.algorithm) parts.push(`algorithm=${alg}`);
  if (qop) parts.push(`qop=${qop}`, `nc=${nc}`, `cnonce="${cnonce}"`);
  return parts.join(', ');
}
