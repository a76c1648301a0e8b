// Both conformance suites on a real PostgreSQL database (a fresh one for this file), through a
// generated Prisma client and the tables of prisma/sql/postgresql.sql.
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
  db = await createPrismaTestDatabase('postgresql');
});
afterAll(async () => {
  await db?.drop();
});

flagAdapterConformance('PrismaFlagAdapter on PostgreSQL', {
  create: () => new PrismaFlagAdapter(db.prisma),
  reset: () => truncateFlagTables(db),
});

auditStoreConformance('PrismaAuditStore on PostgreSQL', {
  create: () => new PrismaAuditStore(db.prisma),
  reset: () => truncateFlagTables(db),
});
