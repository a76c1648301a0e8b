export {
  AUDIT_COLLECTION,
  auditIndexes,
  MongoAuditStore,
  type MongoAuditStoreOptions,
  type MongoRetention,
} from './audit-store.js';
export type { AuditDocument, StoredChange, StoredGates, StoredJson, StoredState } from './documents.js';
export { type LeaseDocument, LOCKS_COLLECTION, type MongoLockOptions } from './feature-lock.js';
export {
  FEATURES_DOCUMENT_ID,
  type FlipperFeatureDocument,
  MongoFlagAdapter,
  type MongoFlagAdapterOptions,
} from './flag-adapter.js';
export type { MongoTarget } from './target.js';
