import type { Collection, Db, Filter, IndexDescription } from 'mongodb';
import { describeInput, FlagTrailError } from '../core/errors.js';
import type { AuditEntry, AuditStore, HistoryQuery } from '../core/types.js';
import { validateHistoryQuery } from '../core/validate.js';
import { type AuditDocument, documentToEntry, entryToDocument } from './documents.js';
import { driverCode, isDuplicateKey, translateError } from './errors.js';
import { type MongoTarget, resolveTarget } from './target.js';

/** Default collection of the audit trail. */
export const AUDIT_COLLECTION = 'flagtrail_audit_entries';

/** How long entries are kept before MongoDB's TTL monitor deletes them. */
export interface MongoRetention {
  /** Whole days, 1 to 24855 (MongoDB's largest TTL is 2^31 - 1 seconds). */
  days: number;
}

/** Options of `MongoAuditStore`. */
export interface MongoAuditStoreOptions {
  /** Collection of the entries when a `Db` is given. Default `flagtrail_audit_entries`. */
  collection?: string;
  /**
   * Delete entries older than this through a TTL index on `createdAt`. Default: keep everything.
   * Removing the option later leaves an existing TTL index in place; drop `createdAt_-1` to stop
   * expiring entries (it is recreated without TTL).
   */
  retention?: MongoRetention;
  /**
   * Create the indexes before the first write (default `true`). Set `false` when a deploy script
   * calls `ensureIndexes()` and the application's user may not create indexes.
   */
  autoIndex?: boolean;
}

const MAX_TTL_DAYS = 24855;
const SECONDS_PER_DAY = 86_400;
/** MongoDB: an index on these keys exists with other options (here: with or without a TTL). */
const INDEX_OPTIONS_CONFLICT = 85;

function checkRetention(retention: unknown): MongoRetention | undefined {
  if (retention === undefined) return undefined;
  const days = (retention as { days?: unknown } | null)?.days;
  if (
    retention === null ||
    typeof retention !== 'object' ||
    typeof days !== 'number' ||
    !Number.isInteger(days) ||
    days < 1 ||
    days > MAX_TTL_DAYS
  ) {
    throw new FlagTrailError(
      'INVALID_OPTION',
      `MongoAuditStore retention must be { days: n } with n a whole number from 1 to ${MAX_TTL_DAYS}, got ${
        retention !== null && typeof retention === 'object'
          ? `days ${describeInput(days)}`
          : describeInput(retention)
      }`,
    );
  }
  return { days };
}

/** The indexes the store relies on: history by feature, by actor, and by time. */
export function auditIndexes(retention?: MongoRetention): IndexDescription[] {
  const byTime: IndexDescription = { key: { createdAt: -1 }, name: 'createdAt_-1' };
  if (retention) byTime.expireAfterSeconds = retention.days * SECONDS_PER_DAY;
  return [
    { key: { feature: 1, _id: -1 }, name: 'feature_1__id_-1' },
    { key: { actorId: 1, _id: -1 }, name: 'actorId_1__id_-1' },
    byTime,
  ];
}

/**
 * The audit trail in a MongoDB collection (`flagtrail_audit_entries`), one document per entry keyed
 * by the entry id, so recording an entry twice stores it once. History queries run on the server
 * with the indexes `{ feature: 1, _id: -1 }`, `{ actorId: 1, _id: -1 }` (history is ordered by the
 * time-ordered `_id`) and
 * `{ createdAt: -1 }`, created once per store before its first write.
 *
 * @example
 * ```ts
 * const store = new MongoAuditStore(client.db('app'), { retention: { days: 365 } });
 * await store.ensureIndexes(); // in a deploy script; otherwise done before the first write
 * const page = await store.query({ feature: 'checkout', limit: 50 });
 * ```
 */
export class MongoAuditStore implements AuditStore {
  readonly name = 'mongodb';
  /** The collection holding the entries. */
  readonly collection: Collection<AuditDocument>;
  private readonly db: Db | undefined;
  private readonly retention: MongoRetention | undefined;
  private readonly autoIndex: boolean;
  private indexes: Promise<void> | undefined;

  constructor(target: MongoTarget, options: MongoAuditStoreOptions = {}) {
    const checked = MongoAuditStore.checkOptions(options);
    const resolved = resolveTarget<AuditDocument>(
      target,
      checked.collection,
      AUDIT_COLLECTION,
      'MongoAuditStore',
    );
    this.collection = resolved.collection;
    this.db = resolved.db;
    this.retention = checked.retention;
    this.autoIndex = checked.autoIndex ?? true;
  }

  /** Validates store options; throws `INVALID_OPTION` naming the bad one. */
  static checkOptions(options: unknown): MongoAuditStoreOptions {
    if (options === null || typeof options !== 'object' || Array.isArray(options)) {
      throw new FlagTrailError(
        'INVALID_OPTION',
        `MongoAuditStore options must be an object, got ${describeInput(options)}`,
      );
    }
    const o = options as Record<string, unknown>;
    for (const key of Object.keys(o)) {
      if (!['collection', 'retention', 'autoIndex'].includes(key)) {
        throw new FlagTrailError('INVALID_OPTION', `unknown MongoAuditStore option ${describeInput(key)}`);
      }
    }
    if (o.autoIndex !== undefined && typeof o.autoIndex !== 'boolean') {
      throw new FlagTrailError(
        'INVALID_OPTION',
        `MongoAuditStore autoIndex must be a boolean, got ${describeInput(o.autoIndex)}`,
      );
    }
    const out: MongoAuditStoreOptions = {};
    if (o.collection !== undefined) out.collection = o.collection as string;
    const retention = checkRetention(o.retention);
    if (retention) out.retention = retention;
    if (o.autoIndex !== undefined) out.autoIndex = o.autoIndex as boolean;
    return out;
  }

  /**
   * Creates the indexes (and the TTL, with `retention`) if they are missing. Idempotent; the store
   * calls it once before its first write, deploy scripts may call it ahead of time.
   */
  async ensureIndexes(): Promise<void> {
    if (!this.indexes) {
      this.indexes = this.createIndexes();
      // A failed attempt is not remembered: the next write tries again.
      this.indexes.catch(() => {
        this.indexes = undefined;
      });
    }
    return this.indexes;
  }

  async record(entry: AuditEntry): Promise<void> {
    const doc = entryToDocument(entry);
    if (this.autoIndex) await this.ensureIndexes();
    try {
      await this.collection.insertOne(doc);
    } catch (error) {
      // The only unique key is _id, the entry id: this entry is already stored.
      if (isDuplicateKey(error)) return;
      throw translateError(error, 'STORE_ERROR', `MongoAuditStore.record(${doc._id})`);
    }
  }

  async query(query: HistoryQuery = {}): Promise<AuditEntry[]> {
    const q = validateHistoryQuery(query);
    // Every value below has been type-checked by validateHistoryQuery: strings, Dates, a list of
    // known operations, a UUID cursor. Nothing from the caller is spread into the filter.
    const filter: Filter<AuditDocument> = {};
    if (q.feature !== undefined) filter.feature = q.feature;
    if (q.actorId !== undefined) filter.actorId = q.actorId;
    if (q.operations !== undefined) filter.operation = { $in: q.operations };
    if (q.gate !== undefined) filter.gate = q.gate;
    if (q.since !== undefined || q.until !== undefined) {
      filter.createdAt = {
        ...(q.since !== undefined ? { $gte: q.since } : {}),
        ...(q.until !== undefined ? { $lt: q.until } : {}),
      };
    }
    if (q.before !== undefined) filter._id = { $lt: q.before };
    let docs: unknown[];
    try {
      docs = await this.collection.find(filter).sort({ _id: -1 }).limit(q.limit).toArray();
    } catch (error) {
      throw translateError(error, 'STORE_ERROR', 'MongoAuditStore.query');
    }
    return docs.map(documentToEntry);
  }

  private async createIndexes(): Promise<void> {
    // One command per index: FerretDB 1.24 drops the connection when one createIndexes command
    // names several indexes that all exist already, and MongoDB treats both forms alike.
    for (const index of auditIndexes(this.retention)) {
      const { key, ...options } = index;
      try {
        await this.collection.createIndex(key, options);
      } catch (error) {
        if (driverCode(error) !== INDEX_OPTIONS_CONFLICT || !('createdAt' in key)) {
          throw translateError(error, 'STORE_ERROR', `MongoAuditStore.ensureIndexes(${index.name})`);
        }
        await this.resolveTtlConflict(error);
      }
    }
  }

  /**
   * `createdAt_-1` exists with a different TTL (or none). With `retention` the expiry is changed in
   * place (collMod, MongoDB 5.1+ also turns a plain index into a TTL one); without it the existing
   * TTL is left alone, since quietly keeping expired entries forever is as surprising as deleting.
   */
  private async resolveTtlConflict(conflict: unknown): Promise<void> {
    if (!this.retention) return;
    try {
      if (!this.db) throw conflict;
      await this.db.command({
        collMod: this.collection.collectionName,
        index: { keyPattern: { createdAt: -1 }, expireAfterSeconds: this.retention.days * SECONDS_PER_DAY },
      });
    } catch (error) {
      throw translateError(
        error,
        'STORE_ERROR',
        `MongoAuditStore.ensureIndexes(createdAt_-1) could not change the retention of the existing index (${
          (conflict as Error).message
        })`,
      );
    }
  }
}
