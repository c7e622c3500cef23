import { describe, expect, it } from 'vitest';
import { XAVP_VALUE } from '../../src/pv/index.js';
import { MessageState } from '../../src/routing/context.js';
import { makeContext, testServices } from '../support/context.js';
import { compiled, pv, servicesWithLog, setPv } from './helpers.js';

describe('$var, $vz, $vn', () => {
  it('persist across contexts built with the same services (one worker)', () => {
    const services = testServices();
    const a = makeContext(undefined, { services });
    expect(setPv(a, '$var(x)', 'hello')).toBe(true);
    expect(setPv(a, '$var(n)', 5)).toBe(true);
    const b = makeContext(undefined, { services });
    expect(pv(b, '$var(x)')).toBe('hello');
    expect(pv(b, '$var(n)')).toBe(5);
    expect(services.vars.get('x')).toBe('hello');
    // another worker does not see them
    expect(pv(makeContext(), '$var(x)')).toBe(0);
  });

  it('are never null: unset reads 0 and $null stores 0', () => {
    const c = makeContext();
    expect(pv(c, '$var(unset)')).toBe(0);
    setPv(c, '$var(y)', 'v');
    expect(setPv(c, '$var(y)', null)).toBe(true);
    expect(pv(c, '$var(y)')).toBe(0);
  });

  it('$vz is the same variable; $vn can hold null', () => {
    const services = testServices();
    const c = makeContext(undefined, { services });
    setPv(c, '$var(z)', 3);
    expect(pv(c, '$vz(z)')).toBe(3);
    expect(pv(c, '$vn(z)')).toBeNull();
    setPv(c, '$vn(z)', 'n');
    expect(pv(makeContext(undefined, { services }), '$vn(z)')).toBe('n');
    setPv(c, '$vn(z)', null);
    expect(pv(c, '$vn(z)')).toBeNull();
    expect(pv(c, '$var(z)')).toBe(3);
  });
});

describe('$shv', () => {
  it('is shared through services.shv; unset reads 0, $null stores 0', () => {
    const s1 = testServices();
    const s2 = { ...testServices(), shv: s1.shv };
    const a = makeContext(undefined, { services: s1 });
    const b = makeContext(undefined, { services: s2 });
    expect(pv(a, '$shv(debug)')).toBe(0);
    expect(setPv(a, '$shv(debug)', 2)).toBe(true);
    expect(pv(b, '$shv(debug)')).toBe(2);
    expect(s1.shv.get('debug')).toBe(2);
    setPv(b, '$shv(debug)', null);
    expect(pv(a, '$shv(debug)')).toBe(0);
  });
});

describe('$avp', () => {
  it('is a stack, newest first, kept in the message state', () => {
    const c = makeContext();
    setPv(c, '$avp(x)', 'a');
    setPv(c, '$avp(x)', 2);
    setPv(c, '$avp(s:x)', 'c');
    expect(c.state.avps.get('x')).toEqual(['c', 2, 'a']);
    expect(pv(c, '$avp(x)')).toBe('c');
    expect(pv(c, '$avp(s:x)')).toBe('c');
    expect(pv(c, '$(avp(x)[0])')).toBe('c');
    expect(pv(c, '$(avp(x)[1])')).toBe(2);
    expect(pv(c, '$(avp(x)[2])')).toBe('a');
    expect(pv(c, '$(avp(x)[-1])')).toBe('a');
    expect(pv(c, '$(avp(x)[3])')).toBeNull();
    expect(pv(c, '$(avp(x)[*])')).toBe('c,2,a');
    expect(pv(c, '$cnt($avp(x))')).toBe(3);
    expect(pv(c, '$avp(other)')).toBeNull();
    expect(pv(c, '$cnt($avp(other))')).toBe(0);
  });

  it('survives route runs that share the message state', () => {
    const state = new MessageState();
    setPv(makeContext(undefined, { state }), '$avp(k)', 'v');
    expect(pv(makeContext(undefined, { state }), '$avp(k)')).toBe('v');
  });

  it('$null removes the newest; indexes remove or replace one; [*] all', () => {
    const c = makeContext();
    for (const v of ['a', 'b', 'c', 'd']) setPv(c, '$avp(x)', v);
    expect(setPv(c, '$avp(x)', null)).toBe(true);
    expect(c.state.avps.get('x')).toEqual(['c', 'b', 'a']);
    expect(setPv(c, '$(avp(x)[1])', null)).toBe(true);
    expect(c.state.avps.get('x')).toEqual(['c', 'a']);
    expect(setPv(c, '$(avp(x)[-1])', 'z')).toBe(true);
    expect(c.state.avps.get('x')).toEqual(['c', 'z']);
    expect(setPv(c, '$(avp(x)[5])', 'q')).toBe(false);
    expect(setPv(c, '$(avp(x)[*])', 'only')).toBe(true);
    expect(c.state.avps.get('x')).toEqual(['only']);
    expect(setPv(c, '$(avp(x)[*])', null)).toBe(true);
    expect(c.state.avps.has('x')).toBe(false);
    expect(pv(c, '$avp(x)')).toBeNull();
    // removing the last value removes the name
    setPv(c, '$avp(y)', 1);
    setPv(c, '$avp(y)', null);
    expect(c.state.avps.has('y')).toBe(false);
    expect(setPv(c, '$avp(y)', null)).toBe(true);
  });

  it('integer ids are their own names', () => {
    const c = makeContext();
    setPv(c, '$avp(i:5)', 'int');
    setPv(c, '$avp(5)', 'str');
    expect(pv(c, '$avp(i:05)')).toBe('int');
    expect(pv(c, '$avp(5)')).toBe('str');
  });
});

describe('$xavp', () => {
  it("follows the cookbook's example: records on a stack, fields added to [0]", () => {
    const c = makeContext();
    setPv(c, '$xavp(sf=>uri)', 'sip:10.10.10.10');
    setPv(c, '$xavp(sf[0]=>fr_timer)', 10);
    setPv(c, '$xavp(sf[0]=>fr_inv_timer)', 15);
    setPv(c, '$xavp(sf=>uri)', 'sip:10.10.10.11');
    setPv(c, '$xavp(sf[0]=>fr_timer)', 20);
    expect(pv(c, '$xavp(sf=>uri)')).toBe('sip:10.10.10.11');
    expect(pv(c, '$xavp(sf[0]=>uri)')).toBe('sip:10.10.10.11');
    expect(pv(c, '$xavp(sf[1]=>uri)')).toBe('sip:10.10.10.10');
    expect(pv(c, '$xavp(sf[-1]=>uri)')).toBe('sip:10.10.10.10');
    expect(pv(c, '$xavp(sf[0]=>fr_timer)')).toBe(20);
    expect(pv(c, '$xavp(sf[1]=>fr_timer)')).toBe(10);
    expect(pv(c, '$xavp(sf[1]=>fr_inv_timer)')).toBe(15);
    expect(pv(c, '$xavp(sf[0]=>fr_inv_timer)')).toBeNull();
    expect(pv(c, '$xavp(sf[2]=>uri)')).toBeNull();
    expect(pv(c, '$xavp(nosuch=>uri)')).toBeNull();
    expect(pv(c, '$cnt($xavp(sf))')).toBe(2);
    expect(pv(c, '$cnt($xavp(sf=>fr_timer))')).toBe(2);
    expect(pv(c, '$cnt($xavp(sf[1]=>fr_inv_timer))')).toBe(1);
    expect(pv(c, '$cnt($xavp(sf[5]))')).toBe(0);
    const recs = c.state.xavps.get('sf')!;
    expect(recs.map((r) => Object.fromEntries(r))).toEqual([
      { uri: ['sip:10.10.10.11'], fr_timer: [20] },
      { uri: ['sip:10.10.10.10'], fr_timer: [10], fr_inv_timer: [15] },
    ]);
  });

  it('field values are stacks too: [0]=>f adds, [0]=>f[j] replaces', () => {
    const c = makeContext();
    setPv(c, '$xavp(a=>f)', 1);
    setPv(c, '$xavp(a[0]=>f)', 2);
    expect(pv(c, '$xavp(a=>f)')).toBe(2);
    expect(pv(c, '$xavp(a[0]=>f[1])')).toBe(1);
    expect(setPv(c, '$xavp(a[0]=>f[1])', 'one')).toBe(true);
    expect(pv(c, '$xavp(a[0]=>f[-1])')).toBe('one');
    expect(setPv(c, '$xavp(a[0]=>f[9])', 'x')).toBe(false);
    expect(setPv(c, '$xavp(a[3]=>f)', 'x')).toBe(false);
    expect(pv(c, '$cnt($xavp(a[0]=>f))')).toBe(2);
    expect(setPv(c, '$xavp(a[0]=>f[0])', null)).toBe(true);
    expect(c.state.xavps.get('a')![0]!.get('f')).toEqual(['one']);
  });

  it('a record can hold its own value', () => {
    const c = makeContext();
    setPv(c, '$xavp(v)', 5);
    setPv(c, '$xavp(v)', 'six');
    expect(pv(c, '$xavp(v)')).toBe('six');
    expect(pv(c, '$xavp(v[1])')).toBe(5);
    expect(c.state.xavps.get('v')![1]!.get(XAVP_VALUE)).toEqual([5]);
    expect(setPv(c, '$xavp(v[1])', 7)).toBe(true);
    expect(pv(c, '$xavp(v[1])')).toBe(7);
  });

  it('$null removes records and fields', () => {
    const c = makeContext();
    setPv(c, '$xavp(r=>a)', 1);
    setPv(c, '$xavp(r[0]=>b)', 2);
    setPv(c, '$xavp(r=>a)', 3);
    setPv(c, '$xavp(r=>a)', 4);
    expect(pv(c, '$cnt($xavp(r))')).toBe(3);
    // field of the newest record
    expect(setPv(c, '$xavp(r=>a)', null)).toBe(true);
    expect(pv(c, '$xavp(r=>a)')).toBeNull();
    expect(pv(c, '$cnt($xavp(r))')).toBe(3);
    // one record
    expect(setPv(c, '$xavp(r[1])', null)).toBe(true);
    expect(pv(c, '$cnt($xavp(r))')).toBe(2);
    expect(pv(c, '$xavp(r[1]=>b)')).toBe(2);
    // a field in every record
    expect(setPv(c, '$xavp(r[*]=>b)', null)).toBe(true);
    expect(pv(c, '$xavp(r[1]=>b)')).toBeNull();
    // everything
    expect(setPv(c, '$xavp(r)', null)).toBe(true);
    expect(c.state.xavps.has('r')).toBe(false);
    expect(setPv(c, '$xavp(r[2])', null)).toBe(true);
  });

  it('refuses [*] with a value and reading [*]', () => {
    const { services, errors } = servicesWithLog();
    const c = makeContext(undefined, { services });
    setPv(c, '$xavp(r=>a)', 1);
    expect(setPv(c, '$xavp(r[*]=>a)', 2)).toBe(false);
    expect(pv(c, '$xavp(r[*]=>a)')).toBeNull();
    expect(errors.length).toBe(2);
  });

  it('supports dynamic indexes', () => {
    const c = makeContext();
    setPv(c, '$xavp(d=>f)', 'old');
    setPv(c, '$xavp(d=>f)', 'new');
    setPv(c, '$var(i)', 1);
    expect(pv(c, '$xavp(d[$var(i)]=>f)')).toBe('old');
  });
});

describe('$cnt', () => {
  it('is read-only', () => {
    expect(compiled('$cnt($avp(x))').set).toBeUndefined();
  });
});
