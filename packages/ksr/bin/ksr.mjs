#!/usr/bin/env node
// The ksr command. Sources are TypeScript run through tsx's loader (no build step).
import { register } from 'tsx/esm/api';

register();
const argv = process.argv.slice(2);
let code;
if (argv[0] === 'ctl') {
  // the RPC client needs none of the server: skip loading it (a ctl call starts in ~0.3 s, not ~1.3 s)
  const { runCtl } = await import('../src/ctl.ts');
  code = await runCtl(argv.slice(1), { stdout: (s) => process.stdout.write(s), stderr: (s) => process.stderr.write(s) });
} else {
  const { main } = await import('../src/main.ts');
  code = await main(argv);
}
// Let pino flush, then leave even if a library kept a handle open.
process.exitCode = code;
setTimeout(() => process.exit(code), 50).unref();
