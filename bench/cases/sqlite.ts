// SQLite file through Prisma + @prisma/adapter-libsql: the write ratio (reported, no target).
import { PrismaFlagAdapter } from '../../src/prisma/index.js';
import type { BenchConfig } from '../lib/config.js';
import { freshSqlite } from '../lib/prisma.js';
import type { CaseResult } from '../lib/report.js';
import { writeRatio } from './writes.js';

/** `write.ratio.sqlite` on a fresh file under .tmp/bench. */
export async function sqliteWrites(config: BenchConfig): Promise<CaseResult[]> {
  const db = await freshSqlite();
  try {
    return [await writeRatio('write.ratio.sqlite', () => new PrismaFlagAdapter(db.prisma), config)];
  } finally {
    await db.close();
  }
}
