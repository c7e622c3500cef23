/**
 * Test support for module unit tests: a ModuleContext built by hand, a fake clock whose timers run
 * when the test advances it, and a logger that records what was logged.
 */
import {
  type KsrConfig,
  type KsrModuleDef,
  type Logger,
  type ModuleContext,
  type ModuleInstance,
  type PvRegistry,
  type SharedVars,
  type WorkerVars,
} from '@ksr/core';
import { FakeClock, testConfig, testModuleContext } from '../support/common.js';

export { FakeClock, recordingLogger } from '../support/common.js';

/** A config with nothing in it. */
export const emptyConfig = (): KsrConfig => testConfig();

export interface TestModuleContext extends ModuleContext {
  readonly clock: FakeClock;
  readonly pv: PvRegistry;
  readonly shv: SharedVars;
  readonly vars: WorkerVars;
}

/** A hand-built ModuleContext: params by name (an array for a repeated modparam). */
export function moduleContext(
  name: string,
  params: Record<string, string | number | Array<string | number>> = {},
  opts: { clock?: FakeClock; logger?: Logger; pv?: PvRegistry; shv?: SharedVars; vars?: WorkerVars; apis?: Record<string, unknown> } = {},
): TestModuleContext {
  const clock = opts.clock ?? new FakeClock();
  return { ...testModuleContext(name, params, { ...opts, clock }), clock };
}

/** Create a module instance and index its exports by name. */
export async function instantiate(
  def: KsrModuleDef,
  ctx: ModuleContext,
): Promise<{ instance: ModuleInstance; fn: (name: string) => (...args: unknown[]) => unknown }> {
  const instance = await def.create(ctx);
  const byName = new Map((instance.exports ?? []).map((e) => [e.name, e]));
  return {
    instance,
    fn(name) {
      const e = byName.get(name);
      if (!e) throw new Error(`no export ${name}`);
      return e.fn as (...args: unknown[]) => unknown;
    },
  };
}
