import type { Collection, Db } from 'mongodb';
import { describeInput, FlagTrailError } from '../core/errors.js';
import { defaultGates, sortedSet } from '../core/gates.js';
import type { AuditStore, FlagAdapter, GateKey, GateValue, GateValues, JsonObject } from '../core/types.js';
import { validateFeature, validateFeatures, validateGate, validateGateValue } from '../core/validate.js';
import { MongoAuditStore, type MongoAuditStoreOptions } from './audit-store.js';
import { translateError, upsertWithRetry } from './errors.js';
import { checkLockOptions, MongoLeaseLocks, type MongoLockOptions } from './feature-lock.js';
import { type MongoTarget, resolveTarget } from './target.js';

/** `_id` of the document that lists every feature key, as Ruby Flipper's Mongo adapter names it. */
export const FEATURES_DOCUMENT_ID = 'flipper_features';

/** Options of `MongoFlagAdapter`. */
export interface MongoFlagAdapterOptions {
  /** Collection holding the flags when a `Db` is given. Default `flipper`, as in Ruby Flipper. */
  collection?: string;
  /** Options of the `MongoAuditStore` that `defaultAuditStore()` creates. */
  auditStore?: MongoAuditStoreOptions;
  /**
   * The database for `defaultAuditStore()` when the adapter was given a collection and the driver
   * (version 6) exposes no way back from a collection to its database.
   */
  auditDb?: Db;
  /**
   * The cross-process feature lock behind `lockFeature` (lease documents in `flagtrail_locks` of
   * the flags' database), or `false` for an adapter without `lockFeature`, whose audited writes
   * are then serialized within each process only.
   */
  locks?: MongoLockOptions | false;
}

/** One feature document in Ruby Flipper's Mongo layout: gate values as strings, sets as arrays. */
export interface FlipperFeatureDocument {
  _id: string;
  boolean?: string | null;
  actors?: string[];
  groups?: string[];
  percentage_of_actors?: string | null;
  percentage_of_time?: string | null;
  expression?: string | null;
  features?: string[];
}

// Flipper's gate keys are the field names; they are fixed, so no user data is ever a field name.
const FIELD: Record<GateKey, keyof FlipperFeatureDocument> = {
  boolean: 'boolean',
  actors: 'actors',
  groups: 'groups',
  percentageOfActors: 'percentage_of_actors',
  percentageOfTime: 'percentage_of_time',
  expression: 'expression',
};

function malformed(feature: string, field: string, value: unknown): FlagTrailError {
  return new FlagTrailError(
    'ADAPTER_ERROR',
    `flipper document "${feature}" has an unreadable ${field}: ${describeInput(value)}`,
  );
}

function readBoolean(feature: string, value: unknown): boolean {
  if (value === undefined || value === null || value === false || value === 'false' || value === '')
    return false;
  if (value === true || value === 'true') return true;
  throw malformed(feature, 'boolean', value);
}

function readSet(feature: string, field: string, value: unknown): string[] {
  if (value === undefined || value === null) return [];
  if (!Array.isArray(value) || !value.every((m) => typeof m === 'string'))
    throw malformed(feature, field, value);
  return sortedSet(value as string[]);
}

function readPercentage(feature: string, field: string, value: unknown): number {
  if (value === undefined || value === null || value === '') return 0;
  const n = typeof value === 'number' ? value : typeof value === 'string' ? Number(value) : Number.NaN;
  if (!Number.isFinite(n) || n < 0 || n > 100) throw malformed(feature, field, value);
  // Ruby writes whatever Float#to_s gives; the contract holds percentages to three decimals.
  const rounded = Number(n.toFixed(3));
  return rounded === 0 ? 0 : rounded;
}

function readExpression(feature: string, value: unknown): JsonObject | null {
  if (value === undefined || value === null) return null;
  if (typeof value === 'string') {
    let parsed: unknown;
    try {
      parsed = JSON.parse(value);
    } catch {
      throw malformed(feature, 'expression', value);
    }
    if (parsed !== null && typeof parsed === 'object' && !Array.isArray(parsed)) return parsed as JsonObject;
  }
  throw malformed(feature, 'expression', value);
}

/** The gate values of one feature document; a missing document means every gate is closed. */
function gatesFromDocument(feature: string, doc: FlipperFeatureDocument | null | undefined): GateValues {
  if (!doc) return defaultGates();
  return {
    boolean: readBoolean(feature, doc.boolean),
    actors: readSet(feature, 'actors', doc.actors),
    groups: readSet(feature, 'groups', doc.groups),
    percentageOfActors: readPercentage(feature, 'percentage_of_actors', doc.percentage_of_actors),
    percentageOfTime: readPercentage(feature, 'percentage_of_time', doc.percentage_of_time),
    expression: readExpression(feature, doc.expression),
  };
}

/** Percentages as Ruby's `to_s` writes them: `30`, `12.5`. */
function percentageText(value: number): string {
  return String(value);
}

function checkFeature(feature: unknown): string {
  const key = validateFeature(feature);
  if (key === FEATURES_DOCUMENT_ID) {
    throw new FlagTrailError(
      'INVALID_FEATURE',
      `feature key "${FEATURES_DOCUMENT_ID}" is reserved: in Flipper's Mongo layout it is the _id of the document listing every feature`,
    );
  }
  return key;
}

/**
 * Flags in MongoDB, in the layout of Ruby Flipper's Mongo adapter, so a Rails app on Flipper and a
 * Node service on flagtrail can share one collection: a `flipper_features` document lists the
 * keys, and each feature has one document `{ _id: key, boolean: 'true', actors: [...], groups:
 * [...], percentage_of_actors: '30', percentage_of_time: '5', expression: '<JSON>' }`.
 *
 * Takes a `Db` (collection `flipper` unless `options.collection` says otherwise) or a `Collection`
 * of the official driver, versions 6 and 7. Never creates or closes a client.
 *
 * @example
 * ```ts
 * const client = new MongoClient(process.env.MONGODB_URL!);
 * const flags = withAuditTrail(new MongoFlagAdapter(client.db('app')));
 * await withActor({ id: 'u42' }, () => flags.enable('checkout', 'actors', '42'));
 * ```
 */
export class MongoFlagAdapter implements FlagAdapter {
  readonly name = 'mongodb';
  /** The collection holding the flags. */
  readonly collection: Collection<FlipperFeatureDocument>;
  private readonly db: Db | undefined;
  private readonly auditOptions: MongoAuditStoreOptions | undefined;
  private auditStore: MongoAuditStore | undefined;

  /**
   * Runs `fn` while holding a lease on `feature` that every adapter on this database respects, so
   * an audited write's before-read, write and after-read are not interleaved with another
   * process's write of that flag. Absent with `{ locks: false }`. Not reentrant: `fn` must not
   * lock the same feature again. Rejects with `ADAPTER_ERROR` when the lock stays held by another
   * writer for longer than `locks.waitMs`.
   */
  declare readonly lockFeature?: <T>(feature: string, fn: (adapter: FlagAdapter) => Promise<T>) => Promise<T>;

  constructor(target: MongoTarget, options: MongoFlagAdapterOptions = {}) {
    if (options === null || typeof options !== 'object') {
      throw new FlagTrailError(
        'INVALID_OPTION',
        `MongoFlagAdapter options must be an object, got ${describeInput(options)}`,
      );
    }
    const resolved = resolveTarget<FlipperFeatureDocument>(
      target,
      options.collection,
      'flipper',
      'MongoFlagAdapter',
    );
    this.collection = resolved.collection;
    this.db = options.auditDb ?? resolved.db;
    this.auditOptions = options.auditStore;
    if (this.auditOptions !== undefined) {
      // Checked now, so a bad retention fails at start-up rather than at the first write.
      MongoAuditStore.checkOptions(this.auditOptions);
    }
    const lockSettings = checkLockOptions(options.locks);
    if (lockSettings !== false) {
      const lockDb = resolved.db ?? options.auditDb;
      if (!lockDb) {
        throw new FlagTrailError(
          'INVALID_OPTION',
          'MongoFlagAdapter was given a collection whose database the driver does not expose, so it cannot place its lock ' +
            'collection; pass { auditDb: db } (the database of that collection), or { locks: false } to go without cross-process locks',
        );
      }
      const locks = new MongoLeaseLocks(lockDb, lockSettings);
      // An instance property (`declare`d, so never emitted as a field) rather than a method: with
      // `{ locks: false }` the adapter has no hook at all, not even an undefined one.
      this.lockFeature = async <T>(feature: string, fn: (adapter: FlagAdapter) => Promise<T>): Promise<T> => {
        const key = checkFeature(feature);
        if (typeof fn !== 'function') {
          throw new FlagTrailError(
            'INVALID_OPTION',
            `lockFeature needs a function, got ${describeInput(fn)}`,
          );
        }
        return locks.hold(key, () => fn(this));
      };
    }
  }

  async features(): Promise<string[]> {
    return this.run('features()', async () => this.readFeatureKeys());
  }

  async exists(feature: string): Promise<boolean> {
    const key = checkFeature(feature);
    return this.run(`exists(${describeInput(key)})`, async () => {
      const doc = await this.collection.findOne(
        { _id: FEATURES_DOCUMENT_ID, features: key },
        { projection: { _id: 1 } },
      );
      return doc !== null;
    });
  }

  async add(feature: string): Promise<void> {
    const key = checkFeature(feature);
    await this.run(`add(${describeInput(key)})`, () => this.register(key));
  }

  async remove(feature: string): Promise<void> {
    const key = checkFeature(feature);
    await this.run(`remove(${describeInput(key)})`, async () => {
      // Gates first, then the listing (Flipper does the reverse): a failure in between leaves a
      // listed feature with every gate closed, a state clear() also produces, rather than an
      // unlisted document whose gates would come back if the key were added again.
      await this.collection.deleteOne({ _id: key });
      await this.collection.updateOne({ _id: FEATURES_DOCUMENT_ID }, { $pull: { features: key } });
    });
  }

  async clear(feature: string): Promise<void> {
    const key = checkFeature(feature);
    await this.run(`clear(${describeInput(key)})`, async () => {
      await this.collection.deleteOne({ _id: key });
    });
  }

  async get(feature: string): Promise<GateValues> {
    const key = checkFeature(feature);
    return this.run(`get(${describeInput(key)})`, async () =>
      gatesFromDocument(key, await this.collection.findOne({ _id: key })),
    );
  }

  async getMulti(features: string[]): Promise<Record<string, GateValues>> {
    const keys = validateFeatures(features).map(checkFeature);
    return this.run('getMulti()', () => this.readMany(keys));
  }

  async getAll(): Promise<Record<string, GateValues>> {
    return this.run('getAll()', async () => this.readMany(await this.readFeatureKeys()));
  }

  async enable(feature: string, gate: GateKey, value: GateValue): Promise<void> {
    const key = checkFeature(feature);
    const g = validateGate(gate);
    const v = validateGateValue('enable', g, value);
    await this.run(`enable(${describeInput(key)}, ${g})`, async () => {
      await this.register(key);
      const filter = { _id: key };
      switch (g) {
        case 'boolean':
          // One replace clears every other gate and opens the boolean atomically; Flipper does the
          // same in two steps (delete, then set), which leaves the same document.
          await upsertWithRetry(() =>
            this.collection.replaceOne(filter, { boolean: 'true' }, { upsert: true }),
          );
          return;
        case 'actors':
        case 'groups':
          await upsertWithRetry(() =>
            this.collection.updateOne(filter, { $addToSet: { [FIELD[g]]: v as string } }, { upsert: true }),
          );
          return;
        case 'percentageOfActors':
        case 'percentageOfTime':
          await upsertWithRetry(() =>
            this.collection.updateOne(
              filter,
              { $set: { [FIELD[g]]: percentageText(v as number) } },
              { upsert: true },
            ),
          );
          return;
        case 'expression':
          await upsertWithRetry(() =>
            this.collection.updateOne(filter, { $set: { expression: JSON.stringify(v) } }, { upsert: true }),
          );
          return;
      }
    });
  }

  async disable(feature: string, gate: GateKey, value: GateValue): Promise<void> {
    const key = checkFeature(feature);
    const g = validateGate(gate);
    const v = validateGateValue('disable', g, value);
    await this.run(`disable(${describeInput(key)}, ${g})`, async () => {
      await this.register(key);
      const filter = { _id: key };
      // No upserts below: closing a gate of a document that does not exist changes nothing.
      switch (g) {
        case 'boolean':
          await this.collection.deleteOne(filter);
          return;
        case 'actors':
        case 'groups':
          await this.collection.updateOne(filter, { $pull: { [FIELD[g]]: v as string } });
          return;
        case 'percentageOfActors':
        case 'percentageOfTime':
          await this.collection.updateOne(filter, { $set: { [FIELD[g]]: '0' } });
          return;
        case 'expression':
          await this.collection.updateOne(filter, { $set: { expression: null } });
          return;
      }
    });
  }

  /**
   * A `MongoAuditStore` on the same database (collection `flagtrail_audit_entries`), created once.
   * An adapter built from a collection needs `options.auditDb` for this.
   */
  defaultAuditStore(): AuditStore {
    if (!this.auditStore) {
      if (!this.db) {
        throw new FlagTrailError(
          'NO_AUDIT_STORE',
          'MongoFlagAdapter was given a collection, so it cannot tell which database the audit entries belong in; ' +
            'pass { auditDb: db } to the adapter, or withAuditTrail(adapter, { store: new MongoAuditStore(db) })',
        );
      }
      this.auditStore = new MongoAuditStore(this.db, this.auditOptions);
    }
    return this.auditStore;
  }

  private async register(key: string): Promise<void> {
    await upsertWithRetry(() =>
      this.collection.updateOne(
        { _id: FEATURES_DOCUMENT_ID },
        { $addToSet: { features: key } },
        { upsert: true },
      ),
    );
  }

  private async readFeatureKeys(): Promise<string[]> {
    const doc = await this.collection.findOne({ _id: FEATURES_DOCUMENT_ID }, { projection: { features: 1 } });
    const keys: unknown = doc?.features ?? [];
    if (!Array.isArray(keys) || !keys.every((k) => typeof k === 'string')) {
      throw malformed(FEATURES_DOCUMENT_ID, 'features list', keys);
    }
    return [...new Set(keys as string[])];
  }

  private async readMany(keys: string[]): Promise<Record<string, GateValues>> {
    const result: Record<string, GateValues> = {};
    if (keys.length === 0) return result;
    const unique = [...new Set(keys)];
    const docs = await this.collection.find({ _id: { $in: unique } }).toArray();
    const byId = new Map(docs.map((doc) => [doc._id, doc]));
    for (const key of unique) {
      Object.defineProperty(result, key, {
        value: gatesFromDocument(key, byId.get(key)),
        enumerable: true,
        writable: true,
        configurable: true,
      });
    }
    return result;
  }

  private async run<T>(operation: string, fn: () => Promise<T>): Promise<T> {
    try {
      return await fn();
    } catch (error) {
      throw translateError(error, 'ADAPTER_ERROR', `MongoFlagAdapter ${operation}`);
    }
  }
}
