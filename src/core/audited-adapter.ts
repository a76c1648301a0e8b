import { uuidv7 } from 'uuidv7';
import { type ActorScope, currentScope } from './actor-context.js';
import { diffStates } from './diff.js';
import { describeInput, FlagTrailError } from './errors.js';
import { statesEqual } from './gates.js';
import {
  type CloseResult,
  Outbox,
  type ResolvedRetryOptions,
  type RetryOptions,
  resolveRetryOptions,
} from './outbox/outbox.js';
import { DEFAULT_AUDIT_TIMEOUT_MS, recordWithin } from './outbox/record.js';
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
import { OPERATIONS } from './types.js';
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
  /**
   * Fail-open only: entries whose `record` fails are queued and retried in order with exponential
   * backoff and jitter until the store takes them (stores are idempotent on the entry id, so each
   * is stored once). `true` for the defaults, or `{ capacity, baseDelayMs, maxDelayMs, spool,
   * onDrop }`; with `spool`, waiting entries are also kept in a JSONL file and replayed by the
   * next process. With retry, `onError` hears only the failure that starts an outage.
   */
  retry?: boolean | RetryOptions;
  /**
   * How long one `record` may take before it counts as failed (`AUDIT_TIMEOUT`), so a hung store
   * never hangs flag writes. `Infinity` turns the bound off. Default 5000.
   */
  auditTimeoutMs?: number;
}

/** Options of `AuditedAdapter.close` and `AuditedAdapter.flush`. */
export interface FlushOptions {
  /** How long to keep trying. Default 5000 ms. */
  timeoutMs?: number;
}

function defaultOnError(error: FlagTrailError, entry: AuditEntry): void {
  process.stderr.write(
    `flagtrail: audit entry ${entry.id} (${entry.operation} ${entry.feature} by ${entry.actor.id}) was not recorded: ${error.message}\n`,
  );
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
  private readonly timeoutMs: number;
  private readonly outbox: Outbox | undefined;
  private closing: Promise<CloseResult> | undefined;
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
    this.timeoutMs = resolveTimeout(options.auditTimeoutMs);
    const retry = resolveRetryOptions(options.retry);
    if (retry && this.failClosed) {
      throw new FlagTrailError(
        'INVALID_OPTION',
        'retry applies to fail-open writes only: with failClosed a write whose entry cannot be recorded is rejected, so there is nothing to retry',
      );
    }
    this.runner = this.failClosed ? adapter.transactionWith?.(this.store) : undefined;
    // Last: opening a spool takes its lock file, which must not leak if an option above is bad.
    this.outbox = retry ? this.openOutbox(retry) : undefined;
  }

  private openOutbox(retry: ResolvedRetryOptions): Outbox {
    return new Outbox(this.store, retry, this.timeoutMs, (error, entry) => this.report(error, entry));
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
    const key = validateFeature(feature);
    // Only a full state read when the inner adapter has no cheap existence check of its own.
    return this.inner.exists ? this.inner.exists(key) : (await readState(this.inner, key)).exists;
  }

  /** Existence and gates of one flag, in as few reads as the inner adapter allows. */
  async state(feature: string): Promise<FlagState> {
    return readState(this.inner, validateFeature(feature));
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
    const entries: unknown = await this.store.query({ ...query, limit: normalized.limit });
    // A custom store (or a damaged row) must not hand callers something that only looks like entries.
    if (!Array.isArray(entries)) {
      throw new FlagTrailError(
        'MALFORMED_ENTRY',
        `audit store "${this.store.name}" returned ${describeInput(entries)} from query, not a list of entries`,
      );
    }
    entries.forEach((entry, i) => {
      const problem = entryProblem(entry);
      if (problem !== undefined) {
        throw new FlagTrailError(
          'MALFORMED_ENTRY',
          `audit store "${this.store.name}" returned a malformed entry at position ${i}: ${problem}`,
        );
      }
    });
    return entries as AuditEntry[];
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

  /** Entries waiting in the retry queue, oldest first (copies). Empty without `retry`. */
  pendingEntries(): AuditEntry[] {
    return this.outbox?.entries() ?? [];
  }

  /**
   * Retries queued entries now and waits until they are recorded or `timeoutMs` has passed.
   * Resolves with the number still waiting (0 without `retry`).
   */
  async flush(options: FlushOptions = {}): Promise<number> {
    const timeoutMs = resolveFlushTimeout(options);
    return this.outbox ? this.outbox.flush(timeoutMs) : 0;
  }

  /**
   * Stops the trail: later writes reject with `CLOSED`; writes in flight finish; queued entries
   * get until `timeoutMs` to be recorded. What is left stays in the spool for the next process,
   * or, without a spool, is reported to `onDrop`. Safe to call more than once.
   */
  close(options: FlushOptions = {}): Promise<CloseResult> {
    const timeoutMs = resolveFlushTimeout(options);
    this.closing ??= this.shutdown(timeoutMs);
    return this.closing;
  }

  /** True once `close()` has been called. */
  get closed(): boolean {
    return this.closing !== undefined;
  }

  private async shutdown(timeoutMs: number): Promise<CloseResult> {
    const started = Date.now();
    let deadline: ReturnType<typeof setTimeout> | undefined;
    await Promise.race([
      Promise.all([...this.queues.values()]),
      new Promise<void>((resolve) => {
        if (!Number.isFinite(timeoutMs)) return;
        deadline = setTimeout(resolve, timeoutMs);
        deadline.unref?.();
      }),
    ]);
    if (deadline !== undefined) clearTimeout(deadline);
    if (!this.outbox) return { pending: 0 };
    return this.outbox.close(Math.max(0, timeoutMs - (Date.now() - started)));
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
    if (this.closing) {
      return Promise.reject(
        new FlagTrailError(
          'CLOSED',
          `the audited adapter "${this.name}" is closed; ${operation} "${feature}" was not applied`,
        ),
      );
    }
    return this.serialized(feature, async () => {
      let change: FlagChange | undefined;
      if (this.runner) {
        change = await this.runner(async (tx) => {
          await tx.lockFeature?.(feature);
          return this.applyAtomically(tx.adapter, tx.store, feature, apply, make);
        });
      } else if (this.failClosed) {
        change = await this.locked(feature, (adapter) => this.applyOrUndo(adapter, feature, apply, make));
      } else {
        // The entry is made under the lock (its id and `before` belong to this write), recorded
        // after it is released, so a slow store never holds other processes' writes.
        change = await this.locked(feature, (adapter) => this.apply(adapter, feature, apply, make));
        if (change) await this.recordOpen(change.entry);
      }
      if (change) this.notify(change);
    });
  }

  // Across processes, the adapter's own lock (when it has one); within this process, `serialized`.
  private locked<T>(feature: string, fn: (adapter: FlagAdapter) => Promise<T>): Promise<T> {
    return this.inner.lockFeature ? this.inner.lockFeature(feature, fn) : fn(this.inner);
  }

  private async apply(
    adapter: FlagAdapter,
    feature: string,
    apply: Write,
    make: (before: FlagState, after: FlagState) => AuditEntry,
  ): Promise<FlagChange | undefined> {
    const before = await readState(adapter, feature);
    await apply(adapter);
    const after = await readState(adapter, feature);
    if (statesEqual(before, after)) return undefined;
    return { feature, before, after, entry: make(before, after) };
  }

  private async recordOpen(entry: AuditEntry): Promise<void> {
    if (this.outbox) {
      await this.outbox.deliver(entry);
      return;
    }
    try {
      await recordWithin(this.store, entry, this.timeoutMs);
    } catch (error) {
      this.report(error as FlagTrailError, entry);
    }
  }

  private async applyAtomically(
    adapter: FlagAdapter,
    store: AuditStore,
    feature: string,
    apply: Write,
    make: (before: FlagState, after: FlagState) => AuditEntry,
  ): Promise<FlagChange | undefined> {
    const change = await this.apply(adapter, feature, apply, make);
    // A throw here rolls the transaction back: the write and its entry go together or not at all.
    if (change) await recordWithin(store, change.entry, this.timeoutMs);
    return change;
  }

  private async applyOrUndo(
    adapter: FlagAdapter,
    feature: string,
    apply: Write,
    make: (before: FlagState, after: FlagState) => AuditEntry,
  ): Promise<FlagChange | undefined> {
    const change = await this.apply(adapter, feature, apply, make);
    if (!change) return undefined;
    try {
      await recordWithin(this.store, change.entry, this.timeoutMs);
    } catch (error) {
      const failure = error as FlagTrailError;
      await this.undo(adapter, feature, change.before, failure, change.entry);
      throw failure;
    }
    return change;
  }

  // Fail-closed without a shared transaction: put the flag back as it was, so a rejected write
  // leaves no unaudited change behind.
  private async undo(
    adapter: FlagAdapter,
    feature: string,
    before: FlagState,
    failure: FlagTrailError,
    entry: AuditEntry,
  ): Promise<void> {
    try {
      await restoreState(adapter, feature, before);
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

function isObject(value: unknown): value is Record<string, unknown> {
  return value !== null && typeof value === 'object' && !Array.isArray(value);
}

function stateProblem(state: unknown): string | undefined {
  if (!isObject(state) || typeof state.exists !== 'boolean' || !isObject(state.gates))
    return 'not a flag state';
  const g = state.gates;
  if (typeof g.boolean !== 'boolean' || !Array.isArray(g.actors) || !Array.isArray(g.groups))
    return 'bad gates';
  if (typeof g.percentageOfActors !== 'number' || typeof g.percentageOfTime !== 'number')
    return 'bad percentages';
  return undefined;
}

/** Why `value` is not an `AuditEntry`, or undefined when its shape is right. */
function entryProblem(value: unknown): string | undefined {
  if (!isObject(value)) return `got ${describeInput(value)}`;
  if (typeof value.id !== 'string' || value.id.length === 0) return 'id is not a string';
  if (typeof value.feature !== 'string') return 'feature is not a string';
  if (!(OPERATIONS as readonly unknown[]).includes(value.operation)) {
    return `unknown operation ${describeInput(value.operation)}`;
  }
  if (!(value.createdAt instanceof Date) || Number.isNaN(value.createdAt.getTime())) {
    return 'createdAt is not a valid Date';
  }
  if (!isObject(value.actor) || typeof value.actor.id !== 'string') return 'actor has no id';
  if (!Array.isArray(value.changes)) return 'changes is not a list';
  const before = stateProblem(value.before);
  if (before) return `before: ${before}`;
  const after = stateProblem(value.after);
  if (after) return `after: ${after}`;
  return undefined;
}

function resolveTimeout(value: unknown): number {
  if (value === undefined) return DEFAULT_AUDIT_TIMEOUT_MS;
  if (typeof value !== 'number' || Number.isNaN(value) || value <= 0) {
    throw new FlagTrailError(
      'INVALID_OPTION',
      `auditTimeoutMs must be a positive number of milliseconds (or Infinity), got ${describeInput(value)}`,
    );
  }
  return value;
}

function resolveFlushTimeout(options: FlushOptions): number {
  if (options === null || typeof options !== 'object') {
    throw new FlagTrailError('INVALID_OPTION', `options must be an object, got ${describeInput(options)}`);
  }
  const { timeoutMs = 5000 } = options;
  if (typeof timeoutMs !== 'number' || Number.isNaN(timeoutMs) || timeoutMs < 0) {
    throw new FlagTrailError(
      'INVALID_OPTION',
      `timeoutMs must be a number of milliseconds >= 0 (or Infinity), got ${describeInput(timeoutMs)}`,
    );
  }
  return timeoutMs;
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
