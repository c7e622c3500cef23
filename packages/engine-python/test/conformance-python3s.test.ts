/**
 * The shared engine conformance suite (@ksr/engine-testkit) on the script style (app_python3s),
 * with the kit's Python fixtures as they are (module-level functions, `import KSR`).
 */
import { describeEngineConformance, fixturePath } from '@ksr/engine-testkit';
import { python3sEngine } from '../src/index.js';

describeEngineConformance('python3s', python3sEngine, { script: fixturePath('conformance.py'), timeout: 60_000 });
