import { describe, expect, it } from 'vitest';
import * as express from '../../src/express/index.js';
import * as fastify from '../../src/fastify/index.js';
import * as root from '../../src/index.js';
import * as koa from '../../src/koa/index.js';
import * as memory from '../../src/memory/index.js';
import { type Flagtrail, FRAMEWORKS, runAttribution } from './harness.js';

const flagtrail: Flagtrail = { root, memory, express, koa, fastify };

describe('attribution under concurrency (10,000 requests, 100 in flight)', () => {
  for (const framework of FRAMEWORKS) {
    it(`${framework}: every change is recorded once, by the user of its own request`, async () => {
      const report = await runAttribution(framework, flagtrail, 10_000, 100);
      expect(report).toMatchObject({
        failedRequests: 0,
        firstFailure: null,
        handlerMisattributed: 0,
        entryMisattributed: 0,
        entriesForNoOps: 0,
        duplicateEntries: 0,
        missingEntries: 0,
        requestIdMismatch: 0,
        expectedEntries: 5_000,
        entries: 5_000,
      });
      console.log(`${framework}: ${report.requests} requests in ${report.ms} ms`);
      // About 5 s alone on 2 cores; the margin is for a CI machine busy with the other test files.
    }, 120_000);
  }
});
