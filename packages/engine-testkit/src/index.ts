/**
 * @ksr/engine-testkit: the conformance suite every script engine runs, its fixtures, and a plain
 * TypeScript engine that is the reference implementation.
 *
 *   import { describeEngineConformance, fixturePath } from '@ksr/engine-testkit';
 *   describeEngineConformance('lua', luaEngine, { script: fixturePath('conformance.lua') });
 */
export { describeEngineConformance, fixturePath, markerLine, CONFORMANCE_CASES, type ConformanceCase, type ConformanceFixtures } from './suite.js';
export { ConformanceHarness, CONFORMANCE_CALL_ID, type ConformanceEngine, type HarnessOptions, type LogLine, type RunOutcome } from './harness.js';
export {
  buildConformanceRegistry,
  testExports,
  conformanceCoreExports,
  showHost,
  argsExportName,
  argValue,
  ARG_SIGNATURES,
  RETURN_CASES,
  LOOKUP_TABLE,
  LONG_BASE,
  type ConformanceHooks,
} from './registry.js';
export { EXPECTED_EVENTS, EXPECTED_ERROR_LOGS, UNICODE_TEXT, SPECIAL_TEXT } from './expected.js';
export { tsEngine, createTsEngine, bindKsr, scriptLine, TsScriptEngine, type TsEngineOptions, type TsScriptFactory, type KsrObject, type KsrFunction } from './ts-engine.js';
export { sampleInvite, SAMPLE_INFO } from './samples.js';
