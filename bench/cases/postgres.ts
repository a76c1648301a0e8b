// PostgreSQL through Prisma + @prisma/adapter-pg: write ratio, throughput, history on 1M entries.
import { PrismaFlagAdapter } from '../../src/prisma/index.js';
import type { BenchConfig } from '../lib/config.js';
import { openPostgres } from '../lib/prisma.js';
import type { CaseResult } from '../lib/report.js';
import { writeThroughput } from './throughput.js';
import { writeRatio } from './writes.js';

/** Database of the write cases, recreated on every run. */
export const WRITES_DATABASE = 'flagtrail_bench_writes';

/** `write.ratio.postgres` and `write.throughput.postgres`. */
export async function postgresWrites(config: BenchConfig): Promise<CaseResult[]> {
  const db = await openPostgres(WRITES_DATABASE, { recreate: true, poolSize: config.writers + 4 });
  try {
    const ratio = await writeRatio('write.ratio.postgres', () => new PrismaFlagAdapter(db.prisma), config);
    const throughput = await writeThroughput(db, config);
    return [{ ...ratio, target: 1.8, direction: 'atMost' }, throughput];
  } finally {
    await db.close();
  }
}
