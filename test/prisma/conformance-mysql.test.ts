// Both conformance suites on a real MariaDB database (a fresh one for this file), through a
// generated Prisma client and the tables of prisma/sql/mysql.sql.
import { afterAll, beforeAll } from 'vitest';
import { PrismaAuditStore, PrismaFlagAdapter } from '../../src/prisma/index.js';
import { auditStoreConformance, flagAdapterConformance } from '../../src/testing/index.js';
import {
  createPrismaTestDatabase,
  type PrismaTestDatabase,
  truncateFlagTables,
} from '../support/prisma-db.js';

let db: PrismaTestDatabase;
beforeAll(async () => {
  db = await createPrismaTestDatabase('mysql');
});
afterAll(async () => {
  await db?.drop();
});

flagAdapterConformance('PrismaFlagAdapter on MariaDB', {
  create: () => new PrismaFlagAdapter(db.prisma),
  reset: () => truncateFlagTables(db),
});

auditStoreConformance('PrismaAuditStore on MariaDB', {
  create: () => new PrismaAuditStore(db.prisma),
  reset: () => truncateFlagTables(db),
});
