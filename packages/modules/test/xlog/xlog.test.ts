import { PvNameError, createPvRegistry, type RouteContext } from '@ksr/core';
import { describe, expect, it } from 'vitest';
import { INVITE_LINES, makeContext, sipText, testServices } from '../../../core/test/support/context.js';
import { FormatCache, compileFormat } from '../../src/xlog/format.js';
import { levelFromNumber, parseLevelName, xlogModule } from '../../src/xlog/index.js';
import { createModule, recordingLogger } from '../sl/module-context.js';

function scriptCtx(level: Parameters<typeof recordingLogger>[0] = 'trace', lines: Buffer | string[] = INVITE_LINES): { ctx: RouteContext; out: ReturnType<typeof recordingLogger> } {
  const out = recordingLogger(level);
  const ctx = makeContext(lines, { services: testServices({ logger: out }) });
  return { ctx, out };
}

describe('xdbg … xalert', () => {
  it('replace pseudo-variables, strip one trailing newline and log at the level', async () => {
    const m = await createModule(xlogModule);
    const { ctx, out } = scriptCtx();
    ctx.services.vars.set('x', 42);
    expect(m.fn('xinfo')(ctx, 'method $rm ruri $ru x=$var(x) via=$(hdr(Via)[0]) ua=$ua\n')).toBe(1);
    expect(out.lines).toEqual([
      {
        level: 'info',
        obj: { src: 'script' },
        msg: 'method INVITE ruri sip:bob@ksr.test x=42 via=SIP/2.0/UDP 192.0.2.10:5070;branch=z9hG4bK-inv1;rport ua=test-ua/1.0',
      },
    ]);
  });

  it('map every Kamailio level to pino, tagging the ones pino has no name for', async () => {
    const m = await createModule(xlogModule);
    const { ctx, out } = scriptCtx();
    const fns = ['xdbg', 'xinfo', 'xnotice', 'xwarn', 'xerr', 'xbug', 'xcrit', 'xalert'];
    for (const f of fns) expect(m.fn(f)(ctx, `${f}\r\n`)).toBe(1);
    expect(out.lines.map((l) => [l.level, l.obj.slevel ?? '', l.msg])).toEqual([
      ['debug', '', 'xdbg'],
      ['info', '', 'xinfo'],
      ['info', 'notice', 'xnotice'],
      ['warn', '', 'xwarn'],
      ['error', '', 'xerr'],
      ['fatal', 'bug', 'xbug'],
      ['fatal', 'crit', 'xcrit'],
      ['fatal', 'alert', 'xalert'],
    ]);
    expect(out.lines.every((l) => l.obj.src === 'script')).toBe(true);
  });

  it('print null values as <null>, $$ as $, and a $ that starts no name as written', async () => {
    const m = await createModule(xlogModule);
    const { ctx, out } = scriptCtx();
    m.fn('xinfo')(ctx, 'du=$du cost $$5 or $5, 100$ ($ x)');
    expect(out.lines[0]!.msg).toBe('du=<null> cost $5 or $5, 100$ ($ x)');
  });

  it('work on replies too', async () => {
    const m = await createModule(xlogModule);
    const { ctx, out } = scriptCtx('trace', sipText(['SIP/2.0 486 Busy Here', 'Via: SIP/2.0/UDP 127.0.0.1;branch=z9hG4bK-r', 'From: <sip:a@x>;tag=1', 'To: <sip:b@y>;tag=2', 'Call-ID: r', 'CSeq: 1 INVITE']));
    expect(m.fn('xwarn')(ctx, '$rs $rr for $rm')).toBe(1);
    expect(out.lines[0]!.msg).toBe('486 Busy Here for INVITE');
  });

  it('fail with -1 and an error for an invalid pseudo-variable', async () => {
    const m = await createModule(xlogModule);
    const { ctx, out } = scriptCtx();
    expect(m.fn('xerr')(ctx, 'unknown $nosuchpv here')).toBe(-1);
    expect(m.fn('xerr')(ctx, 'open $(hdr(Via)')).toBe(-1);
    expect(m.fn('xerr')(ctx, 'no param $hdr()')).toBe(-1);
    expect(out.lines).toHaveLength(0);
    const errors = m.logger.lines.filter((l) => l.level === 'error');
    expect(errors).toHaveLength(3);
    expect(errors[0]!.msg).toMatch(/KSR\.xlog\.xerr: .*nosuchpv/);
  });

  it('do not evaluate anything when the level is off', async () => {
    const pv = createPvRegistry();
    let evaluated = 0;
    pv.register('probe', (spec) => ({ name: spec.text, get: () => ++evaluated }));
    const m = await createModule(xlogModule, { pv });
    const { ctx, out } = scriptCtx('info');
    expect(m.fn('xdbg')(ctx, 'probe $probe')).toBe(1);
    expect([evaluated, out.lines.length]).toEqual([0, 0]);
    expect(m.fn('xinfo')(ctx, 'probe $probe')).toBe(1);
    expect([evaluated, out.lines[0]!.msg]).toEqual([1, 'probe 1']);
  });
});

describe('xlog(level, format)', () => {
  it('takes L_* names by their third letter, numbers and pseudo-variables', async () => {
    const m = await createModule(xlogModule);
    const { ctx, out } = scriptCtx();
    ctx.services.vars.set('lvl', 1);
    ctx.services.vars.set('txt', ' 0 ');
    const cases: Array<[string, string]> = [
      ['L_ALERT', 'fatal/alert'],
      ['L_BUG', 'fatal/bug'],
      ['L_CRIT', 'fatal/crit'],
      ['L_ERR', 'error/'],
      ['L_WARN', 'warn/'],
      ['L_NOTICE', 'info/notice'],
      ['L_INFO', 'info/'],
      ['L_DBG', 'debug/'],
      ['L_Exx', 'error/'],
      ['l_info', 'info/'],
      ['-1', 'error/'],
      ['3', 'debug/'],
      ['$var(lvl)', 'info/notice'],
      ['$var(txt)', 'warn/'],
    ];
    for (const [level] of cases) expect(m.fn('xlog')(ctx, level, `at ${level}`)).toBe(1);
    expect(out.lines.map((l) => `${l.level}/${(l.obj.slevel as string) ?? ''}`)).toEqual(cases.map(([, want]) => want));
  });

  it('fails with -1 for an unknown level', async () => {
    const m = await createModule(xlogModule);
    const { ctx, out } = scriptCtx();
    ctx.services.vars.set('word', 'loud');
    for (const bad of ['LOUD', 'L_', 'L_X', '', '$var(word)', '$nosuchpv']) expect(m.fn('xlog')(ctx, bad, 'x')).toBe(-1);
    expect(out.lines).toHaveLength(0);
    expect(m.logger.lines.filter((l) => l.level === 'error')).toHaveLength(6);
  });

  it('level helpers', () => {
    expect([-6, -5, -4, -3, -2, -1, 0, 1, 2, 3, 4].map(levelFromNumber)).toEqual(['alert', 'alert', 'bug', 'crit', 'crit', 'err', 'warn', 'notice', 'info', 'dbg', 'dbg']);
    expect(parseLevelName(' L_WARN ')).toBe('warn');
    expect(parseLevelName('WARN')).toBeUndefined();
  });
});

describe('module parameters', () => {
  it('prefix: text, or a format with prefix_mode=1', async () => {
    const plain = await createModule(xlogModule, { params: { prefix: '<script>: ' } });
    const { ctx, out } = scriptCtx();
    plain.fn('xinfo')(ctx, 'hello $rm');
    const fmt = await createModule(xlogModule, { params: { prefix: '[$ci] ', prefix_mode: 1 } });
    fmt.fn('xinfo')(ctx, 'hello');
    expect(out.lines.map((l) => l.msg)).toEqual(['<script>: hello INVITE', '[call-1@192.0.2.10] hello']);
    await expect(createModule(xlogModule, { params: { prefix: '$nosuchpv', prefix_mode: 1 } })).rejects.toThrow(/nosuchpv/);
  });

  it('buf_size bounds the message', async () => {
    const m = await createModule(xlogModule, { params: { buf_size: 64 } });
    const { ctx, out } = scriptCtx();
    m.fn('xinfo')(ctx, 'x'.repeat(100));
    expect(out.lines[0]!.msg).toBe(`${'x'.repeat(64)}…`);
  });

  it('accepts the Kamailio parameters that have no effect here', async () => {
    const m = await createModule(xlogModule, { params: { force_color: 1, long_format: 1, log_facility: 'LOG_LOCAL0', log_colors: ['L_ERR=cr', 'L_WARN=px'], methods_filter: 15 } });
    expect(m.instance.exports?.length).toBe(9);
  });

  it('exports the KEMI signatures', async () => {
    const m = await createModule(xlogModule);
    expect((m.instance.exports ?? []).map((e) => `${e.name}:${e.returns}(${e.params.join(',')})`)).toEqual([
      'xdbg:int(str)',
      'xinfo:int(str)',
      'xnotice:int(str)',
      'xwarn:int(str)',
      'xerr:int(str)',
      'xbug:int(str)',
      'xcrit:int(str)',
      'xalert:int(str)',
      'xlog:int(str,str)',
    ]);
  });
});

describe('format cache', () => {
  it('compiles a format once and keeps at most `limit` of them', () => {
    const pv = createPvRegistry();
    const cache = new FormatCache(pv, 3);
    const a = cache.get('a $ru');
    expect(cache.get('a $ru')).toBe(a);
    for (const f of ['b $ru', 'c $ru', 'd $ru', 'e $ru']) cache.get(f);
    expect(cache.size).toBe(3);
    expect(cache.get('a $ru')).not.toBe(a);
    // formats without '$' take no slot
    cache.get('plain text');
    expect(cache.size).toBe(3);
  });

  it('reports the invalid name', () => {
    const r = compileFormat('x $(hdr(Via)[a]) y', createPvRegistry());
    expect(r).toBeInstanceOf(PvNameError);
  });
});
