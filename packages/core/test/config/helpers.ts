import { expect } from 'vitest';
import { ConfigError } from '../../src/errors.js';

/** An in-memory file system for the readFile hook. Missing files throw like fs does. */
export function memFs(files: Record<string, string>): (p: string) => string {
  return (p: string) => {
    const text = files[p];
    if (text === undefined) {
      const err = new Error(`ENOENT: no such file or directory, open '${p}'`) as Error & { code: string };
      err.code = 'ENOENT';
      throw err;
    }
    return text;
  };
}

/** Join lines with '\n' so tests can write configs as arrays (line numbers = index + 1). */
export function cfg(...lines: string[]): string {
  return lines.join('\n') + '\n';
}

/** Run fn, expect a ConfigError, return it. */
export function configError(fn: () => unknown): ConfigError {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(ConfigError);
    return err as ConfigError;
  }
  throw new Error('expected a ConfigError, nothing was thrown');
}
