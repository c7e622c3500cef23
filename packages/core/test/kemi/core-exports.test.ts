import { describe, expect, it } from 'vitest';
import { coreExports, statelessBranch } from '../../src/kemi/exports/core.js';
import { hdrExports } from '../../src/kemi/exports/hdr.js';
import { KemiRegistry } from '../../src/kemi/registry.js';
import type { KemiExportDef } from '../../src/kemi/types.js';
import { createLogger, type Logger } from '../../src/log.js';
import type { RouteContext, RouteServices } from '../../src/routing/context.js';
import type { EngineRunResult, ScriptEngine } from '../../src/routing/engine.js';
import { RouteRuntime, isRouteExit } from '../../src/routing/runtime.js';
import { xExports } from '../../src/routing/x.js';
import { parseMessage, type SipRequest } from '../../src/sip/index.js';
import { INVITE_LINES, makeContext, sipText, testServices, type TestServices } from '../support/context.js';

// ------------------------------------------------------------------------------------ helpers

interface Line {
  level: number;
  msg: string;
  [k: string]: unknown;
}

function memLog(): { logger: Logger; lines: Line[]; msgs: (level: number) => string[] } {
  const lines: Line[] = [];
  const logger = createLogger({
    level: 'trace',
    destination: {
      write(s: string): void {
        for (const part of s.split('\n')) if (part.trim()) lines.push(JSON.parse(part) as Line);
      },
    },
  });
  return { logger, lines, msgs: (level) => lines.filter((l) => l.level === level).map((l) => l.msg) };
}

const ERROR = 50;

const byName = new Map<string, KemiExportDef<RouteContext>>(coreExports.map((e) => [e.name, e]));

/** Call a core export directly (arguments as the runtime would pass them after coercion). */
function k(ctx: RouteContext, name: string, ...args: Array<string | number>): unknown {
  const e = byName.get(name);
  if (!e) throw new Error(`no core export ${name}`);
  expect(args.length).toBe(e.params.length);
  return e.fn(ctx, ...args);
}

function withMethod(method: string, ruri = 'sip:bob@ksr.test'): string[] {
  return INVITE_LINES.map((l) => l.replace(/^INVITE sip:\S+/, `${method} ${ruri}`).replace(/^CSeq: 10 INVITE$/, `CSeq: 10 ${method}`));
}

const REPLY_LINES = [
  'SIP/2.0 200 OK',
  'Via: SIP/2.0/UDP 127.0.0.1:5060;branch=z9hG4bKours1',
  'Via: SIP/2.0/UDP 192.0.2.10:5070;branch=z9hG4bK-inv1;rport=5999;received=192.0.2.99',
  'From: "Alice" <sip:alice@atlanta.test>;tag=a1',
  'To: <sip:bob@ksr.test>;tag=b2',
  'Call-ID: call-1@192.0.2.10',
  'CSeq: 10 INVITE',
  'Contact: <sip:bob@10.0.0.3>',
];

function replyContext(lines = REPLY_LINES, services?: RouteServices): RouteContext {
  return makeContext(lines, { routeType: 'reply', ...(services ? { services } : {}) });
}

/** A MyselfChecker that knows 127.0.0.1:5060 and [::1]:5060 (udp/tcp) and the alias ksr.test (any port). */
function portAwareServices(): TestServices & { calls: Array<[string, number | undefined, string | undefined]> } {
  const calls: Array<[string, number | undefined, string | undefined]> = [];
  const base = testServices();
  return {
    ...base,
    calls,
    myself: {
      isMyself(host: string, port?: number, proto?: string): boolean {
        calls.push([host, port, proto]);
        const h = host.replace(/^\[|\]$/g, '').toLowerCase();
        if (h === 'ksr.test') return true;
        if (h !== '127.0.0.1' && h !== '::1') return false;
        return (port === undefined || port === 5060) && (proto === undefined || proto === 'udp' || proto === 'tcp');
      },
    },
  };
}

// ------------------------------------------------------------------------------------ table

/** Kamailio's core KEMI table (names), plus is_TCPX. */
const KAMAILIO_CORE = [
  'dbg', 'err', 'info', 'warn', 'notice', 'crit', 'log', 'set_drop',
  'is_myself', 'is_myself_ruri', 'is_myself_duri', 'is_myself_nhuri', 'is_myself_furi', 'is_myself_turi', 'is_myself_suri', 'is_myself_srcip',
  'setflag', 'resetflag', 'isflagset', 'setbflag', 'resetbflag', 'isbflagset', 'setbiflag', 'resetbiflag', 'isbiflagset', 'setsflag', 'resetsflag', 'issflagset',
  'seturi', 'setuser', 'sethost', 'setdsturi', 'resetdsturi', 'isdsturiset', 'force_rport', 'add_local_rport', 'is_method', 'is_method_in',
  'forward', 'forward_uri', 'set_forward_close', 'set_forward_no_connect', 'set_reply_close', 'set_reply_no_connect',
  'set_advertised_address', 'set_advertised_port', 'add_tcp_alias', 'add_tcp_alias_via',
  'is_INVITE', 'is_ACK', 'is_BYE', 'is_CANCEL', 'is_REGISTER', 'is_OPTIONS', 'is_SUBSCRIBE', 'is_PUBLISH', 'is_NOTIFY', 'is_REFER', 'is_INFO',
  'is_UPDATE', 'is_PRACK', 'is_MESSAGE', 'is_KDMQ', 'is_GET', 'is_POST', 'is_PUT', 'is_DELETE',
  'is_UDP', 'is_TCP', 'is_TLS', 'is_WS', 'is_WSS', 'is_WSX', 'is_SCTP', 'is_TCPX', 'is_proto', 'is_IPv4', 'is_IPv6',
  'to_UDP', 'to_TCP', 'to_TLS', 'to_SCTP', 'to_WS', 'to_WSS', 'to_WSX', 'to_IPv4', 'to_IPv6', 'is_src_port', 'is_dst_port', 'get_debug', 'route',
];

describe('core export table', () => {
  it("has Kamailio's names with Kamailio's types", () => {
    expect(coreExports.map((e) => e.name).sort()).toEqual([...KAMAILIO_CORE].sort());
    const sig = (n: string): string => {
      const e = byName.get(n)!;
      return `${e.returns}(${e.params.join(',')})`;
    };
    expect(sig('dbg')).toBe('none(str)');
    expect(sig('log')).toBe('none(str,str)');
    expect(sig('set_drop')).toBe('none()');
    expect(sig('is_myself')).toBe('bool(str)');
    expect(sig('setbiflag')).toBe('bool(int,int)');
    expect(sig('seturi')).toBe('bool(str)');
    expect(sig('forward')).toBe('int()');
    expect(sig('forward_uri')).toBe('int(str)');
    expect(sig('set_advertised_port')).toBe('int(str)');
    expect(sig('add_tcp_alias')).toBe('int(int)');
    expect(sig('is_src_port')).toBe('bool(int)');
    expect(sig('get_debug')).toBe('int()');
    expect(sig('route')).toBe('int(str)');
    for (const e of coreExports) expect(e.doc, e.name).toBeTruthy();
  });

  it('registers with hdr and x in one registry and runs through RouteRuntime', () => {
    const reg = new KemiRegistry<RouteContext>();
    reg.addModule('', coreExports);
    reg.addModule('hdr', hdrExports);
    reg.addModule('x', xExports);
    const frozen = reg.freeze();
    expect(frozen.exportsOf('').length).toBe(coreExports.length);
    const log = memLog();
    const rt = new RouteRuntime({ registry: frozen, logger: log.logger });
    const seen: unknown[] = [];
    const call = (q: string, ...args: unknown[]): unknown => {
      const [m, f] = q.includes('.') ? q.split('.', 2) : ['', q];
      return rt.invoke(frozen.find(m!, f!)!.id, args);
    };
    const engine: ScriptEngine = {
      engineName: 'test',
      scriptPath: 'test.js',
      hasFunction: () => true,
      run(): EngineRunResult {
        try {
          seen.push(call('is_INVITE'));
          seen.push(call('setflag', '3'));
          seen.push(call('isflagset', 3));
          seen.push(call('setflag', 'abc'));
          seen.push(call('hdr.get', 'f'));
          seen.push(call('hdr.append', 'X-A: 1\r\n'));
          seen.push(call('forward'));
          call('x.exit');
          seen.push('not reached');
          return { kind: 'ok' };
        } catch (e) {
          return isRouteExit(e) ? { kind: 'exit' } : { kind: 'error', error: { message: String(e) } };
        }
      },
      dispose: () => undefined,
    };
    const services = testServices({ logger: log.logger });
    const ctx = makeContext(withMethod('INVITE', 'sip:bob@10.0.0.3'), { services });
    const res = rt.run(engine, ctx, 'ksr_request_route');
    expect(res.kind).toBe('exit');
    expect(seen).toEqual([true, true, true, false, '"Alice" <sip:alice@atlanta.test>;tag=a1', 1, 1]);
    expect(ctx.lastReturn).toBe(1);
    expect(services.sent).toHaveLength(1);
    expect(services.sent[0]!.data.toString()).toContain('X-A: 1\r\n');
    expect(log.msgs(ERROR).some((m) => m.includes('KSR.setflag: argument 1'))).toBe(true);
  });
});

// ------------------------------------------------------------------------------------ logging

describe('logging', () => {
  it('logs through the context logger with a script field, one trailing newline removed', () => {
    const log = memLog();
    const ctx = makeContext(INVITE_LINES, { services: testServices({ logger: log.logger }) });
    k(ctx, 'dbg', 'd\n');
    k(ctx, 'info', 'i\r\n');
    k(ctx, 'notice', 'n\n');
    k(ctx, 'warn', 'w');
    k(ctx, 'err', 'e\n\n');
    k(ctx, 'crit', 'c\n');
    expect(log.lines.map((l) => [l.level, l.msg, l.src])).toEqual([
      [20, 'd', 'script'],
      [30, 'i', 'script'],
      [30, 'n', 'script'],
      [40, 'w', 'script'],
      [50, 'e\n', 'script'],
      [60, 'c', 'script'],
    ]);
    expect(log.lines[2]!.slevel).toBe('notice');
    expect(log.lines[5]!.slevel).toBe('crit');
  });

  it('log(level, msg) maps the levels and falls back to err', () => {
    const log = memLog();
    const ctx = makeContext(INVITE_LINES, { services: testServices({ logger: log.logger }) });
    for (const l of ['dbg', 'info', 'notice', 'warn', 'err', 'crit', 'bogus', 'INFO']) k(ctx, 'log', l, `m-${l}\n`);
    expect(log.lines.map((l) => [l.level, l.msg])).toEqual([
      [20, 'm-dbg'],
      [30, 'm-info'],
      [30, 'm-notice'],
      [40, 'm-warn'],
      [50, 'm-err'],
      [60, 'm-crit'],
      [50, 'm-bogus'],
      [50, 'm-INFO'],
    ]);
  });

  it('does not format messages below the logger level', () => {
    const log = memLog();
    log.logger.level = 'info';
    const ctx = makeContext(INVITE_LINES, { services: testServices({ logger: log.logger }) });
    k(ctx, 'dbg', 'hidden');
    k(ctx, 'info', 'shown');
    expect(log.lines.map((l) => l.msg)).toEqual(['shown']);
  });
});

// ------------------------------------------------------------------------------------ drop

describe('set_drop', () => {
  it('marks the drop and does not end the route', () => {
    const ctx = makeContext();
    expect(k(ctx, 'set_drop')).toBeUndefined();
    expect(ctx.dropRequested).toBe(true);
    expect(ctx.exitRequested).toBe(false);
  });
});

// ------------------------------------------------------------------------------------ myself

describe('is_myself*', () => {
  it('checks URIs with host, default or explicit port and transport', () => {
    const services = portAwareServices();
    const ctx = makeContext(INVITE_LINES, { services });
    expect(k(ctx, 'is_myself', 'sip:127.0.0.1')).toBe(true);
    expect(services.calls.at(-1)).toEqual(['127.0.0.1', 5060, undefined]);
    expect(k(ctx, 'is_myself', 'sip:127.0.0.1:5080')).toBe(false);
    expect(k(ctx, 'is_myself', 'SIP:alice@127.0.0.1:5060;transport=TCP')).toBe(true);
    expect(services.calls.at(-1)).toEqual(['127.0.0.1', 5060, 'tcp']);
    expect(k(ctx, 'is_myself', 'sip:127.0.0.1;transport=sctp')).toBe(false);
    expect(k(ctx, 'is_myself', 'sips:127.0.0.1')).toBe(false); // 5061
    expect(services.calls.at(-1)).toEqual(['127.0.0.1', 5061, undefined]);
    expect(k(ctx, 'is_myself', 'sip:bob@[::1]:5060;transport=udp')).toBe(true);
    expect(services.calls.at(-1)).toEqual(['[::1]', 5060, 'udp']);
    expect(k(ctx, 'is_myself', 'sip:[::1]:5070')).toBe(false);
    expect(k(ctx, 'is_myself', 'sip:anyone@ksr.test:9999')).toBe(true);
    expect(k(ctx, 'is_myself', 'sip:example.com')).toBe(false);
    expect(k(ctx, 'is_myself', 'tel:+15551234')).toBe(false);
    expect(k(ctx, 'is_myself', 'sip:')).toBe(false);
    expect(k(ctx, 'is_myself', '')).toBe(false);
  });

  it('checks bare hosts, host:port, [v6]:port and bare IPv6', () => {
    const services = portAwareServices();
    const ctx = makeContext(INVITE_LINES, { services });
    expect(k(ctx, 'is_myself', '127.0.0.1')).toBe(true);
    expect(services.calls.at(-1)).toEqual(['127.0.0.1', undefined, undefined]);
    expect(k(ctx, 'is_myself', '127.0.0.1:5060')).toBe(true);
    expect(k(ctx, 'is_myself', '127.0.0.1:5080')).toBe(false);
    expect(k(ctx, 'is_myself', '::1')).toBe(true);
    expect(k(ctx, 'is_myself', '[::1]')).toBe(true);
    expect(k(ctx, 'is_myself', '[::1]:5060')).toBe(true);
    expect(k(ctx, 'is_myself', '[::1]:5080')).toBe(false);
    expect(k(ctx, 'is_myself', 'KSR.TEST')).toBe(true);
    expect(k(ctx, 'is_myself', 'example.com')).toBe(false);
    expect(k(ctx, 'is_myself', 'bob@ksr.test')).toBe(false);
    expect(k(ctx, 'is_myself', '127.0.0.1:99999')).toBe(false);
  });

  it('checks the R-URI as changed, $du, the next hop, From, To and the source', () => {
    const services = portAwareServices();
    const ctx = makeContext(INVITE_LINES, { services });
    expect(k(ctx, 'is_myself_ruri')).toBe(true);
    expect(k(ctx, 'is_myself_duri')).toBe(false);
    expect(k(ctx, 'is_myself_nhuri')).toBe(true);
    expect(k(ctx, 'is_myself_turi')).toBe(true);
    expect(k(ctx, 'is_myself_furi')).toBe(false);
    expect(k(ctx, 'seturi', 'sip:bob@example.com')).toBe(true);
    expect(k(ctx, 'is_myself_ruri')).toBe(false);
    expect(k(ctx, 'is_myself_nhuri')).toBe(false);
    expect(k(ctx, 'setdsturi', 'sip:127.0.0.1:5060;lr')).toBe(true);
    expect(k(ctx, 'is_myself_duri')).toBe(true);
    expect(k(ctx, 'is_myself_nhuri')).toBe(true);
    expect(k(ctx, 'is_myself_suri')).toBe(false);
    expect(k(ctx, 'is_myself_srcip')).toBe(false);
    const local = makeContext(INVITE_LINES, { services, info: { remote: { address: '127.0.0.1', port: 5060, family: 4 } } });
    expect(k(local, 'is_myself_suri')).toBe(true);
    expect(services.calls.at(-1)).toEqual(['127.0.0.1', 5060, 'udp']);
    const other = makeContext(INVITE_LINES, { services, info: { remote: { address: '127.0.0.1', port: 40000, family: 4 } } });
    expect(k(other, 'is_myself_suri')).toBe(false);
    expect(k(other, 'is_myself_srcip')).toBe(true);
  });

  it('uses From/To on replies and is false for R-URI checks there', () => {
    const ctx = replyContext(REPLY_LINES, portAwareServices());
    expect(k(ctx, 'is_myself_turi')).toBe(true);
    expect(k(ctx, 'is_myself_ruri')).toBe(false);
    expect(k(ctx, 'is_myself_nhuri')).toBe(false);
  });
});

// ------------------------------------------------------------------------------------ flags

describe('flags', () => {
  it('sets, resets and tests message flags 0..31', () => {
    const ctx = makeContext();
    expect(k(ctx, 'setflag', 3)).toBe(true);
    expect(ctx.state.flags).toBe(8);
    expect(k(ctx, 'isflagset', 3)).toBe(true);
    expect(k(ctx, 'isflagset', 4)).toBe(false);
    expect(k(ctx, 'setflag', 31)).toBe(true);
    expect(ctx.state.flags).toBe(2 ** 31 + 8);
    expect(k(ctx, 'isflagset', 31)).toBe(true);
    expect(k(ctx, 'resetflag', 3)).toBe(true);
    expect(ctx.state.flags).toBe(2 ** 31);
    expect(k(ctx, 'resetflag', 31)).toBe(true);
    expect(ctx.state.flags).toBe(0);
  });

  it('refuses flag numbers out of range with an error log', () => {
    const log = memLog();
    const ctx = makeContext(INVITE_LINES, { services: testServices({ logger: log.logger }) });
    for (const f of ['setflag', 'resetflag', 'isflagset', 'setbflag', 'setsflag', 'issflagset']) {
      expect(k(ctx, f, 32)).toBe(false);
      expect(k(ctx, f, -1)).toBe(false);
    }
    expect(k(ctx, 'setbiflag', 40, 0)).toBe(false);
    expect(k(ctx, 'setbiflag', 1, 12)).toBe(false);
    expect(k(ctx, 'isbiflagset', 1, -1)).toBe(false);
    expect(ctx.state.flags).toBe(0);
    expect(ctx.state.branchFlags).toEqual([0]);
    expect(log.msgs(ERROR)).toContain('KSR.setflag: flag 32 out of range (0..31)');
    expect(log.msgs(ERROR)).toContain('KSR.setbiflag: branch 12 out of range (0..11)');
  });

  it('keeps branch flags per branch (setbflag = branch 0)', () => {
    const ctx = makeContext();
    expect(k(ctx, 'setbflag', 2)).toBe(true);
    expect(ctx.state.branchFlags[0]).toBe(4);
    expect(k(ctx, 'isbflagset', 2)).toBe(true);
    expect(k(ctx, 'isbiflagset', 2, 0)).toBe(true);
    expect(k(ctx, 'setbiflag', 1, 3)).toBe(true);
    expect(ctx.state.branchFlags).toEqual([4, 0, 0, 2]);
    expect(k(ctx, 'isbiflagset', 1, 3)).toBe(true);
    expect(k(ctx, 'isbiflagset', 1, 2)).toBe(false);
    expect(k(ctx, 'isbiflagset', 1, 7)).toBe(false);
    expect(k(ctx, 'resetbiflag', 1, 3)).toBe(true);
    expect(k(ctx, 'resetbflag', 2)).toBe(true);
    expect(ctx.state.branchFlags).toEqual([0, 0, 0, 0]);
  });

  it('keeps script flags on the context', () => {
    const ctx = makeContext();
    expect(k(ctx, 'setsflag', 5)).toBe(true);
    expect(ctx.scriptFlags).toBe(32);
    expect(k(ctx, 'issflagset', 5)).toBe(true);
    expect(k(ctx, 'resetsflag', 5)).toBe(true);
    expect(k(ctx, 'issflagset', 5)).toBe(false);
    expect(ctx.state.flags).toBe(0);
  });
});

// ------------------------------------------------------------------------------------ URIs

function startLine(ctx: RouteContext): string {
  const s = ctx.msg.serialize().toString();
  return s.slice(0, s.indexOf('\r\n'));
}

describe('R-URI and $du', () => {
  it('seturi sets a valid URI and refuses a bad one', () => {
    const log = memLog();
    const ctx = makeContext(INVITE_LINES, { services: testServices({ logger: log.logger }) });
    expect(k(ctx, 'seturi', 'sip:carol@10.0.0.5:5070;transport=tcp')).toBe(true);
    expect(startLine(ctx)).toBe('INVITE sip:carol@10.0.0.5:5070;transport=tcp SIP/2.0');
    expect(k(ctx, 'seturi', 'not a uri')).toBe(false);
    expect(k(ctx, 'seturi', 'sip:bob@exa mple.com')).toBe(false);
    expect(k(ctx, 'seturi', 'sip:@')).toBe(false);
    expect(k(ctx, 'seturi', 'http://example.com/')).toBe(false);
    expect(k(ctx, 'seturi', 'sip:bob@example.com?Subject=x')).toBe(false);
    expect(startLine(ctx)).toBe('INVITE sip:carol@10.0.0.5:5070;transport=tcp SIP/2.0');
    expect(k(ctx, 'seturi', 'tel:+15551234')).toBe(true);
    expect(log.msgs(ERROR).filter((m) => m.startsWith('KSR.seturi'))).toHaveLength(5);
  });

  it('setuser and sethost edit the current R-URI, keeping port and parameters', () => {
    const ctx = makeContext(withMethod('INVITE', 'sip:bob:secret@ksr.test:5070;transport=tcp'));
    expect(k(ctx, 'setuser', 'carol')).toBe(true);
    expect(startLine(ctx)).toBe('INVITE sip:carol:secret@ksr.test:5070;transport=tcp SIP/2.0');
    expect(k(ctx, 'sethost', '10.0.0.1')).toBe(true);
    expect(startLine(ctx)).toBe('INVITE sip:carol:secret@10.0.0.1:5070;transport=tcp SIP/2.0');
    expect(k(ctx, 'sethost', '2001:db8::1')).toBe(true);
    expect(startLine(ctx)).toBe('INVITE sip:carol:secret@[2001:db8::1]:5070;transport=tcp SIP/2.0');
    expect(k(ctx, 'setuser', '')).toBe(true);
    expect(startLine(ctx)).toBe('INVITE sip:[2001:db8::1]:5070;transport=tcp SIP/2.0');
    expect(k(ctx, 'setuser', 'dave')).toBe(true);
    expect(startLine(ctx)).toBe('INVITE sip:dave@[2001:db8::1]:5070;transport=tcp SIP/2.0');
    for (const bad of ['', 'bad host', 'a.com:5060', 'a.com;x=1', 'u@a.com', '-a.com', '[zz]']) expect(k(ctx, 'sethost', bad), bad).toBe(false);
    expect(k(ctx, 'setuser', 'bad user')).toBe(false);
    expect(startLine(ctx)).toBe('INVITE sip:dave@[2001:db8::1]:5070;transport=tcp SIP/2.0');
  });

  it('setuser/sethost refuse a tel: R-URI', () => {
    const ctx = makeContext(withMethod('INVITE', 'tel:+15551234'));
    expect(k(ctx, 'setuser', 'x')).toBe(false);
    expect(k(ctx, 'sethost', 'example.com')).toBe(false);
  });

  it('setdsturi, isdsturiset, resetdsturi', () => {
    const ctx = makeContext();
    expect(k(ctx, 'isdsturiset')).toBe(false);
    expect(k(ctx, 'setdsturi', 'sip:10.0.0.2:5080;transport=tcp')).toBe(true);
    expect(ctx.state.dstUri).toBe('sip:10.0.0.2:5080;transport=tcp');
    expect(k(ctx, 'isdsturiset')).toBe(true);
    expect(k(ctx, 'setdsturi', 'garbage')).toBe(false);
    expect(k(ctx, 'setdsturi', '')).toBe(false);
    expect(k(ctx, 'setdsturi', 'tel:+1555')).toBe(false);
    expect(ctx.state.dstUri).toBe('sip:10.0.0.2:5080;transport=tcp');
    expect(k(ctx, 'resetdsturi')).toBe(true);
    expect(ctx.state.dstUri).toBeUndefined();
    expect(k(ctx, 'isdsturiset')).toBe(false);
  });

  it('refuses URI changes on a reply', () => {
    const ctx = replyContext();
    for (const [f, ...a] of [['seturi', 'sip:x@y.z'], ['setuser', 'x'], ['sethost', 'y.z'], ['setdsturi', 'sip:y.z'], ['resetdsturi'], ['isdsturiset']] as const) {
      expect(k(ctx, f, ...a), f).toBe(false);
    }
  });
});

describe('rport', () => {
  it('force_rport and add_local_rport set state flags', () => {
    const ctx = makeContext();
    expect(k(ctx, 'force_rport')).toBe(true);
    expect(k(ctx, 'add_local_rport')).toBe(true);
    expect(ctx.state.forceRport).toBe(true);
    expect(ctx.state.localRport).toBe(true);
  });
});

// ------------------------------------------------------------------------------------ methods

const ALL_METHODS = ['INVITE', 'ACK', 'BYE', 'CANCEL', 'REGISTER', 'OPTIONS', 'SUBSCRIBE', 'PUBLISH', 'NOTIFY', 'REFER', 'INFO', 'UPDATE', 'PRACK', 'MESSAGE', 'KDMQ', 'GET', 'POST', 'PUT', 'DELETE'];

describe('methods', () => {
  it('is_method: case-insensitive, alternatives with |', () => {
    const ctx = makeContext();
    expect(k(ctx, 'is_method', 'INVITE')).toBe(true);
    expect(k(ctx, 'is_method', 'invite')).toBe(true);
    expect(k(ctx, 'is_method', 'BYE|INVITE')).toBe(true);
    expect(k(ctx, 'is_method', 'BYE|CANCEL')).toBe(false);
    expect(k(ctx, 'is_method', 'INV')).toBe(false);
    expect(k(ctx, 'is_method', '')).toBe(false);
  });

  it('uses the CSeq method on replies', () => {
    const ctx = replyContext();
    expect(k(ctx, 'is_method', 'INVITE')).toBe(true);
    expect(k(ctx, 'is_INVITE')).toBe(true);
    expect(k(ctx, 'is_BYE')).toBe(false);
    expect(k(ctx, 'is_method_in', 'BI')).toBe(true);
    const bye = replyContext(REPLY_LINES.map((l) => (l === 'CSeq: 10 INVITE' ? 'CSeq: 11 BYE' : l)));
    expect(k(bye, 'is_method', 'INVITE')).toBe(false);
    expect(k(bye, 'is_BYE')).toBe(true);
    expect(k(bye, 'is_method_in', 'B')).toBe(true);
  });

  it('is_method_in letters', () => {
    const letters: Record<string, string> = { I: 'INVITE', A: 'ACK', B: 'BYE', C: 'CANCEL', M: 'MESSAGE', R: 'REGISTER', E: 'PRACK', P: 'PUBLISH', S: 'SUBSCRIBE', N: 'NOTIFY', O: 'OPTIONS', F: 'REFER', G: 'GET', U: 'UPDATE', K: 'KDMQ', D: 'DELETE', T: 'POST', V: 'PUT' };
    const all = Object.keys(letters).join('');
    for (const [letter, method] of Object.entries(letters)) {
      const ctx = makeContext(withMethod(method));
      expect(k(ctx, 'is_method_in', letter), method).toBe(true);
      expect(k(ctx, 'is_method_in', letter.toLowerCase()), method).toBe(true);
      expect(k(ctx, 'is_method_in', all.replace(letter, '')), method).toBe(false);
    }
    const info = makeContext(withMethod('INFO'));
    expect(k(info, 'is_method_in', all)).toBe(false);
    const odd = makeContext(withMethod('FOO'));
    expect(k(odd, 'is_method_in', all)).toBe(false);
    expect(k(odd, 'is_method', 'foo')).toBe(true);
  });

  it('every is_<METHOD> matches its method only', () => {
    for (const m of ALL_METHODS) {
      const ctx = makeContext(withMethod(m));
      for (const other of ALL_METHODS) expect(k(ctx, `is_${other}`), `${m} is_${other}`).toBe(m === other);
    }
  });
});

// ------------------------------------------------------------------------------------ forwarding

/** Split a forwarded request into [text before the first Via, the added Via line, the rest]. */
function splitAddedVia(ctxRaw: Buffer, sent: Buffer): { line: string; before: string; after: string; rawBefore: string; rawAfter: string } {
  const raw = ctxRaw.toString('latin1');
  const out = sent.toString('latin1');
  const at = raw.indexOf('\r\nVia:') + 2;
  const end = out.indexOf('\r\n', at) + 2;
  return { line: out.slice(at, end), before: out.slice(0, at), after: out.slice(end), rawBefore: raw.slice(0, at), rawAfter: raw.slice(at) };
}

const tick = (): Promise<void> => new Promise((r) => setImmediate(r));

describe('forward (requests)', () => {
  it('forwards to $du: our Via on top with a stateless branch, the rest byte-identical', () => {
    const services = testServices();
    const ctx = makeContext(INVITE_LINES, { services });
    const raw = Buffer.from(ctx.msg.raw);
    expect(k(ctx, 'setdsturi', 'sip:10.0.0.2:5080')).toBe(true);
    expect(k(ctx, 'forward')).toBe(1);
    expect(ctx.relayed).toBe(true);
    expect(services.sent).toHaveLength(1);
    const { target, data } = services.sent[0]!;
    expect(target).toEqual({ proto: 'udp', address: '10.0.0.2', port: 5080 });
    const p = splitAddedVia(raw, data);
    expect(p.line).toMatch(/^Via: SIP\/2\.0\/UDP 127\.0\.0\.1:5060;branch=z9hG4bK[0-9a-f]{24}\r\n$/);
    expect(p.before).toBe(p.rawBefore);
    expect(p.after).toBe(p.rawAfter);
    const fwd = parseMessage(data) as SipRequest;
    expect(fwd.via).toHaveLength(2);
    expect(fwd.via[1]!.branch).toBe('z9hG4bK-inv1');
    // the added Via belongs to the sent copy only
    expect(ctx.msg.serialize().equals(raw)).toBe(true);
  });

  it('forwards to the new R-URI, else the received one, default port 5060', () => {
    const services = testServices();
    const ctx = makeContext(withMethod('INVITE', 'sip:bob@10.0.0.3'), { services });
    expect(k(ctx, 'forward')).toBe(1);
    expect(services.sent[0]!.target).toEqual({ proto: 'udp', address: '10.0.0.3', port: 5060 });
    expect(k(ctx, 'seturi', 'sip:carol@10.0.0.4:5090')).toBe(true);
    expect(k(ctx, 'forward')).toBe(1);
    expect(services.sent[1]!.target).toEqual({ proto: 'udp', address: '10.0.0.4', port: 5090 });
    const fwd = parseMessage(services.sent[1]!.data) as SipRequest;
    expect(fwd.uri).toBe('sip:carol@10.0.0.4:5090');
    expect(fwd.via).toHaveLength(2); // one added Via, not one per forward
  });

  it('uses a deterministic branch: same for retransmissions and the CANCEL, different per target', () => {
    const mk = (method = 'INVITE'): { ctx: RouteContext; services: TestServices } => {
      const services = testServices();
      return { ctx: makeContext(withMethod(method, 'sip:bob@10.0.0.3'), { services }), services };
    };
    const branchOf = (s: TestServices, i = 0): string | undefined => parseMessage(s.sent[i]!.data).via[0]!.branch;
    const a = mk();
    const b = mk();
    const c = mk('CANCEL');
    k(a.ctx, 'forward');
    k(b.ctx, 'forward');
    k(c.ctx, 'forward');
    expect(branchOf(a.services)).toBe(branchOf(b.services));
    expect(branchOf(c.services)).toBe(branchOf(a.services));
    k(a.ctx, 'forward_uri', 'sip:10.0.0.9');
    expect(branchOf(a.services, 1)).not.toBe(branchOf(a.services, 0));
    expect(branchOf(a.services)).not.toBe('z9hG4bK-inv1');
    // an RFC 2543 top Via (no magic cookie): derived from the transaction identifiers
    const old = parseMessage(sipText(INVITE_LINES.map((l) => l.replace('branch=z9hG4bK-inv1', 'branch=1')))) as SipRequest;
    const old2 = parseMessage(sipText(INVITE_LINES.map((l) => l.replace('branch=z9hG4bK-inv1', 'branch=1')))) as SipRequest;
    expect(statelessBranch(old, 'sip:x')).toBe(statelessBranch(old2, 'sip:x'));
    expect(statelessBranch(old, 'sip:x')).toMatch(/^z9hG4bK[0-9a-f]{24}$/);
  });

  it('forward_uri with transport=tcp goes over TCP (Content-Length kept)', () => {
    const services = testServices();
    const ctx = makeContext(INVITE_LINES, { services });
    expect(k(ctx, 'forward_uri', 'sip:10.0.0.9:5070;transport=TCP')).toBe(1);
    const { target, data } = services.sent[0]!;
    expect(target).toEqual({ proto: 'tcp', address: '10.0.0.9', port: 5070 });
    expect(data.toString()).toMatch(/\r\nVia: SIP\/2\.0\/TCP 127\.0\.0\.1:5060;branch=z9hG4bK[0-9a-f]{24}\r\n/);
    expect(data.toString()).toContain('Content-Length: 0\r\n');
  });

  it('forwards to IPv6 from the IPv6 socket', () => {
    const services = testServices();
    const ctx = makeContext(INVITE_LINES, { services });
    expect(k(ctx, 'forward_uri', 'sip:bob@[2001:db8::1]:5062')).toBe(1);
    expect(services.sent[0]!.target).toEqual({ proto: 'udp', address: '2001:db8::1', port: 5062 });
    expect(services.sent[0]!.data.toString()).toContain('\r\nVia: SIP/2.0/UDP [::1]:5060;branch=');
  });

  it('adds ;rport with add_local_rport and uses the advertised address and port', () => {
    const services = testServices();
    const ctx = makeContext(INVITE_LINES, { services });
    k(ctx, 'add_local_rport');
    expect(k(ctx, 'set_advertised_address', '203.0.113.5')).toBe(1);
    expect(k(ctx, 'set_advertised_port', '5099')).toBe(1);
    expect(k(ctx, 'forward_uri', 'sip:10.0.0.9')).toBe(1);
    expect(services.sent[0]!.data.toString()).toMatch(/\r\nVia: SIP\/2\.0\/UDP 203\.0\.113\.5:5099;branch=z9hG4bK[0-9a-f]{24};rport\r\n/);
    k(ctx, 'set_advertised_address', '2001:db8::7');
    k(ctx, 'forward_uri', 'sip:10.0.0.9');
    expect(services.sent[1]!.data.toString()).toContain('Via: SIP/2.0/UDP [2001:db8::7]:5099;branch=');
  });

  it('force_rport stamps received/rport on the received top Via', () => {
    const services = testServices();
    const lines = INVITE_LINES.map((l) => l.replace(';rport', ''));
    const ctx = makeContext(lines, { services });
    k(ctx, 'force_rport');
    expect(k(ctx, 'forward_uri', 'sip:10.0.0.9')).toBe(1);
    const fwd = parseMessage(services.sent[0]!.data);
    expect(fwd.via[1]!.received).toBe('192.0.2.10');
    expect(fwd.via[1]!.rport).toBe(5070);
  });

  it('returns -1 for targets it cannot reach', () => {
    const log = memLog();
    const services = testServices({ logger: log.logger });
    const ctx = makeContext(INVITE_LINES, { services });
    expect(k(ctx, 'forward')).toBe(-1); // sip:bob@ksr.test needs DNS
    expect(log.msgs(ERROR).at(-1)).toContain('DNS resolution is not supported yet');
    expect(k(ctx, 'forward_uri', 'sips:10.0.0.9')).toBe(-1);
    expect(k(ctx, 'forward_uri', 'sip:10.0.0.9;transport=tls')).toBe(-1);
    expect(k(ctx, 'forward_uri', 'sip:10.0.0.9;transport=ws')).toBe(-1);
    expect(k(ctx, 'forward_uri', 'tel:+1555')).toBe(-1);
    expect(k(ctx, 'forward_uri', 'garbage')).toBe(-1);
    expect(services.sent).toHaveLength(0);
    expect(ctx.relayed).toBe(false);
    const noSock = { ...testServices(), localAddress: () => undefined };
    const ctx2 = makeContext(INVITE_LINES, { services: noSock });
    expect(k(ctx2, 'forward_uri', 'sip:10.0.0.9')).toBe(-1);
    expect(noSock.sent).toHaveLength(0);
  });

  it('logs a send that fails later', async () => {
    const log = memLog();
    const services: RouteServices = { ...testServices({ logger: log.logger }), send: () => Promise.reject(new Error('boom')) };
    const ctx = makeContext(INVITE_LINES, { services });
    expect(k(ctx, 'forward_uri', 'sip:10.0.0.9')).toBe(1);
    await tick();
    expect(log.msgs(ERROR).some((m) => m.includes('KSR.forward_uri: sending to udp:10.0.0.9:5060 failed: boom'))).toBe(true);
  });

  it('connection preferences are stored on the state', () => {
    const ctx = makeContext();
    for (const f of ['set_forward_close', 'set_forward_no_connect', 'set_reply_close', 'set_reply_no_connect']) expect(k(ctx, f)).toBe(true);
    expect([ctx.state.forwardClose, ctx.state.forwardNoConnect, ctx.state.replyClose, ctx.state.replyNoConnect]).toEqual([true, true, true, true]);
  });
});

describe('forward (replies)', () => {
  it('removes our Via and sends to the next Via received/rport', () => {
    const services = testServices();
    const ctx = replyContext(REPLY_LINES, services);
    const raw = ctx.msg.raw.toString('latin1');
    expect(k(ctx, 'forward')).toBe(1);
    expect(ctx.relayed).toBe(true);
    const { target, data } = services.sent[0]!;
    expect(target).toEqual({ proto: 'udp', address: '192.0.2.99', port: 5999 });
    expect(data.toString('latin1')).toBe(raw.replace('Via: SIP/2.0/UDP 127.0.0.1:5060;branch=z9hG4bKours1\r\n', ''));
    // a second forward does not strip the next Via
    expect(k(ctx, 'forward')).toBe(1);
    expect(services.sent[1]!.data.equals(data)).toBe(true);
  });

  it('uses sent-by host and port (or 5060) without received/rport, TCP from the Via', () => {
    const services = testServices();
    const lines = REPLY_LINES.map((l) => (l.startsWith('Via: SIP/2.0/UDP 192') ? 'Via: SIP/2.0/TCP 192.0.2.10;branch=z9hG4bK-inv1' : l));
    const ctx = replyContext(lines, services);
    expect(k(ctx, 'forward')).toBe(1);
    expect(services.sent[0]!.target).toEqual({ proto: 'tcp', address: '192.0.2.10', port: 5060 });
  });

  it('refuses a reply whose top Via is not ours, or that has no next Via', () => {
    const services = testServices();
    const notOurs = replyContext(REPLY_LINES.map((l) => l.replace('127.0.0.1:5060', '198.51.100.1:5060')), services);
    expect(k(notOurs, 'forward')).toBe(-1);
    const single = replyContext(REPLY_LINES.filter((l) => !l.startsWith('Via: SIP/2.0/UDP 192')), services);
    expect(k(single, 'forward')).toBe(-1);
    const named = replyContext(REPLY_LINES.map((l) => (l.startsWith('Via: SIP/2.0/UDP 192') ? 'Via: SIP/2.0/UDP ua.example.com;branch=z9hG4bK-x' : l)), services);
    expect(k(named, 'forward')).toBe(-1);
    expect(k(replyContext(REPLY_LINES, services), 'forward_uri', 'sip:10.0.0.1')).toBe(-1);
    expect(services.sent).toHaveLength(0);
  });
});

// ------------------------------------------------------------------------------------ socket settings

describe('advertised address/port and TCP aliases', () => {
  it('validates and stores advertised values', () => {
    const ctx = makeContext();
    expect(k(ctx, 'set_advertised_address', 'proxy.example.com')).toBe(1);
    expect(ctx.state.advertisedAddress).toBe('proxy.example.com');
    expect(k(ctx, 'set_advertised_address', '[2001:db8::1]')).toBe(1);
    expect(ctx.state.advertisedAddress).toBe('2001:db8::1');
    for (const bad of ['', 'a b', 'x@y', 'h:5060']) expect(k(ctx, 'set_advertised_address', bad), bad).toBe(-1);
    expect(k(ctx, 'set_advertised_port', '5080')).toBe(1);
    expect(ctx.state.advertisedPort).toBe('5080');
    for (const bad of ['', '0', '65536', 'abc', '-1', '50 60']) expect(k(ctx, 'set_advertised_port', bad), bad).toBe(-1);
    expect(ctx.state.advertisedPort).toBe('5080');
  });

  it('add_tcp_alias and add_tcp_alias_via are accepted (debug log)', () => {
    const log = memLog();
    const ctx = makeContext(INVITE_LINES, { services: testServices({ logger: log.logger }), info: { proto: 'tcp' } });
    expect(k(ctx, 'add_tcp_alias', 5080)).toBe(1);
    expect(k(ctx, 'add_tcp_alias_via')).toBe(1);
    expect(log.msgs(20).filter((m) => m.includes('not supported'))).toHaveLength(2);
  });
});

// ------------------------------------------------------------------------------------ transports

describe('transport and address tests', () => {
  it('is_* use the receiving protocol and family', () => {
    const udp = makeContext();
    expect([k(udp, 'is_UDP'), k(udp, 'is_TCP'), k(udp, 'is_TCPX'), k(udp, 'is_TLS'), k(udp, 'is_WS'), k(udp, 'is_WSS'), k(udp, 'is_WSX'), k(udp, 'is_SCTP')]).toEqual([
      true, false, false, false, false, false, false, false,
    ]);
    expect(k(udp, 'is_proto', 'u')).toBe(true);
    expect(k(udp, 'is_proto', 'tevws')).toBe(false);
    expect(k(udp, 'is_proto', 'tU')).toBe(true);
    expect(k(udp, 'is_IPv4')).toBe(true);
    expect(k(udp, 'is_IPv6')).toBe(false);
    const tcp = makeContext(INVITE_LINES, { info: { proto: 'tcp', local: { address: '::1', port: 5060, family: 6 }, remote: { address: '::1', port: 40000, family: 6 } } });
    expect([k(tcp, 'is_UDP'), k(tcp, 'is_TCP'), k(tcp, 'is_TCPX')]).toEqual([false, true, true]);
    expect(k(tcp, 'is_proto', 't')).toBe(true);
    expect(k(tcp, 'is_proto', 'u')).toBe(false);
    expect(k(tcp, 'is_IPv6')).toBe(true);
    expect(k(tcp, 'is_IPv4')).toBe(false);
  });

  it('is_src_port / is_dst_port', () => {
    const ctx = makeContext();
    expect(k(ctx, 'is_src_port', 5070)).toBe(true);
    expect(k(ctx, 'is_src_port', 5060)).toBe(false);
    expect(k(ctx, 'is_dst_port', 5060)).toBe(true);
    expect(k(ctx, 'is_dst_port', 5070)).toBe(false);
  });

  it('to_* look at $du, else the R-URI', () => {
    const ctx = makeContext(withMethod('INVITE', 'sip:bob@ksr.test'));
    expect(k(ctx, 'to_UDP')).toBe(true);
    expect(k(ctx, 'to_TCP')).toBe(false);
    expect(k(ctx, 'to_IPv4')).toBe(false); // a host name
    expect(k(ctx, 'to_IPv6')).toBe(false);
    k(ctx, 'setdsturi', 'sip:10.0.0.2;transport=tcp');
    expect([k(ctx, 'to_UDP'), k(ctx, 'to_TCP'), k(ctx, 'to_IPv4')]).toEqual([false, true, true]);
    k(ctx, 'setdsturi', 'sip:[2001:db8::2];transport=ws');
    expect([k(ctx, 'to_WS'), k(ctx, 'to_WSX'), k(ctx, 'to_WSS'), k(ctx, 'to_IPv6'), k(ctx, 'to_IPv4')]).toEqual([true, true, false, true, false]);
    k(ctx, 'resetdsturi');
    k(ctx, 'seturi', 'sips:bob@10.1.1.1');
    expect([k(ctx, 'to_TLS'), k(ctx, 'to_UDP'), k(ctx, 'to_IPv4')]).toEqual([true, false, true]);
    k(ctx, 'seturi', 'sip:bob@10.1.1.1;transport=sctp');
    expect(k(ctx, 'to_SCTP')).toBe(true);
  });

  it('to_* look at the next Via for a reply', () => {
    const ctx = replyContext();
    expect([k(ctx, 'to_UDP'), k(ctx, 'to_TCP'), k(ctx, 'to_IPv4'), k(ctx, 'to_IPv6')]).toEqual([true, false, true, false]);
  });
});

// ------------------------------------------------------------------------------------ misc

describe('get_debug and route', () => {
  it('get_debug returns the debug level of the services', () => {
    expect(k(makeContext(INVITE_LINES, { services: testServices({ debug: 3 }) }), 'get_debug')).toBe(3);
    expect(k(makeContext(), 'get_debug')).toBe(2);
  });

  it('route(name) logs an error naming the route and returns -1', () => {
    const log = memLog();
    const ctx = makeContext(INVITE_LINES, { services: testServices({ logger: log.logger }) });
    expect(k(ctx, 'route', 'RELAY')).toBe(-1);
    expect(log.msgs(ERROR).at(-1)).toContain('KSR.route("RELAY")');
  });
});
