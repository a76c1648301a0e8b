// Databases for the Prisma cases, built on the test-support helpers (generated client, shipped
// SQL): a PostgreSQL database by name (kept or recreated), and a fresh SQLite file.
import { existsSync } from 'node:fs';
import { mkdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { createClient } from '@libsql/client';
import { PrismaLibSql } from '@prisma/adapter-libsql';
import { PrismaPg } from '@prisma/adapter-pg';
import pg from 'pg';
import {
  loadClientModule,
  PG_URL,
  schemaStatements,
  type TestPrismaClient,
} from '../../test/support/prisma-db.js';
import { REPO_ROOT } from '../../test/support/prisma-generate.js';

export { PG_URL };

const HOW_TO_START_PG = `PostgreSQL is not reachable at ${PG_URL}. Start it with: pg_ctlcluster --skip-systemctl-redirect $(ls /etc/postgresql) main start (or set FLAGTRAIL_TEST_PG_URL)`;

/** A PostgreSQL database for the bench: a Prisma client with a sized pool, and a raw pg pool. */
export interface BenchPostgres {
  database: string;
  url: string;
  prisma: TestPrismaClient;
  /** Direct driver access, for seeding (COPY) and EXPLAIN. */
  pool: pg.Pool;
  /** Runs the shipped prisma/sql/postgresql.sql (idempotent: creates what is missing). */
  ensureSchema(): Promise<void>;
  close(): Promise<void>;
}

function withDatabase(url: string, database: string): string {
  const u = new URL(url);
  u.pathname = `/${database}`;
  return u.toString();
}

/** Runs `fn` on a client connected to the server's default database. */
async function asAdmin<T>(fn: (client: pg.Client) => Promise<T>): Promise<T> {
  const admin = new pg.Client({ connectionString: PG_URL });
  try {
    await admin.connect();
  } catch (error) {
    throw new Error(`${HOW_TO_START_PG} (${(error as Error).message})`, { cause: error });
  }
  try {
    return await fn(admin);
  } finally {
    await admin.end();
  }
}

/**
 * Opens database `name`, creating it with the flagtrail tables when missing; `recreate` drops it
 * first. `poolSize` is the size of the Prisma client's pg pool (the throughput case needs one
 * connection per concurrent writer).
 */
export async function openPostgres(
  name: string,
  options: { recreate: boolean; poolSize: number },
): Promise<BenchPostgres> {
  await asAdmin(async (admin) => {
    if (options.recreate) await admin.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
    const found = await admin.query('SELECT 1 FROM pg_database WHERE datname = $1', [name]);
    if (found.rowCount === 0) await admin.query(`CREATE DATABASE ${name}`);
  });
  const url = withDatabase(PG_URL, name);
  const pool = new pg.Pool({ connectionString: url, max: 4 });
  const ensureSchema = async () => {
    for (const statement of await schemaStatements('postgresql')) await pool.query(statement);
  };
  await ensureSchema();
  const module = await loadClientModule('postgresql');
  const prisma = new module.PrismaClient({
    adapter: new PrismaPg({ connectionString: url, max: options.poolSize }),
  });
  return {
    database: name,
    url,
    prisma,
    pool,
    ensureSchema,
    async close() {
      await prisma.$disconnect().catch(() => undefined);
      await pool.end().catch(() => undefined);
    },
  };
}

/** Drops a bench database (used for the write database, recreated every run). */
export async function dropPostgres(name: string): Promise<void> {
  await asAdmin((admin) => admin.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`));
}

/** A fresh SQLite file under .tmp/bench with the flagtrail tables, and a Prisma client on it. */
export async function freshSqlite(): Promise<{
  prisma: TestPrismaClient;
  file: string;
  close(): Promise<void>;
}> {
  const dir = join(REPO_ROOT, '.tmp/bench');
  await mkdir(dir, { recursive: true });
  const file = join(dir, `writes-${process.pid}.db`);
  const remove = () =>
    Promise.all(['', '-journal', '-wal', '-shm'].map((s) => rm(`${file}${s}`, { force: true })));
  if (existsSync(file)) await remove();
  const url = `file:${file}`;
  const admin = createClient({ url });
  for (const statement of await schemaStatements('sqlite')) await admin.execute(statement);
  admin.close();
  const module = await loadClientModule('sqlite');
  const prisma = new module.PrismaClient({ adapter: new PrismaLibSql({ url }) });
  return {
    prisma,
    file,
    async close() {
      await prisma.$disconnect().catch(() => undefined);
      await remove();
    },
  };
}
