// Property tests: random valid messages parse to what was generated, serialise to the same
// octets, and edits (lumps) show up in a re-parse exactly as a model of the header list says.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { parseMessage, type NameAddr, type SipUri, type Via } from '../../src/sip/index.js';
import { canonical, message, token, via as viaArb, type MessageModel } from './arbitraries.js';
import { isReq, type Msg } from './helpers.js';

const RUNS = Number(process.env.KSR_PROP_RUNS ?? 300);
const SEED = process.env.KSR_PROP_SEED === undefined ? undefined : Number(process.env.KSR_PROP_SEED);
const fcOpts = (numRuns: number): fc.Parameters<unknown> => ({ numRuns, ...(SEED === undefined ? {} : { seed: SEED }) });

/** The same text, whichever of the two usual decodings of UTF-8 octets the parser uses. */
function sameText(actual: string | undefined, expectedUtf8: string | undefined): boolean {
  if (actual === expectedUtf8) return true;
  if (actual === undefined || expectedUtf8 === undefined) return false;
  return actual === Buffer.from(expectedUtf8, 'utf8').toString('latin1');
}
const ws = (s: string): string => s.replace(/\r\n/g, '').replace(/[ \t]+/g, ' ');

// ------------------------------------------------------------------ projections (plain data)

const uriP = (u: SipUri): unknown => ({
  scheme: u.scheme,
  user: u.user,
  password: u.password,
  host: u.host,
  hostType: u.hostType,
  port: u.port,
  params: [...u.params],
  headers: [...u.headers],
  text: String(u),
});
const naP = (n: NameAddr): unknown => ({ displayName: n.displayName, uri: uriP(n.uri), params: [...n.params], tag: n.tag });
const viaP = (v: Via): unknown => ({
  protocol: v.protocol,
  transport: v.transport,
  host: v.host,
  port: v.port,
  params: [...v.params],
  branch: v.branch,
  received: v.received,
  rport: v.rport,
  maddr: v.maddr,
  ttl: v.ttl,
});
function project(m: Msg): unknown {
  return {
    start: isReq(m) ? { method: m.method, uri: m.uri, version: m.version, ruri: uriP(m.ruri) } : { status: m.status, reason: m.reason, version: m.version },
    headers: m.headers.map((h) => ({ name: h.name, key: h.key, value: h.value })),
    via: m.via.map(viaP),
    from: naP(m.from),
    to: naP(m.to),
    callId: m.callId,
    cseq: m.cseq,
    maxForwards: m.maxForwards,
    contentLength: m.contentLength,
    contact: { star: m.contact.star, contacts: m.contact.contacts.map(naP) },
    route: m.route.map(naP),
    recordRoute: m.recordRoute.map(naP),
    expires: m.expires,
    contentType: m.contentType,
    body: m.body.toString('hex'),
  };
}

// ------------------------------------------------------------------ model checks

function checkAgainstModel(m: Msg, g: MessageModel): void {
  if (g.kind === 'request') {
    if (!isReq(m)) throw new Error('parsed a response from a generated request');
    expect(m.method).toBe(g.method);
    expect(m.uri).toBe(g.uri!.text);
    expect(m.version).toBe('SIP/2.0');
    expect(m.ruri.scheme).toBe(g.uri!.scheme);
    expect(m.ruri.user).toBe(g.uri!.user);
    if (g.uri!.scheme !== 'tel') {
      expect(m.ruri.host.toLowerCase()).toBe(g.uri!.host.toLowerCase());
      expect(m.ruri.port).toBe(g.uri!.port);
      expect([...m.ruri.params.keys()]).toEqual(g.uri!.params.map((p) => p.name));
      expect([...m.ruri.params.values()]).toEqual(g.uri!.params.map((p) => p.value));
    }
  } else {
    if (isReq(m)) throw new Error('parsed a request from a generated response');
    expect(m.status).toBe(g.status);
    expect(sameText(m.reason, g.reason), `reason ${JSON.stringify(m.reason)} vs ${JSON.stringify(g.reason)}`).toBe(true);
  }
  expect(m.via.map((v) => [v.transport, v.host.toLowerCase(), v.port, v.branch, v.received, v.rport, v.ttl, v.maddr])).toEqual(
    g.vias.map((v) => [v.transport, v.host.toLowerCase(), v.port, v.branch, v.received, v.rport, v.ttl, v.maddr]),
  );
  for (const [na, gm] of [
    [m.from, g.from],
    [m.to, g.to],
  ] as const) {
    expect(sameText(na.displayName, gm.displayName), `display name ${JSON.stringify(na.displayName)} vs ${JSON.stringify(gm.displayName)}`).toBe(true);
    expect(na.tag).toBe(gm.tag);
    expect(na.uri.scheme).toBe(gm.uri.scheme);
    expect(na.uri.user).toBe(gm.uri.user);
    expect([...na.params.keys()]).toEqual(gm.params.map((p) => p.name));
  }
  expect(m.callId).toBe(g.callId);
  expect(m.cseq).toEqual(g.cseq);
  expect(m.maxForwards).toBe(g.maxForwards);
  if (g.contacts === '*') {
    expect(m.contact.star).toBe(true);
    expect(m.contact.contacts).toHaveLength(0);
  } else {
    expect(m.contact.star).toBe(false);
    expect(m.contact.contacts.map((c) => [c.uri.user, c.uri.host.toLowerCase(), [...c.params.keys()]])).toEqual(
      g.contacts.map((c) => [c.uri.user, c.uri.host.toLowerCase(), c.params.map((p) => p.name)]),
    );
  }
  expect(m.route.map((r) => r.uri.host.toLowerCase())).toEqual(g.routes.map((r) => r.uri.host.toLowerCase()));
  expect(m.recordRoute.map((r) => r.uri.host.toLowerCase())).toEqual(g.recordRoutes.map((r) => r.uri.host.toLowerCase()));
  expect(m.expires).toBe(g.expires);
  expect(m.body.equals(g.body)).toBe(true);
  expect(m.contentLength).toBe(g.hasCl ? g.body.length : undefined);
  expect(m.headers.map((h) => h.name)).toEqual(g.headers.map((h) => h.name));
  expect(m.headers.map((h) => h.key)).toEqual(g.headers.map((h) => canonical(h.name)));
  m.headers.forEach((h, i) => {
    const gh = g.headers[i]!;
    const want = gh.folded ? ws(gh.written) : gh.written;
    const got = gh.folded ? ws(h.value) : h.value;
    expect(sameText(got, want), `header ${h.name}: ${JSON.stringify(h.value)} vs ${JSON.stringify(gh.written)}`).toBe(true);
  });
}

describe('property: generated messages', () => {
  it('parse to the generated fields', () => {
    fc.assert(
      fc.property(message, (g) => {
        checkAgainstModel(parseMessage(g.bytes), g);
      }),
      fcOpts(RUNS),
    );
  });

  it('serialise unmodified to the same octets, and parse(serialize()) keeps every field', () => {
    fc.assert(
      fc.property(message, fc.boolean(), (g, streamWanted) => {
        const stream = streamWanted && g.hasCl; // without Content-Length only datagram framing applies
        const m = parseMessage(g.bytes, { stream });
        expect(m.raw.equals(g.bytes)).toBe(true);
        const out = m.serialize();
        expect(out.equals(g.bytes)).toBe(true);
        const again = parseMessage(out, { stream });
        expect(project(again)).toEqual(project(m));
      }),
      fcOpts(RUNS),
    );
  });
});

// ------------------------------------------------------------------ lump edits, model-based

type Op =
  | { op: 'append'; name: string; value: string }
  | { op: 'insert'; name: string; value: string }
  | { op: 'remove'; name: string; index?: number }
  | { op: 'replace'; name: string; value: string }
  | { op: 'setBody'; body: Buffer; contentType?: string }
  | { op: 'setTopViaParam'; name: string; value: string | null }
  | { op: 'addVia'; value: string }
  | { op: 'removeTopVia' };

const extName = token(1, 8).map((t) => `X-${t}`);
const textValue = fc.string({ unit: fc.constantFrom(...'abcdefXYZ0123456789 !#$%&*+-./:;<=>?@[]^_{|}~"'.split('')), minLength: 1, maxLength: 20 }).filter((s) => s.trim().length > 0);
const routeValue = fc.tuple(token(1, 8), fc.constantFrom('', ';lr', ';lr;x=1')).map(([h, p]) => `<sip:${h.replace(/[^a-zA-Z0-9]/g, 'a')}.example.com${p}>`);

const opArb = (names: string[]): fc.Arbitrary<Op> => {
  // names present in the message (any spelling) and others
  const anyName = fc.oneof(fc.constantFrom(...names), extName, fc.constantFrom('Subject', 's', 'Route', 'Record-Route', 'Expires', 'Max-Forwards', 'X-none'));
  const removable = fc.oneof(extName, fc.constantFrom(...names.filter((n) => /^x-/i.test(n)), 'Subject', 'Route', 'record-route', 'Expires', 'Contact', 'm', 'X-none'));
  const valueFor = (name: string): fc.Arbitrary<string> => {
    const k = canonical(name);
    if (k === 'route' || k === 'record-route') return routeValue;
    if (k === 'expires' || k === 'max-forwards') return fc.integer({ min: 0, max: 255 }).map(String);
    if (k === 'contact') return routeValue;
    return textValue;
  };
  const nv = (n: fc.Arbitrary<string>): fc.Arbitrary<{ name: string; value: string }> =>
    n.chain((name) => valueFor(name).map((value) => ({ name, value })));
  const appendable = fc.oneof(extName, fc.constantFrom('Subject', 'Route', 'Record-Route', 'Expires'));
  const replaceable = fc.oneof(fc.constantFrom(...names.filter((n) => /^x-/i.test(n)), 'X-none'), extName, fc.constantFrom('Subject', 'Expires', 'Max-Forwards', 'Route'));
  return fc.oneof(
    nv(appendable).map((x): Op => ({ op: 'append', ...x })),
    nv(appendable).map((x): Op => ({ op: 'insert', ...x })),
    fc.tuple(removable, fc.option(fc.nat(2), { nil: undefined })).map(([name, index]): Op => (index === undefined ? { op: 'remove', name } : { op: 'remove', name, index })),
    nv(replaceable).map((x): Op => ({ op: 'replace', ...x })),
    fc
      .tuple(fc.uint8Array({ maxLength: 64 }), fc.option(fc.constantFrom('', 'text/plain', 'application/sdp'), { nil: undefined }))
      .map(([b, ct]): Op => (ct === undefined ? { op: 'setBody', body: Buffer.from(b) } : { op: 'setBody', body: Buffer.from(b), contentType: ct })),
    fc
      .tuple(fc.constantFrom('received', 'rport', 'branch', 'x-test', 'maddr', 'ttl'), fc.option(token(1, 10), { nil: null }))
      .map(([name, value]): Op => {
        if (name === 'rport') return { op: 'setTopViaParam', name, value: value === null ? null : String(1 + (value.length * 977) % 65535) };
        if (name === 'ttl') return { op: 'setTopViaParam', name, value: String((value?.length ?? 0) * 17 % 256) };
        if (name === 'received') return { op: 'setTopViaParam', name, value: '192.0.2.77' };
        if (name === 'maddr') return { op: 'setTopViaParam', name, value: 'maddr.example.com' };
        if (name === 'branch') return { op: 'setTopViaParam', name, value: `z9hG4bK${value ?? 'x'}` };
        return { op: 'setTopViaParam', name, value };
      }),
    viaArb.map((v): Op => ({ op: 'addVia', value: v.text })),
    fc.constant<Op>({ op: 'removeTopVia' }),
    anyName.map((name): Op => ({ op: 'remove', name: `${name}-absent` })),
  );
};

interface ModelHeader {
  name: string;
  key: string;
  /** Exact expected value, or null for a Via header whose new text the model does not predict. */
  value: string | null;
  /** For Via headers: how many comma-separated values the line holds. */
  n?: number;
}
interface Model {
  headers: ModelHeader[];
  vias: ViaProjection[];
  body: Buffer;
}
type ViaProjection = ReturnType<typeof viaP> & { params: [string, string | null][] } & Record<string, unknown>;

const trim = (s: string): string => s.replace(/^[ \t]+|[ \t]+$/g, '');

function parseOneVia(text: string): ViaProjection {
  const probe = `OPTIONS sip:x SIP/2.0\r\nVia: ${text}\r\nFrom: <sip:a@b>;tag=1\r\nTo: <sip:a@b>\r\nCall-ID: c\r\nCSeq: 1 OPTIONS\r\nContent-Length: 0\r\n\r\n`;
  return viaP(parseMessage(Buffer.from(probe, 'utf8')).via[0]!) as ViaProjection;
}

/** Applies one op to the model; returns what the message method should return. */
function applyToModel(model: Model, op: Op): unknown {
  const hs = model.headers;
  switch (op.op) {
    case 'append':
      hs.push({ name: op.name, key: canonical(op.name), value: trim(op.value) });
      return undefined;
    case 'insert':
      hs.unshift({ name: op.name, key: canonical(op.name), value: trim(op.value) });
      return undefined;
    case 'remove': {
      const key = canonical(op.name);
      let removed = 0;
      let seen = 0;
      for (let i = 0; i < hs.length; i++) {
        if (hs[i]!.key !== key) continue;
        if (op.index === undefined || seen === op.index) {
          hs.splice(i, 1);
          i--;
          removed++;
          if (op.index !== undefined) break;
        }
        seen++;
      }
      return removed;
    }
    case 'replace': {
      const h = hs.find((x) => x.key === canonical(op.name));
      if (!h) return false;
      h.value = trim(op.value);
      return true;
    }
    case 'setBody': {
      model.body = op.body;
      const cls = hs.filter((h) => h.key === 'content-length');
      for (const extra of cls.slice(1)) hs.splice(hs.indexOf(extra), 1);
      if (cls[0]) cls[0].value = String(op.body.length);
      else hs.push({ name: 'Content-Length', key: 'content-length', value: String(op.body.length) });
      const ct = op.contentType;
      if (ct === '' || (ct === undefined && op.body.length === 0)) {
        for (let i = hs.length - 1; i >= 0; i--) if (hs[i]!.key === 'content-type') hs.splice(i, 1);
      } else if (ct !== undefined) {
        const h = hs.find((x) => x.key === 'content-type');
        if (h) h.value = ct;
        else {
          const cl = hs.findIndex((x) => x.key === 'content-length');
          hs.splice(cl === -1 ? hs.length : cl, 0, { name: 'Content-Type', key: 'content-type', value: ct });
        }
      }
      return undefined;
    }
    case 'setTopViaParam': {
      const h = hs.find((x) => x.key === 'via');
      if (!h) return undefined;
      h.value = null;
      const top = model.vias[0]!;
      const name = op.name.toLowerCase();
      const at = top.params.findIndex(([k]) => k === name);
      if (at === -1) top.params.push([name, op.value]);
      else top.params[at] = [name, op.value];
      if (name === 'branch' || name === 'received' || name === 'maddr') top[name] = op.value ?? undefined;
      if (name === 'rport') top.rport = op.value === null ? null : Number(op.value);
      if (name === 'ttl') top.ttl = Number(op.value);
      return undefined;
    }
    case 'addVia': {
      const at = hs.findIndex((x) => x.key === 'via');
      hs.splice(at === -1 ? 0 : at, 0, { name: 'Via', key: 'via', value: trim(op.value), n: 1 });
      model.vias.unshift(parseOneVia(op.value));
      return undefined;
    }
    case 'removeTopVia': {
      const at = hs.findIndex((x) => x.key === 'via');
      if (at === -1) return undefined;
      model.vias.shift();
      const h = hs[at]!;
      if ((h.n ?? 1) <= 1) hs.splice(at, 1);
      else {
        h.n = (h.n ?? 1) - 1;
        h.value = null;
      }
      return undefined;
    }
  }
}

function applyToMessage(m: Msg, op: Op): unknown {
  switch (op.op) {
    case 'append':
      return m.appendHeader(op.name, op.value);
    case 'insert':
      return m.insertHeader(op.name, op.value);
    case 'remove':
      return op.index === undefined ? m.removeHeader(op.name) : m.removeHeader(op.name, op.index);
    case 'replace':
      return m.replaceHeader(op.name, op.value);
    case 'setBody':
      return op.contentType === undefined ? m.setBody(op.body) : m.setBody(op.body, op.contentType);
    case 'setTopViaParam':
      return m.setTopViaParam(op.name, op.value);
    case 'addVia':
      return m.addVia(op.value);
    case 'removeTopVia':
      return m.removeTopVia();
  }
}

function expectHeadersMatch(actual: readonly { name: string; key: string; value: string }[], model: Model, what: string): void {
  expect(actual.map((h) => [h.name, h.key]), what).toEqual(model.headers.map((h) => [h.name, h.key]));
  actual.forEach((h, i) => {
    const mv = model.headers[i]!.value;
    if (mv !== null) expect(h.value, `${what}: ${h.name}`).toBe(mv);
  });
}

describe('property: lump edits', () => {
  it('parse(serialize()) after a random edit sequence shows exactly the edits', () => {
    const arb = message.chain((g) => {
      const names = [...new Set(g.headers.map((h) => h.name))];
      return fc.tuple(fc.constant(g), fc.array(opArb(names), { minLength: 1, maxLength: 8 }));
    });
    fc.assert(
      fc.property(arb, ([g, ops]) => {
        const m = parseMessage(g.bytes);
        const model: Model = {
          headers: m.headers.map((h) => ({
            name: h.name,
            key: h.key,
            value: h.value,
            ...(h.key === 'via' ? { n: h.value.split(',').filter((x) => x.trim().length > 0).length } : {}),
          })),
          vias: m.via.map((v) => viaP(v) as ViaProjection),
          body: Buffer.from(m.body),
        };
        const before = project(m);
        let effective = false;
        for (const op of ops) {
          // keep at least one Via: a message without Via is not valid
          if (op.op === 'removeTopVia' && model.vias.length <= 1) continue;
          const want = applyToModel(model, op);
          const got = applyToMessage(m, op);
          expect(got, JSON.stringify(op)).toEqual(want);
          effective ||= op.op === 'remove' ? want !== 0 : op.op === 'replace' ? want === true : true;
        }
        const trace = JSON.stringify(ops, (_k, v: unknown) => (v instanceof Uint8Array ? Buffer.from(v).toString('hex') : v));
        // the parsed fields keep showing the original message
        expect(project(m)).toEqual(before);
        expect(m.modified).toBe(effective);
        // the message's own view of the edited header list matches the model
        expectHeadersMatch(m.currentHeaders(), model, `currentHeaders after ${trace}`);
        // and a re-parse of the serialised bytes shows exactly the edits
        const again = parseMessage(m.serialize());
        expectHeadersMatch(again.headers, model, `re-parse after ${trace}`);
        expect(again.via.map(viaP)).toEqual(model.vias);
        expect(again.body.equals(model.body)).toBe(true);
        const cl = model.headers.find((h) => h.key === 'content-length');
        expect(again.contentLength).toBe(cl ? model.body.length : undefined);
        if (isReq(m) && isReq(again)) expect([again.method, again.uri, again.version]).toEqual([m.method, m.uri, m.version]);
        else if (!isReq(m) && !isReq(again)) expect([again.status, again.reason, again.version]).toEqual([m.status, m.reason, m.version]);
        else throw new Error('request/response kind changed');
        expect(again.callId).toBe(m.callId);
        expect(again.cseq).toEqual(m.cseq);
        expect(naP(again.from)).toEqual(naP(m.from));
        expect(naP(again.to)).toEqual(naP(m.to));
      }),
      fcOpts(Math.max(50, Math.floor(RUNS / 2))),
    );
  });
});
