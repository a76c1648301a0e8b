import { FlagTrailError, isFlagTrailError } from '../core/errors.js';

// Checked structurally rather than with `instanceof MongoServerError`: the application may load a
// different copy of the driver (6 or 7) than the one this package would import.
interface DriverErrorShape {
  name?: unknown;
  code?: unknown;
  message?: unknown;
  writeErrors?: unknown;
}

const DUPLICATE_KEY_CODES = new Set([11000, 11001]);

/** True for a duplicate-key error, whether raised by a single write or inside a bulk write. */
export function isDuplicateKey(error: unknown): boolean {
  if (error === null || typeof error !== 'object') return false;
  const e = error as DriverErrorShape;
  if (typeof e.code === 'number' && DUPLICATE_KEY_CODES.has(e.code)) return true;
  if (Array.isArray(e.writeErrors)) {
    return (
      e.writeErrors.length > 0 &&
      e.writeErrors.every((w) => DUPLICATE_KEY_CODES.has((w as { code?: unknown })?.code as number))
    );
  }
  return false;
}

/** The driver's error code, when it has a numeric one. */
export function driverCode(error: unknown): number | undefined {
  if (error === null || typeof error !== 'object') return undefined;
  const code = (error as DriverErrorShape).code;
  return typeof code === 'number' ? code : undefined;
}

/**
 * Translates a driver error into a `FlagTrailError` once, at the backend boundary. A
 * `FlagTrailError` (a validation failure inside the operation) passes through unchanged.
 */
export function translateError(
  error: unknown,
  code: 'ADAPTER_ERROR' | 'STORE_ERROR',
  operation: string,
): FlagTrailError {
  if (isFlagTrailError(error)) return error;
  const e = (error ?? {}) as DriverErrorShape;
  const name = typeof e.name === 'string' ? e.name : 'Error';
  const detail = typeof e.message === 'string' && e.message.length > 0 ? e.message : String(error);
  const numeric = typeof e.code === 'number' ? ` (code ${e.code})` : '';
  return new FlagTrailError(code, `${operation} failed: ${name}${numeric}: ${detail}`, { cause: error });
}

/**
 * Runs an upsert, repeating it when it lost a race to create the same document: MongoDB may answer
 * concurrent upserts of one `_id` with a duplicate-key error, and once the document exists the
 * repeated update matches it instead of inserting, so the write is applied, not dropped.
 */
export async function upsertWithRetry<T>(write: () => Promise<T>): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await write();
    } catch (error) {
      if (!isDuplicateKey(error) || attempt >= 3) throw error;
    }
  }
}
