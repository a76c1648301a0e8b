export { MemoryAuditStore } from './memory-audit-store.js';
export { MemoryFlagAdapter, type MemoryFlagAdapterOptions } from './memory-flag-adapter.js';
