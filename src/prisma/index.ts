export { PrismaAuditStore, type PrismaAuditStoreOptions } from './audit-store.js';
export type {
  FlagtrailAuditEntryData,
  FlagtrailAuditEntryDelegate,
  FlagtrailAuditEntryWhere,
  FlipperFeatureData,
  FlipperFeatureDelegate,
  FlipperGateData,
  FlipperGateDelegate,
  PrismaAuditClient,
  PrismaAuditModels,
  PrismaFlagClient,
  PrismaFlagModels,
  PrismaFlagTrailClient,
  PrismaJsonInput,
  PrismaProvider,
  PrismaRawQueries,
  PrismaTransactionOptions,
  PrismaTransactions,
} from './client.js';
export { PrismaFlagAdapter, type PrismaFlagAdapterOptions } from './flag-adapter.js';
export type { InvalidGateRow, InvalidRowHandler } from './rows.js';
