/**
 * Test support for module unit tests: a ModuleContext built by hand, a fake clock whose timers run
 * when the test advances it, and a logger that records what was logged.
 */
import {
  type KsrConfig,
  type Logger,
  type ModuleContext,
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

export { instantiate } from '../support/common.js';
