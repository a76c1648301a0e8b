import type { Collection, Db, Document } from 'mongodb';
import { describeInput, FlagTrailError } from '../core/errors.js';

/** A database handle or a collection handle of the official driver (version 6 or 7). */
export type MongoTarget = Db | Collection<Document>;

function isDb(value: unknown): value is Db {
  return (
    value !== null &&
    typeof value === 'object' &&
    typeof (value as Db).collection === 'function' &&
    typeof (value as Db).databaseName === 'string'
  );
}

function isCollection(value: unknown): value is Collection<Document> {
  return (
    value !== null &&
    typeof value === 'object' &&
    typeof (value as Collection).collectionName === 'string' &&
    typeof (value as Collection).findOne === 'function'
  );
}

/** A collection name Mongo accepts: non-empty, no `$`, no NUL, not a `system.` collection. */
export function validateCollectionName(name: unknown, what: string): string {
  if (
    typeof name !== 'string' ||
    name.length === 0 ||
    name.length > 120 ||
    name.includes('$') ||
    name.includes('\0') ||
    name.startsWith('system.')
  ) {
    throw new FlagTrailError(
      'INVALID_OPTION',
      `${what} must be a collection name (non-empty, no "$", not "system."), got ${describeInput(name)}`,
    );
  }
  return name;
}

/** The collection to use, and its database when it can be known. */
export function resolveTarget<T extends Document>(
  target: unknown,
  collectionName: unknown,
  defaultName: string,
  owner: string,
): { collection: Collection<T>; db: Db | undefined } {
  if (isDb(target)) {
    const name = validateCollectionName(collectionName ?? defaultName, `${owner} option "collection"`);
    return { collection: target.collection<T>(name), db: target };
  }
  if (isCollection(target)) {
    if (collectionName !== undefined) {
      throw new FlagTrailError(
        'INVALID_OPTION',
        `${owner} got a collection and a "collection" option; pass a Db to name the collection, or the collection alone`,
      );
    }
    // Driver 7 exposes a collection's database as `db`; driver 6 keeps it private.
    const db: unknown = (target as { db?: unknown }).db;
    return { collection: target as unknown as Collection<T>, db: isDb(db) ? db : undefined };
  }
  throw new FlagTrailError(
    'INVALID_OPTION',
    `${owner} needs a Db (client.db(name)) or a Collection of the official mongodb driver, got ${describeInput(target)}`,
  );
}
