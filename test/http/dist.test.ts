import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { beforeAll, describe, expect, it } from 'vitest';
import type { AttributionReport } from './harness.js';

const run = promisify(execFile);
const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const fixture = path.join(root, 'test/http/fixtures/dist-attribution.ts');
const REQUESTS = 1_500;

const needed = ['index', 'memory/index', 'express/index', 'koa/index', 'fastify/index'].flatMap((name) => [
  `dist/${name}.js`,
  `dist/${name}.cjs`,
]);

describe('attribution through the built package', () => {
  beforeAll(() => {
    const missing = needed.filter((file) => !existsSync(path.join(root, file)));
    if (missing.length > 0) {
      throw new Error(`the built package is missing ${missing.join(', ')}: run \`npm run build\` first`);
    }
  });

  // cjs: everything through require(); esm: through import(); mixed: middleware from the CJS build
  // and the audit trail from the ESM build, which must share one actor storage.
  for (const mode of ['cjs', 'esm', 'mixed']) {
    it(`${mode}: ${REQUESTS} requests per framework, 100 in flight, 0 misattributed`, async () => {
      const { stdout } = await run(process.execPath, ['--import', 'tsx', fixture, mode, String(REQUESTS)], {
        cwd: root,
        maxBuffer: 1 << 20,
        env: {
          ...process.env,
          NODE_ENV: 'test',
          TSX_TSCONFIG_PATH: path.join(root, 'test/http/fixtures/tsconfig.json'),
        },
      });
      const { reports } = JSON.parse(stdout.trim().split('\n').at(-1)!) as { reports: AttributionReport[] };
      expect(reports.map((r) => r.framework)).toEqual(['express', 'koa', 'fastify']);
      for (const report of reports) {
        expect(report).toMatchObject({
          failedRequests: 0,
          handlerMisattributed: 0,
          entryMisattributed: 0,
          entriesForNoOps: 0,
          duplicateEntries: 0,
          missingEntries: 0,
          requestIdMismatch: 0,
          expectedEntries: REQUESTS / 2,
          entries: REQUESTS / 2,
        });
      }
    }, 120_000);
  }
});
