import { describe, expect, it } from 'vitest';
import { DEFAULT_ALLOW, siputilsModule } from '../../src/siputils/index.js';
import { replaceUri } from '../../src/siputils/contact.js';
import { INVITE_LINES, REPLY_LINES, load, mk, reparse } from '../textops/support.js';

const NOW = Date.UTC(2024, 0, 15, 12, 0, 0);
const s = await load(siputilsModule, { now: () => NOW });
const call = s.call;

const OPTIONS = [
  'OPTIONS sip:ksr.test SIP/2.0',
  'Via: SIP/2.0/UDP 192.0.2.10:5070;branch=z9hG4bK-o1;rport',
  'Max-Forwards: 70',
  'From: <sip:ping@atlanta.test>;tag=p1',
  'To: <sip:ksr.test>',
  'Call-ID: opt-1',
  'CSeq: 1 OPTIONS',
];

describe('siputils message checks', () => {
  it('has_totag / is_request / is_reply / is_sip / is_http', () => {
    const req = mk();
    const rpl = mk(REPLY_LINES);
    expect(call('has_totag', req.ctx)).toBe(-1);
    expect(call('has_totag', rpl.ctx)).toBe(1);
    expect(call('has_totag', mk(INVITE_LINES.map((l) => (l.startsWith('To:') ? 'To: <sip:bob@ksr.test>;tag=x' : l))).ctx)).toBe(1);
    expect(call('is_request', req.ctx)).toBe(1);
    expect(call('is_request', rpl.ctx)).toBe(-1);
    expect(call('is_reply', rpl.ctx)).toBe(1);
    expect(call('is_reply', req.ctx)).toBe(-1);
    expect(call('is_sip', req.ctx)).toBe(1);
    expect(call('is_http', req.ctx)).toBe(-1);
  });

  it('is_first_hop: requests count Vias; replies look at the top Record-Route', () => {
    expect(call('is_first_hop', mk().ctx)).toBe(1);
    expect(call('is_first_hop', mk([...INVITE_LINES, 'Via: SIP/2.0/UDP 198.51.100.1;branch=z9hG4bK-2']).ctx)).toBe(-1);
    // top RR 127.0.0.1 is us; the reply comes from 192.0.2.10
    expect(call('is_first_hop', mk(REPLY_LINES).ctx)).toBe(1);
    expect(call('is_first_hop', mk(REPLY_LINES, { info: { remote: { address: '127.0.0.1', port: 5060, family: 4 } } }).ctx)).toBe(-1);
    const named = REPLY_LINES.map((l) => (l.startsWith('Record-Route') ? 'Record-Route: <sip:ksr.test;lr>' : l));
    expect(call('is_first_hop_mode', mk(named).ctx, 0)).toBe(-1); // a host name: mode 0 cannot tell
    expect(call('is_first_hop_mode', mk(named).ctx, 1)).toBe(1);
    expect(call('is_first_hop', mk(REPLY_LINES.filter((l) => !l.startsWith('Record-Route'))).ctx)).toBe(-1);
    const other = REPLY_LINES.map((l) => (l.startsWith('Record-Route') ? 'Record-Route: <sip:198.51.100.7;lr>' : l));
    expect(call('is_first_hop', mk(other).ctx)).toBe(-1);
    const { ctx, logger } = mk();
    expect(call('is_first_hop_mode', ctx, 7)).toBe(-1);
    expect(logger.errors()).toHaveLength(1);
  });

  it('is_user: the user of the digest credentials', () => {
    const lines = [...INVITE_LINES, 'Proxy-Authorization: Digest username="alice", realm="ksr.test", nonce="n", uri="sip:bob@ksr.test", response="r"'];
    expect(call('is_user', mk(lines).ctx, 'alice')).toBe(1);
    expect(call('is_user', mk(lines).ctx, 'bob')).toBe(-1);
    expect(call('is_user', mk().ctx, 'alice')).toBe(-1);
    expect(call('is_user', mk(lines).ctx, '')).toBe(-1);
  });

  it('is_supported (ksr extension)', () => {
    const { ctx } = mk([...INVITE_LINES, 'Supported: 100rel, Timer', 'k: path']);
    expect(call('is_supported', ctx, 'timer')).toBe(1);
    expect(call('is_supported', ctx, 'path')).toBe(1);
    expect(call('is_supported', ctx, 'outbound')).toBe(-1);
    expect(call('is_supported', ctx, ' ')).toBe(-1);
  });

  it('hdr_date_check', () => {
    const at = (d: string) => mk([...INVITE_LINES, `Date: ${d}`]).ctx;
    expect(call('hdr_date_check', at('Mon, 15 Jan 2024 11:59:55 GMT'), 10)).toBe(1);
    expect(call('hdr_date_check', at('Mon, 15 Jan 2024 11:59:00 GMT'), 10)).toBe(-1);
    expect(call('hdr_date_check', at('not a date'), 10)).toBe(-1);
    expect(call('hdr_date_check', mk().ctx, 10)).toBe(-1);
    expect(call('hdr_date_check', at('Mon, 15 Jan 2024 11:59:55 GMT'), -1)).toBe(-1);
  });
});

describe('siputils options_reply', () => {
  it('answers OPTIONS without a user: 200 with the capability headers', async () => {
    const { ctx, services } = mk(OPTIONS);
    expect(call('options_reply', ctx)).toBe(1);
    await Promise.resolve();
    expect(services.replies).toEqual([
      {
        status: 200,
        reason: 'OK',
        extra: { headers: [['Allow', DEFAULT_ALLOW], ['Accept', '*/*'], ['Accept-Language', 'en']] },
      },
    ]);
  });

  it('modparams; through sl when it is loaded', async () => {
    const calls: unknown[] = [];
    const sl = { reply: (_c: unknown, code: number, reason: string, extra: unknown) => (calls.push([code, reason, extra]), 1) };
    const m = await load(siputilsModule, {
      params: { options_accept: 'application/sdp', options_accept_encoding: 'gzip', options_accept_language: '', options_support: '100rel, path', options_allow: '' },
      apis: { sl },
    });
    const { ctx, services } = mk(OPTIONS);
    expect(m.call('options_reply', ctx)).toBe(1);
    expect(calls).toEqual([[200, 'OK', { headers: [['Accept', 'application/sdp'], ['Accept-Encoding', 'gzip'], ['Supported', '100rel, path']] }]]);
    expect(services.replies).toHaveLength(0);
  });

  it('refuses other requests, a user in the R-URI and replies', () => {
    const a = mk();
    expect(call('options_reply', a.ctx)).toBe(-1);
    const b = mk(OPTIONS.map((l) => (l.startsWith('OPTIONS') ? 'OPTIONS sip:bob@ksr.test SIP/2.0' : l)));
    expect(call('options_reply', b.ctx)).toBe(-1);
    expect(call('options_reply', mk(REPLY_LINES).ctx)).toBe(-1);
    expect(b.services.replies).toHaveLength(0);
    expect(a.logger.errors()).toHaveLength(1);
  });

  it('checks modparams', async () => {
    await expect(load(siputilsModule, { params: { contact_flds_separator: 'a' } })).rejects.toThrow(/first character/);
    await expect(load(siputilsModule, { params: { options_accept: 'a\r\nb' } })).rejects.toThrow(/control/);
  });
});

describe('siputils URIs', () => {
  const withRuri = (uri: string) => mk(INVITE_LINES.map((l) => (l.startsWith('INVITE') ? `INVITE ${uri} SIP/2.0` : l)));

  it('is_uri', () => {
    const { ctx } = mk();
    expect(call('is_uri', ctx, 'sip:alice@atlanta.test;transport=tcp')).toBe(1);
    expect(call('is_uri', ctx, 'tel:+1-201-555-0123')).toBe(1);
    expect(call('is_uri', ctx, 'urn:service:sos')).toBe(1);
    expect(call('is_uri', ctx, 'http://example.test/')).toBe(-1);
    expect(call('is_uri', ctx, 'alice@atlanta')).toBe(-1);
    expect(call('is_uri', ctx, '')).toBe(-1);
  });

  it('uri_param / uri_param_any / uri_param_value', () => {
    const { ctx } = withRuri('sip:bob@ksr.test;lr;nat=yes');
    expect(call('uri_param', ctx, 'lr')).toBe(1);
    expect(call('uri_param', ctx, 'nat')).toBe(-1);
    expect(call('uri_param_any', ctx, 'NAT')).toBe(1);
    expect(call('uri_param_any', ctx, 'x')).toBe(-1);
    expect(call('uri_param_value', ctx, 'nat', 'yes')).toBe(1);
    expect(call('uri_param_value', ctx, 'nat', 'YES')).toBe(-1);
    expect(call('uri_param', mk(REPLY_LINES).ctx, 'lr')).toBe(-1);
  });

  it('add_uri_param / uri_param_rm work on the current R-URI', () => {
    const { ctx, req, logger } = mk();
    expect(call('add_uri_param', ctx, 'nat=yes')).toBe(1);
    expect(call('add_uri_param', ctx, 'lr')).toBe(1);
    expect(req().newRequestUri).toBe('sip:bob@ksr.test;nat=yes;lr');
    expect(call('uri_param', ctx, 'lr')).toBe(1);
    expect(call('uri_param_rm', ctx, 'nat')).toBe(1);
    expect(req().newRequestUri).toBe('sip:bob@ksr.test;lr');
    expect(call('uri_param_rm', ctx, 'nat')).toBe(-1);
    expect(call('add_uri_param', ctx, 'a b')).toBe(-1);
    expect(call('add_uri_param', ctx, 'x;y')).toBe(-1);
    expect(call('add_uri_param', ctx, '')).toBe(-1);
    expect(call('add_uri_param', ctx, 'a=b=c"')).toBe(-1);
    expect(call('add_uri_param', mk(REPLY_LINES).ctx, 'x')).toBe(-1);
    expect(logger.errors()).toHaveLength(4);
  });

  it('is_gruu', () => {
    expect(call('is_gruu', withRuri('sip:alice@ksr.test;gr=urn:uuid:f81d4fae-7dec-11d0-a765-00a0c91e6bf6').ctx)).toBe(1);
    expect(call('is_gruu', withRuri('sip:alice@ksr.test;gr').ctx)).toBe(2);
    expect(call('is_gruu', mk().ctx)).toBe(-1);
    expect(call('is_gruu', mk(REPLY_LINES).ctx)).toBe(-1);
  });

  it('cmp_uri / cmp_aor / cmp_hdr_name', () => {
    const { ctx, logger } = mk();
    expect(call('cmp_uri', ctx, 'sip:Alice@Atlanta.test;transport=UDP', 'sip:Alice@atlanta.test;transport=udp')).toBe(1);
    expect(call('cmp_uri', ctx, 'sip:alice@atlanta.test', 'sip:ALICE@atlanta.test')).toBe(-1);
    expect(call('cmp_uri', ctx, 'sip:alice@atlanta.test', 'sip:alice@atlanta.test:5060')).toBe(-1);
    expect(call('cmp_uri', ctx, 'not a uri', 'sip:x@y')).toBe(-1);
    expect(call('cmp_aor', ctx, 'kamailio@KaMaIlIo.org', 'sip:kamailio@kamailio.org;transport=tcp')).toBe(1);
    expect(call('cmp_aor', ctx, 'sip:a%62c@x.test', 'sip:abc@x.test:5060')).toBe(1);
    expect(call('cmp_aor', ctx, 'sip:abc@x.test', 'sip:abd@x.test')).toBe(-1);
    expect(call('cmp_aor', ctx, 'tel:+123', 'sip:x@y')).toBe(-1);
    expect(call('cmp_hdr_name', ctx, 'f', 'FROM')).toBe(1);
    expect(call('cmp_hdr_name', ctx, 'Via', 'To')).toBe(-1);
    expect(call('cmp_hdr_name', ctx, '', '')).toBe(-1);
    expect(logger.errors()).toHaveLength(2);
  });

  it('tel2sip (ksr extension)', () => {
    const { ctx } = mk();
    expect(call('tel2sip', ctx, 'tel:+(34)-999-888-777', 'foo.com', '$var(u)')).toBe(1);
    expect(ctx.services.vars.get('u')).toBe('sip:+34999888777@foo.com;user=phone');
    expect(call('tel2sip', ctx, 'tel:+12-(34)-56-78;Ext=200;ISUB=+123-456', 'foo.com', '$var(u)')).toBe(1);
    expect(ctx.services.vars.get('u')).toBe('sip:+12345678;ext=200;isub=+123-456@foo.com;user=phone');
    expect(call('tel2sip', ctx, 'sip:bob@ksr.test', 'foo.com', '$var(u)')).toBe(2);
    expect(call('tel2sip', ctx, 'tel:+1', '', '$var(u)')).toBe(-1);
    expect(call('tel2sip', ctx, 'tel:xyz', 'foo.com', '$var(u)')).toBe(-1);
    expect(call('tel2sip', ctx, 'tel:+1', 'foo.com', '$ci')).toBe(-1);
    expect(call('tel2sip', ctx, 'tel:+1', 'foo.com', 'nopv')).toBe(-1);
  });
});

describe('siputils strings', () => {
  const { ctx } = mk();
  it('is_numeric / is_alphanum / is_alphanumex / is_tel_number / is_e164 / is_uri_user_e164', () => {
    expect(call('is_numeric', ctx, '0123')).toBe(1);
    expect(call('is_numeric', ctx, '12a')).toBe(-1);
    expect(call('is_numeric', ctx, '')).toBe(-1);
    expect(call('is_alphanum', ctx, 'abC12')).toBe(1);
    expect(call('is_alphanum', ctx, 'ab-1')).toBe(-1);
    expect(call('is_alphanumex', ctx, 'a.b-c_1+', '+.-_')).toBe(1);
    expect(call('is_alphanumex', ctx, 'a b', '+.-_')).toBe(-1);
    expect(call('is_alphanumex', ctx, '', '+')).toBe(-1);
    expect(call('is_tel_number', ctx, '+24242424')).toBe(1);
    expect(call('is_tel_number', ctx, '24242424')).toBe(1);
    expect(call('is_tel_number', ctx, '+')).toBe(-1);
    expect(call('is_tel_number', ctx, '++1')).toBe(-1);
    expect(call('is_e164', ctx, '+358401234567')).toBe(1);
    expect(call('is_e164', ctx, '358401234567')).toBe(-1);
    expect(call('is_e164', ctx, '+1234567890123456')).toBe(-1);
    expect(call('is_uri_user_e164', ctx, 'sip:+358401234567@x.test')).toBe(1);
    expect(call('is_uri_user_e164', ctx, 'tel:+358401234567')).toBe(1);
    expect(call('is_uri_user_e164', ctx, 'sip:alice@x.test')).toBe(-1);
    expect(call('is_uri_user_e164', ctx, 'junk')).toBe(-1);
  });
});

describe('siputils contacts', () => {
  const lines = [...INVITE_LINES.filter((l) => !l.startsWith('Contact')), 'Contact: "A, B" <sip:alice:pw@192.0.2.10:5070;transport=tcp;ob>;expires=60, sip:carol@192.0.2.11', 'Contact: <sip:dave@192.0.2.12>'];

  it('replaceUri keeps display names and header parameters', () => {
    expect(replaceUri('"A <x>" <sip:a@b>;q=1', 'sip:z@y')).toBe('"A <x>" <sip:z@y>;q=1');
    expect(replaceUri('sip:a@b;expires=5', 'sip:z@y;lr')).toBe('<sip:z@y;lr>;expires=5');
    expect(replaceUri('sip:a@b', 'sip:z@y')).toBe('<sip:z@y>');
  });

  it('encode_contact / decode_contact_header / decode_contact', () => {
    const { ctx, out } = mk(lines);
    expect(call('encode_contact', ctx, 'enc', '203.0.113.1:5060')).toBe(1);
    const m = reparse(out());
    expect(m.headerValues('contact')).toEqual([
      '"A, B" <sip:enc*alice*pw*192.0.2.10*5070*tcp@203.0.113.1:5060>;expires=60',
      '<sip:enc*carol**192.0.2.11**@203.0.113.1:5060>',
      '<sip:dave@192.0.2.12>'.replace('dave@192.0.2.12', 'enc*dave**192.0.2.12**@203.0.113.1:5060'),
    ]);
    // decode them back (the encoded message, as a new message)
    const d = mk(out());
    expect(call('decode_contact_header', d.ctx)).toBe(1);
    expect(reparse(d.out()).headerValues('contact')).toEqual([
      '"A, B" <sip:alice:pw@192.0.2.10:5070;transport=tcp>;expires=60',
      '<sip:carol@192.0.2.11>',
      '<sip:dave@192.0.2.12>',
    ]);
    expect(call('decode_contact_header', mk(lines).ctx)).toBe(-1); // nothing encoded
    // the R-URI
    const r = mk(INVITE_LINES.map((l) => (l.startsWith('INVITE') ? 'INVITE sip:enc*bob**192.0.2.20*5080*udp@203.0.113.1 SIP/2.0' : l)));
    expect(call('decode_contact', r.ctx)).toBe(1);
    expect(r.req().newRequestUri).toBe('sip:bob@192.0.2.20:5080;transport=udp');
    expect(call('decode_contact', mk().ctx)).toBe(-1);
  });

  it('encode_contact: bad arguments, no Contact, non-SIP contacts', () => {
    const { ctx, logger } = mk(lines);
    expect(call('encode_contact', ctx, 'enc', '')).toBe(-1);
    expect(call('encode_contact', ctx, 'e*c', 'h.test')).toBe(-1);
    expect(call('encode_contact', ctx, 'enc', 'u@h.test')).toBe(-1);
    expect(call('encode_contact', mk(REPLY_LINES.filter((l) => !l.startsWith('Contact'))).ctx, 'enc', 'h.test')).toBe(-1);
    const tel = mk([...INVITE_LINES.filter((l) => !l.startsWith('Contact')), 'Contact: <tel:+123>']);
    expect(call('encode_contact', tel.ctx, 'enc', 'h.test')).toBe(-1);
    expect(tel.logger.errors()[0]).toMatch(/cannot encode a tel: contact/);
    expect(logger.errors()).toHaveLength(3);
  });

  it('contact_param_encode / check / decode / rm; decode_ruri', () => {
    const { ctx, out } = mk(lines);
    expect(call('contact_param_encode', ctx, 'ksu', 'sip:203.0.113.1:5060;transport=tcp')).toBe(1);
    const enc = reparse(out());
    const vals = enc.headerValues('contact');
    expect(vals[0]).toMatch(/^"A, B" <sip:203\.0\.113\.1:5060;transport=tcp;ksu=[A-Za-z0-9_-]+>;expires=60$/);
    const d = mk(out());
    expect(call('contact_param_check', d.ctx, 'ksu')).toBe(1);
    expect(call('contact_param_check', d.ctx, 'nope')).toBe(-1);
    expect(call('contact_param_decode', d.ctx, 'ksu')).toBe(1);
    expect(reparse(d.out()).headerValues('contact')).toEqual([
      '"A, B" <sip:alice:pw@192.0.2.10:5070;transport=tcp;ob>;expires=60',
      '<sip:carol@192.0.2.11>',
      '<sip:dave@192.0.2.12>',
    ]);
    // the R-URI
    const param = /ksu=([A-Za-z0-9_-]+)/.exec(vals[2]!)![1];
    const r = mk(INVITE_LINES.map((l) => (l.startsWith('INVITE') ? `INVITE sip:203.0.113.1;ksu=${param} SIP/2.0` : l)));
    expect(call('contact_param_decode_ruri', r.ctx, 'ksu')).toBe(1);
    expect(r.req().newRequestUri).toBe('sip:dave@192.0.2.12');
    expect(call('contact_param_decode_ruri', mk().ctx, 'ksu')).toBe(-1);
    const bad = mk(INVITE_LINES.map((l) => (l.startsWith('INVITE') ? 'INVITE sip:203.0.113.1;ksu=bm90IGEgdXJp SIP/2.0' : l)));
    expect(call('contact_param_decode_ruri', bad.ctx, 'ksu')).toBe(-1);
    expect(bad.logger.errors()).toHaveLength(1);
    // rm
    const rm = mk(lines);
    expect(call('contact_param_rm', rm.ctx, 'ob')).toBe(1);
    expect(rm.out()).toContain('<sip:alice:pw@192.0.2.10:5070;transport=tcp>;expires=60');
    expect(call('contact_param_rm', rm.ctx, 'zz')).toBe(-1);
    // bad arguments
    expect(call('contact_param_encode', ctx, 'a b', 'sip:x')).toBe(-1);
    expect(call('contact_param_encode', ctx, 'p', 'tel:+1')).toBe(-1);
    expect(call('contact_param_decode', ctx, '')).toBe(-1);
    expect(call('contact_param_rm', ctx, '')).toBe(-1);
    expect(call('contact_param_check', ctx, '')).toBe(-1);
    const notEnc = mk([...INVITE_LINES.filter((l) => !l.startsWith('Contact')), 'Contact: <sip:a@b;ksu=a.b>']);
    expect(call('contact_param_decode', notEnc.ctx, 'ksu')).toBe(-1);
  });

  it('contact * is left alone', () => {
    const reg = ['REGISTER sip:ksr.test SIP/2.0', ...INVITE_LINES.slice(1).filter((l) => !l.startsWith('Contact') && !l.startsWith('CSeq')), 'CSeq: 2 REGISTER', 'Contact: *', 'Expires: 0'];
    const { ctx } = mk(reg);
    expect(call('encode_contact', ctx, 'enc', 'h.test')).toBe(-1);
  });
});
