/**
 * What each route function of the conformance fixtures must record, in order, in every language.
 * The fixtures (fixtures/conformance.{lua,js,py,ts}) and this table are one contract: change
 * them together.
 */
import { ARG_SIGNATURES, RETURN_CASES, argValue, argsExportName, showHost } from './registry.js';

export const UNICODE_TEXT = 'h\u00e9llo \u2713 \u{1F600}';
export const SPECIAL_TEXT = 'a"b\\c\n\t';

export const EXPECTED_EVENTS = {
  /** Recorded by the script's top level while it loads. */
  load: ['loaded'],
  ksr_request_route: ['request'],
  conf_version: ['v1'],
  conf_bind: ['true', 'true', 'true', 'true', 'i:7', 's:root'],
  conf_arity: ARG_SIGNATURES.flatMap((sig) => [
    `${argsExportName(sig)}(${[...sig].map((c, i) => showHost(argValue(c, i + 1))).join(',')})`,
    `i:${sig.length}`,
  ]),
  conf_returns: [
    ...RETURN_CASES.map((c) => c[3]),
    'ret_true:truthy',
    'ret_false:falsy',
    'ret_null:is-null',
    'i:-5',
    'i:1099511627776',
  ],
  conf_strings: [
    `args_s(s:${UNICODE_TEXT})`,
    `s:${UNICODE_TEXT}`,
    `args_s(s:${SPECIAL_TEXT})`,
    `s:${SPECIAL_TEXT}`,
    'args_s(s:)',
    's:',
    'i:10000',
  ],
  conf_nullmodes: ['null', 's:', 's:<<null>>', 's:value', 's:value', 'i:5', 's:', 's:'],
  conf_coercion: [
    'args_s(s:5)', 'i:1',
    'args_s(s:-12)', 'i:1',
    'args_s(s:1.5)', 'i:1',
    'args_i(i:42)', 'i:1',
    'args_i(i:-7)', 'i:1',
    'args_i(i:3)', 'i:1',
    'args_l(i:1099511627776)', 'i:1',
    'args_is(i:1,s:2)', 'i:2',
    's:42',
  ],
  /** Every bad call returns its failure value; no args_* export runs; the route continues. */
  conf_errors: ['i:-1', 'i:-1', 'i:-1', 'i:-1', 'i:-1', 'i:-1', 'i:-1', 'false', 'null', 'null', 'i:-1', 'continued'],
  conf_exit: ['before'],
  conf_exit_deep: ['before', 'in-helper'],
  conf_drop: ['before'],
  conf_exit_caught: ['before'],
  conf_script_error: ['before'],
  conf_runtime_error: ['before'],
  conf_error_deep: ['before'],
  conf_nested: ['outer:i:2', 'inner:i:0', 'nested:s:exit', 'outer-after:i:2', 'nested:s:missing'],
  conf_event: ['s:tm:local-request'],
  conf_return_value: ['ret'],
} as const;

/**
 * The error lines conf_errors must log, in order (each line starts with this text; the script
 * location follows). `null` matches any KSR.test.args_s problem: a Lua engine may see the nil
 * argument (null) or drop it (arity).
 */
export const EXPECTED_ERROR_LOGS: ReadonlyArray<string> = [
  'KSR.test.args_i: expects 1 argument (int), got 0',
  'KSR.test.args_i: expects 1 argument (int), got 2',
  'KSR.test.args_i: argument 1: expected 32-bit integer, got string "abc"',
  'KSR.test.args_i: argument 1: expected 32-bit integer, got number 1.5',
  'KSR.test.args_i: argument 1: expected 32-bit integer, got boolean',
  'KSR.test.args_s: ',
  'KSR.test.args_i: argument 1: 32-bit integer out of range: 2147483648',
  'KSR.test.ret_true: expects no arguments, got 1',
  'KSR.test.ret_xval_str: expects no arguments, got 1',
  'KSR.test.ret_none: expects no arguments, got 1',
  'KSR.test.throws failed: export failed',
];
