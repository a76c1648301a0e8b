// MongoDB wire server (FerretDB unless MONGODB_URL): write ratio and history p95 over the seeded
// audit collection, through the real MongoFlagAdapter / MongoAuditStore.
import type { Db } from 'mongodb';
import { withAuditTrail } from '../../src/core/audited-adapter.js';
import { type AuditDocument, entryToDocument } from '../../src/mongodb/documents.js';
import { MongoAuditStore, MongoFlagAdapter } from '../../src/mongodb/index.js';
import type { BenchConfig } from '../lib/config.js';
import { entryBatches, featureKey, SEED_VERSION, type SeedSpec } from '../lib/entries.js';
import { median, prng, quantile, sampleLatencies } from '../lib/measure.js';
import { type BenchMongo, openMongo } from '../lib/mongo.js';
import type { CaseResult } from '../lib/report.js';
import { writeRatio } from './writes.js';

const BATCH = 1_000;

/**
 * Seeds `flagtrail_audit_entries` with `insertMany` batches of documents made by the store's own
 * codec, unless the marker document and the count say the data is there. Indexes are the store's
 * (`ensureIndexes`), created after the load. Returns seconds spent (0 if reused).
 */
async function seedMongo(db: Db, spec: SeedSpec, log: (line: string) => void): Promise<number> {
  const meta = db.collection<{ _id: string; spec: string }>('flagtrail_bench_meta');
  const entries = db.collection<AuditDocument>('flagtrail_audit_entries');
  const marker = await meta.findOne({ _id: 'seed' });
  if (marker?.spec === JSON.stringify(spec) && (await entries.countDocuments({})) === spec.entries) return 0;
  log(
    `seeding ${spec.entries.toLocaleString('en-US')} documents into ${db.databaseName} (insertMany, ${BATCH} a batch)`,
  );
  const t0 = performance.now();
  await meta.deleteOne({ _id: 'seed' });
  await entries.drop().catch(() => undefined);
  let done = 0;
  for (const batch of entryBatches(spec, BATCH)) {
    await entries.insertMany(
      batch.map((e) => entryToDocument({ ...e, adapter: 'mongodb' })),
      { ordered: false },
    );
    done += batch.length;
    if (done % 100_000 === 0) log(`  ${done.toLocaleString('en-US')} documents`);
  }
  await new MongoAuditStore(db).ensureIndexes();
  await meta.insertOne({ _id: 'seed', spec: JSON.stringify(spec) });
  return (performance.now() - t0) / 1000;
}

/** `write.ratio.mongodb` and `history.p95ms.mongodb.1m`. */
export async function mongodbCases(config: BenchConfig, log: (line: string) => void): Promise<CaseResult[]> {
  const mongo = await openMongo();
  try {
    log(`server: ${mongo.server} at ${mongo.url}`);
    const writesDb = mongo.client.db('flagtrail_bench_writes');
    await writesDb.dropDatabase();
    const ratio = await writeRatio('write.ratio.mongodb', () => new MongoFlagAdapter(writesDb), config);
    await writesDb.dropDatabase();

    const ferret = mongo.server.startsWith('FerretDB');
    const spec: SeedSpec = {
      entries: ferret ? config.ferretHistoryEntries : config.entries,
      // At FerretDB's reduced size, fewer flags keep at least 100 entries per flag (one full page).
      features: ferret ? Math.max(1, Math.floor(config.ferretHistoryEntries / 250)) : config.features,
      actors: config.actors,
      version: SEED_VERSION,
    };
    const history = await mongoHistory(mongo, ferret, spec, config, log).catch(
      (error: unknown): CaseResult => ({
        id: 'history.p95ms.mongodb.1m',
        value: null,
        unit: 'ms',
        target: 5,
        direction: 'atMost',
        error: error instanceof Error ? error.message : String(error),
      }),
    );
    return [
      { ...ratio, target: 1.8, direction: 'atMost', detail: `${mongo.server}; ${ratio.detail}` },
      history,
    ];
  } finally {
    await mongo.close();
  }
}

async function mongoHistory(
  mongo: BenchMongo,
  ferret: boolean,
  spec: SeedSpec,
  config: BenchConfig,
  log: (line: string) => void,
): Promise<CaseResult> {
  const db = mongo.client.db(
    `${config.quick ? 'flagtrail_bench_quick' : 'flagtrail_bench'}${ferret ? '_ferret' : ''}`,
  );
  const seeded = await seedMongo(db, spec, log);
  if (seeded > 0) log(`seeded in ${seeded.toFixed(0)} s`);
  const audited = withAuditTrail(new MongoFlagAdapter(db));
  const rand = prng(42);
  const samples = ferret ? config.ferretHistorySamples : config.historySamples;
  const latencies = await sampleLatencies(samples, ferret ? 2 : 50, async () => {
    const page = await audited.history({
      feature: featureKey(Math.floor(rand() * spec.features)),
      limit: 100,
    });
    if (page.length !== 100) throw new Error(`history returned ${page.length} entries, expected 100`);
  });
  return {
    id: 'history.p95ms.mongodb.1m',
    value: quantile(latencies, 0.95),
    unit: 'ms',
    target: 5,
    direction: 'atMost',
    detail: `${mongo.server}; ${ferret ? `FerretDB scans and decodes the whole collection per call (explain: filterPushdown/sortPushdown/limitPushdown false), so this is ${spec.entries.toLocaleString('en-US')} entries, not 1M (set MONGODB_URL to a MongoDB for the full size); ` : ''}${latencies.length} calls of history({ feature, limit: 100 }) over ${spec.entries.toLocaleString('en-US')} entries of ${spec.features} flags: p50 ${median(latencies).toFixed(2)} ms, p99 ${quantile(latencies, 0.99).toFixed(2)} ms`,
  };
}
