/** Every `FlagTrailError.code`. */
export type FlagTrailErrorCode =
  | 'INVALID_FEATURE'
  | 'INVALID_GATE'
  | 'INVALID_VALUE'
  | 'INVALID_ACTOR'
  | 'INVALID_CONTEXT'
  | 'INVALID_QUERY'
  | 'INVALID_OPTION'
  | 'INVALID_EXPRESSION'
  | 'NO_AUDIT_STORE'
  | 'ALREADY_AUDITED'
  | 'AUDIT_FAILED'
  | 'AUDIT_TIMEOUT'
  | 'STORE_ERROR'
  | 'ADAPTER_ERROR'
  | 'MISSING_MODEL'
  | 'MALFORMED_ENTRY'
  | 'CLOSED'
  | 'OUTBOX_FULL'
  | 'SPOOL_ERROR';

/**
 * The one error class flagtrail throws. `code` says what went wrong; `cause` keeps the driver or
 * store error it translates.
 *
 * @example
 * ```ts
 * try { await flags.enablePercentageOfActors('checkout', 150); }
 * catch (e) { if (e instanceof FlagTrailError && e.code === 'INVALID_VALUE') reply(400, e.message); }
 * ```
 */
export class FlagTrailError extends Error {
  readonly code: FlagTrailErrorCode;

  constructor(code: FlagTrailErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options?.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'FlagTrailError';
    this.code = code;
  }
}

/** True for a `FlagTrailError`, also one thrown by another copy of the package (CJS next to ESM). */
export function isFlagTrailError(error: unknown): error is FlagTrailError {
  return (
    error instanceof FlagTrailError ||
    (error instanceof Error &&
      error.name === 'FlagTrailError' &&
      typeof (error as { code?: unknown }).code === 'string')
  );
}

/** A short, safe rendering of a bad input for error messages. */
export function describeInput(value: unknown): string {
  if (value === null) return 'null';
  if (value === undefined) return 'undefined';
  if (typeof value === 'string') {
    const shown = value.length > 60 ? `${value.slice(0, 60)}…` : value;
    return JSON.stringify(shown);
  }
  if (typeof value === 'number') return Object.is(value, -0) ? '-0' : String(value);
  if (typeof value === 'bigint') return `${value}n`;
  if (Array.isArray(value)) return `an array of ${value.length}`;
  if (typeof value === 'object') return 'an object';
  return typeof value;
}
