export {
  backoffDelay,
  type CloseResult,
  DEFAULT_RETRY,
  Outbox,
  type ResolvedRetryOptions,
  type RetryOptions,
  resolveRetryOptions,
} from './outbox.js';
export { auditFailure, DEFAULT_AUDIT_TIMEOUT_MS, isPermanentFailure, recordWithin } from './record.js';
export { parseSpoolLine, Spool, type SpoolContents } from './spool.js';
