import { describe, expect, it } from 'vitest';
import { ConfigError, ErrorCodes, KsrError } from '../src/errors.js';

describe('coded errors', () => {
  it('config errors name file:line and carry the code', () => {
    const e = new ConfigError('unknown module "foo"', { file: 'ksr.cfg', line: 12 });
    expect(e).toBeInstanceOf(KsrError);
    expect(e.code).toBe(ErrorCodes.CONFIG);
    expect(e.message).toBe('ksr.cfg:12: unknown module "foo"');
    expect(e.location).toEqual({ file: 'ksr.cfg', line: 12 });
  });
  it('codes are unique', () => {
    const values = Object.values(ErrorCodes);
    expect(new Set(values).size).toBe(values.length);
  });
});

describe('docs/errors.md', () => {
  it('lists exactly the codes of ErrorCodes', async () => {
    const { readFileSync } = await import('node:fs');
    const doc = readFileSync(new URL('../../../docs/errors.md', import.meta.url), 'utf8');
    const listed = [...doc.matchAll(/^\| `(KSR_ERR_[A-Z_]+)`/gm)].map((m) => m[1]).sort();
    expect(listed).toEqual(Object.values(ErrorCodes).sort());
  });
});
