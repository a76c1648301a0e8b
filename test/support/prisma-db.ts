// A fresh database per caller, with the flagtrail tables from prisma/sql/, and a real generated
// Prisma client on it: a temp SQLite file, a new PostgreSQL database, or a new MariaDB database.
// Services that cannot be reached fail with a message saying how to start them; nothing is skipped.
import { randomBytes } from 'node:crypto';
import { mkdir, readFile, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { createClient } from '@libsql/client';
import { PrismaLibSql } from '@prisma/adapter-libsql';
import { PrismaMariaDb } from '@prisma/adapter-mariadb';
import { PrismaPg } from '@prisma/adapter-pg';
import pg from 'pg';
import type { PrismaFlagTrailClient } from '../../src/prisma/index.js';
import { clientDir, ensurePrismaClients, REPO_ROOT, type TestProvider } from './prisma-generate.js';

export type { TestProvider } from './prisma-generate.js';
export { TEST_PROVIDERS } from './prisma-generate.js';

/** A generated PrismaClient, typed by what flagtrail and the tests use. */
export interface TestPrismaClient extends PrismaFlagTrailClient {
  $connect(): Promise<void>;
  $disconnect(): Promise<void>;
  $executeRawUnsafe(query: string, ...values: unknown[]): Promise<number>;
  $queryRawUnsafe(query: string, ...values: unknown[]): Promise<unknown>;
}

/** Options of `PrismaTestDatabase.newClient`. */
export interface NewClientOptions {
  /** Receives the SQL text of every query the client sends. */
  onQuery?: (sql: string) => void;
  /** Connect to this TCP port on 127.0.0.1 instead of the service's (e.g. a proxy); not for SQLite. */
  port?: number;
}

/** One fresh database and a client on it. */
export interface PrismaTestDatabase {
  provider: TestProvider;
  /** Connection URL of the database (a `file:` URL for SQLite). */
  url: string;
  /** Name of the database (the file path for SQLite). */
  database: string;
  prisma: TestPrismaClient;
  /** Another client on the same database (own connections), e.g. to play a second process. */
  newClient(options?: NewClientOptions): Promise<TestPrismaClient>;
  /** Runs SQL on the database outside Prisma, through the driver; returns the rows. */
  sql(query: string, params?: unknown[]): Promise<Record<string, unknown>[]>;
  /** Closes every client and deletes the database. */
  drop(): Promise<void>;
}

export const PG_URL = process.env.FLAGTRAIL_TEST_PG_URL ?? 'postgresql://postgres@127.0.0.1:5432/test';
export const MARIADB_URL = process.env.FLAGTRAIL_TEST_MARIADB_URL ?? 'mariadb://root@127.0.0.1:3306/test';

const HOW_TO_START: Record<Exclude<TestProvider, 'sqlite'>, string> = {
  postgresql: `PostgreSQL is not reachable at ${PG_URL}. Start it with: pg_ctlcluster --skip-systemctl-redirect $(ls /etc/postgresql) main start (or set FLAGTRAIL_TEST_PG_URL)`,
  mysql: `MariaDB is not reachable at ${MARIADB_URL}. Start it with: start-stop-daemon --start --oknodo --background --exec /usr/sbin/mariadbd (or set FLAGTRAIL_TEST_MARIADB_URL)`,
};

type ClientModule = {
  PrismaClient: new (options: {
    adapter: unknown;
    log?: { emit: 'event'; level: 'query' }[];
  }) => TestPrismaClient & {
    $on(event: 'query', listener: (e: { query: string }) => void): void;
  };
};

function makeClient(
  module: ClientModule,
  adapter: unknown,
  options: NewClientOptions | undefined,
): TestPrismaClient {
  if (!options?.onQuery) return new module.PrismaClient({ adapter });
  const client = new module.PrismaClient({ adapter, log: [{ emit: 'event', level: 'query' }] });
  const onQuery = options.onQuery;
  client.$on('query', (e) => onQuery(e.query));
  return client;
}

function viaPort(url: string, port: number | undefined): string {
  if (port === undefined) return url;
  const u = new URL(url);
  u.hostname = '127.0.0.1';
  u.port = String(port);
  return u.toString();
}

const modules = new Map<TestProvider, Promise<ClientModule>>();

/** The generated client module of a provider, generating it first if needed. */
export function loadClientModule(provider: TestProvider): Promise<ClientModule> {
  let loaded = modules.get(provider);
  if (loaded === undefined) {
    loaded = ensurePrismaClients([provider]).then(
      () => import(pathToFileURL(join(clientDir(provider), 'client.ts')).href) as Promise<ClientModule>,
    );
    modules.set(provider, loaded);
  }
  return loaded;
}

/** The statements of one of the shipped SQL files. */
export async function schemaStatements(provider: TestProvider): Promise<string[]> {
  const text = await readFile(join(REPO_ROOT, `prisma/sql/${provider}.sql`), 'utf8');
  return text
    .split('\n')
    .filter((line) => !line.trimStart().startsWith('--'))
    .join('\n')
    .split(/;\s*(?:\n|$)/)
    .map((s) => s.trim())
    .filter((s) => s.length > 0);
}

function uniqueName(): string {
  return `flagtrail_t_${Date.now().toString(36)}_${randomBytes(4).toString('hex')}`;
}

function withDatabase(url: string, database: string): string {
  const u = new URL(url);
  u.pathname = `/${database}`;
  return u.toString();
}

async function sqliteDatabase(module: ClientModule): Promise<PrismaTestDatabase> {
  const dir = join(REPO_ROOT, '.tmp/prisma');
  await mkdir(dir, { recursive: true });
  const file = join(dir, `${uniqueName()}.db`);
  const url = `file:${file}`;
  const admin = createClient({ url });
  for (const statement of await schemaStatements('sqlite')) await admin.execute(statement);
  const clients: TestPrismaClient[] = [];
  const newClient = async (options?: NewClientOptions) => {
    const client = makeClient(module, new PrismaLibSql({ url }), options);
    clients.push(client);
    return client;
  };
  return {
    provider: 'sqlite',
    url,
    database: file,
    prisma: await newClient(),
    newClient,
    async sql(query, params = []) {
      const result = await admin.execute({ sql: query, args: params as never });
      return result.rows.map((row) => ({ ...row }));
    },
    async drop() {
      await Promise.all(clients.map((c) => c.$disconnect()));
      admin.close();
      await Promise.all(['', '-journal', '-wal', '-shm'].map((s) => rm(`${file}${s}`, { force: true })));
    },
  };
}

async function postgresDatabase(module: ClientModule): Promise<PrismaTestDatabase> {
  const admin = new pg.Client({ connectionString: PG_URL });
  try {
    await admin.connect();
  } catch (error) {
    throw new Error(`${HOW_TO_START.postgresql}\n(${(error as Error).message})`, { cause: error });
  }
  const database = uniqueName();
  await admin.query(`CREATE DATABASE ${database}`);
  const url = withDatabase(PG_URL, database);
  const direct = new pg.Client({ connectionString: url });
  await direct.connect();
  for (const statement of await schemaStatements('postgresql')) await direct.query(statement);
  const clients: TestPrismaClient[] = [];
  const newClient = async (options?: NewClientOptions) => {
    const client = makeClient(
      module,
      new PrismaPg({ connectionString: viaPort(url, options?.port) }),
      options,
    );
    clients.push(client);
    return client;
  };
  return {
    provider: 'postgresql',
    url,
    database,
    prisma: await newClient(),
    newClient,
    async sql(query, params = []) {
      return (await direct.query(query, params)).rows;
    },
    async drop() {
      await Promise.all(clients.map((c) => c.$disconnect().catch(() => undefined)));
      await direct.end().catch(() => undefined);
      await admin.query(`DROP DATABASE IF EXISTS ${database} WITH (FORCE)`);
      await admin.end();
    },
  };
}

function mariadbAdapter(url: string, failFast = false): PrismaMariaDb {
  const u = new URL(url);
  return new PrismaMariaDb({
    host: u.hostname,
    port: Number(u.port || 3306),
    user: decodeURIComponent(u.username || 'root'),
    password: decodeURIComponent(u.password),
    database: u.pathname.slice(1),
    connectionLimit: 4,
    // Behind a proxy a test cuts on purpose, give up in 2 s instead of the pool's 10 s default.
    ...(failFast ? { acquireTimeout: 2_000, connectTimeout: 2_000 } : {}),
  });
}

async function mariadbDatabase(module: ClientModule): Promise<PrismaTestDatabase> {
  // Administration goes through a Prisma client on the service's default database, so the tests
  // need no MariaDB driver beyond the one @prisma/adapter-mariadb brings.
  const admin = new module.PrismaClient({ adapter: mariadbAdapter(MARIADB_URL) });
  try {
    await admin.$queryRawUnsafe('SELECT 1');
  } catch (error) {
    await admin.$disconnect().catch(() => undefined);
    throw new Error(`${HOW_TO_START.mysql}\n(${(error as Error).message})`, { cause: error });
  }
  const database = uniqueName();
  await admin.$executeRawUnsafe(`CREATE DATABASE ${database} CHARACTER SET utf8mb4 COLLATE utf8mb4_bin`);
  const url = withDatabase(MARIADB_URL, database);
  const direct = new module.PrismaClient({ adapter: mariadbAdapter(url) });
  for (const statement of await schemaStatements('mysql')) await direct.$executeRawUnsafe(statement);
  const clients: TestPrismaClient[] = [];
  const newClient = async (options?: NewClientOptions) => {
    const client = makeClient(
      module,
      mariadbAdapter(viaPort(url, options?.port), options?.port !== undefined),
      options,
    );
    clients.push(client);
    return client;
  };
  return {
    provider: 'mysql',
    url,
    database,
    prisma: await newClient(),
    newClient,
    async sql(query, params = []) {
      if (/^\s*(select|show|with)\b/i.test(query)) {
        return (await direct.$queryRawUnsafe(query, ...params)) as Record<string, unknown>[];
      }
      await direct.$executeRawUnsafe(query, ...params);
      return [];
    },
    async drop() {
      await Promise.all(clients.map((c) => c.$disconnect().catch(() => undefined)));
      await direct.$disconnect().catch(() => undefined);
      await admin.$executeRawUnsafe(`DROP DATABASE IF EXISTS ${database}`);
      await admin.$disconnect();
    },
  };
}

/**
 * A fresh database with the flagtrail tables and a generated Prisma client on it.
 *
 * @example
 * ```ts
 * const db = await createPrismaTestDatabase('postgresql');
 * const adapter = new PrismaFlagAdapter(db.prisma);
 * afterAll(() => db.drop());
 * ```
 */
export async function createPrismaTestDatabase(provider: TestProvider): Promise<PrismaTestDatabase> {
  const module = await loadClientModule(provider);
  switch (provider) {
    case 'sqlite':
      return sqliteDatabase(module);
    case 'postgresql':
      return postgresDatabase(module);
    case 'mysql':
      return mariadbDatabase(module);
  }
}

/** Empties the flagtrail tables (between tests of one file). */
export async function truncateFlagTables(db: PrismaTestDatabase): Promise<void> {
  for (const table of ['flipper_features', 'flipper_gates', 'flagtrail_audit_entries']) {
    await db.sql(db.provider === 'sqlite' ? `DELETE FROM ${table}` : `TRUNCATE TABLE ${table}`);
  }
}
