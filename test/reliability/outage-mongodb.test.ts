// A store outage on real MongoDB wire connections (the run's FerretDB or MONGODB_URL), injected by
// a TCP proxy between the driver and the server: fail-open + retry keeps every effective change,
// each recorded once, once the store answers again.
import { MongoClient } from 'mongodb';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { withAuditTrail } from '../../src/core/audited-adapter.js';
import { MongoAuditStore, MongoFlagAdapter } from '../../src/mongodb/index.js';
import { useMongoDatabase } from '../support/mongodb.js';
import { TcpProxy } from '../support/tcp-proxy.js';
import { allEntries, checkTrail, mixedOps, runOps } from './workload.js';

const mongo = useMongoDatabase('reliability');
let proxy: TcpProxy;
let proxied: MongoClient;

beforeAll(async () => {
  proxy = await TcpProxy.forUrl(mongo().url, 27017);
  const url = new URL(proxy.rewrite(mongo().url));
  url.searchParams.set('directConnection', 'true');
  // Short timeouts: while the proxy refuses, an insert fails in about a second instead of 30.
  proxied = new MongoClient(url.toString(), {
    serverSelectionTimeoutMS: 1000,
    connectTimeoutMS: 1000,
    socketTimeoutMS: 5000,
    retryWrites: false,
  });
  await proxied.connect();
});

afterAll(async () => {
  await proxied?.close(true).catch(() => undefined);
  await proxy?.close();
});

const FEATURES = Array.from({ length: 40 }, (_, i) => `flag-${i}`);

describe('MongoDB store outage, fail-open + retry', () => {
  it('5,000 writes with the store cut in the middle: 0 lost, 0 duplicated, every chain intact', async () => {
    const flags = new MongoFlagAdapter(mongo().db);
    // Registered one by one up front, and no removes below: FerretDB 1.24 can lose concurrent
    // updates of the one document that lists every feature (MongoDB does not); this test is about
    // the audit store, not that.
    for (const f of FEATURES) await flags.add(f);
    const store = new MongoAuditStore(proxied.db(mongo().db.databaseName));
    const drops: unknown[] = [];
    const audited = withAuditTrail(flags, {
      store,
      onError: () => undefined,
      retry: { baseDelayMs: 20, maxDelayMs: 200, onDrop: (error) => drops.push(error) },
      auditTimeoutMs: 3000,
    });
    const ops = mixedOps(5000, FEATURES.length, 21, { remove: false });
    let peak = 0;
    const run = await runOps(audited, ops, 16, (i) => {
      if (i === 1500) proxy.cut();
      if (i === 3500) proxy.restore();
      peak = Math.max(peak, audited.pendingEntries().length);
    });
    expect(run.outcomes.filter((o) => o !== 'ok')).toEqual([]);
    expect(proxy.stats.reset + proxy.stats.refused).toBeGreaterThan(0);
    expect(peak).toBeGreaterThan(100);
    expect(await audited.close({ timeoutMs: 60_000 })).toEqual({ pending: 0 });
    expect(drops).toEqual([]);
    const entries = await allEntries(new MongoAuditStore(mongo().db));
    // The registrations above were made on the bare adapter: not audited, so the chains start there.
    const result = await checkTrail(entries, run.effective, flags, FEATURES, { exists: true });
    expect(result).toEqual({
      entries: run.effective.size,
      duplicated: 0,
      lost: [],
      unreported: [],
      broken: [],
      finalMismatch: [],
    });
    expect(run.effective.size).toBeGreaterThan(3000);
  }, 300_000);
});
