#!/usr/bin/env node
// The ksr command. Sources are TypeScript run through tsx's loader (no build step).
import { register } from 'tsx/esm/api';

register();
const { main } = await import('../src/main.ts');
const code = await main(process.argv.slice(2));
// Let pino flush, then leave even if a library kept a handle open.
process.exitCode = code;
setTimeout(() => process.exit(code), 50).unref();
