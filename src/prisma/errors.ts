import { FlagTrailError, isFlagTrailError } from '../core/errors.js';
import type { PrismaProvider } from './client.js';

function prismaCode(error: unknown): string | undefined {
  const code = (error as { code?: unknown } | null)?.code;
  return typeof code === 'string' ? code : undefined;
}

/** A unique-constraint violation: another writer inserted the same row first. */
export function isUniqueViolation(error: unknown): boolean {
  return prismaCode(error) === 'P2002';
}

// Raw queries surface a missing table as a generic database error; recognise the drivers' words.
const MISSING_TABLE = /no such table|relation "[^"]*" does not exist|table '[^']*' doesn't exist/i;

function sqlFile(provider: PrismaProvider): string {
  return provider === 'sqlite' ? 'sqlite.sql' : provider === 'mysql' ? 'mysql.sql' : 'postgresql.sql';
}

/**
 * Turns a Prisma or driver error into a FlagTrailError, once, at the backend boundary; a
 * FlagTrailError passes through unchanged. The message says what was being done and, for the
 * errors people hit first (missing tables), what to do about it.
 */
export function translateError(
  error: unknown,
  code: 'ADAPTER_ERROR' | 'STORE_ERROR',
  what: string,
  provider: PrismaProvider,
): FlagTrailError {
  if (isFlagTrailError(error)) return error;
  const prisma = prismaCode(error);
  const first = (error instanceof Error ? error.message : String(error))
    .trim()
    .split('\n')
    .filter(Boolean)
    .pop();
  let hint = '';
  if (prisma === 'P2021' || prisma === 'P2022' || MISSING_TABLE.test(first ?? '')) {
    hint = `; create the flagtrail tables with \`prisma migrate\` or prisma/sql/${sqlFile(provider)}`;
  }
  const detail = prisma ? `${prisma}: ${first ?? 'unknown error'}` : (first ?? 'unknown error');
  return new FlagTrailError(code, `${what} failed (${detail})${hint}`, { cause: error });
}
