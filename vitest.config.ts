import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vitest/config';

const src = fileURLToPath(new URL('./src/', import.meta.url));

export default defineConfig({
  resolve: {
    // Examples and tests import the package by name, as users do; in the repo that is the source.
    alias: [
      { find: /^flagtrail$/, replacement: `${src}index.ts` },
      { find: /^flagtrail\/(.+)$/, replacement: `${src}$1/index.ts` },
    ],
  },
  test: {
    include: ['src/**/*.test.ts', 'test/**/*.test.ts'],
    // Backends start once per run (FerretDB, database checks); each test file still gets its own
    // schema, database or collection set.
    globalSetup: ['test/setup/mongodb.ts', 'test/support/prisma-global-setup.ts'],
    testTimeout: 60_000,
    hookTimeout: 120_000,
    pool: 'forks',
    reporters: process.env.CI
      ? ['default', ['json', { outputFile: '.tmp/vitest-report.json' }]]
      : ['default'],
  },
});
