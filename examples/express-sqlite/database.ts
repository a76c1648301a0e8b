// Prepares the demo's embedded SQLite database, offline and from scratch:
//   1. generates the Prisma client into generated/prisma (skipped while the schema is unchanged),
//   2. creates the tables from the package's prisma/sql/sqlite.sql in a fresh database file,
//   3. opens a PrismaClient on it through the libSQL driver adapter.
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { copyFile, mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { promisify } from 'node:util';
import { createClient } from '@libsql/client';
import { PrismaLibSql } from '@prisma/adapter-libsql';
import type { PrismaFlagTrailClient } from 'flagtrail/prisma';

const here = path.dirname(fileURLToPath(import.meta.url));
const repoRoot = path.resolve(here, '../..');
const require = createRequire(import.meta.url);

export const GENERATED_DIR = path.join(here, 'generated');
const SCHEMA_DIR = path.join(GENERATED_DIR, 'schema');
const CLIENT_DIR = path.join(GENERATED_DIR, 'prisma');
const STAMP = path.join(GENERATED_DIR, 'schema.sha256');
const SCHEMA_FILES = [
  path.join(here, 'prisma/schema.prisma'),
  path.join(repoRoot, 'prisma/flagtrail.prisma'),
];
const SQL_FILE = path.join(repoRoot, 'prisma/sql/sqlite.sql');

/** The generated client, typed by the shape flagtrail needs plus the two calls the demo makes. */
export type DemoPrisma = PrismaFlagTrailClient & { $disconnect(): Promise<void> };
type PrismaClientClass = new (options: { adapter: PrismaLibSql }) => DemoPrisma;

async function schemaHash(): Promise<string> {
  const hash = createHash('sha256');
  hash.update(String((require('prisma/package.json') as { version: string }).version));
  for (const file of SCHEMA_FILES) hash.update(await readFile(file));
  return hash.digest('hex');
}

/**
 * Generates the Prisma client unless the one in generated/ was made from the same schema files.
 * Returns whether it ran the generator.
 */
export async function generateClient(): Promise<boolean> {
  const hash = await schemaHash();
  const previous = await readFile(STAMP, 'utf8').catch(() => '');
  if (previous === hash) return false;
  await rm(GENERATED_DIR, { recursive: true, force: true });
  await mkdir(SCHEMA_DIR, { recursive: true });
  // A multi-file schema: the app's generator and datasource next to flagtrail's models.
  for (const file of SCHEMA_FILES) await copyFile(file, path.join(SCHEMA_DIR, path.basename(file)));
  const prismaCli = path.join(path.dirname(require.resolve('prisma/package.json')), 'build/index.js');
  try {
    await promisify(execFile)(process.execPath, [prismaCli, 'generate', '--schema', SCHEMA_DIR], {
      cwd: here,
      env: {
        ...process.env,
        // `generate` never runs the schema engine, but the CLI downloads one at start unless this
        // names an existing file; any file will do, so the demo works without network access.
        PRISMA_SCHEMA_ENGINE_BINARY: process.execPath,
        CHECKPOINT_DISABLE: '1',
        PRISMA_HIDE_UPDATE_MESSAGE: '1',
      },
    });
  } catch (error) {
    const { stderr, stdout } = error as { stderr?: string; stdout?: string };
    throw new Error(`prisma generate failed:\n${stderr || stdout || (error as Error).message}`);
  }
  await writeFile(STAMP, hash);
  return true;
}

/** Deletes `file` if it exists and creates the flagtrail tables in a new, empty database there. */
export async function createDatabase(file: string): Promise<void> {
  await mkdir(path.dirname(file), { recursive: true });
  for (const suffix of ['', '-journal', '-wal', '-shm']) await rm(`${file}${suffix}`, { force: true });
  const client = createClient({ url: pathToFileURL(file).href });
  try {
    await client.executeMultiple(await readFile(SQL_FILE, 'utf8'));
  } finally {
    client.close();
  }
}

/** A PrismaClient on the SQLite file, through the generated client and the libSQL adapter. */
export async function openPrisma(file: string): Promise<DemoPrisma> {
  // Imported by path at run time: the client exists only after generateClient(), and the
  // typecheck of a fresh clone must not depend on generated code.
  const generated = pathToFileURL(path.join(CLIENT_DIR, 'client.ts')).href;
  const { PrismaClient } = (await import(generated)) as { PrismaClient: PrismaClientClass };
  return new PrismaClient({ adapter: new PrismaLibSql({ url: pathToFileURL(file).href }) });
}
