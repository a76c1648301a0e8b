// History on PostgreSQL: p95 of `history({ feature, limit: 100 })` and the deep-page ratio over a
// seeded audit table (1,000,000 entries in a full run), through the real PrismaAuditStore.
import { withAuditTrail } from '../../src/core/audited-adapter.js';
import type { AuditEntry } from '../../src/core/types.js';
import { PrismaFlagAdapter } from '../../src/prisma/index.js';
import type { BenchConfig } from '../lib/config.js';
import { entryBatches, featureKey, SEED_VERSION, type SeedSpec } from '../lib/entries.js';
import { median, prng, quantile, sampleLatencies } from '../lib/measure.js';
import { type BenchPostgres, openPostgres } from '../lib/prisma.js';
import type { CaseResult } from '../lib/report.js';

const BATCH = 5_000;
const SECONDARY_INDEXES = [
  'flagtrail_audit_entries_feature_id_idx',
  'flagtrail_audit_entries_actor_id_id_idx',
  'flagtrail_audit_entries_created_at_idx',
];

/** The kept history database of a run size (quick and full runs keep their own). */
export function historyDatabase(config: BenchConfig): string {
  return config.quick ? 'flagtrail_bench_quick' : 'flagtrail_bench';
}

function specOf(config: BenchConfig): SeedSpec {
  return { entries: config.entries, features: config.features, actors: config.actors, version: SEED_VERSION };
}

function toRecord(e: AuditEntry): Record<string, unknown> {
  return {
    id: e.id,
    version: e.version,
    feature: e.feature,
    operation: e.operation,
    gate: e.gate,
    value: e.value,
    before: e.before,
    after: e.after,
    changes: e.changes,
    actor_id: e.actor.id,
    actor_label: e.actor.label ?? null,
    actor_type: e.actor.type ?? null,
    context: e.context,
    adapter: e.adapter,
    created_at: e.createdAt.toISOString(),
  };
}

/**
 * Seeds the audit table unless the marker row and the row count say it already holds this data.
 * Bulk path: secondary indexes dropped, 5,000-row INSERT ... SELECT FROM json_populate_recordset
 * statements (one parameter each), indexes rebuilt, ANALYZE. Returns seconds spent (0 if reused).
 */
export async function seedPostgres(
  db: BenchPostgres,
  spec: SeedSpec,
  log: (line: string) => void,
): Promise<number> {
  await db.pool.query(
    'CREATE TABLE IF NOT EXISTS flagtrail_bench_meta (key text PRIMARY KEY, value text NOT NULL)',
  );
  const marker = await db.pool.query("SELECT value FROM flagtrail_bench_meta WHERE key = 'seed'");
  const count = await db.pool.query('SELECT count(*)::int AS n FROM flagtrail_audit_entries');
  if (marker.rows[0]?.value === JSON.stringify(spec) && count.rows[0].n === spec.entries) return 0;
  log(`seeding ${spec.entries.toLocaleString('en-US')} entries into ${db.database} (bulk inserts)`);
  const t0 = performance.now();
  await db.pool.query("DELETE FROM flagtrail_bench_meta WHERE key = 'seed'");
  await db.pool.query('TRUNCATE flagtrail_audit_entries');
  for (const index of SECONDARY_INDEXES) await db.pool.query(`DROP INDEX IF EXISTS ${index}`);
  let done = 0;
  for (const batch of entryBatches(spec, BATCH)) {
    await db.pool.query(
      'INSERT INTO flagtrail_audit_entries SELECT * FROM json_populate_recordset(NULL::flagtrail_audit_entries, $1::json)',
      [JSON.stringify(batch.map(toRecord))],
    );
    done += batch.length;
    if (done % 100_000 === 0) log(`  ${done.toLocaleString('en-US')} entries`);
  }
  // The shipped SQL recreates the indexes it defines (CREATE INDEX IF NOT EXISTS).
  await db.ensureSchema();
  await db.pool.query('VACUUM ANALYZE flagtrail_audit_entries');
  await db.pool.query("INSERT INTO flagtrail_bench_meta (key, value) VALUES ('seed', $1)", [
    JSON.stringify(spec),
  ]);
  return (performance.now() - t0) / 1000;
}

/** The id that ends page `page - 1` of the unfiltered history: the cursor that opens `page`. */
async function cursorOfPage(db: BenchPostgres, page: number): Promise<string> {
  const result = await db.pool.query(
    'SELECT id FROM flagtrail_audit_entries ORDER BY id DESC OFFSET $1 LIMIT 1',
    [(page - 1) * 100 - 1],
  );
  const id = result.rows[0]?.id;
  if (typeof id !== 'string') throw new Error(`the seeded history has no page ${page}`);
  return id;
}

/** `history.p95ms.postgres.1m` and `history.deepPageRatio.postgres`. */
export async function postgresHistory(
  config: BenchConfig,
  log: (line: string) => void,
): Promise<CaseResult[]> {
  const db = await openPostgres(historyDatabase(config), { recreate: false, poolSize: 4 });
  try {
    const spec = specOf(config);
    const seeded = await seedPostgres(db, spec, log);
    if (seeded > 0) log(`seeded in ${seeded.toFixed(0)} s`);
    const audited = withAuditTrail(new PrismaFlagAdapter(db.prisma));
    const rand = prng(42);
    const pick = () => featureKey(Math.floor(rand() * spec.features));
    const latencies = await sampleLatencies(config.historySamples, 100, async () => {
      const page = await audited.history({ feature: pick(), limit: 100 });
      if (page.length !== 100) throw new Error(`history returned ${page.length} entries, expected 100`);
    });
    const size = `${(spec.entries / 1_000_000).toLocaleString('en-US')}M`;
    const p95: CaseResult = {
      id: 'history.p95ms.postgres.1m',
      value: quantile(latencies, 0.95),
      unit: 'ms',
      target: 5,
      direction: 'atMost',
      detail: `${latencies.length} calls of history({ feature, limit: 100 }) over ${spec.entries.toLocaleString('en-US')} entries (${size}), random features: p50 ${median(latencies).toFixed(2)} ms, p99 ${quantile(latencies, 0.99).toFixed(2)} ms`,
    };

    const cursor = await cursorOfPage(db, config.deepPage);
    const first: number[] = [];
    const deep: number[] = [];
    const page = async (before: string | undefined) => {
      const t0 = performance.now();
      const rows = await audited.history(before === undefined ? { limit: 100 } : { limit: 100, before });
      const ms = performance.now() - t0;
      if (rows.length !== 100) throw new Error(`a history page returned ${rows.length} entries`);
      return ms;
    };
    for (let i = 0; i < 50; i++) await page(i % 2 ? cursor : undefined);
    // Alternating samples: drift on the machine hits page 1 and page N alike.
    for (let i = 0; i < config.historySamples / 2; i++) {
      first.push(await page(undefined));
      deep.push(await page(cursor));
    }
    const ratio: CaseResult = {
      id: 'history.deepPageRatio.postgres',
      value: median(deep) / median(first),
      unit: 'ratio',
      target: 1.2,
      direction: 'atMost',
      detail: `median history({ limit: 100 }): page 1 ${median(first).toFixed(2)} ms, page ${config.deepPage} (before: cursor) ${median(deep).toFixed(2)} ms, ${first.length} samples each`,
    };
    return [p95, ratio];
  } finally {
    await db.close();
  }
}
