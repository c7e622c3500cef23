import { describe, expect, it } from 'vitest';
import { INVITE_LINES, makeContext, testServices } from '../../../core/test/support/context.js';
import { kexModule } from '../../src/kex/index.js';
import { createModule } from '../sl/module-context.js';

function recordingServices() {
  const levels: Array<number | undefined> = [];
  const services = testServices();
  services.setDebugLevel = (level) => {
    levels.push(level);
  };
  return { services, levels };
}

describe('kex', () => {
  it('setdebug sets a Kamailio debug level, resetdebug restores the configured one', async () => {
    const m = await createModule(kexModule);
    const { services, levels } = recordingServices();
    const ctx = makeContext(INVITE_LINES, { services });
    expect(m.fn('setdebug')(ctx, 3)).toBe(1);
    expect(m.fn('setdebug')(ctx, -5)).toBe(1);
    expect(m.fn('setdebug')(ctx, 4)).toBe(1);
    expect(m.fn('resetdebug')(ctx)).toBe(1);
    expect(levels).toEqual([3, -5, 4, undefined]);
  });

  it('setdebug refuses levels Kamailio does not have', async () => {
    const m = await createModule(kexModule);
    const { services, levels } = recordingServices();
    const ctx = makeContext(INVITE_LINES, { services });
    for (const bad of [-6, 8, 2.5, Number.NaN]) expect(m.fn('setdebug')(ctx, bad)).toBe(-1);
    expect(levels).toEqual([]);
    expect(m.logger.lines.filter((l) => l.level === 'error')).toHaveLength(4);
  });

  it('exports the KEMI signatures', async () => {
    const m = await createModule(kexModule);
    expect((m.instance.exports ?? []).map((e) => `${e.name}:${e.returns}(${e.params.join(',')})`)).toEqual(['setdebug:int(int)', 'resetdebug:int()']);
  });
});
