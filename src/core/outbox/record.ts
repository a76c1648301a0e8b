import { FlagTrailError, isFlagTrailError } from '../errors.js';
import type { AuditEntry, AuditStore } from '../types.js';

/** How long a `record` may take before it counts as failed, when the option is not given. */
export const DEFAULT_AUDIT_TIMEOUT_MS = 5000;

/** A store failure as the trail reports it: `AUDIT_FAILED`, or the store's own typed error. */
export function auditFailure(error: unknown, store: AuditStore): FlagTrailError {
  if (isFlagTrailError(error) && (error.code === 'AUDIT_FAILED' || error.code === 'AUDIT_TIMEOUT')) {
    return error;
  }
  const message = error instanceof Error ? error.message : String(error);
  return new FlagTrailError('AUDIT_FAILED', `audit store "${store.name}" failed to record: ${message}`, {
    cause: error,
  });
}

/**
 * Errors that another attempt cannot fix: the store refused the entry itself. Retrying them would
 * block every entry queued behind.
 */
export function isPermanentFailure(error: FlagTrailError): boolean {
  const cause = error.cause;
  return (
    isFlagTrailError(cause) &&
    (cause.code === 'MALFORMED_ENTRY' || cause.code.startsWith('INVALID_') || cause.code === 'MISSING_MODEL')
  );
}

/**
 * `store.record(entry)`, failed with `AUDIT_TIMEOUT` when it has not settled within `timeoutMs`.
 * The store call itself cannot be cancelled and may still land later; stores are idempotent on
 * the entry id, so a retry of the same entry never stores it twice.
 */
export function recordWithin(store: AuditStore, entry: AuditEntry, timeoutMs: number): Promise<void> {
  let call: Promise<void>;
  try {
    call = Promise.resolve(store.record(entry));
  } catch (error) {
    return Promise.reject(auditFailure(error, store));
  }
  if (!Number.isFinite(timeoutMs))
    return call.catch((error: unknown) => Promise.reject(auditFailure(error, store)));
  return new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => {
      reject(
        new FlagTrailError(
          'AUDIT_TIMEOUT',
          `audit store "${store.name}" did not record entry ${entry.id} within ${timeoutMs} ms`,
        ),
      );
    }, timeoutMs);
    timer.unref?.();
    call.then(
      () => {
        clearTimeout(timer);
        resolve();
      },
      (error: unknown) => {
        clearTimeout(timer);
        reject(auditFailure(error, store));
      },
    );
  });
}
