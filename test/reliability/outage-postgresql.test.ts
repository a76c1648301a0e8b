// Store outages on real PostgreSQL connections, injected by a TCP proxy between Prisma and the
// server. Fail-open + retry: flags keep changing while the audit store is cut or stalled, and once
// it is back every effective change has exactly one entry. Fail-closed: flag and entry share a
// transaction through the proxy, so every write is rejected with the flag unchanged or committed
// with its entry.
import { PrismaPg } from '@prisma/adapter-pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { withAuditTrail } from '../../src/core/audited-adapter.js';
import { PrismaAuditStore, PrismaFlagAdapter } from '../../src/prisma/index.js';
import {
  createPrismaTestDatabase,
  loadClientModule,
  type PrismaTestDatabase,
  type TestPrismaClient,
  truncateFlagTables,
} from '../support/prisma-db.js';
import { TcpProxy } from '../support/tcp-proxy.js';
import { allEntries, checkTrail, mixedOps, runOps } from './workload.js';

let db: PrismaTestDatabase;
let proxy: TcpProxy;
let proxied: TestPrismaClient;

beforeAll(async () => {
  db = await createPrismaTestDatabase('postgresql');
  proxy = await TcpProxy.forUrl(db.url, 5432);
  const { PrismaClient } = await loadClientModule('postgresql');
  // Short connect timeout: while the proxy refuses, a new connection fails at once, not after 30 s.
  proxied = new PrismaClient({
    adapter: new PrismaPg({ connectionString: proxy.rewrite(db.url), connectionTimeoutMillis: 2000, max: 8 }),
  });
});

afterAll(async () => {
  await proxied?.$disconnect().catch(() => undefined);
  await proxy?.close();
  await db?.drop();
});

const FEATURES = Array.from({ length: 40 }, (_, i) => `flag-${i}`);

describe('PostgreSQL store outage, fail-open + retry', () => {
  it('5,000 writes with the store cut in the middle: 0 lost, 0 duplicated, every chain intact', async () => {
    await truncateFlagTables(db);
    proxy.restore();
    const flags = new PrismaFlagAdapter(db.prisma);
    const store = new PrismaAuditStore(proxied);
    const drops: unknown[] = [];
    let outages = 0;
    const audited = withAuditTrail(flags, {
      store,
      onError: () => {
        outages += 1;
      },
      retry: { baseDelayMs: 20, maxDelayMs: 200, onDrop: (error) => drops.push(error) },
      auditTimeoutMs: 2000,
    });
    const ops = mixedOps(5000, FEATURES.length, 7);
    let peak = 0;
    const run = await runOps(audited, ops, 16, (i) => {
      if (i === 1500) proxy.cut();
      if (i === 3500) proxy.restore();
      peak = Math.max(peak, audited.pendingEntries().length);
    });
    expect(run.outcomes.filter((o) => o !== 'ok')).toEqual([]);
    // The outage was real: connections were reset or refused and entries piled up.
    expect(proxy.stats.reset + proxy.stats.refused).toBeGreaterThan(0);
    expect(peak).toBeGreaterThan(100);
    expect(outages).toBeGreaterThanOrEqual(1);

    expect(await audited.close({ timeoutMs: 60_000 })).toEqual({ pending: 0 });
    expect(drops).toEqual([]);
    const result = await checkTrail(
      await allEntries(new PrismaAuditStore(db.prisma)),
      run.effective,
      flags,
      FEATURES,
    );
    expect(result.entries).toBe(run.effective.size);
    expect(result).toEqual({
      entries: run.effective.size,
      duplicated: 0,
      lost: [],
      unreported: [],
      broken: [],
      finalMismatch: [],
    });
    // Most writes were effective changes, not no-ops.
    expect(run.effective.size).toBeGreaterThan(3000);
  }, 240_000);

  it('a stalled store: hung inserts time out, are retried, and land once when the stall ends', async () => {
    await truncateFlagTables(db);
    proxy.restore();
    const flags = new PrismaFlagAdapter(db.prisma);
    const audited = withAuditTrail(flags, {
      store: new PrismaAuditStore(proxied),
      onError: () => undefined,
      retry: { baseDelayMs: 20, maxDelayMs: 100, onDrop: () => undefined },
      auditTimeoutMs: 250,
    });
    const ops = mixedOps(600, FEATURES.length, 11);
    let stalledWith = 0;
    const run = await runOps(audited, ops, 8, async (i) => {
      if (i === 150) proxy.stall();
      if (i === 450) {
        stalledWith = audited.pendingEntries().length;
        proxy.restore();
      }
    });
    expect(run.outcomes.filter((o) => o !== 'ok')).toEqual([]);
    expect(stalledWith).toBeGreaterThan(50);
    expect(await audited.close({ timeoutMs: 60_000 })).toEqual({ pending: 0 });
    const result = await checkTrail(
      await allEntries(new PrismaAuditStore(db.prisma)),
      run.effective,
      flags,
      FEATURES,
    );
    expect(result).toEqual({
      entries: run.effective.size,
      duplicated: 0,
      lost: [],
      unreported: [],
      broken: [],
      finalMismatch: [],
    });
  }, 120_000);
});

describe('PostgreSQL outage, fail-closed in one transaction', () => {
  it('5,000 writes with the database cut in the middle: 0 flag changes without an entry', async () => {
    await truncateFlagTables(db);
    proxy.restore();
    // Flags and entries both behind the proxy, on one client: the write and its entry share a transaction.
    const flags = new PrismaFlagAdapter(proxied);
    const audited = withAuditTrail(flags, { failClosed: true });
    const ops = mixedOps(5000, FEATURES.length, 13);
    const run = await runOps(audited, ops, 16, (i) => {
      if (i === 1500) proxy.cut();
      if (i === 3500) proxy.restore();
    });
    const rejected = run.outcomes.filter((o) => o !== 'ok');
    expect(rejected.length).toBeGreaterThan(100);
    for (const error of rejected) expect(error).toMatchObject({ name: 'FlagTrailError' });
    const direct = new PrismaFlagAdapter(db.prisma);
    const result = await checkTrail(
      await allEntries(new PrismaAuditStore(db.prisma)),
      run.effective,
      direct,
      FEATURES,
    );
    // Every change the flags went through is in the trail, in order, ending at their real state.
    expect(result.broken).toEqual([]);
    expect(result.finalMismatch).toEqual([]);
    expect(result.duplicated).toBe(0);
    // Every write reported as done has its entry.
    expect(result.lost).toEqual([]);
    // A commit whose reply the cut swallowed is the only way to an entry the caller saw rejected;
    // such a write did change the flag, with its entry: allowed, and rare.
    expect(result.unreported.length).toBeLessThanOrEqual(16);
    expect(result.entries).toBe(run.effective.size + result.unreported.length);
  }, 240_000);
});
