// Both conformance suites on a real database of one provider (a fresh one per test file), through
// a generated Prisma client and the tables of prisma/sql/<provider>.sql.
import { afterAll, beforeAll } from 'vitest';
import { PrismaAuditStore, PrismaFlagAdapter } from '../../src/prisma/index.js';
import { auditStoreConformance, flagAdapterConformance } from '../../src/testing/index.js';
import {
  createPrismaTestDatabase,
  type PrismaTestDatabase,
  type TestProvider,
  truncateFlagTables,
} from '../support/prisma-db.js';

export function prismaConformance(provider: TestProvider, label: string): void {
  let db: PrismaTestDatabase;
  beforeAll(async () => {
    db = await createPrismaTestDatabase(provider);
  });
  afterAll(async () => {
    await db?.drop();
  });

  flagAdapterConformance(`PrismaFlagAdapter on ${label}`, {
    create: () => new PrismaFlagAdapter(db.prisma),
    reset: () => truncateFlagTables(db),
  });

  auditStoreConformance(`PrismaAuditStore on ${label}`, {
    create: () => new PrismaAuditStore(db.prisma),
    reset: () => truncateFlagTables(db),
  });
}
