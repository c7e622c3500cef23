/**
 * The shared engine conformance suite (@ksr/engine-testkit) on the JavaScript engine, with the
 * kit's classic-script fixture (global functions, as Kamailio's app_jsdt runs them).
 */
import { describeEngineConformance, fixturePath } from '@ksr/engine-testkit';
import { jsdtEngine } from '../src/index.js';

describeEngineConformance('jsdt', jsdtEngine, { script: fixturePath('conformance.js') });
