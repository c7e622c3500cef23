import { describe, expect, it } from 'vitest';
import { ErrorCodes, KsrError } from '../../src/errors.js';
import { KemiRegistry } from '../../src/kemi/registry.js';
import type { KemiExportDef, KemiParamType } from '../../src/kemi/types.js';

const noop = (): number => 1;

function def(name: string, params: KemiExportDef['params'] = [], returns: KemiExportDef['returns'] = 'int'): KemiExportDef {
  return { name, params, returns, fn: noop };
}

/** Run `f` and return the KsrError it throws (fails the test if it throws anything else or nothing). */
function ksrError(f: () => unknown): KsrError {
  try {
    f();
  } catch (e) {
    expect(e).toBeInstanceOf(KsrError);
    return e as KsrError;
  }
  throw new Error('expected a KsrError, nothing was thrown');
}

describe('KemiRegistry: ids and lookup', () => {
  it('gives dense, stable ids in registration order across modules', () => {
    const reg = new KemiRegistry();
    reg.addModule('', [def('is_INVITE'), def('setflag', ['int'], 'bool')]);
    reg.addModule('hdr', [def('get', ['str'], 'xval'), def('append', ['str'])]);
    reg.addModule('sl', [def('send_reply', ['int', 'str'])]);
    const f = reg.freeze();
    expect(f.exports.map((e) => [e.id, e.qualified])).toEqual([
      [0, 'KSR.is_INVITE'],
      [1, 'KSR.setflag'],
      [2, 'KSR.hdr.get'],
      [3, 'KSR.hdr.append'],
      [4, 'KSR.sl.send_reply'],
    ]);
    f.exports.forEach((e, i) => expect(e.id).toBe(i));
    expect(f.modules).toEqual(['', 'hdr', 'sl']);
  });

  it('keeps module, name and qualified name on each export', () => {
    const reg = new KemiRegistry();
    reg.addModule('sl', [{ ...def('send_reply', ['int', 'str']), doc: 'Send a stateless reply.', paramNames: ['code', 'reason'] }]);
    const e = reg.freeze().find('sl', 'send_reply');
    expect(e).toMatchObject({ id: 0, module: 'sl', name: 'send_reply', qualified: 'KSR.sl.send_reply', returns: 'int', params: ['int', 'str'], doc: 'Send a stateless reply.', paramNames: ['code', 'reason'] });
  });

  it('groups exports by module and finds them by (module, name), case-sensitively', () => {
    const reg = new KemiRegistry();
    reg.addModule('', [def('is_INVITE')]);
    reg.addModule('pv', [def('get', ['str'], 'xval'), def('gete', ['str'], 'xval')]);
    const f = reg.freeze();
    expect(f.exportsOf('pv').map((e) => e.name)).toEqual(['get', 'gete']);
    expect(f.exportsOf('').map((e) => e.name)).toEqual(['is_INVITE']);
    expect(f.exportsOf('nosuch')).toEqual([]);
    expect(f.find('', 'is_INVITE')?.id).toBe(0);
    expect(f.find('', 'is_invite')).toBeUndefined();
    expect(f.find('pv', 'gete')?.id).toBe(2);
    expect(f.find('pv', 'getw')).toBeUndefined();
    expect(f.find('hdr', 'get')).toBeUndefined();
  });

  it('accepts an empty module (it exists, with no functions)', () => {
    const reg = new KemiRegistry();
    reg.addModule('empty', []);
    const f = reg.freeze();
    expect(f.modules).toEqual(['empty']);
    expect(f.exportsOf('empty')).toEqual([]);
  });

  it('accepts 0..6 parameters of every type and every return type', () => {
    const reg = new KemiRegistry();
    const defs: KemiExportDef[] = [];
    for (let n = 0; n <= 6; n++) defs.push(def(`f${n}`, Array.from({ length: n }, (_, i): KemiParamType => (['int', 'str', 'long'] as const)[i % 3]!)));
    for (const r of ['int', 'bool', 'xval', 'none'] as const) defs.push(def(`r_${r}`, [], r));
    reg.addModule('m', defs);
    expect(reg.freeze().exports).toHaveLength(11);
  });
});

describe('KemiRegistry: freezing', () => {
  it('freeze() is idempotent and the view is read-only', () => {
    const reg = new KemiRegistry();
    reg.addModule('m', [def('f')]);
    expect(reg.isFrozen).toBe(false);
    const a = reg.freeze();
    expect(reg.isFrozen).toBe(true);
    expect(reg.freeze()).toBe(a);
    expect(Object.isFrozen(a.exports)).toBe(true);
    expect(Object.isFrozen(a.exports[0])).toBe(true);
    expect(Object.isFrozen(a.modules)).toBe(true);
    expect(Object.isFrozen(a.exportsOf('m'))).toBe(true);
  });

  it('refuses registration after freeze with KSR_ERR_KEMI_FROZEN', () => {
    const reg = new KemiRegistry();
    reg.addModule('m', [def('f')]);
    const f = reg.freeze();
    const e = ksrError(() => reg.addModule('late', [def('g')]));
    expect(e.code).toBe(ErrorCodes.KEMI_FROZEN);
    expect(e.message).toContain('KSR.late');
    expect(ksrError(() => reg.addModule('', [def('g')])).code).toBe(ErrorCodes.KEMI_FROZEN);
    expect(f.exports).toHaveLength(1);
    expect(f.modules).toEqual(['m']);
  });
});

describe('KemiRegistry: duplicates (KSR_ERR_KEMI_DUPLICATE)', () => {
  it('refuses the same module twice', () => {
    const reg = new KemiRegistry();
    reg.addModule('sl', [def('send_reply', ['int', 'str'])]);
    const e = ksrError(() => reg.addModule('sl', [def('other')]));
    expect(e.code).toBe(ErrorCodes.KEMI_DUPLICATE);
    expect(e.message).toContain("'sl'");
  });

  it('refuses the core twice', () => {
    const reg = new KemiRegistry();
    reg.addModule('', [def('a')]);
    expect(ksrError(() => reg.addModule('', [def('b')])).code).toBe(ErrorCodes.KEMI_DUPLICATE);
  });

  it('refuses the same function twice in one table', () => {
    const reg = new KemiRegistry();
    const e = ksrError(() => reg.addModule('hdr', [def('get', ['str'], 'xval'), def('get', ['str'], 'xval')]));
    expect(e.code).toBe(ErrorCodes.KEMI_DUPLICATE);
    expect(e.message).toContain('KSR.hdr.get');
  });

  it('refuses a core function named like a module already registered', () => {
    const reg = new KemiRegistry();
    reg.addModule('hdr', [def('get', ['str'], 'xval')]);
    const e = ksrError(() => reg.addModule('', [def('is_INVITE'), def('hdr')]));
    expect(e.code).toBe(ErrorCodes.KEMI_DUPLICATE);
    expect(e.message).toContain('KSR.hdr');
  });

  it('refuses a module named like a core function already registered', () => {
    const reg = new KemiRegistry();
    reg.addModule('', [def('route', ['str'])]);
    const e = ksrError(() => reg.addModule('route', [def('f')]));
    expect(e.code).toBe(ErrorCodes.KEMI_DUPLICATE);
    expect(e.message).toContain('KSR.route');
  });

  it('allows the same function name in different modules', () => {
    const reg = new KemiRegistry();
    reg.addModule('hdr', [def('get', ['str'], 'xval')]);
    reg.addModule('pv', [def('get', ['str'], 'xval')]);
    reg.addModule('', [def('get', ['str'], 'xval')]);
    const f = reg.freeze();
    expect([f.find('hdr', 'get')?.id, f.find('pv', 'get')?.id, f.find('', 'get')?.id]).toEqual([0, 1, 2]);
  });
});

describe('KemiRegistry: invalid tables (KSR_ERR_KEMI_INVALID)', () => {
  const bad: Array<[string, string, KemiExportDef[], string]> = [
    ['more than 6 parameters', 'm', [def('seven', ['str', 'str', 'str', 'str', 'str', 'str', 'str'])], '7 parameters'],
    ['an unknown parameter type', 'm', [def('f', ['str', 'float' as 'str'])], "unknown parameter type 'float'"],
    ['an unknown return type', 'm', [def('f', [], 'void' as 'none')], "unknown return type 'void'"],
    ['a function name with a dot', 'm', [def('a.b')], 'KSR.m.a.b: invalid function name'],
    ['a function name starting with a digit', 'm', [def('1f')], 'invalid function name'],
    ['an empty function name', 'm', [def('')], 'invalid function name'],
    ['a function name with a dash', '', [def('is-invite')], 'KSR.is-invite: invalid function name'],
    ['a module name with a dot', 'a.b', [def('f')], "invalid KEMI module name 'a.b'"],
    ['a module name with a space', 'my mod', [def('f')], 'invalid KEMI module name'],
    ['a module name starting with a digit', '2fa', [def('f')], 'invalid KEMI module name'],
    ['fn that is not a function', 'm', [{ ...def('f'), fn: 42 as unknown as KemiExportDef['fn'] }], 'fn is not a function'],
  ];
  for (const [what, module, defs, text] of bad) {
    it(`refuses ${what}`, () => {
      const reg = new KemiRegistry();
      const e = ksrError(() => reg.addModule(module, defs));
      expect(e.code).toBe(ErrorCodes.KEMI_INVALID);
      expect(e.message).toContain(text);
    });
  }

  it('accepts exactly 6 parameters', () => {
    const reg = new KemiRegistry();
    reg.addModule('tm', [def('t_uac_send', ['str', 'str', 'str', 'str', 'str', 'str'])]);
    expect(reg.freeze().find('tm', 't_uac_send')?.params).toHaveLength(6);
  });
});

describe('KemiRegistry: a bad table leaves the registry unchanged', () => {
  const cases: Array<[string, string, KemiExportDef[], string]> = [
    ['an invalid last entry', 'tm', [def('t_relay'), def('t_reply', ['int', 'str']), def('bad', ['x' as 'str'])], ErrorCodes.KEMI_INVALID],
    ['a duplicate last entry', 'tm', [def('t_relay'), def('t_reply', ['int', 'str']), def('t_relay')], ErrorCodes.KEMI_DUPLICATE],
    ['too many params in the middle', 'tm', [def('t_relay'), def('x', ['int', 'int', 'int', 'int', 'int', 'int', 'int']), def('t_reply')], ErrorCodes.KEMI_INVALID],
    ['a core function clashing with a module', '', [def('ok'), def('hdr')], ErrorCodes.KEMI_DUPLICATE],
  ];
  for (const [what, module, defs, code] of cases) {
    it(`after ${what}`, () => {
      const base = (): KemiRegistry => {
        const reg = new KemiRegistry();
        reg.addModule('hdr', [def('get', ['str'], 'xval')]);
        reg.addModule('sl', [def('send_reply', ['int', 'str'])]);
        return reg;
      };
      const expected = base().freeze();
      const reg = base();
      expect(ksrError(() => reg.addModule(module, defs)).code).toBe(code);
      const got = reg.freeze();
      expect(got.apiList()).toEqual(expected.apiList());
      expect(got.modules).toEqual(expected.modules);
      expect(got.find(module, 't_relay') ?? got.find(module, 'ok')).toBeUndefined();
    });
  }

  it('the module name stays free: a corrected table can be added afterwards, with the next ids', () => {
    const reg = new KemiRegistry();
    reg.addModule('hdr', [def('get', ['str'], 'xval')]);
    expect(() => reg.addModule('tm', [def('t_relay'), def('t_relay')])).toThrow(KsrError);
    reg.addModule('tm', [def('t_relay'), def('t_reply', ['int', 'str'])]);
    const f = reg.freeze();
    expect(f.modules).toEqual(['hdr', 'tm']);
    expect(f.exports.map((e) => `${e.id}:${e.qualified}`)).toEqual(['0:KSR.hdr.get', '1:KSR.tm.t_relay', '2:KSR.tm.t_reply']);
  });
});

describe('FrozenKemiRegistry.apiList', () => {
  it("has Kamailio's api_list shape: msize and methods[].func {ret, module, name, params}", () => {
    const reg = new KemiRegistry();
    reg.addModule('', [def('is_INVITE', [], 'bool')]);
    reg.addModule('pv', [def('getw', ['str'], 'xval'), def('setl', ['str', 'long'], 'bool')]);
    reg.addModule('sl', [def('send_reply', ['int', 'str'])]);
    reg.addModule('x', [def('exit', [], 'none')]);
    expect(reg.freeze().apiList()).toEqual({
      msize: 5,
      methods: [
        { func: { ret: 'bool', module: '', name: 'is_INVITE', params: 'none' } },
        { func: { ret: 'xval', module: 'pv', name: 'getw', params: 'str' } },
        { func: { ret: 'bool', module: 'pv', name: 'setl', params: 'str, long' } },
        { func: { ret: 'int', module: 'sl', name: 'send_reply', params: 'int, str' } },
        { func: { ret: 'none', module: 'x', name: 'exit', params: 'none' } },
      ],
    });
  });

  it('is JSON-serialisable (the RPC returns it as is)', () => {
    const reg = new KemiRegistry();
    reg.addModule('pv', [def('setl', ['str', 'long'], 'bool')]);
    const list = reg.freeze().apiList();
    expect(JSON.parse(JSON.stringify(list))).toEqual(list);
  });

  it('an empty registry lists nothing', () => {
    expect(new KemiRegistry().freeze().apiList()).toEqual({ msize: 0, methods: [] });
  });
});
