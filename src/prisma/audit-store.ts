import { describeInput, FlagTrailError } from '../core/errors.js';
import {
  type Actor,
  type AuditContext,
  type AuditEntry,
  type AuditStore,
  type FlagState,
  GATE_KEYS,
  type GateKey,
  type HistoryQuery,
  type JsonObject,
  type JsonPatchOperation,
  type JsonValue,
  OPERATIONS,
  type Operation,
} from '../core/types.js';
import { toJsonValue, validateHistoryQuery } from '../core/validate.js';
import {
  type FlagtrailAuditEntryData,
  type FlagtrailAuditEntryWhere,
  type PrismaAuditClient,
  type PrismaAuditModels,
  type PrismaProvider,
  requireModels,
  resolveProvider,
  skippingDuplicates,
  supportsSkipDuplicates,
} from './client.js';
import { isUniqueViolation, translateError } from './errors.js';

/** Options of `PrismaAuditStore`. */
export interface PrismaAuditStoreOptions {
  /** Name of the store. Default `prisma`. */
  name?: string;
  /** The database provider; read from the client when omitted. */
  provider?: PrismaProvider;
}

const WHO = 'PrismaAuditStore';

interface Binding {
  client: object;
  bind(tx: object): AuditStore;
}

// Which client a store writes through, so an adapter on the same client can share a transaction
// with it. Kept off the public class so it stays an implementation detail.
const BINDINGS = new WeakMap<object, Binding>();

/** The client a `PrismaAuditStore` writes through and a way to bind it to a transaction. @internal */
export function storeBinding(store: unknown): Binding | undefined {
  return store !== null && typeof store === 'object' ? BINDINGS.get(store) : undefined;
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

/**
 * The audit trail in the `flagtrail_audit_entries` table, through a Prisma client. History
 * filters, the cursor and the limit are evaluated by the database through its indexes.
 *
 * @example
 * ```ts
 * const store = new PrismaAuditStore(prisma);
 * const page = await store.query({ feature: 'checkout', limit: 20 });
 * const next = await store.query({ feature: 'checkout', limit: 20, before: page.at(-1)?.id });
 * ```
 */
export class PrismaAuditStore implements AuditStore {
  readonly name: string;
  readonly #db: PrismaAuditModels;
  readonly #provider: PrismaProvider;

  constructor(prisma: PrismaAuditClient, options: PrismaAuditStoreOptions = {}) {
    requireModels(prisma, ['flagtrailAuditEntry'], WHO);
    if (options === null || typeof options !== 'object') {
      throw new FlagTrailError('INVALID_OPTION', `${WHO} options must be an object`);
    }
    if (options.name !== undefined && (typeof options.name !== 'string' || options.name.length === 0)) {
      throw new FlagTrailError('INVALID_OPTION', `${WHO} name must be a non-empty string`);
    }
    this.name = options.name ?? 'prisma';
    this.#db = prisma;
    this.#provider = resolveProvider(prisma, options.provider, WHO);
    const name = this.name;
    const provider = this.#provider;
    BINDINGS.set(this, {
      client: prisma,
      bind: (tx) => new PrismaAuditStore(tx as PrismaAuditClient, { name, provider }),
    });
  }

  async record(entry: AuditEntry): Promise<void> {
    const data = toRow(entry);
    try {
      if (supportsSkipDuplicates(this.#provider)) {
        // Idempotent on id without an error: on PostgreSQL a failed insert would also abort the
        // transaction a fail-closed write runs in.
        await this.#db.flagtrailAuditEntry.createMany(skippingDuplicates([data]));
        return;
      }
      try {
        await this.#db.flagtrailAuditEntry.create({ data, select: { id: true } });
      } catch (error) {
        if (!isUniqueViolation(error)) throw error;
      }
    } catch (error) {
      throw translateError(
        error,
        'STORE_ERROR',
        `prisma audit store: record entry ${entry.id}`,
        this.#provider,
      );
    }
  }

  async query(query: HistoryQuery): Promise<AuditEntry[]> {
    const q = validateHistoryQuery(query);
    const where: FlagtrailAuditEntryWhere = {};
    if (q.feature !== undefined) where.feature = q.feature;
    if (q.actorId !== undefined) where.actorId = q.actorId;
    if (q.operations !== undefined) where.operation = { in: q.operations };
    if (q.gate !== undefined) where.gate = q.gate;
    if (q.since !== undefined || q.until !== undefined) {
      where.createdAt = {
        ...(q.since === undefined ? {} : { gte: q.since }),
        ...(q.until === undefined ? {} : { lt: q.until }),
      };
    }
    if (q.before !== undefined) where.id = { lt: q.before };
    let rows: unknown;
    try {
      rows = await this.#db.flagtrailAuditEntry.findMany({ where, orderBy: { id: 'desc' }, take: q.limit });
    } catch (error) {
      throw translateError(error, 'STORE_ERROR', 'prisma audit store: query history', this.#provider);
    }
    if (!Array.isArray(rows)) {
      throw new FlagTrailError('STORE_ERROR', 'prisma audit store: query history returned no list of rows');
    }
    return rows.map(fromRow);
  }
}

function malformed(what: string): never {
  throw new FlagTrailError('MALFORMED_ENTRY', what);
}

function toRow(entry: AuditEntry): FlagtrailAuditEntryData {
  if (entry === null || typeof entry !== 'object')
    malformed(`audit entry must be an object, got ${describeInput(entry)}`);
  const { id, feature, operation, gate, actor, createdAt } = entry;
  if (typeof id !== 'string' || !UUID.test(id))
    malformed(`audit entry id must be a lowercase UUID, got ${describeInput(id)}`);
  if (typeof feature !== 'string' || feature.length === 0)
    malformed(`audit entry ${id}: feature must be a string`);
  if (!(OPERATIONS as readonly unknown[]).includes(operation))
    malformed(`audit entry ${id}: unknown operation`);
  if (gate !== null && !(GATE_KEYS as readonly unknown[]).includes(gate))
    malformed(`audit entry ${id}: unknown gate`);
  if (actor === null || typeof actor !== 'object' || typeof actor.id !== 'string') {
    malformed(`audit entry ${id}: actor must have an id`);
  }
  if (!(createdAt instanceof Date) || Number.isNaN(createdAt.getTime())) {
    malformed(`audit entry ${id}: createdAt must be a valid Date`);
  }
  const json = (value: unknown, field: string): JsonValue => {
    try {
      return toJsonValue(value, field);
    } catch (error) {
      return malformed(`audit entry ${id}: ${(error as Error).message}`);
    }
  };
  const object = (value: unknown, field: string): JsonObject | JsonValue[] => {
    const copy = json(value, field);
    if (copy === null || typeof copy !== 'object')
      malformed(`audit entry ${id}: ${field} must be a JSON object or array`);
    return copy;
  };
  const row: FlagtrailAuditEntryData = {
    id,
    version: entry.version,
    feature,
    operation,
    gate,
    before: object(entry.before, 'before'),
    after: object(entry.after, 'after'),
    changes: object(entry.changes, 'changes'),
    actorId: actor.id,
    actorLabel: actor.label ?? null,
    actorType: actor.type ?? null,
    context: object(entry.context ?? {}, 'context'),
    adapter: String(entry.adapter),
    createdAt,
  };
  // A null value is stored as SQL NULL (the column is nullable); leaving the field out does that
  // without Prisma's DbNull sentinel, which lives in the generated client flagtrail never imports.
  const value = json(entry.value ?? null, 'value');
  if (value !== null) row.value = value;
  return row;
}

function isObject(value: unknown): value is Record<string, unknown> {
  return value !== null && typeof value === 'object' && !Array.isArray(value);
}

function fromRow(row: unknown): AuditEntry {
  if (!isObject(row)) malformed('history row is not an object');
  const id = row.id;
  if (typeof id !== 'string') malformed('history row without an id');
  const bad = (field: string): never =>
    malformed(`audit entry ${id}: column ${field} holds an unexpected value`);
  const json = (field: string, value: unknown): JsonValue => {
    // Some drivers hand JSON columns back as text.
    let parsed = value;
    if (typeof value === 'string' && field !== 'value') {
      try {
        parsed = JSON.parse(value);
      } catch {
        return bad(field);
      }
    }
    try {
      return toJsonValue(parsed, field);
    } catch {
      return bad(field);
    }
  };
  if (row.version !== 1) bad('version');
  if (typeof row.feature !== 'string') bad('feature');
  if (!(OPERATIONS as readonly unknown[]).includes(row.operation)) bad('operation');
  if (row.gate !== null && !(GATE_KEYS as readonly unknown[]).includes(row.gate)) bad('gate');
  if (typeof row.actorId !== 'string') bad('actor_id');
  if (row.actorLabel !== null && typeof row.actorLabel !== 'string') bad('actor_label');
  if (row.actorType !== null && typeof row.actorType !== 'string') bad('actor_type');
  if (typeof row.adapter !== 'string') bad('adapter');
  const createdAt = row.createdAt instanceof Date ? row.createdAt : bad('created_at');
  const before = json('before', row.before);
  const after = json('after', row.after);
  const changes = json('changes', row.changes);
  const context = json('context', row.context);
  if (!isState(before)) bad('before');
  if (!isState(after)) bad('after');
  if (!Array.isArray(changes)) bad('changes');
  if (!isObject(context)) bad('context');
  const actor: Actor = { id: row.actorId as string };
  if (typeof row.actorLabel === 'string') actor.label = row.actorLabel;
  if (typeof row.actorType === 'string') actor.type = row.actorType;
  return {
    id,
    version: 1,
    feature: row.feature as string,
    operation: row.operation as Operation,
    gate: row.gate as GateKey | null,
    value: row.value === null || row.value === undefined ? null : json('value', row.value),
    before: before as unknown as FlagState,
    after: after as unknown as FlagState,
    changes: changes as unknown as JsonPatchOperation[],
    actor,
    context: context as AuditContext,
    adapter: row.adapter as string,
    createdAt: new Date(createdAt.getTime()),
  };
}

function isState(value: JsonValue): boolean {
  return isObject(value) && typeof value.exists === 'boolean' && isObject(value.gates);
}
