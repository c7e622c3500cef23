/**
 * The shared engine conformance suite (@ksr/engine-testkit) on the Lua engine, with the kit's
 * Lua fixture (global route functions, as Kamailio's app_lua runs them).
 */
import { describeEngineConformance, fixturePath } from '@ksr/engine-testkit';
import { luaEngine } from '../src/index.js';

describeEngineConformance('lua', luaEngine, { script: fixturePath('conformance.lua') });
