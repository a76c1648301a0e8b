/** A JSON value as stored in entries, contexts and expression gates. */
export type JsonPrimitive = string | number | boolean | null;
/** A JSON value as stored in entries, contexts and expression gates. */
export type JsonValue = JsonPrimitive | JsonValue[] | { [key: string]: JsonValue };
/** A JSON object, such as a Flipper expression. */
export type JsonObject = { [key: string]: JsonValue };

/** The gates of a flag, in Flipper's names. */
export type GateKey =
  | 'boolean'
  | 'actors'
  | 'groups'
  | 'percentageOfActors'
  | 'percentageOfTime'
  | 'expression';

/** Every gate key, in Flipper's evaluation order. */
export const GATE_KEYS: readonly GateKey[] = Object.freeze([
  'boolean',
  'expression',
  'actors',
  'percentageOfActors',
  'percentageOfTime',
  'groups',
]);

/**
 * The value of every gate of one flag.
 *
 * `actors` and `groups` are sets: sorted, without duplicates. Percentages are numbers in 0..100
 * with at most three decimals.
 */
export interface GateValues {
  boolean: boolean;
  actors: string[];
  groups: string[];
  percentageOfActors: number;
  percentageOfTime: number;
  expression: JsonObject | null;
}

/**
 * What one `enable`/`disable` call takes for a gate: `true` for boolean, an id for actors, a name
 * for groups, a number for the percentages, a JSON object for expression.
 */
export type GateValue = boolean | string | number | JsonObject;

/** A flag's state as the audit trail records it. */
export interface FlagState {
  exists: boolean;
  gates: GateValues;
}

/** The write operations the trail records. */
export type Operation = 'add' | 'remove' | 'clear' | 'enable' | 'disable';

/** Every operation, for validation and filters. */
export const OPERATIONS: readonly Operation[] = Object.freeze([
  'add',
  'remove',
  'clear',
  'enable',
  'disable',
]);

/** Who made a change. `id` is required and non-empty; `label` and `type` are for people. */
export interface Actor {
  id: string;
  label?: string;
  type?: string;
}

/** Why and where a change was made: free-form JSON next to a few well-known fields. */
export interface AuditContext {
  reason?: string;
  requestId?: string;
  ip?: string;
  userAgent?: string;
  [key: string]: JsonValue | undefined;
}

/** One RFC 6902 operation as produced by fast-json-patch `compare()`. */
export type JsonPatchOperation =
  | { op: 'add'; path: string; value: JsonValue }
  | { op: 'remove'; path: string }
  | { op: 'replace'; path: string; value: JsonValue }
  | { op: 'move'; path: string; from: string }
  | { op: 'copy'; path: string; from: string }
  | { op: 'test'; path: string; value: JsonValue };

/** One recorded change to one flag. Schema version 1. */
export interface AuditEntry {
  /** UUIDv7: id order is time order in every store. */
  id: string;
  version: 1;
  feature: string;
  operation: Operation;
  /** The gate written, `null` for add/remove/clear. */
  gate: GateKey | null;
  /** The value enabled or disabled (`'42'`, `'admins'`, `25`, `true`), `null` for add/remove/clear. */
  value: JsonValue | null;
  before: FlagState;
  after: FlagState;
  /** RFC 6902 patch over the keyed projection of the state (see `keyedState`). */
  changes: JsonPatchOperation[];
  actor: Actor;
  context: AuditContext;
  /** `name` of the wrapped adapter. */
  adapter: string;
  createdAt: Date;
}

/**
 * Where flags live. Flipper-shaped; feature keys are plain non-empty strings.
 *
 * Write semantics follow Ruby Flipper: enabling the boolean gate clears every other gate first;
 * disabling it clears every gate; actors/groups add or remove one member; percentages set the
 * number (disable sets 0); expression is set or cleared. `enable`/`disable` add a missing feature.
 */
export interface FlagAdapter {
  /** Short name recorded in every entry, e.g. `memory`, `prisma`, `mongodb`. */
  readonly name: string;
  /** Every registered feature key, in no guaranteed order. */
  features(): Promise<string[]>;
  /** Registers a feature without changing any gate. Idempotent. */
  add(feature: string): Promise<void>;
  /** Deletes the feature and its gates. A missing feature is not an error. */
  remove(feature: string): Promise<void>;
  /** Resets every gate and keeps the feature registered. A missing feature is not an error. */
  clear(feature: string): Promise<void>;
  /** The gates of one feature; the defaults for an unknown feature. */
  get(feature: string): Promise<GateValues>;
  /** The gates of each requested feature; defaults for unknown ones; every key is present. */
  getMulti(features: string[]): Promise<Record<string, GateValues>>;
  /** The gates of every registered feature. */
  getAll(): Promise<Record<string, GateValues>>;
  /** Opens a gate for a value. Adds a missing feature. Enabling what is already on is a no-op. */
  enable(feature: string, gate: GateKey, value: GateValue): Promise<void>;
  /** Closes a gate for a value. Adds a missing feature. Disabling what is already off is a no-op. */
  disable(feature: string, gate: GateKey, value: GateValue): Promise<void>;
  /** Whether the feature is registered; lets the trail avoid listing every flag per write. */
  exists?(feature: string): Promise<boolean>;
  /**
   * Whether the feature exists and its gates (defaults when it does not), read together in one
   * round trip where the backend can; the trail reads it before and after every write.
   */
  state?(feature: string): Promise<FlagState>;
  /** The audit store that belongs with this adapter (same client or database). */
  defaultAuditStore?(): AuditStore;
  /**
   * If this adapter and `store` can share one database transaction, a runner that executes `fn`
   * with an adapter and a store bound to it, so the state reads, the write and the entry insert
   * commit together or not at all; `undefined` otherwise. Asked once, at wrap time, by
   * `failClosed`.
   */
  transactionWith?(store: AuditStore): TransactionRunner | undefined;
  /**
   * Runs `fn` while holding a lock on `feature` that every process sharing this flag storage
   * respects (PostgreSQL: `pg_advisory_xact_lock`; MongoDB: a lease document), and passes it the
   * adapter to use while the lock is held. The trail reads the state before, writes and reads the
   * state after inside `fn`, so each entry's `before` is the flag's real state even when several
   * processes write the same flag. Without it, writes are serialized per process only.
   */
  lockFeature?<T>(feature: string, fn: (adapter: FlagAdapter) => Promise<T>): Promise<T>;
}

/** What `FlagAdapter.transactionWith` returns. */
export type TransactionRunner = <T>(fn: (scope: TransactionScope) => Promise<T>) => Promise<T>;

/** An adapter and a store bound to one transaction. */
export interface TransactionScope {
  adapter: FlagAdapter;
  store: AuditStore;
  /**
   * Locks `feature` against writers in other processes until the transaction ends (PostgreSQL:
   * `SELECT pg_advisory_xact_lock(...)`). The trail calls it first, before reading the state.
   */
  lockFeature?(feature: string): Promise<void>;
}

/** A filter over the audit trail. Every field is optional; results are newest first. */
export interface HistoryQuery {
  feature?: string;
  actorId?: string;
  operation?: Operation | Operation[];
  gate?: GateKey;
  /** Entries created at or after this instant. */
  since?: Date;
  /** Entries created before this instant (exclusive). */
  until?: Date;
  /** 1..1000, default 100. */
  limit?: number;
  /** Keyset cursor: only entries whose id is lower (older) than this id. */
  before?: string;
}

/** A history query after validation: defaults applied, operations as a list. */
export interface NormalizedHistoryQuery {
  feature?: string;
  actorId?: string;
  operations?: Operation[];
  gate?: GateKey;
  since?: Date;
  until?: Date;
  limit: number;
  before?: string;
}

/**
 * Where entries go. Append-only: there is no update or delete of single entries.
 * Any object with `record` and `query` is a store (a queue producer, a SIEM forwarder).
 */
export interface AuditStore {
  readonly name: string;
  /** Stores one entry. Recording the same `id` twice stores it once. */
  record(entry: AuditEntry): Promise<void>;
  /** Entries matching the query, newest first (descending id). */
  query(query: HistoryQuery): Promise<AuditEntry[]>;
}
