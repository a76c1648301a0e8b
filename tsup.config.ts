import { defineConfig } from 'tsup';

// One entry per public subpath; keep in sync with "exports" in package.json.
const subpaths = ['memory', 'testing', 'prisma', 'mongodb', 'openfeature', 'express', 'koa', 'fastify'];

export default defineConfig([
  {
    entry: {
      index: 'src/index.ts',
      ...Object.fromEntries(subpaths.map((s) => [`${s}/index`, `src/${s}/index.ts`])),
    },
    format: ['esm', 'cjs'],
    dts: true,
    sourcemap: true,
    clean: true,
    target: 'node20',
    splitting: true,
    treeshake: true,
    // Peers stay external: the user's copy is the one that runs.
    external: [/^@openfeature\//, 'mongodb', 'express', 'koa', 'fastify', 'vitest'],
  },
  {
    entry: { cli: 'src/cli/main.ts' },
    format: ['esm'],
    target: 'node20',
    sourcemap: true,
    banner: { js: '#!/usr/bin/env node' },
  },
]);
