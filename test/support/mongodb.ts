// Per-test-file MongoDB databases on the server started by test/setup/mongodb.ts (or MONGODB_URL).
import { randomBytes } from 'node:crypto';
import { type Db, MongoClient, type MongoClientOptions } from 'mongodb';
import { afterAll, beforeAll, inject } from 'vitest';

/** What a test file gets: its own database on the shared server. */
export interface MongoTestDatabase {
  url: string;
  client: MongoClient;
  db: Db;
  /** True when the server is FerretDB, which lacks a few MongoDB features (TTL indexes, atomic updates). */
  isFerretDB: boolean;
}

const HOW_TO =
  'the MongoDB test server comes from vitest globalSetup test/setup/mongodb.ts: run the tests through vitest ' +
  '(npx vitest run ...), build FerretDB with "bash scripts/ferretdb.sh", or set MONGODB_URL to a running MongoDB';

/** The URL of the run's test server; fails with instructions when the global setup did not run. */
export function mongoUrl(): string {
  const url = inject('mongodbUrl');
  if (typeof url !== 'string' || url.length === 0) throw new Error(`no MongoDB test server: ${HOW_TO}`);
  return url;
}

/** A fresh database name: Mongo names allow at most 63 bytes and no `.`, `$`, `/` or spaces. */
export function freshDatabaseName(prefix = 'flagtrail'): string {
  const safe = prefix.replace(/[^A-Za-z0-9_-]/g, '_').slice(0, 30);
  return `${safe}_${process.pid}_${randomBytes(4).toString('hex')}`;
}

/** A connected client with short timeouts, so a server that went away fails a test quickly. */
export async function connectMongo(options: MongoClientOptions = {}, url = mongoUrl()): Promise<MongoClient> {
  const client = new MongoClient(url, { serverSelectionTimeoutMS: 5_000, ...options });
  try {
    await client.connect();
  } catch (error) {
    await client.close().catch(() => {});
    throw new Error(`cannot reach the MongoDB test server at ${url}: ${(error as Error).message}; ${HOW_TO}`);
  }
  return client;
}

/**
 * Gives the calling test file its own database, created before its tests and dropped after them.
 * Call at the top level (or in a describe) of a test file; read the handle inside tests or hooks.
 *
 * @example
 * ```ts
 * const mongo = useMongoDatabase('koa_example');
 * it('works', async () => { const adapter = new MongoFlagAdapter(mongo().db); ... });
 * ```
 */
export function useMongoDatabase(prefix?: string): () => MongoTestDatabase {
  let handle: MongoTestDatabase | undefined;
  beforeAll(async () => {
    const url = mongoUrl();
    const client = await connectMongo({}, url);
    handle = {
      url,
      client,
      db: client.db(freshDatabaseName(prefix)),
      isFerretDB: inject('mongodbIsFerretDB'),
    };
  });
  afterAll(async () => {
    if (!handle) return;
    try {
      await handle.db.dropDatabase();
    } finally {
      await handle.client.close();
    }
  });
  return () => {
    if (!handle) throw new Error('useMongoDatabase(): the database is ready only inside tests and hooks');
    return handle;
  };
}

/**
 * Deletes every document of every collection in `db` but keeps the collections and their indexes,
 * so stores that already created their indexes stay consistent between tests.
 */
export async function emptyDatabase(db: Db): Promise<void> {
  const collections = await db.listCollections({}, { nameOnly: true }).toArray();
  await Promise.all(
    collections.filter((c) => !c.name.startsWith('system.')).map((c) => db.collection(c.name).deleteMany({})),
  );
}
