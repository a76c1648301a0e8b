import { MemoryAuditStore, MemoryFlagAdapter } from '../../src/memory/index.js';
import { auditStoreConformance, flagAdapterConformance } from '../../src/testing/index.js';

flagAdapterConformance('memory', { create: () => new MemoryFlagAdapter() });
auditStoreConformance('memory', { create: () => new MemoryAuditStore() });
