// `write.throughput.postgres`: audited enables per second from concurrent writers.
import { withAuditTrail } from '../../src/core/audited-adapter.js';
import { PrismaFlagAdapter } from '../../src/prisma/index.js';
import type { BenchConfig } from '../lib/config.js';
import type { BenchPostgres } from '../lib/prisma.js';
import type { CaseResult } from '../lib/report.js';

// Flags per writer: enough that no flag's actor set grows large during the run, and writers never
// share a flag (the decorator serializes writes to one flag, which would measure queueing instead).
const FLAGS_PER_WRITER = 50;

/**
 * `config.writers` loops share one audited Prisma adapter (one client, a pool of writers + 4
 * connections) and issue `config.throughputWrites` audited actor enables in total, each on a
 * new actor. After a warm-up of one write per flag, reports writes per second of wall time.
 */
export async function writeThroughput(db: BenchPostgres, config: BenchConfig): Promise<CaseResult> {
  const audited = withAuditTrail(new PrismaFlagAdapter(db.prisma));
  const flags = (w: number) => Array.from({ length: FLAGS_PER_WRITER }, (_, i) => `tp_w${w}_${i}`);
  const writers = Array.from({ length: config.writers }, (_, w) => flags(w));
  // Warm-up: creates every flag, fills the pool and the client's caches.
  await Promise.all(
    writers.map(async (keys) => {
      for (const key of keys) await audited.enable(key, 'actors', 'warmup');
    }),
  );
  let next = 0;
  const latencies: number[] = [];
  const started = performance.now();
  await Promise.all(
    writers.map(async (keys) => {
      for (let i = 0; ; i++) {
        const n = next++;
        if (n >= config.throughputWrites) return;
        const t0 = performance.now();
        await audited.enable(keys[i % keys.length]!, 'actors', `a${n}`);
        latencies.push(performance.now() - t0);
      }
    }),
  );
  const seconds = (performance.now() - started) / 1000;
  latencies.sort((a, b) => a - b);
  const p = (q: number) => latencies[Math.min(latencies.length - 1, Math.floor(q * latencies.length))]!;
  return {
    id: 'write.throughput.postgres',
    value: config.throughputWrites / seconds,
    unit: 'writes/s',
    target: 2000,
    direction: 'atLeast',
    detail: `${config.throughputWrites} audited enables by ${config.writers} writers in ${seconds.toFixed(2)} s; latency p50 ${p(0.5).toFixed(1)} ms, p95 ${p(0.95).toFixed(1)} ms`,
  };
}
