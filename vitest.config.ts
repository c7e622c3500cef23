import { defineConfig } from 'vitest/config';

// One run for the whole repo. "unit" tests are fast and in-process; "e2e" tests start
// servers, drive them with sipp or raw sockets over 127.0.0.1 (or a loopback-only
// network namespace) and are bounded in time and count.
export default defineConfig({
  test: {
    projects: [
      {
        test: {
          name: 'unit',
          include: ['packages/*/test/**/*.test.ts', 'examples/*/test/**/*.test.ts'],
          exclude: ['**/*.e2e.test.ts', '**/node_modules/**'],
          testTimeout: 20_000,
        },
      },
      {
        test: {
          name: 'e2e',
          include: ['packages/*/test/**/*.e2e.test.ts', 'examples/*/test/**/*.e2e.test.ts'],
          testTimeout: 120_000,
          hookTimeout: 60_000,
          // e2e tests bind real ports; run their files one after another
          fileParallelism: false,
        },
      },
    ],
  },
});
