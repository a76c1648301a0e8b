export { auditStoreConformance } from './audit-store-conformance.js';
export { makeAuditEntry, uuidv7At } from './entries.js';
export { type ConformanceOptions, flagAdapterConformance } from './flag-adapter-conformance.js';
