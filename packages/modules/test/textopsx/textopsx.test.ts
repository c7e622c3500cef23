import { PvNameError } from '@ksr/core';
import { describe, expect, it } from 'vitest';
import { textopsModule } from '../../src/textops/index.js';
import { textopsxModule } from '../../src/textopsx/index.js';
import { globToRegExp, parseHfExp } from '../../src/textopsx/hfvalue.js';
import { INVITE_LINES, REPLY_LINES, SDP, load, mk, reparse } from '../textops/support.js';

const x = await load(textopsxModule);
const tx = await load(textopsModule, { pv: x.pv });
const call = x.call;

describe('textopsx msg_apply_changes / msg_set_buffer', () => {
  it('applies pending lumps: later searches see them', () => {
    const { ctx } = mk();
    const before = ctx.msg;
    expect(tx.call('append_hf', ctx, 'My-Header: yes\r\n')).toBe(1);
    expect(tx.call('is_present_hf', ctx, 'My-Header')).toBe(-1);
    expect(call('msg_apply_changes', ctx)).toBe(1);
    expect(ctx.msg).not.toBe(before);
    expect(tx.call('is_present_hf', ctx, 'My-Header')).toBe(1);
    expect(ctx.msg.modified).toBe(false);
    // textops edits start afresh on the new message
    expect(tx.call('replace', ctx, 'yes', 'no')).toBe(1);
    expect(call('msg_apply_changes', ctx)).toBe(1);
    expect(ctx.msg.header('my-header')).toBe('no');
  });

  it('nothing to apply → 1, message kept; not in other route types', () => {
    const { ctx } = mk();
    const m = ctx.msg;
    expect(call('msg_apply_changes', ctx)).toBe(1);
    expect(ctx.msg).toBe(m);
    const f = mk(INVITE_LINES, { routeType: 'failure' });
    f.ctx.msg.appendHeader('X', '1');
    expect(call('msg_apply_changes', f.ctx)).toBe(-1);
    expect(f.logger.errors()[0]).toMatch(/not allowed in a failure route/);
  });

  it('the R-URI edit becomes the received R-URI', () => {
    const { ctx, req } = mk();
    req().setRequestUri('sip:carol@example.test');
    expect(call('msg_apply_changes', ctx)).toBe(1);
    expect(req().uri).toBe('sip:carol@example.test');
    expect(req().newRequestUri).toBeUndefined();
  });

  it('msg_set_buffer replaces the message; garbage or a reply for a request is refused', () => {
    const { ctx, logger } = mk();
    const text = ctx.msg.raw.toString().replace('User-Agent: test-ua/1.0', 'User-Agent: other');
    expect(call('msg_set_buffer', ctx, text)).toBe(1);
    expect(ctx.msg.header('user-agent')).toBe('other');
    expect(call('msg_set_buffer', ctx, 'garbage')).toBe(-1);
    expect(call('msg_set_buffer', ctx, mk(REPLY_LINES).ctx.msg.raw.toString())).toBe(-1);
    expect(logger.errors()).toHaveLength(2);
  });
});

describe('textopsx change_reply_status', () => {
  it('changes code and reason of a final reply', () => {
    const { ctx, res } = mk(['SIP/2.0 603 Decline', ...REPLY_LINES.slice(1)], { routeType: 'reply' });
    expect(call('change_reply_status', ctx, 404, 'Not Here')).toBe(1);
    expect(res().status).toBe(404);
    expect(res().reason).toBe('Not Here');
    expect(call('change_reply_status', ctx, 480, '')).toBe(1);
    expect(res().reason).toBe('Temporarily Unavailable');
    expect(call('change_reply_status_code', ctx, 486)).toBe(1);
    expect(res().status).toBe(486);
    expect(res().reason).toBe('Temporarily Unavailable');
  });

  it('keeps the class of 1xx/2xx, refuses bad codes, reasons and requests', () => {
    const { ctx, logger } = mk(REPLY_LINES, { routeType: 'reply' });
    expect(call('change_reply_status', ctx, 486, 'Busy')).toBe(-1);
    expect(call('change_reply_status', ctx, 202, 'Accepted')).toBe(1);
    expect(call('change_reply_status', ctx, 99, 'x')).toBe(-1);
    expect(call('change_reply_status', ctx, 700, 'x')).toBe(-1);
    expect(call('change_reply_status', ctx, 200, 'a\r\nb')).toBe(-1);
    expect(call('change_reply_status_code', mk().ctx, 404)).toBe(-1);
    expect(logger.errors()).toHaveLength(4);
    const r = mk(['SIP/2.0 404 Not Found', ...REPLY_LINES.slice(1)], { routeType: 'reply' });
    expect(call('change_reply_status_code', r.ctx, 200)).toBe(-1);
  });

  it('applies the pending header changes as well', () => {
    const { ctx, res } = mk(['SIP/2.0 603 Decline', ...REPLY_LINES.slice(1)], { routeType: 'reply' });
    ctx.msg.appendHeader('X-Why', 'changed');
    expect(call('change_reply_status', ctx, 404, 'Not Found')).toBe(1);
    expect(res().header('x-why')).toBe('changed');
  });
});

describe('textopsx body and headers', () => {
  it('remove_body', () => {
    const { ctx, out } = mk(INVITE_LINES, { body: SDP });
    expect(call('remove_body', ctx)).toBe(1);
    const m = reparse(out());
    expect(m.body.length).toBe(0);
    expect(m.contentLength).toBe(0);
    expect(m.contentType).toBeUndefined();
    expect(call('remove_body', ctx)).toBe(1);
  });

  it('keep_hf / keep_hf_re', () => {
    const lines = [...INVITE_LINES, 'Route: <sip:p;lr>', 'X-A: 1', 'P-B: 2'];
    const a = mk(lines);
    expect(call('keep_hf', a.ctx)).toBe(1);
    const ma = reparse(a.out());
    expect(ma.headers.map((h) => h.name)).toEqual(['Via', 'Max-Forwards', 'From', 'To', 'Call-ID', 'CSeq', 'Contact', 'Content-Type', 'Route', 'Content-Length']);
    const b = mk(lines);
    expect(call('keep_hf_re', b.ctx, '^(user-agent|x-)')).toBe(1);
    const names = reparse(b.out()).headers.map((h) => h.name);
    expect(names).toContain('User-Agent');
    expect(names).toContain('X-A');
    expect(names).not.toContain('P-B');
    expect(call('keep_hf_re', b.ctx, '(')).toBe(-1);
    expect(call('keep_hf_re', b.ctx, '')).toBe(-1);
  });

  it('fnmatch / fnmatch_ex', () => {
    const { ctx } = mk();
    expect(call('fnmatch', ctx, '123456', '123*')).toBe(1);
    expect(call('fnmatch', ctx, '0123456', '123*')).toBe(-1);
    expect(call('fnmatch', ctx, 'abc', 'a?c')).toBe(1);
    expect(call('fnmatch', ctx, 'abc', 'a[a-c]c')).toBe(1);
    expect(call('fnmatch', ctx, 'abc', 'a[!b]c')).toBe(-1);
    expect(call('fnmatch', ctx, 'a[c', 'a[c')).toBe(1); // unclosed bracket is literal
    expect(call('fnmatch', ctx, 'a.c', 'a.c')).toBe(1);
    expect(call('fnmatch', ctx, 'abc', 'a.c')).toBe(-1);
    expect(call('fnmatch', ctx, 'a*c', 'a\\*c')).toBe(1);
    expect(call('fnmatch_ex', ctx, 'ABC', 'abc', 'i')).toBe(1);
    expect(call('fnmatch_ex', ctx, 'ABC', 'abc', '')).toBe(-1);
    expect(call('fnmatch_ex', ctx, 'ABC', 'abc', 'q')).toBe(-1);
    expect(globToRegExp('[]a]', false).test(']')).toBe(true);
  });
});

describe('textopsx header values', () => {
  const lines = [...INVITE_LINES, 'Supported: path, 100rel', 'X-L: a;p=1, b', 'X-L: c'];

  it('parses NAME[IDX].PARAM', () => {
    expect(parseHfExp('foo')).toEqual({ name: 'foo', idx: undefined, param: undefined });
    expect(parseHfExp(' foo[-1].bar ')).toEqual({ name: 'foo', idx: -1, param: 'bar' });
    expect(parseHfExp('foo[*]')).toEqual({ name: 'foo', idx: 'all', param: undefined });
    expect(typeof parseHfExp('foo[0]')).toBe('string');
    expect(typeof parseHfExp('foo[x]')).toBe('string');
    expect(typeof parseHfExp('fo o')).toBe('string');
    expect(typeof parseHfExp('foo.b r')).toBe('string');
  });

  it('append_hf_value / insert_hf_value', () => {
    const { ctx, out } = mk(lines);
    expect(call('append_hf_value', ctx, 'X-L[1]', 'new1')).toBe(1);
    expect(out()).toContain('X-L: a;p=1, new1, b\r\nX-L: c\r\n');
    expect(call('append_hf_value', ctx, 'X-L[-1]', 'last')).toBe(1);
    expect(out()).toContain('X-L: c, last\r\n');
    expect(call('append_hf_value', ctx, 'X-L', 'own')).toBe(1);
    expect(out()).toMatch(/X-L: own\r\n$/m);
    expect(call('append_hf_value', ctx, 'X-New[3]', 'v')).toBe(1); // no such value: a new header
    expect(call('insert_hf_value', ctx, 'X-L[2]', 'ins')).toBe(1);
    expect(out()).toContain('X-L: a;p=1, ins, new1, b\r\n');
    expect(call('insert_hf_value', ctx, 'X-L', 'top')).toBe(1);
    expect(out()).toContain('Supported: path, 100rel\r\nX-L: top\r\nX-L: a;p=1');
    expect(call('insert_hf_value', ctx, 'X-None', 'v')).toBe(1);
    expect(out()).toMatch(/^INVITE [^\r]*\r\nX-None: v\r\n/);
    expect(call('append_hf_value', ctx, 'X-L.p', 'v')).toBe(-1);
    expect(call('insert_hf_value', ctx, 'X-L[*]', 'v')).toBe(-1);
    expect(call('append_hf_value', ctx, 'bad name', 'v')).toBe(-1);
    expect(call('append_hf_value', ctx, 'X-L', 'a\r\nb')).toBe(-1);
    reparse(out());
  });

  it('remove_hf_value / assign_hf_value', () => {
    const a = mk(lines);
    expect(call('remove_hf_value', a.ctx, 'X-L')).toBe(1); // first value
    expect(a.out()).toContain('X-L: b\r\nX-L: c\r\n');
    expect(call('remove_hf_value', a.ctx, 'X-L[-1]')).toBe(1); // c: its header goes
    expect(a.out()).not.toContain('X-L: c');
    expect(call('remove_hf_value', a.ctx, 'X-L[5]')).toBe(-1);
    const b = mk(lines);
    expect(call('remove_hf_value', b.ctx, 'X-L[*].p')).toBe(1);
    expect(b.out()).toContain('X-L: a, b\r\nX-L: c\r\n');
    expect(call('remove_hf_value', b.ctx, 'X-L[*]')).toBe(1);
    expect(b.out()).not.toContain('X-L');
    const c = mk(lines);
    expect(call('assign_hf_value', c.ctx, 'X-L[2]', 'B')).toBe(1);
    expect(c.out()).toContain('X-L: a;p=1, B\r\n');
    expect(call('assign_hf_value', c.ctx, 'X-L.p', '2')).toBe(1);
    expect(call('assign_hf_value', c.ctx, 'X-L[-1].lr', '')).toBe(1);
    expect(c.out()).toContain('X-L: a;p=2, B\r\nX-L: c;lr\r\n');
    expect(call('assign_hf_value', c.ctx, 'X-L[*]', 'z')).toBe(1);
    expect(c.out()).toContain('X-L: z, z\r\nX-L: z\r\n');
    expect(call('assign_hf_value', c.ctx, 'X-None', 'z')).toBe(-1);
    expect(call('remove_hf_value', c.ctx, 'X-L[')).toBe(-1);
    reparse(c.out());
  });

  it('include_hf_value / exclude_hf_value / hf_value_exists', () => {
    const { ctx, out } = mk(lines);
    expect(call('hf_value_exists', ctx, 'Supported', '100REL')).toBe(1);
    expect(call('hf_value_exists', ctx, 'supported', 'timer')).toBe(-1);
    expect(call('hf_value_exists', ctx, 'X_L', 'c')).toBe(1); // _ → -
    expect(call('include_hf_value', ctx, 'Supported', 'path')).toBe(1);
    expect(out()).toContain('Supported: path, 100rel\r\n');
    expect(call('include_hf_value', ctx, 'Supported', 'timer')).toBe(1);
    expect(out()).toContain('Supported: path, 100rel, timer\r\n');
    expect(call('include_hf_value', ctx, 'Require', 'outbound')).toBe(1);
    expect(out()).toContain('Require: outbound\r\n');
    expect(call('exclude_hf_value', ctx, 'Supported', '100rel')).toBe(1);
    expect(out()).toContain('Supported: path, timer\r\n');
    expect(call('exclude_hf_value', ctx, 'Require', 'OUTBOUND')).toBe(1);
    expect(out()).not.toContain('Require');
    expect(call('exclude_hf_value', ctx, 'Supported', 'nothing')).toBe(1);
    expect(call('include_hf_value', ctx, 'Supported', '')).toBe(-1);
    expect(call('include_hf_value', ctx, 'bad name', 'x')).toBe(-1);
    expect(call('exclude_hf_value', ctx, 'bad name', 'x')).toBe(-1);
    expect(call('hf_value_exists', ctx, '', 'x')).toBe(-1);
  });
});

describe('textopsx header iterator', () => {
  it('walks the current headers; $hfitname/$hfitbody; rm, append, insert', () => {
    const { ctx, out } = mk([...INVITE_LINES, 'My-Header: 1']);
    expect(call('hf_iterator_start', ctx, 'i1')).toBe(1);
    const names: string[] = [];
    const nameOf = x.pv.lookup('$hfitname(i1)');
    const bodyOf = x.pv.lookup('$hfitbody(i1)');
    if (nameOf instanceof PvNameError || bodyOf instanceof PvNameError) throw new Error('pv');
    while (call('hf_iterator_next', ctx, 'i1') === 1) {
      names.push(String(nameOf.get(ctx)));
      if (nameOf.get(ctx) === 'My-Header') {
        expect(bodyOf.get(ctx)).toBe('1');
        expect(call('hf_iterator_rm', ctx, 'i1')).toBe(1);
        expect(call('hf_iterator_hname', ctx, 'i1')).toBe('My-Header'); // still readable
        expect(call('hf_iterator_rm', ctx, 'i1')).toBe(-1);
      }
      if (nameOf.get(ctx) === 'CSeq') {
        expect(call('hf_iterator_append', ctx, 'i1', 'X-After: 1\r\n')).toBe(1);
        expect(call('hf_iterator_insert', ctx, 'i1', 'X-Before: 1\r\n')).toBe(1);
        expect(call('hf_iterator_hbody', ctx, 'i1')).toBe('10 INVITE');
      }
    }
    expect(names).toEqual(['Via', 'Max-Forwards', 'From', 'To', 'Call-ID', 'CSeq', 'Contact', 'User-Agent', 'Content-Type', 'My-Header', 'Content-Length']);
    expect(call('hf_iterator_hname', ctx, 'i1')).toBeNull();
    expect(call('hf_iterator_prev', ctx, 'i1')).toBe(1);
    expect(call('hf_iterator_hname', ctx, 'i1')).toBe('Content-Length');
    expect(call('hf_iterator_end', ctx, 'i1')).toBe(1);
    expect(call('hf_iterator_end', ctx, 'i1')).toBe(-1);
    expect(call('hf_iterator_next', ctx, 'i1')).toBe(-1);
    expect(out()).toContain('X-Before: 1\r\nCSeq: 10 INVITE\r\nX-After: 1\r\nContact:');
    expect(out()).not.toContain('My-Header');
    reparse(out());
  });

  it('prev after rm lands on the header before; limits and errors', () => {
    const { ctx, logger } = mk();
    call('hf_iterator_start', ctx, 'a');
    call('hf_iterator_next', ctx, 'a');
    call('hf_iterator_next', ctx, 'a'); // Max-Forwards
    expect(call('hf_iterator_rm', ctx, 'a')).toBe(1);
    expect(call('hf_iterator_prev', ctx, 'a')).toBe(1);
    expect(call('hf_iterator_hname', ctx, 'a')).toBe('Via');
    expect(call('hf_iterator_prev', ctx, 'a')).toBe(-1);
    expect(call('hf_iterator_append', ctx, 'a', 'X: 1\r\n')).toBe(-1); // not on a header
    for (const n of ['b', 'c', 'd']) expect(call('hf_iterator_start', ctx, n)).toBe(1);
    expect(call('hf_iterator_start', ctx, 'e')).toBe(-1);
    expect(call('hf_iterator_start', ctx, '')).toBe(-1);
    expect(call('hf_iterator_next', ctx, 'zz')).toBe(-1);
    call('hf_iterator_next', ctx, 'b');
    expect(call('hf_iterator_append', ctx, 'b', 'no colon')).toBe(-1);
    ctx.msg.insertHeader('X-Top', '1'); // the list moves under the iterator
    expect(call('hf_iterator_rm', ctx, 'b')).toBe(-1);
    expect(logger.errors().some((l) => /changed under the iterator/.test(l))).toBe(true);
  });
});

describe('textopsx body line iterator', () => {
  it('walks body lines; $blitval; rm, append, insert', () => {
    const { ctx, out } = mk(INVITE_LINES, { body: SDP });
    expect(call('bl_iterator_start', ctx, 'b1')).toBe(1);
    const val = x.pv.lookup('$blitval(b1)');
    if (val instanceof PvNameError) throw new Error('pv');
    const seen: string[] = [];
    while (call('bl_iterator_next', ctx, 'b1') === 1) {
      const line = String(call('bl_iterator_value', ctx, 'b1'));
      expect(val.get(ctx)).toBe(line);
      seen.push(line);
      if (line.startsWith('a=rtpmap')) expect(call('bl_iterator_rm', ctx, 'b1')).toBe(1);
      if (line.startsWith('m=audio')) {
        expect(call('bl_iterator_append', ctx, 'b1', 'a=ptime:20\r\n')).toBe(1);
        expect(call('bl_iterator_insert', ctx, 'b1', 'b=AS:64\r\n')).toBe(1);
      }
    }
    expect(seen).toHaveLength(7);
    expect(seen[0]).toBe('v=0\r\n');
    expect(call('bl_iterator_value', ctx, 'b1')).toBeNull();
    expect(call('bl_iterator_end', ctx, 'b1')).toBe(1);
    const m = reparse(out());
    expect(m.body.toString()).toBe(SDP.replace('m=audio', 'b=AS:64\r\nm=audio').replace('a=rtpmap:0 PCMU/8000\r\n', 'a=ptime:20\r\n'));
    expect(m.contentLength).toBe(m.body.length);
  });

  it('errors: not on a line, the body changed, limits', () => {
    const { ctx, logger } = mk(INVITE_LINES, { body: SDP });
    call('bl_iterator_start', ctx, 'b');
    expect(call('bl_iterator_rm', ctx, 'b')).toBe(-1);
    call('bl_iterator_next', ctx, 'b');
    ctx.msg.setBody('other\r\n');
    expect(call('bl_iterator_rm', ctx, 'b')).toBe(-1);
    expect(call('bl_iterator_append', ctx, 'b', 'x\r\n')).toBe(-1);
    expect(call('bl_iterator_insert', ctx, 'b', 'x\r\n')).toBe(-1);
    expect(logger.errors().filter((l) => /body changed/.test(l))).toHaveLength(3);
    for (const n of ['c', 'd', 'e']) expect(call('bl_iterator_start', ctx, n)).toBe(1);
    expect(call('bl_iterator_start', ctx, 'f')).toBe(-1);
    expect(call('bl_iterator_next', ctx, 'nope')).toBe(-1);
    expect(call('bl_iterator_end', ctx, 'nope')).toBe(-1);
    // an empty body has no lines
    const e = mk();
    call('bl_iterator_start', e.ctx, 'b');
    expect(call('bl_iterator_next', e.ctx, 'b')).toBe(-1);
  });
});
