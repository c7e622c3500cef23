/**
 * Digest credentials of Authorization / Proxy-Authorization (RFC 3261 §22.4, RFC 2617), for
 * $au $ad $aU $ar $adu $aa and KSR.kx.get_au.
 *
 * Which header: Proxy-Authorization when the request has one, else Authorization (the first
 * field of that name); none for ACK and CANCEL, which carry no credentials of their own; none for
 * replies and for schemes other than Digest.
 */
import type { RouteContext } from '../routing/context.js';

export interface DigestCredentials {
  /** auth-param names lowercased; quoted values unquoted. */
  params: Map<string, string>;
  /** The whole username (`alice@example.com`). */
  username: string | undefined;
  /** The username up to '@' (all of it when there is no '@'). */
  user: string | undefined;
  /** The username after '@'; undefined when there is no '@'. */
  domain: string | undefined;
}

function isTokenChar(c: number): boolean {
  // RFC 3261 token: alphanum / "-" / "." / "!" / "%" / "*" / "_" / "+" / "`" / "'" / "~"
  return (
    (c >= 48 && c <= 57) ||
    (c >= 65 && c <= 90) ||
    (c >= 97 && c <= 122) ||
    c === 45 || c === 46 || c === 33 || c === 37 || c === 42 || c === 95 || c === 43 || c === 96 || c === 39 || c === 126
  );
}

function skipWs(s: string, i: number): number {
  while (i < s.length && (s.charCodeAt(i) === 32 || s.charCodeAt(i) === 9)) i++;
  return i;
}

/** Parse `Digest name=value, name="quoted", …`. Undefined when not Digest or malformed. */
export function parseDigestCredentials(value: string): DigestCredentials | undefined {
  const s = value;
  let i = skipWs(s, 0);
  const ss = i;
  while (i < s.length && isTokenChar(s.charCodeAt(i))) i++;
  if (s.slice(ss, i).toLowerCase() !== 'digest') return undefined;
  const params = new Map<string, string>();
  for (;;) {
    i = skipWs(s, i);
    if (i >= s.length) break;
    const ns = i;
    while (i < s.length && isTokenChar(s.charCodeAt(i))) i++;
    if (i === ns) return undefined;
    const name = s.slice(ns, i).toLowerCase();
    i = skipWs(s, i);
    if (s.charCodeAt(i) !== 61) return undefined;
    i = skipWs(s, i + 1);
    let v: string;
    if (s.charCodeAt(i) === 34) {
      let out = '';
      i++;
      for (;;) {
        if (i >= s.length) return undefined;
        const c = s.charCodeAt(i);
        if (c === 92 && i + 1 < s.length) {
          out += s[i + 1];
          i += 2;
        } else if (c === 34) {
          i++;
          break;
        } else {
          out += s[i];
          i++;
        }
      }
      v = out;
    } else {
      const vs = i;
      while (i < s.length && isTokenChar(s.charCodeAt(i))) i++;
      if (i === vs) return undefined;
      v = s.slice(vs, i);
    }
    if (!params.has(name)) params.set(name, v);
    i = skipWs(s, i);
    if (i >= s.length) break;
    if (s.charCodeAt(i) !== 44) return undefined;
    i++;
  }
  const username = params.get('username');
  let user: string | undefined;
  let domain: string | undefined;
  if (username !== undefined) {
    const at = username.indexOf('@');
    user = at === -1 ? username : username.slice(0, at);
    domain = at === -1 ? undefined : username.slice(at + 1);
  }
  return { params, username, user, domain };
}

const cache = new WeakMap<object, { creds: DigestCredentials | undefined }>();

/** The digest credentials of the context's request (see the file comment for which header). */
export function requestCredentials(ctx: RouteContext): DigestCredentials | undefined {
  const req = ctx.request;
  if (!req || req.method === 'ACK' || req.method === 'CANCEL') return undefined;
  const hit = cache.get(req);
  if (hit) return hit.creds;
  const h = req.header('proxy-authorization') ?? req.header('authorization');
  const creds = h === undefined ? undefined : parseDigestCredentials(h);
  cache.set(req, { creds });
  return creds;
}
