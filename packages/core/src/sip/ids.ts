import { randomBytes } from 'node:crypto';

/** RFC 3261 §8.1.1.7 branch prefix. */
export const MAGIC_COOKIE = 'z9hG4bK';

// Random bytes are drawn from a pool refilled 4 KiB at a time (one syscall per ~500 ids).
let pool: Buffer = Buffer.alloc(0);
let poolOff = 0;

function randomHex(bytes: number): string {
  if (poolOff + bytes > pool.length) {
    pool = randomBytes(4096);
    poolOff = 0;
  }
  const s = pool.toString('hex', poolOff, poolOff + bytes);
  poolOff += bytes;
  return s;
}

/** A From/To tag: 16 lowercase hex chars (64 random bits). */
export function generateTag(): string {
  return randomHex(8);
}

/** A Via branch: 'z9hG4bK' + 20 lowercase hex chars (80 random bits). */
export function generateBranch(): string {
  return MAGIC_COOKIE + randomHex(10);
}
