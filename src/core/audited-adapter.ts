import { uuidv7 } from 'uuidv7';
import { type ActorScope, currentScope } from './actor-context.js';
import { diffStates } from './diff.js';
import { describeInput, FlagTrailError, isFlagTrailError } from './errors.js';
import { statesEqual } from './gates.js';
import { readState, restoreState } from './state.js';
import type {
  Actor,
  AuditEntry,
  AuditStore,
  FlagAdapter,
  FlagState,
  GateKey,
  GateValue,
  GateValues,
  HistoryQuery,
  JsonValue,
  Operation,
  TransactionRunner,
} from './types.js';
import {
  validateActor,
  validateFeature,
  validateGate,
  validateGateValue,
  validateHistoryQuery,
} from './validate.js';

/** The actor recorded when no `withActor` scope is active. */
export const DEFAULT_SYSTEM_ACTOR: Actor = Object.freeze({ id: 'system', type: 'system' });

const AUDITED = Symbol.for('flagtrail.audited-adapter');

/** What `AuditedAdapter.subscribe` listeners receive after each effective change. */
export interface FlagChange {
  feature: string;
  before: FlagState;
  after: FlagState;
  entry: AuditEntry;
}

/** Options of `withAuditTrail`. */
export interface AuditTrailOptions {
  /** Where entries go. Default: `adapter.defaultAuditStore()`. */
  store?: AuditStore;
  /** Recorded as the actor of writes made outside `withActor`. Default `{ id: 'system', type: 'system' }`. */
  systemActor?: Actor;
  /**
   * Called when recording an entry fails and the write stands (fail-open). Default: one warning
   * line on stderr. Errors thrown by the callback itself are swallowed.
   */
  onError?: (error: FlagTrailError, entry: AuditEntry) => void;
  /**
   * Reject a write whose entry cannot be recorded. Where the adapter and store share a database
   * transaction (Prisma), the write and its entry commit together or not at all; elsewhere the
   * write is undone by restoring the state read before it. Default `false`.
   */
  failClosed?: boolean;
}

function defaultOnError(error: FlagTrailError, entry: AuditEntry): void {
  process.stderr.write(
    `flagtrail: audit entry ${entry.id} (${entry.operation} ${entry.feature} by ${entry.actor.id}) was not recorded: ${error.message}\n`,
  );
}

function auditFailure(error: unknown, store: AuditStore): FlagTrailError {
  if (isFlagTrailError(error) && error.code === 'AUDIT_FAILED') return error;
  const message = error instanceof Error ? error.message : String(error);
  return new FlagTrailError('AUDIT_FAILED', `audit store "${store.name}" failed to record: ${message}`, {
    cause: error,
  });
}

function isStore(value: unknown): value is AuditStore {
  return (
    value !== null &&
    typeof value === 'object' &&
    typeof (value as AuditStore).record === 'function' &&
    typeof (value as AuditStore).query === 'function'
  );
}

function adapterName(adapter: FlagAdapter): string {
  return typeof adapter.name === 'string' && adapter.name.length > 0 ? adapter.name : 'custom';
}

type Write = (adapter: FlagAdapter) => Promise<void>;

/**
 * A `FlagAdapter` that records every effective write to an audit store. Create it with
 * `withAuditTrail`. Reads pass straight through.
 */
export class AuditedAdapter implements FlagAdapter {
  readonly name: string;
  /** The wrapped adapter. Writes made on it directly are not audited. */
  readonly inner: FlagAdapter;
  /** Where entries go. */
  readonly store: AuditStore;
  readonly [AUDITED] = true;

  private readonly systemActor: Actor;
  private readonly onError: (error: FlagTrailError, entry: AuditEntry) => void;
  private readonly failClosed: boolean;
  private readonly runner: TransactionRunner | undefined;
  private readonly listeners = new Set<(change: FlagChange) => void>();
  // Writes to one feature run one after another in this process, so each entry's `before` is the
  // state its own write started from and consecutive entries of a flag chain.
  private readonly queues = new Map<string, Promise<unknown>>();

  constructor(adapter: FlagAdapter, options: AuditTrailOptions = {}) {
    if (adapter === null || typeof adapter !== 'object') {
      throw new FlagTrailError(
        'INVALID_OPTION',
        `withAuditTrail needs a flag adapter, got ${describeInput(adapter)}`,
      );
    }
    if ((adapter as { [AUDITED]?: boolean })[AUDITED]) {
      throw new FlagTrailError(
        'ALREADY_AUDITED',
        `adapter "${adapterName(adapter)}" is already audited; wrapping it again would record every change twice`,
      );
    }
    if (options === null || typeof options !== 'object') {
      throw new FlagTrailError(
        'INVALID_OPTION',
        `withAuditTrail options must be an object, got ${describeInput(options)}`,
      );
    }
    this.inner = adapter;
    this.name = adapterName(adapter);
    this.store = resolveStore(adapter, options.store);
    this.systemActor =
      options.systemActor === undefined ? DEFAULT_SYSTEM_ACTOR : validateActor(options.systemActor);
    if (options.onError !== undefined && typeof options.onError !== 'function') {
      throw new FlagTrailError(
        'INVALID_OPTION',
        `onError must be a function, got ${describeInput(options.onError)}`,
      );
    }
    this.onError = options.onError ?? defaultOnError;
    if (options.failClosed !== undefined && typeof options.failClosed !== 'boolean') {
      throw new FlagTrailError(
        'INVALID_OPTION',
        `failClosed must be a boolean, got ${describeInput(options.failClosed)}`,
      );
    }
    this.failClosed = options.failClosed ?? false;
    this.runner = this.failClosed ? adapter.transactionWith?.(this.store) : undefined;
  }

  features(): Promise<string[]> {
    return this.inner.features();
  }

  get(feature: string): Promise<GateValues> {
    return this.inner.get(feature);
  }

  getMulti(features: string[]): Promise<Record<string, GateValues>> {
    return this.inner.getMulti(features);
  }

  getAll(): Promise<Record<string, GateValues>> {
    return this.inner.getAll();
  }

  async exists(feature: string): Promise<boolean> {
    return (await readState(this.inner, validateFeature(feature))).exists;
  }

  async add(feature: string): Promise<void> {
    const scope = currentScope();
    const key = validateFeature(feature);
    return this.write(scope, key, 'add', null, null, (a) => a.add(key));
  }

  async remove(feature: string): Promise<void> {
    const scope = currentScope();
    const key = validateFeature(feature);
    return this.write(scope, key, 'remove', null, null, (a) => a.remove(key));
  }

  async clear(feature: string): Promise<void> {
    const scope = currentScope();
    const key = validateFeature(feature);
    return this.write(scope, key, 'clear', null, null, (a) => a.clear(key));
  }

  async enable(feature: string, gate: GateKey, value: GateValue): Promise<void> {
    const scope = currentScope();
    const key = validateFeature(feature);
    const g = validateGate(gate);
    const v = validateGateValue('enable', g, value);
    return this.write(scope, key, 'enable', g, v, (a) => a.enable(key, g, v));
  }

  async disable(feature: string, gate: GateKey, value: GateValue): Promise<void> {
    const scope = currentScope();
    const key = validateFeature(feature);
    const g = validateGate(gate);
    const v = validateGateValue('disable', g, value);
    return this.write(scope, key, 'disable', g, v, (a) => a.disable(key, g, v));
  }

  /**
   * Entries matching `query`, newest first.
   *
   * @example
   * ```ts
   * const page = await audited.history({ feature: 'checkout', limit: 20 });
   * const next = await audited.history({ feature: 'checkout', limit: 20, before: page.at(-1)?.id });
   * ```
   */
  async history(query: HistoryQuery = {}): Promise<AuditEntry[]> {
    const normalized = validateHistoryQuery(query);
    return this.store.query({ ...query, limit: normalized.limit });
  }

  /**
   * Calls `listener` after each effective change, before the write's promise resolves. Returns
   * a function that unsubscribes. A throwing listener never fails the write.
   */
  subscribe(listener: (change: FlagChange) => void): () => void {
    if (typeof listener !== 'function') {
      throw new FlagTrailError(
        'INVALID_OPTION',
        `subscribe needs a function, got ${describeInput(listener)}`,
      );
    }
    this.listeners.add(listener);
    return () => {
      this.listeners.delete(listener);
    };
  }

  private write(
    scope: ActorScope | undefined,
    feature: string,
    operation: Operation,
    gate: GateKey | null,
    value: JsonValue | null,
    apply: Write,
  ): Promise<void> {
    const actor = scope?.actor ?? this.systemActor;
    const context = scope?.context ?? {};
    const make = (before: FlagState, after: FlagState): AuditEntry => ({
      id: uuidv7(),
      version: 1,
      feature,
      operation,
      gate,
      value,
      before,
      after,
      changes: diffStates(before, after),
      actor,
      context,
      adapter: this.name,
      createdAt: new Date(),
    });
    return this.serialized(feature, async () => {
      const change = this.runner
        ? await this.runner(({ adapter, store }) =>
            this.applyAtomically(adapter, store, feature, apply, make),
          )
        : await this.applyAndRecord(feature, apply, make);
      if (change) this.notify(change);
    });
  }

  private async applyAtomically(
    adapter: FlagAdapter,
    store: AuditStore,
    feature: string,
    apply: Write,
    make: (before: FlagState, after: FlagState) => AuditEntry,
  ): Promise<FlagChange | undefined> {
    const before = await readState(adapter, feature);
    await apply(adapter);
    const after = await readState(adapter, feature);
    if (statesEqual(before, after)) return undefined;
    const entry = make(before, after);
    try {
      await store.record(entry);
    } catch (error) {
      throw auditFailure(error, this.store);
    }
    return { feature, before, after, entry };
  }

  private async applyAndRecord(
    feature: string,
    apply: Write,
    make: (before: FlagState, after: FlagState) => AuditEntry,
  ): Promise<FlagChange | undefined> {
    const before = await readState(this.inner, feature);
    await apply(this.inner);
    const after = await readState(this.inner, feature);
    if (statesEqual(before, after)) return undefined;
    const entry = make(before, after);
    try {
      await this.store.record(entry);
    } catch (error) {
      const failure = auditFailure(error, this.store);
      if (!this.failClosed) {
        this.report(failure, entry);
        return { feature, before, after, entry };
      }
      await this.undo(feature, before, failure, entry);
      throw failure;
    }
    return { feature, before, after, entry };
  }

  // Fail-closed without a shared transaction: put the flag back as it was, so a rejected write
  // leaves no unaudited change behind.
  private async undo(
    feature: string,
    before: FlagState,
    failure: FlagTrailError,
    entry: AuditEntry,
  ): Promise<void> {
    try {
      await restoreState(this.inner, feature, before);
    } catch (undoError) {
      const stuck = new FlagTrailError(
        'AUDIT_FAILED',
        `${failure.message}; restoring "${feature}" to its previous state also failed, so the change stands unaudited: ${
          undoError instanceof Error ? undoError.message : String(undoError)
        }`,
        { cause: failure },
      );
      this.report(stuck, entry);
      throw stuck;
    }
  }

  private report(error: FlagTrailError, entry: AuditEntry): void {
    try {
      this.onError(error, entry);
    } catch {
      // The callback is the last place an error can go; the write must not fail because of it.
    }
  }

  private notify(change: FlagChange): void {
    for (const listener of this.listeners) {
      try {
        listener(change);
      } catch (error) {
        this.report(
          new FlagTrailError(
            'ADAPTER_ERROR',
            `a change listener threw: ${(error as Error)?.message ?? error}`,
            {
              cause: error,
            },
          ),
          change.entry,
        );
      }
    }
  }

  private serialized<T>(feature: string, task: () => Promise<T>): Promise<T> {
    const previous = this.queues.get(feature) ?? Promise.resolve();
    const run = previous.then(task, task);
    const tail = run.then(
      () => undefined,
      () => undefined,
    );
    this.queues.set(feature, tail);
    void tail.then(() => {
      if (this.queues.get(feature) === tail) this.queues.delete(feature);
    });
    return run;
  }
}

function resolveStore(adapter: FlagAdapter, explicit: AuditStore | undefined): AuditStore {
  if (explicit !== undefined) {
    if (!isStore(explicit)) {
      throw new FlagTrailError(
        'INVALID_OPTION',
        `store must be an object with record(entry) and query(query) methods, got ${describeInput(explicit)}`,
      );
    }
    return explicit;
  }
  const inferred = adapter.defaultAuditStore?.();
  if (inferred === undefined) {
    throw new FlagTrailError(
      'NO_AUDIT_STORE',
      `adapter "${adapterName(adapter)}" has no default audit store; pass one: withAuditTrail(adapter, { store: myStore }) where myStore has record(entry) and query(query)`,
    );
  }
  if (!isStore(inferred)) {
    throw new FlagTrailError(
      'NO_AUDIT_STORE',
      `adapter "${adapterName(adapter)}" returned an invalid default audit store; pass { store } explicitly`,
    );
  }
  return inferred;
}

/**
 * Wraps a flag adapter so that every effective write records one audit entry, attributed to the
 * actor of the current `withActor` scope (or the system actor). The store is `options.store`, or
 * the one the adapter provides (memory -> memory, Prisma -> Prisma, MongoDB -> MongoDB).
 *
 * @example
 * ```ts
 * const flags = withAuditTrail(new PrismaFlagAdapter(prisma));
 * await withActor({ id: 'u42' }, () => flags.enable('checkout', 'actors', '42'));
 * const trail = await flags.history({ feature: 'checkout' });
 * ```
 */
export function withAuditTrail(adapter: FlagAdapter, options: AuditTrailOptions = {}): AuditedAdapter {
  return new AuditedAdapter(adapter, options);
}

/** True for an adapter returned by `withAuditTrail`. */
export function isAuditedAdapter(adapter: unknown): adapter is AuditedAdapter {
  return (
    adapter !== null && typeof adapter === 'object' && (adapter as { [AUDITED]?: boolean })[AUDITED] === true
  );
}
