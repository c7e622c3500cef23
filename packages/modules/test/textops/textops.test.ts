import { describe, expect, it } from 'vitest';
import { textopsModule } from '../../src/textops/index.js';
import { INVITE_LINES, REPLY_LINES, SDP, load, mk, reparse, sipText } from './support.js';

const t = await load(textopsModule);
const call = t.call;

describe('textops search', () => {
  it('search: the whole received message, case-insensitive, line by line', () => {
    const { ctx, logger } = mk(INVITE_LINES, { body: SDP });
    expect(call('search', ctx, '^invite sip:bob@')).toBe(1);
    expect(call('search', ctx, '^User-Agent: test-ua')).toBe(1);
    expect(call('search', ctx, 'm=audio 4000')).toBe(1);
    expect(call('search', ctx, 'ua/1\\.0$')).toBe(1); // $ before CRLF
    expect(call('search', ctx, 'no-such-text')).toBe(-1);
    expect(logger.errors()).toEqual([]);
  });

  it('search: bad and empty regular expressions → -1 and an error log', () => {
    const { ctx, logger } = mk();
    expect(call('search', ctx, '(unclosed')).toBe(-1);
    expect(call('search', ctx, '')).toBe(-1);
    expect(logger.errors()).toHaveLength(2);
    expect(logger.errors()[0]).toMatch(/KSR\.textops\.search: invalid regular expression/);
  });

  it('search_body / search_str', () => {
    const { ctx } = mk(INVITE_LINES, { body: SDP });
    expect(call('search_body', ctx, '^c=IN IP4 192\\.0\\.2\\.10$')).toBe(1);
    expect(call('search_body', ctx, 'INVITE')).toBe(-1);
    expect(call('search_body', ctx, '[')).toBe(-1);
    expect(call('search_str', ctx, 'Hello World', '^hello')).toBe(1);
    expect(call('search_str', ctx, 'Hello', 'x')).toBe(-1);
    expect(call('search_str', ctx, 'x', '*')).toBe(-1);
  });

  it('search_hf: a / f / l flags, compact names, bad arguments', () => {
    const lines = [...INVITE_LINES, 'X-H: first', 'X-H: second'];
    const { ctx, logger } = mk(lines);
    expect(call('search_hf', ctx, 'X-H', 'second', 'a')).toBe(1);
    expect(call('search_hf', ctx, 'X-H', 'second', '')).toBe(1);
    expect(call('search_hf', ctx, 'X-H', 'second', 'f')).toBe(-1);
    expect(call('search_hf', ctx, 'X-H', 'second', 'l')).toBe(1);
    expect(call('search_hf', ctx, 'X-H', 'first', 'l')).toBe(-1);
    expect(call('search_hf', ctx, 'f', 'alice@', 'a')).toBe(1); // compact From
    expect(call('search_hf', ctx, 'X-H', 'x', 'z')).toBe(-1);
    expect(call('search_hf', ctx, 'bad name', 'x', 'a')).toBe(-1);
    expect(call('search_hf', ctx, 'X-H', '(', 'a')).toBe(-1);
    expect(logger.errors()).toHaveLength(3);
  });
});

describe('textops edits: lumps over the received bytes', () => {
  it('search_append adds text after the first match; later searches do not see it', () => {
    const { ctx, out } = mk();
    expect(call('search_append', ctx, 'test-ua/1\\.0', ' (via ksr)')).toBe(1);
    expect(out()).toContain('User-Agent: test-ua/1.0 (via ksr)\r\n');
    expect(call('search', ctx, 'via ksr')).toBe(-1);
    expect(call('search_append', ctx, 'nothing-here', 'x')).toBe(-1);
    reparse(out());
  });

  it('search_append after the start line adds a header before the first one', () => {
    const { ctx, out } = mk();
    expect(call('search_append', ctx, '^INVITE .* SIP/2\\.0\\r\\n', 'X-First: 1\r\n')).toBe(1);
    expect(out()).toMatch(/^INVITE sip:bob@ksr\.test SIP\/2\.0\r\nX-First: 1\r\nVia: /);
    reparse(out());
  });

  it('search_append_body', () => {
    const { ctx, out } = mk(INVITE_LINES, { body: SDP });
    expect(call('search_append_body', ctx, 'a=rtpmap:0 PCMU/8000\\r\\n', 'a=sendrecv\r\n')).toBe(1);
    const m = reparse(out());
    expect(m.body.toString()).toContain('PCMU/8000\r\na=sendrecv\r\n');
    expect(m.contentLength).toBe(Buffer.byteLength(SDP) + 12);
  });

  it('replace: the first match; the R-URI in the start line; non-overlapping edits add up', () => {
    const { ctx, out, req } = mk();
    expect(call('replace', ctx, 'alice@atlanta\\.test', 'carol@chicago.test')).toBe(1);
    expect(out()).toContain('From: "Alice" <sip:carol@chicago.test>;tag=a1\r\n');
    expect(call('replace', ctx, 'tag=a1', 'tag=zz')).toBe(1); // same header, other bytes
    expect(out()).toContain('From: "Alice" <sip:carol@chicago.test>;tag=zz\r\n');
    expect(call('replace', ctx, 'sip:bob@ksr\\.test SIP', 'sip:bob@example.test SIP')).toBe(1);
    expect(req().newRequestUri).toBe('sip:bob@example.test');
    expect(out().startsWith('INVITE sip:bob@example.test SIP/2.0\r\n')).toBe(true);
    // the To header still has the original text: a separate edit
    expect(out()).toContain('To: <sip:bob@ksr.test>\r\n');
    expect(reparse(out()).callId).toBe('call-1@192.0.2.10');
  });

  it('replace refuses overlapping edits, edits across fields and edits of the method', () => {
    const { ctx, logger } = mk();
    expect(call('replace', ctx, 'alice@atlanta', 'x@y')).toBe(1);
    expect(call('replace', ctx, 'atlanta\\.test', 'z')).toBe(-1);
    expect(logger.errors().at(-1)).toMatch(/already changed/);
    expect(call('replace', ctx, 'tag=a1\\r\\nTo:', 'X')).toBe(-1);
    expect(logger.errors().at(-1)).toMatch(/spans more than one/);
    expect(call('replace', ctx, '^INVITE', 'BYE')).toBe(-1);
    expect(logger.errors().at(-1)).toMatch(/only the Request-URI/);
    expect(call('replace', ctx, 'CSeq: 10 INVITE\\r\\n', 'CSeq 10\r\n')).toBe(-1); // not a header line
    expect(call('replace', ctx, 'no-match', 'x')).toBe(-1);
  });

  it('replace cannot touch the status line of a reply', () => {
    const { ctx, logger } = mk(REPLY_LINES);
    expect(call('replace', ctx, '200 OK', '404 Not Found')).toBe(-1);
    expect(logger.errors()[0]).toMatch(/status line of a reply/);
  });

  it('replace_all over headers and body; Content-Length follows', () => {
    const { ctx, out } = mk(INVITE_LINES, { body: SDP });
    expect(call('replace_all', ctx, '192\\.0\\.2\\.10', '203.0.113.9')).toBe(1);
    const m = reparse(out());
    expect(m.header('via')).toContain('203.0.113.9:5070');
    expect(m.header('contact')).toBe('<sip:alice@203.0.113.9:5070>');
    expect(m.body.toString()).toContain('c=IN IP4 203.0.113.9');
    expect(m.body.toString()).toContain('o=alice 1 1 IN IP4 203.0.113.9');
    expect(m.contentLength).toBe(m.body.length);
    expect(m.callId).toBe('call-1@203.0.113.9');
  });

  it('replace edits a header that another function changed → refused', () => {
    const { ctx, logger } = mk();
    ctx.msg.replaceHeader('User-Agent', 'other');
    expect(call('replace', ctx, 'test-ua', 'x')).toBe(-1);
    expect(logger.errors()[0]).toMatch(/changed by another function/);
    // a header before it changed: still found
    const b = mk();
    b.ctx.msg.replaceHeader('Max-Forwards', '69');
    expect(call('replace', b.ctx, 'test-ua', 'x')).toBe(1);
    expect(b.out()).toContain('Max-Forwards: 69\r\n');
    expect(b.out()).toContain('User-Agent: x/1.0\r\n');
  });

  it('edits keep the position of the field among duplicates', () => {
    const { ctx, out } = mk([...INVITE_LINES, 'X-H: one', 'X-H: two', 'X-H: three']);
    expect(call('replace', ctx, 'two', 'TWO')).toBe(1);
    expect(out()).toContain('X-H: one\r\nX-H: TWO\r\nX-H: three\r\n');
    expect(call('replace', ctx, 'X-H: three\\r\\n', '')).toBe(1); // delete a whole field
    expect(out()).toContain('X-H: one\r\nX-H: TWO\r\nContent-Length');
    expect(call('replace', ctx, 'X-H: one\\r\\n', 'X-A: 1\r\nX-B: 2\r\n')).toBe(1); // one field → two
    expect(out()).toContain('User-Agent: test-ua/1.0\r\nContent-Type: application/sdp\r\nX-A: 1\r\nX-B: 2\r\nX-H: TWO\r\n');
    reparse(out());
  });

  it('replace_body / replace_body_all / replace_body_atonce', () => {
    const a = mk(INVITE_LINES, { body: SDP });
    expect(call('replace_body', a.ctx, 'ip4', 'IP6')).toBe(1); // case-insensitive, first only
    expect(reparse(a.out()).body.toString()).toContain('o=alice 1 1 IN IP6 192.0.2.10\r\n');
    expect(reparse(a.out()).body.toString()).toContain('c=IN IP4 192.0.2.10\r\n');
    const b = mk(INVITE_LINES, { body: SDP });
    expect(call('replace_body_all', b.ctx, '^a=.*$', 'a=inactive')).toBe(1);
    expect(reparse(b.out()).body.toString()).toContain('a=inactive\r\n');
    const c = mk(INVITE_LINES, { body: SDP });
    expect(call('replace_body_atonce', c.ctx, '^.+$', '')).toBe(1);
    const m = reparse(c.out());
    expect(m.body.length).toBe(0);
    expect(m.contentLength).toBe(0);
    expect(call('replace_body', mk().ctx, 'x', 'y')).toBe(-1); // no body
    expect(call('replace_body_all', b.ctx, '[', 'y')).toBe(-1);
  });

  it('replace_hdrs: only inside header fields', () => {
    const { ctx, out } = mk(INVITE_LINES, { body: 'ksr.test in body\r\n' });
    expect(call('replace_hdrs', ctx, 'ksr\\.test', 'example.test')).toBe(1);
    const text = out();
    expect(text).toContain('To: <sip:bob@example.test>\r\n');
    expect(text.startsWith('INVITE sip:bob@ksr.test SIP/2.0')).toBe(true);
    expect(text.endsWith('ksr.test in body\r\n')).toBe(true);
    expect(call('replace_hdrs', ctx, 'nothing', 'x')).toBe(-1);
    expect(call('replace_hdrs', ctx, '(', 'x')).toBe(-1);
  });

  it('set_body after a body edit, and a body edit after set_body', () => {
    const { ctx, logger } = mk(INVITE_LINES, { body: SDP });
    expect(call('set_body', ctx, 'hello', 'text/plain')).toBe(1);
    expect(call('replace_body', ctx, 'audio', 'video')).toBe(-1);
    expect(logger.errors()[0]).toMatch(/body was changed/);
  });
});

describe('textops subst', () => {
  it('groups, flags, escaped delimiters, PVs and \\u', () => {
    const { ctx, out } = mk();
    expect(call('subst', ctx, '/^To:(.*)sip:[^@]*@([a-z.]+)(.*)$/t:\\1sip:carol@\\2\\3 ;u=\\u/i')).toBe(1);
    expect(out()).toContain('t: <sip:carol@ksr.test> ;u=sip:bob@ksr.test\r\n');
    const b = mk();
    expect(call('subst', b.ctx, '#alice#$rU-$fU#g')).toBe(1);
    expect(b.out()).toContain('From: "Alice" <sip:bob-alice@atlanta.test>;tag=a1\r\n');
    expect(b.out()).toContain('Contact: <sip:bob-alice@192.0.2.10:5070>\r\n');
    const c = mk();
    expect(call('subst', c.ctx, '/sip:bob@ksr\\.test>/sip:b\\/c@ksr.test> \\$x/')).toBe(1);
    expect(c.out()).toContain('To: <sip:b/c@ksr.test> $x\r\n');
    const d = mk();
    expect(call('subst', d.ctx, '/ALICE/x/')).toBe(-1); // case-sensitive without i
    expect(call('subst', d.ctx, '/ALICE/x/i')).toBe(1);
  });

  it('bad expressions → -1 and an error log', () => {
    const { ctx, logger } = mk();
    for (const e of ['', '/a/b', 'abc', '/a/b/x', '/(a/b/', '/a/\\2/', '/a/\\q/', '/a/$nosuchpv/', '//x/', '/a/b\\']) {
      expect(call('subst', ctx, e)).toBe(-1);
    }
    expect(logger.errors()).toHaveLength(10);
    expect(logger.errors().every((l) => l.startsWith('KSR.textops.subst: invalid substitution'))).toBe(true);
  });

  it('s flag: . matches line ends, ^/$ are the text ends', () => {
    const { ctx, out } = mk(INVITE_LINES, { body: 'line1\r\nline2\r\n' });
    expect(call('subst_body', ctx, '/^line1.line2$//s')).toBe(-1); // $ is the end of the body: CRLF follows
    expect(call('subst_body', ctx, '/^line1\\r.line2\\r\\n$/one\\r\\n/s')).toBe(1);
    expect(reparse(out()).body.toString()).toBe('one\r\n');
    expect(call('subst_body', mk().ctx, '/x/y/')).toBe(-1);
  });

  it('subst_hf: a / f / l, folded fields, bad flags', () => {
    const lines = [...INVITE_LINES, 'X-H: a-1', 'X-H: a-2'];
    const a = mk(lines);
    expect(call('subst_hf', a.ctx, 'X-H', '/a-/b-/', 'a')).toBe(1);
    expect(a.out()).toContain('X-H: b-1\r\nX-H: b-2\r\n');
    const f = mk(lines);
    expect(call('subst_hf', f.ctx, 'X-H', '/a-/b-/', 'f')).toBe(1);
    expect(f.out()).toContain('X-H: b-1\r\nX-H: a-2\r\n');
    const l = mk(lines);
    expect(call('subst_hf', l.ctx, 'X-H', '/a-/b-/', 'l')).toBe(1);
    expect(l.out()).toContain('X-H: a-1\r\nX-H: b-2\r\n');
    expect(call('subst_hf', l.ctx, 'X-H', '/a-/b-/', 'q')).toBe(-1);
    expect(call('subst_hf', l.ctx, 'X-None', '/a-/b-/', 'a')).toBe(-1);
    expect(call('subst_hf', l.ctx, '', '/a-/b-/', 'a')).toBe(-1);
    const raw = Buffer.from(sipText(INVITE_LINES).toString().replace('User-Agent: test-ua/1.0', 'User-Agent: test-ua/1.0\r\n  (folded)'));
    const fo = mk(raw);
    expect(call('subst_hf', fo.ctx, 'User-Agent', '/folded/unfolded/', 'a')).toBe(1);
    expect(fo.out()).toContain('User-Agent: test-ua/1.0 (unfolded)\r\n');
  });

  it('subst_uri / subst_user', () => {
    const { ctx, req } = mk();
    expect(call('subst_uri', ctx, '/^sip:([a-z]+)@(.*)$/sip:0049\\1@\\2;orig=yes/')).toBe(1);
    expect(req().newRequestUri).toBe('sip:0049bob@ksr.test;orig=yes');
    expect(call('subst_user', ctx, '/^0049/+49/')).toBe(1);
    expect(req().newRequestUri).toBe('sip:+49bob@ksr.test;orig=yes');
    expect(call('subst_user', ctx, '/nomatch/x/')).toBe(-1);
    expect(call('subst_uri', ctx, '/.*/not a uri/')).toBe(-1);
    expect(call('subst_user', ctx, '/^.*$//')).toBe(1);
    expect(req().newRequestUri).toBe('sip:ksr.test;orig=yes');
    const r = mk(REPLY_LINES);
    expect(call('subst_uri', r.ctx, '/a/b/')).toBe(-1);
    expect(call('subst_user', r.ctx, '/a/b/')).toBe(-1);
  });

  it('subst_v stores the result in a pseudo-variable', () => {
    const { ctx } = mk();
    expect(call('subst_v', ctx, '0049123', '/^0049/+49/', '$var(out)')).toBe(1);
    expect(ctx.services.vars.get('out')).toBe('+49123');
    expect(call('subst_v', ctx, 'abc', '/x/y/', '$var(out)')).toBe(-1);
    expect(ctx.services.vars.get('out')).toBe('+49123');
    expect(call('subst_v', ctx, 'abc', '/a/y/', '$ci')).toBe(-1); // read-only
    expect(call('subst_v', ctx, 'abc', '/a/y/', 'nopv')).toBe(-1);
  });
});

describe('textops headers', () => {
  it('is_present_hf / is_present_hf_re', () => {
    const { ctx } = mk();
    expect(call('is_present_hf', ctx, 'user-agent')).toBe(1);
    expect(call('is_present_hf', ctx, 'm')).toBe(1); // compact Contact
    expect(call('is_present_hf', ctx, 'X-Nope')).toBe(-1);
    expect(call('is_present_hf', ctx, 'bad:name')).toBe(-1);
    expect(call('is_present_hf_re', ctx, '^user-')).toBe(1);
    expect(call('is_present_hf_re', ctx, '^X-')).toBe(-1);
    expect(call('is_present_hf_re', ctx, '(')).toBe(-1);
  });

  it('remove_hf / remove_hf_re / remove_hf_exp / remove_hf_idx', () => {
    const lines = [...INVITE_LINES, 'P-A: 1', 'P-Keep-B: 2', 'P-C: 3', 'X: 1', 'X: 2', 'X: 3'];
    const { ctx, out } = mk(lines);
    expect(call('remove_hf', ctx, 'User-Agent')).toBe(1);
    expect(call('remove_hf', ctx, 'User-Agent')).toBe(-1);
    expect(call('remove_hf_exp', ctx, '^P-', '^P-Keep-')).toBe(2);
    expect(out()).toContain('P-Keep-B: 2');
    expect(out()).not.toContain('P-A');
    expect(call('remove_hf_re', ctx, '^p-keep')).toBe(1);
    expect(call('remove_hf_re', ctx, '^p-')).toBe(-1);
    expect(call('remove_hf_idx', ctx, 'X', -1)).toBe(1);
    expect(call('remove_hf_idx', ctx, 'X', 0)).toBe(1);
    expect(call('remove_hf_idx', ctx, 'X', 5)).toBe(-1);
    expect(out()).toContain('X: 2\r\n');
    expect(out()).not.toMatch(/X: [13]/);
    expect(call('remove_hf', ctx, '')).toBe(-1);
    expect(call('remove_hf_re', ctx, '[')).toBe(-1);
    expect(call('remove_hf_exp', ctx, 'a', '(')).toBe(-1);
    expect(call('remove_hf_idx', ctx, 'a b', 0)).toBe(-1);
    reparse(out());
  });

  it('append_hf / insert_hf / append_urihf (ksr extensions)', () => {
    const { ctx, out } = mk();
    expect(call('append_hf', ctx, 'X-A: 1\r\nX-B: 2\r\n')).toBe(1);
    expect(call('insert_hf', ctx, 'X-Top: 1\r\nX-Top2: 2\r\n')).toBe(1);
    expect(call('append_urihf', ctx, 'CC-Diversion: <', '>\r\n')).toBe(1);
    const text = out();
    expect(text).toMatch(/^INVITE [^\r]+\r\nX-Top: 1\r\nX-Top2: 2\r\nVia:/);
    expect(text).toContain('X-A: 1\r\nX-B: 2\r\nCC-Diversion: <sip:bob@ksr.test>\r\n');
    expect(call('append_hf', ctx, 'no colon')).toBe(-1);
    expect(call('insert_hf', ctx, '')).toBe(-1);
    expect(call('append_urihf', mk(REPLY_LINES).ctx, 'X: ', '\r\n')).toBe(-1);
  });

  it('is_privacy', () => {
    const { ctx } = mk([...INVITE_LINES, 'Privacy: id;Header']);
    expect(call('is_privacy', ctx, 'id')).toBe(1);
    expect(call('is_privacy', ctx, 'header')).toBe(1);
    expect(call('is_privacy', ctx, 'user')).toBe(-1);
    expect(call('is_privacy', ctx, '')).toBe(-1);
    expect(call('is_privacy', mk().ctx, 'id')).toBe(-1);
  });
});

const MP = [
  '--b1',
  'Content-Type: application/sdp',
  '',
  SDP.trimEnd(),
  '--b1',
  'Content-Type: application/isup; version=itu-t92+',
  'Content-Disposition: signal;handling=optional',
  '',
  'ISUPDATA',
  '--b1--',
  '',
].join('\r\n');
const MP_LINES = INVITE_LINES.map((l) => (l.startsWith('Content-Type') ? 'Content-Type: multipart/mixed;boundary=b1' : l));

describe('textops body', () => {
  it('has_body / has_body_type', () => {
    expect(call('has_body', mk().ctx)).toBe(-1);
    const { ctx } = mk(INVITE_LINES, { body: SDP });
    expect(call('has_body', ctx)).toBe(1);
    expect(call('has_body_type', ctx, 'application/sdp')).toBe(1);
    expect(call('has_body_type', ctx, 'Application/SDP')).toBe(1);
    expect(call('has_body_type', ctx, 'text/plain')).toBe(-1);
    expect(call('has_body_type', ctx, 'garbage')).toBe(-1);
    const mp = mk(MP_LINES, { body: MP });
    expect(call('has_body_type', mp.ctx, 'application/isup')).toBe(1);
    expect(call('has_body_type', mp.ctx, 'multipart/mixed')).toBe(1);
  });

  it('set_body / set_reply_body', () => {
    const { ctx, out } = mk(INVITE_LINES, { body: SDP });
    expect(call('set_body', ctx, 'hello', 'text/plain')).toBe(1);
    const m = reparse(out());
    expect(m.body.toString()).toBe('hello');
    expect(m.contentType).toBe('text/plain');
    expect(call('set_body', ctx, 'x', '')).toBe(-1);
    expect(call('set_body', ctx, 'x', 'text/plain\r\nX: 1')).toBe(-1);
    expect(call('set_reply_body', ctx, 'sorry', 'text/plain')).toBe(1);
    expect(ctx.state.replyBody).toEqual({ body: 'sorry', contentType: 'text/plain' });
    expect(call('set_reply_body', ctx, 'sorry', 'bad')).toBe(-1);
    expect(call('set_reply_body', mk(REPLY_LINES).ctx, 'x', 'text/plain')).toBe(-1);
  });

  it('filter_body / remove_body_part / get_body_part(_raw)', () => {
    const a = mk(MP_LINES, { body: MP });
    expect(call('filter_body', a.ctx, 'application/sdp')).toBe(1);
    expect(reparse(a.out()).body.toString()).toBe(SDP.trimEnd());
    expect(call('filter_body', mk(MP_LINES, { body: MP }).ctx, 'text/html')).toBe(-1);
    expect(call('filter_body', mk(INVITE_LINES, { body: SDP }).ctx, 'application/sdp')).toBe(1);
    expect(call('filter_body', a.ctx, 'x')).toBe(-1);

    const b = mk(MP_LINES, { body: MP });
    expect(call('remove_body_part', b.ctx, 'application/isup')).toBe(1);
    const body = reparse(b.out()).body.toString();
    expect(body).not.toContain('ISUP');
    expect(body).toMatch(/^--b1\r\nContent-Type: application\/sdp\r\n\r\nv=0/);
    expect(body.endsWith('--b1--\r\n')).toBe(true);
    expect(call('remove_body_part', b.ctx, 'application/isup')).toBe(-1);
    expect(call('remove_body_part', mk(INVITE_LINES, { body: SDP }).ctx, 'application/sdp')).toBe(-1);

    const c = mk(MP_LINES, { body: MP });
    expect(call('get_body_part', c.ctx, 'application/isup', '$var(p)')).toBe(1);
    expect(c.ctx.services.vars.get('p')).toBe('ISUPDATA');
    expect(call('get_body_part_raw', c.ctx, 'application/isup', '$var(r)')).toBe(1);
    expect(c.ctx.services.vars.get('r')).toMatch(/^--b1\r\nContent-Type: application\/isup; version=itu-t92\+\r\nContent-Disposition: signal;handling=optional\r\n\r\nISUPDATA$/);
    expect(call('get_body_part', c.ctx, 'text/plain', '$var(p)')).toBe(-1);
    expect(call('get_body_part', c.ctx, 'application/isup', '$bad(')).toBe(-1);
  });

  it('append_body_part: a single body becomes multipart; parts add up', () => {
    const { ctx, out } = mk(INVITE_LINES, { body: SDP });
    expect(call('append_body_part', ctx, 'one', 'text/plain')).toBe(1);
    expect(call('append_body_part_cd', ctx, 'two', 'text/plain', 'render;handling=optional')).toBe(1);
    expect(call('append_body_part_hex', ctx, '41 42 43', 'application/octet-stream')).toBe(1);
    expect(call('append_body_part_hex_cd', ctx, '4445', 'application/octet-stream', 'signal')).toBe(1);
    const m = reparse(out());
    expect(m.contentType).toBe('multipart/mixed;boundary="unique-boundary-1"');
    expect(m.header('mime-version')).toBe('1.0');
    const body = m.body.toString();
    expect(body).toContain('--unique-boundary-1\r\nContent-Type: application/sdp\r\n\r\nv=0');
    expect(body).toContain('Content-Type: text/plain\r\n\r\none\r\n');
    expect(body).toContain('Content-Type: text/plain\r\nContent-Disposition: render;handling=optional\r\n\r\ntwo\r\n');
    expect(body).toContain('\r\n\r\nABC\r\n');
    expect(body).toContain('Content-Disposition: signal\r\n\r\nDE\r\n--unique-boundary-1--\r\n');
    expect(m.contentLength).toBe(m.body.length);
    expect(call('append_body_part_hex', ctx, 'zz', 'text/plain')).toBe(-1);
    expect(call('append_body_part', ctx, 'x', 'nonsense')).toBe(-1);
    expect(call('append_body_part_cd', ctx, 'x', 'text/plain', 'a\r\nb')).toBe(-1);
    // into an existing multipart body, keeping its boundary
    const mp = mk(MP_LINES, { body: MP });
    expect(call('append_body_part', mp.ctx, 'three', 'text/plain')).toBe(1);
    expect(reparse(mp.out()).body.toString()).toMatch(/ISUPDATA\r\n--b1\r\nContent-Type: text\/plain\r\n\r\nthree\r\n--b1--\r\n$/);
  });

  it('is_audio_on_hold', () => {
    expect(call('is_audio_on_hold', mk(INVITE_LINES, { body: SDP }).ctx)).toBe(-1);
    expect(call('is_audio_on_hold', mk(INVITE_LINES, { body: SDP.replace('c=IN IP4 192.0.2.10', 'c=IN IP4 0.0.0.0') }).ctx)).toBe(1);
    expect(call('is_audio_on_hold', mk(INVITE_LINES, { body: `${SDP}a=sendonly\r\n` }).ctx)).toBe(2);
    expect(call('is_audio_on_hold', mk(INVITE_LINES, { body: SDP.replace('t=0 0', 't=0 0\r\na=inactive') }).ctx)).toBe(2);
    expect(call('is_audio_on_hold', mk(INVITE_LINES, { body: `${SDP.replace('t=0 0', 't=0 0\r\na=inactive')}a=sendrecv\r\n` }).ctx)).toBe(-1);
    expect(call('is_audio_on_hold', mk(MP_LINES, { body: MP.replace('a=rtpmap', 'a=sendonly\r\na=rtpmap') }).ctx)).toBe(2);
    expect(call('is_audio_on_hold', mk().ctx)).toBe(-1);
  });
});

describe('textops strings', () => {
  const { ctx, logger } = mk();
  it('cmp_str / cmp_istr / starts_with / ends_with / str_any_in', () => {
    expect(call('cmp_str', ctx, 'abc', 'abc')).toBe(1);
    expect(call('cmp_str', ctx, 'abc', 'ABC')).toBe(-1);
    expect(call('cmp_istr', ctx, 'abc', 'ABC')).toBe(1);
    expect(call('cmp_istr', ctx, 'abc', 'abd')).toBe(-1);
    expect(call('starts_with', ctx, '+358123', '+358')).toBe(1);
    expect(call('starts_with', ctx, '358', '+358')).toBe(-1);
    expect(call('ends_with', ctx, 'abc.wav', '.wav')).toBe(1);
    expect(call('ends_with', ctx, 'abc.wav', '.mp3')).toBe(-1);
    expect(call('str_any_in', ctx, 'hello', 'xyzo')).toBe(1);
    expect(call('str_any_in', ctx, 'hello', 'xyz')).toBe(-1);
  });

  it('in_list / in_list_prefix', () => {
    expect(call('in_list', ctx, 'fi', 'dk,fi,no,se', ',')).toBe(1);
    expect(call('in_list', ctx, 'fi', 'dk, fi ,no', ',')).toBe(1);
    expect(call('in_list', ctx, 'f', 'dk,fi,no', ',')).toBe(-1);
    expect(call('in_list', ctx, 'fi', 'dk,fi', ',,')).toBe(-1);
    expect(call('in_list_prefix', ctx, '+35812345', '+46;+358', ';')).toBe(1);
    expect(call('in_list_prefix', ctx, '+3581', '+46;;', ';')).toBe(-1);
    expect(call('in_list_prefix', ctx, 'x', 'y', '')).toBe(-1);
    expect(logger.errors()).toHaveLength(2);
  });
});
