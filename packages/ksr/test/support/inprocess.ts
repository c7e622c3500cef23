import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadConfig, silentLogger, type EngineDescriptor, type KsrModuleDef, type Logger } from '@ksr/core';
import { parseArgs } from '../../src/args.js';
import { catalogue, startServer, type RunningServer } from '../../src/main.js';

/**
 * Start the server in this process from config lines, with the modules and engines given (default:
 * everything the ksr command ships). For end-to-end tests that drive it with sipp or raw sockets
 * and want to look at its state (usrloc, htable, $var) afterwards.
 */
export async function startInProcess(opts: {
  cfg: string[];
  modules?: readonly KsrModuleDef[];
  engines?: readonly EngineDescriptor[];
  defines?: Record<string, string | null>;
  logger?: Logger;
}): Promise<RunningServer> {
  const dir = mkdtempSync(join(tmpdir(), 'ksr-inproc-'));
  const file = join(dir, 'ksr.cfg');
  writeFileSync(file, `${opts.cfg.join('\n')}\n`);
  const cli = parseArgs(['-f', file]);
  const cfg = loadConfig(file, { defines: opts.defines ?? {}, modules: catalogue(opts.modules, opts.engines) });
  return startServer(cli, cfg, opts.logger ?? silentLogger, {
    ...(opts.engines ? { engines: opts.engines } : {}),
    ...(opts.modules ? { modules: opts.modules } : {}),
  });
}
