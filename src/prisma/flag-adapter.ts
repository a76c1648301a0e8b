import { createHash } from 'node:crypto';
import { FlagTrailError } from '../core/errors.js';
import { cloneGates } from '../core/gates.js';
import type {
  AuditStore,
  FlagAdapter,
  FlagState,
  GateKey,
  GateValue,
  GateValues,
  JsonObject,
  TransactionRunner,
  TransactionScope,
} from '../core/types.js';
import { validateFeature, validateFeatures, validateGate, validateGateValue } from '../core/validate.js';
import { PrismaAuditStore, type PrismaAuditStoreOptions, storeBinding } from './audit-store.js';
import {
  type PrismaFlagClient,
  type PrismaFlagModels,
  type PrismaProvider,
  type PrismaTransactionOptions,
  placeholder,
  requireModels,
  resolveProvider,
  skippingDuplicates,
  supportsSkipDuplicates,
} from './client.js';
import { isUniqueViolation, translateError } from './errors.js';
import {
  type GateRow,
  gatesFromRows,
  type InvalidRowHandler,
  ROW_KEYS,
  toGateRows,
  warnOnce,
} from './rows.js';

/** Options of `PrismaFlagAdapter`. */
export interface PrismaFlagAdapterOptions {
  /** Recorded as `adapter` in every audit entry. Default `prisma`. */
  name?: string;
  /** The database provider; read from the client when omitted. */
  provider?: PrismaProvider;
  /**
   * Called for each `flipper_gates` row that cannot be parsed (a percentage `"abc"`), which reads
   * as the gate's default. Default: one warning line on stderr per distinct row.
   */
  onInvalidRow?: InvalidRowHandler;
  /** Passed to `$transaction` for multi-statement writes and for `failClosed` writes. */
  transactionOptions?: PrismaTransactionOptions;
  /** How long `lockFeature` waits for another process's lock on MySQL/MariaDB. Default 5000. */
  lockTimeoutMs?: number;
  /** Options of the store `defaultAuditStore()` returns. */
  auditStore?: Omit<PrismaAuditStoreOptions, 'provider'>;
}

// Placeholder lists are chunked: SQLite builds before 3.32 allow 999 bind parameters.
const IN_CHUNK = 500;

interface Shared {
  client: PrismaFlagClient;
  provider: PrismaProvider;
  report: InvalidRowHandler;
  transactionOptions: PrismaTransactionOptions;
  lockTimeoutMs: number;
  auditStoreOptions: Omit<PrismaAuditStoreOptions, 'provider'>;
  store?: PrismaAuditStore;
}

const WHO = 'PrismaFlagAdapter';

// MySQL lock names are at most 64 characters: a digest of the feature key keeps any key in range.
function lockName(feature: string): string {
  return `flagtrail:${createHash('sha1').update(feature).digest('hex')}`;
}

async function acquireLock(db: PrismaFlagModels, shared: Shared, feature: string): Promise<void> {
  switch (shared.provider) {
    case 'postgresql':
      // Transaction-scoped: released by COMMIT or ROLLBACK, even if the process dies.
      await db.$queryRawUnsafe(
        'SELECT pg_advisory_xact_lock(hashtextextended($1, 0))::text AS locked',
        `flagtrail:${feature}`,
      );
      return;
    case 'mysql': {
      const seconds = Math.max(1, Math.ceil(shared.lockTimeoutMs / 1000));
      const rows = await db.$queryRawUnsafe('SELECT GET_LOCK(?, ?) AS locked', lockName(feature), seconds);
      const locked = Array.isArray(rows) ? (rows[0] as { locked?: unknown } | undefined)?.locked : undefined;
      if (locked === null || locked === undefined || Number(locked) !== 1) {
        throw new FlagTrailError(
          'ADAPTER_ERROR',
          `prisma adapter: could not lock feature ${JSON.stringify(feature)} within ${seconds}s (another process holds it)`,
        );
      }
      return;
    }
    default:
      // CockroachDB has no advisory locks and serializes conflicting transactions itself; SQLite
      // allows one writer, and the driver adapter runs one transaction at a time.
      return;
  }
}

// Errors from opening or committing a transaction are the driver's; errors from inside it are
// already FlagTrailErrors and pass through translateError unchanged.
async function translating<T>(what: string, shared: Shared, fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (error) {
    throw translateError(error, 'ADAPTER_ERROR', what, shared.provider);
  }
}

async function releaseLocks(
  db: PrismaFlagModels,
  shared: Shared,
  features: readonly string[],
): Promise<void> {
  if (shared.provider !== 'mysql') return;
  // GET_LOCK belongs to the connection, not the transaction: give it back before the
  // connection returns to the pool.
  for (const feature of features) {
    await db.$queryRawUnsafe('SELECT RELEASE_LOCK(?) AS released', lockName(feature)).then(
      () => undefined,
      () => undefined,
    );
  }
}

/** What inserting into one table takes: the model delegate's two create calls. */
export interface InsertDelegate<D> {
  create(args: { data: D; select: { id: true } }): PromiseLike<unknown>;
  createMany(args: { data: D[] }): PromiseLike<unknown>;
}

// How `transactionWith` builds an adapter on a transaction client: the options object passed to
// the constructor is a key into this map, so the public constructor signature stays the plain one.
const BINDINGS = new WeakMap<object, { name: string; shared: Shared; tx: PrismaFlagModels }>();

function boundAdapter(name: string, shared: Shared, tx: PrismaFlagModels): PrismaFlagAdapter {
  const token = {};
  BINDINGS.set(token, { name, shared, tx });
  return new PrismaFlagAdapter(shared.client, token);
}

/**
 * Flags in Ruby Flipper's ActiveRecord tables (`flipper_features`, `flipper_gates`) through a
 * Prisma client you already have: the same rows Flipper writes, so a Rails app on Flipper and a
 * Node service on flagtrail can share one flag store.
 *
 * @example
 * ```ts
 * const flags = withAuditTrail(new PrismaFlagAdapter(prisma)); // audit entries go to the same database
 * await withActor({ id: 'u_1' }, () => flags.enable('checkout', 'actors', '42'));
 * ```
 */
export class PrismaFlagAdapter implements FlagAdapter {
  readonly name: string;
  readonly #shared: Shared;
  readonly #db: PrismaFlagModels;
  // Inside a transaction the adapter runs on the transaction client and opens none of its own.
  readonly #inTransaction: boolean;
  #batch: Map<string, Promise<FlagState>> | undefined;

  constructor(prisma: PrismaFlagClient, options: PrismaFlagAdapterOptions = {}) {
    const binding = BINDINGS.get(options);
    if (binding !== undefined) {
      this.name = binding.name;
      this.#shared = binding.shared;
      this.#db = binding.tx;
      this.#inTransaction = true;
      return;
    }
    requireModels(prisma, ['flipperFeature', 'flipperGate'], WHO);
    if (options === null || typeof options !== 'object') {
      throw new FlagTrailError('INVALID_OPTION', `${WHO} options must be an object`);
    }
    if (options.name !== undefined && (typeof options.name !== 'string' || options.name.length === 0)) {
      throw new FlagTrailError('INVALID_OPTION', `${WHO} name must be a non-empty string`);
    }
    if (options.onInvalidRow !== undefined && typeof options.onInvalidRow !== 'function') {
      throw new FlagTrailError('INVALID_OPTION', `${WHO} onInvalidRow must be a function`);
    }
    if (typeof (prisma as { $transaction?: unknown }).$transaction !== 'function') {
      throw new FlagTrailError('INVALID_OPTION', `${WHO} takes a PrismaClient (with $transaction)`);
    }
    this.name = options.name ?? 'prisma';
    this.#shared = {
      client: prisma,
      provider: resolveProvider(prisma, options.provider, WHO),
      report: options.onInvalidRow ?? warnOnce(),
      // The lock wait happens inside the transaction: give it room beyond Prisma's 5 s default.
      transactionOptions: { maxWait: 5_000, timeout: 15_000, ...options.transactionOptions },
      lockTimeoutMs: options.lockTimeoutMs ?? 5_000,
      auditStoreOptions: options.auditStore ?? {},
    };
    this.#db = prisma;
    this.#inTransaction = false;
    const report = this.#shared.report;
    // A throwing handler must not turn a read into a failure.
    this.#shared.report = (row) => {
      try {
        report(row);
      } catch {
        // Reporting is best effort.
      }
    };
  }

  async features(): Promise<string[]> {
    return this.#run('list features', async () => {
      const rows = await this.#db.flipperFeature.findMany({ select: { key: true } });
      if (!Array.isArray(rows)) throw new TypeError('expected a list of rows');
      return rows.map((row) => String((row as { key: unknown }).key));
    });
  }

  async exists(feature: string): Promise<boolean> {
    return (await this.#sharedState(validateFeature(feature))).exists;
  }

  async add(feature: string): Promise<void> {
    this.#batch = undefined;
    const key = validateFeature(feature);
    await this.#run(`add ${JSON.stringify(key)}`, () => this.#insertFeature(this.#db, key, new Date()));
  }

  async remove(feature: string): Promise<void> {
    this.#batch = undefined;
    const key = validateFeature(feature);
    await this.#run(`remove ${JSON.stringify(key)}`, () =>
      this.#transact(async (db) => {
        await db.flipperFeature.deleteMany({ where: { key } });
        await db.flipperGate.deleteMany({ where: { featureKey: key } });
      }),
    );
  }

  async clear(feature: string): Promise<void> {
    this.#batch = undefined;
    const key = validateFeature(feature);
    await this.#run(`clear ${JSON.stringify(key)}`, async () => {
      await this.#db.flipperGate.deleteMany({ where: { featureKey: key } });
    });
  }

  async get(feature: string): Promise<GateValues> {
    return cloneGates((await this.#sharedState(validateFeature(feature))).gates);
  }

  /**
   * Whether the feature exists and its gates, in one query: what the audit trail reads before
   * and after each write.
   */
  async state(feature: string): Promise<FlagState> {
    const { exists, gates } = await this.#sharedState(validateFeature(feature));
    return { exists, gates: cloneGates(gates) };
  }

  // `exists(f)` and `get(f)` asked in the same tick (the audit trail's state read does exactly
  // that) share one query, which also makes the pair a consistent snapshot. Any write drops the
  // batch, so a read issued after a write never sees state from before it.
  #sharedState(key: string): Promise<FlagState> {
    let batch = this.#batch;
    if (batch === undefined) {
      const fresh = new Map<string, Promise<FlagState>>();
      batch = fresh;
      this.#batch = fresh;
      queueMicrotask(() => {
        if (this.#batch === fresh) this.#batch = undefined;
      });
    }
    let read = batch.get(key);
    if (read === undefined) {
      read = this.#readState(key);
      batch.set(key, read);
    }
    return read;
  }

  #readState(key: string): Promise<FlagState> {
    return this.#run(`read state of ${JSON.stringify(key)}`, async () => {
      const numbered = placeholder(this.#shared.provider, 1) === '$1';
      // A gate key is never NULL, so the NULL row can only be the feature's own row.
      const result = await this.#db.$queryRawUnsafe(
        numbered
          ? 'SELECT g.key AS k, g.value AS v FROM flipper_gates g WHERE g.feature_key = $1 UNION ALL SELECT NULL, NULL FROM flipper_features f WHERE f.key = $1'
          : 'SELECT g.key AS k, g.value AS v FROM flipper_gates g WHERE g.feature_key = ? UNION ALL SELECT NULL, NULL FROM flipper_features f WHERE f.key = ?',
        ...(numbered ? [key] : [key, key]),
      );
      if (!Array.isArray(result)) throw new TypeError('expected a list of rows');
      let exists = false;
      const gateRows: unknown[] = [];
      for (const row of result) {
        if ((row as { k: unknown }).k === null) exists = true;
        else gateRows.push(row);
      }
      return { exists, gates: gatesFromRows(key, toGateRows(gateRows, 'k', 'v'), this.#shared.report) };
    });
  }

  async getMulti(features: string[]): Promise<Record<string, GateValues>> {
    const keys = [...new Set(validateFeatures(features))];
    return this.#run('get several features', async () => {
      const byFeature = new Map<string, GateRow[]>();
      for (let i = 0; i < keys.length; i += IN_CHUNK) {
        const chunk = keys.slice(i, i + IN_CHUNK);
        const rows = await this.#db.flipperGate.findMany({
          where: { featureKey: { in: chunk } },
          select: { featureKey: true, key: true, value: true },
        });
        if (!Array.isArray(rows)) throw new TypeError('expected a list of rows');
        for (const row of rows) {
          const featureKey = String((row as { featureKey: unknown }).featureKey);
          const list = byFeature.get(featureKey) ?? [];
          list.push(...toGateRows([row]));
          byFeature.set(featureKey, list);
        }
      }
      const out: Record<string, GateValues> = {};
      for (const key of keys) {
        Object.defineProperty(out, key, {
          value: gatesFromRows(key, byFeature.get(key) ?? [], this.#shared.report),
          enumerable: true,
          writable: true,
          configurable: true,
        });
      }
      return out;
    });
  }

  async getAll(): Promise<Record<string, GateValues>> {
    return this.#run('get all features', async () => {
      // One round trip, as Ruby Flipper does it: every registered feature joined to its gates.
      const result = await this.#db.$queryRawUnsafe(
        'SELECT f.key AS f, g.key AS k, g.value AS v FROM flipper_features f LEFT JOIN flipper_gates g ON g.feature_key = f.key',
      );
      if (!Array.isArray(result)) throw new TypeError('expected a list of rows');
      const byFeature = new Map<string, GateRow[]>();
      for (const row of result as Array<{ f: unknown; k: unknown; v: unknown }>) {
        const feature = String(row.f);
        const list = byFeature.get(feature) ?? [];
        if (row.k !== null) list.push(...toGateRows([row], 'k', 'v'));
        byFeature.set(feature, list);
      }
      const out: Record<string, GateValues> = {};
      for (const [feature, rows] of byFeature) {
        Object.defineProperty(out, feature, {
          value: gatesFromRows(feature, rows, this.#shared.report),
          enumerable: true,
          writable: true,
          configurable: true,
        });
      }
      return out;
    });
  }

  async enable(feature: string, gate: GateKey, value: GateValue): Promise<void> {
    this.#batch = undefined;
    const key = validateFeature(feature);
    const g = validateGate(gate);
    const v = validateGateValue('enable', g, value);
    const now = new Date();
    await this.#run(`enable ${JSON.stringify(key)} ${g}`, async () => {
      switch (g) {
        case 'boolean':
          // Ruby Flipper: enabling the boolean gate clears every other gate.
          await this.#transact(async (db) => {
            await this.#insertFeature(db, key, now);
            await db.flipperGate.deleteMany({ where: { featureKey: key } });
            await this.#insertGate(db, key, ROW_KEYS.boolean, 'true', now);
          });
          return;
        case 'actors':
        case 'groups':
          await this.#insertFeature(this.#db, key, now);
          await this.#insertGate(this.#db, key, ROW_KEYS[g], v as string, now);
          return;
        case 'percentageOfActors':
        case 'percentageOfTime':
          await this.#set(key, g, String(v), now);
          return;
        case 'expression':
          await this.#set(key, g, JSON.stringify(v as JsonObject), now);
          return;
      }
    });
  }

  async disable(feature: string, gate: GateKey, value: GateValue): Promise<void> {
    this.#batch = undefined;
    const key = validateFeature(feature);
    const g = validateGate(gate);
    const v = validateGateValue('disable', g, value);
    const now = new Date();
    await this.#run(`disable ${JSON.stringify(key)} ${g}`, async () => {
      switch (g) {
        case 'boolean':
          await this.#insertFeature(this.#db, key, now);
          await this.#db.flipperGate.deleteMany({ where: { featureKey: key } });
          return;
        case 'actors':
        case 'groups':
          await this.#insertFeature(this.#db, key, now);
          await this.#db.flipperGate.deleteMany({
            where: { featureKey: key, key: ROW_KEYS[g], value: v as string },
          });
          return;
        case 'percentageOfActors':
        case 'percentageOfTime':
          // Ruby Flipper stores a disabled percentage as "0".
          await this.#set(key, g, '0', now);
          return;
        case 'expression':
          await this.#insertFeature(this.#db, key, now);
          await this.#db.flipperGate.deleteMany({ where: { featureKey: key, key: ROW_KEYS.expression } });
          return;
      }
    });
  }

  /** A `PrismaAuditStore` on the same client, so entries land in the same database. */
  defaultAuditStore(): AuditStore {
    if (this.#shared.store === undefined) {
      this.#shared.store = new PrismaAuditStore(this.#shared.client as never, {
        ...this.#shared.auditStoreOptions,
        provider: this.#shared.provider,
      });
    }
    return this.#shared.store;
  }

  /**
   * A runner that puts the state reads, the flag write and the entry insert in one interactive
   * `$transaction` when `store` is a `PrismaAuditStore` on this adapter's client; `undefined`
   * for any other store (the writes cannot commit together).
   */
  transactionWith(store: AuditStore): TransactionRunner | undefined {
    if (this.#inTransaction) return undefined;
    const binding = storeBinding(store);
    if (binding === undefined || binding.client !== this.#shared.client) return undefined;
    const shared = this.#shared;
    const what = `prisma adapter: transaction with the audit store`;
    return <T>(fn: (scope: TransactionScope) => Promise<T>): Promise<T> =>
      translating(what, shared, () =>
        shared.client.$transaction(async (tx) => {
          const held: string[] = [];
          const scope: TransactionScope = {
            adapter: boundAdapter(this.name, shared, tx),
            store: binding.bind(tx),
            lockFeature: async (feature) => {
              const key = validateFeature(feature);
              await this.#run(`lock ${JSON.stringify(key)}`, () => acquireLock(tx, shared, key));
              held.push(key);
            },
          };
          try {
            return await fn(scope);
          } finally {
            await releaseLocks(tx, shared, held);
          }
        }, shared.transactionOptions),
      );
  }

  /**
   * Runs `fn` inside a transaction that holds a lock on `feature` every process sharing these
   * tables respects: `pg_advisory_xact_lock` on PostgreSQL, `GET_LOCK` on MySQL/MariaDB. On
   * SQLite the database admits one writer at a time and the transaction itself serializes.
   */
  async lockFeature<T>(feature: string, fn: (adapter: FlagAdapter) => Promise<T>): Promise<T> {
    const key = validateFeature(feature);
    if (this.#inTransaction) {
      await this.#run(`lock ${JSON.stringify(key)}`, () => acquireLock(this.#db, this.#shared, key));
      return fn(this);
    }
    const shared = this.#shared;
    return translating(`prisma adapter: lock ${JSON.stringify(key)}`, shared, () =>
      shared.client.$transaction(async (tx) => {
        await acquireLock(tx, shared, key);
        try {
          return await fn(boundAdapter(this.name, shared, tx));
        } finally {
          await releaseLocks(tx, shared, [key]);
        }
      }, shared.transactionOptions),
    );
  }

  async #run<T>(what: string, fn: () => Promise<T>): Promise<T> {
    try {
      return await fn();
    } catch (error) {
      throw translateError(error, 'ADAPTER_ERROR', `prisma adapter: ${what}`, this.#shared.provider);
    }
  }

  async #transact(fn: (db: PrismaFlagModels) => Promise<void>): Promise<void> {
    if (this.#inTransaction) return fn(this.#db);
    return this.#shared.client.$transaction(fn, this.#shared.transactionOptions);
  }

  // Percentages and expressions hold one row: replace it, as Ruby Flipper's `set` does.
  async #set(key: string, gate: GateKey, value: string, now: Date): Promise<void> {
    await this.#transact(async (db) => {
      await this.#insertFeature(db, key, now);
      await db.flipperGate.deleteMany({ where: { featureKey: key, key: ROW_KEYS[gate] } });
      await this.#insertGate(db, key, ROW_KEYS[gate], value, now);
    });
  }

  async #insertFeature(db: PrismaFlagModels, key: string, now: Date): Promise<void> {
    await this.#insertIgnoringDuplicate(db.flipperFeature, { key, createdAt: now, updatedAt: now });
  }

  async #insertGate(
    db: PrismaFlagModels,
    featureKey: string,
    key: string,
    value: string,
    now: Date,
  ): Promise<void> {
    await this.#insertIgnoringDuplicate(db.flipperGate, {
      featureKey,
      key,
      value,
      createdAt: now,
      updatedAt: now,
    });
  }

  // A concurrent writer inserting the same row first means the work is done (Ruby Flipper rescues
  // RecordNotUnique the same way). Where the database can, the insert itself skips the duplicate:
  // on PostgreSQL a failed insert would abort the surrounding transaction.
  async #insertIgnoringDuplicate<D>(delegate: InsertDelegate<D>, data: D): Promise<void> {
    if (supportsSkipDuplicates(this.#shared.provider)) {
      await delegate.createMany(skippingDuplicates([data]));
      return;
    }
    try {
      await delegate.create({ data, select: { id: true } });
    } catch (error) {
      if (!isUniqueViolation(error)) throw error;
    }
  }
}
