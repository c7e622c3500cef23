import { describe, expect, it } from 'vitest';
import { parseArgs } from '../src/args.js';

describe('ksr command-line options', () => {
  it('defaults', () => {
    const o = parseArgs([]);
    expect(o.configFile).toBe('ksr.cfg');
    expect(o.defines).toEqual({});
    expect(o.checkOnly).toBe(false);
    expect(o.logStderr).toBe(false);
  });

  it('Kamailio-style flags, clusters and attached values', () => {
    const o = parseArgs(['-DD', '-E', '-f', 'a.cfg', '-A', 'WITH_LUA', '-A', 'ROUTE_FILE="/x/route.lua"', '-AWITH_AUTH', '-ddd', '-m', '512']);
    expect(o.configFile).toBe('a.cfg');
    expect(o.logStderr).toBe(true);
    expect(o.debugIncrements).toBe(3);
    expect(o.defines).toEqual({ WITH_LUA: null, ROUTE_FILE: '"/x/route.lua"', WITH_AUTH: null });
    expect(o.ignored).toEqual(['-m 512']);
    expect(parseArgs(['-fother.cfg']).configFile).toBe('other.cfg');
    expect(parseArgs(['-Ec']).checkOnly).toBe(true);
  });

  it('listen overrides, help and version', () => {
    expect(parseArgs(['-l', 'udp:127.0.0.1:5070', '-l', 'tcp:[::1]:5071']).listen).toEqual(['udp:127.0.0.1:5070', 'tcp:[::1]:5071']);
    expect(parseArgs(['--help']).help).toBe(true);
    expect(parseArgs(['-h']).help).toBe(true);
    expect(parseArgs(['--version']).version).toBe(true);
    expect(parseArgs(['-V']).version).toBe(true);
  });

  it('mistakes are usage errors', () => {
    expect(() => parseArgs(['-f'])).toThrow(/needs a value/);
    expect(() => parseArgs(['-q'])).toThrow(/unknown option -q/);
    expect(() => parseArgs(['--nope'])).toThrow(/unknown argument/);
    expect(() => parseArgs(['-A', '1BAD'])).toThrow(/invalid define '1BAD'/);
    expect(() => parseArgs(['-m', 'lots'])).toThrow(/needs a number/);
    expect(() => parseArgs(['stray'])).toThrow(/unknown argument 'stray'/);
  });
});
