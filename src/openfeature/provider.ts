import {
  ErrorCode,
  type EvaluationContext,
  FlagNotFoundError,
  type JsonValue,
  OpenFeatureEventEmitter,
  type Provider,
  ProviderEvents,
  ProviderNotReadyError,
  type ResolutionDetails,
  StandardResolutionReasons,
  TypeMismatchError,
} from '@openfeature/server-sdk';
import { describeInput, FlagTrailError } from '../core/errors.js';
import { type EvaluateOptions, evaluateFlag, isConfiguredOff } from '../core/evaluate/index.js';
import { cloneGates, gatesEqual } from '../core/gates.js';
import type { FlagAdapter, FlagState, GateKey, GateValues } from '../core/types.js';

/** How often the provider reloads every flag from the adapter when no option says otherwise. */
export const DEFAULT_REFRESH_INTERVAL_MS = 10_000;

/** Options of `FlagTrailProvider`. */
export interface FlagTrailProviderOptions {
  /** Group predicates by name: `groups.admins(context)` opens the `admins` group gate. */
  groups?: Readonly<Record<string, (context: EvaluationContext) => boolean>>;
  /**
   * Milliseconds between reloads of every flag from the adapter, which picks up changes made by
   * other processes (another Node service, a Rails app on the same tables). Default 10 000;
   * `0` turns the reload loop off.
   */
  refreshIntervalMs?: number;
  /** A number in [0, 1) for the percentage-of-time gate and `Random`; default `Math.random`. */
  random?: () => number;
  /** The current time for the `Now` expression; default `new Date()`. */
  now?: () => Date;
}

/** The change notification an audited adapter's `subscribe` delivers. */
interface ChangeNotice {
  feature: string;
  after: FlagState;
}

type Subscribable = FlagAdapter & { subscribe(listener: (change: ChangeNotice) => void): () => void };

function canSubscribe(adapter: FlagAdapter): adapter is Subscribable {
  return typeof (adapter as { subscribe?: unknown }).subscribe === 'function';
}

type FlagType = 'boolean' | 'string' | 'number' | 'object';

// OpenFeature reasons by the gate that opened: a percentage is a pseudorandom split, the other
// conditional gates are targeting, the boolean gate is the same for everyone.
const REASON_BY_GATE: Readonly<Record<GateKey, string>> = {
  boolean: StandardResolutionReasons.STATIC,
  expression: StandardResolutionReasons.TARGETING_MATCH,
  actors: StandardResolutionReasons.TARGETING_MATCH,
  groups: StandardResolutionReasons.TARGETING_MATCH,
  percentageOfActors: StandardResolutionReasons.SPLIT,
  percentageOfTime: StandardResolutionReasons.SPLIT,
};

const METADATA_BY_GATE: Readonly<Record<GateKey, Readonly<{ gate: GateKey }>>> = {
  boolean: Object.freeze({ gate: 'boolean' }),
  expression: Object.freeze({ gate: 'expression' }),
  actors: Object.freeze({ gate: 'actors' }),
  groups: Object.freeze({ gate: 'groups' }),
  percentageOfActors: Object.freeze({ gate: 'percentageOfActors' }),
  percentageOfTime: Object.freeze({ gate: 'percentageOfTime' }),
};

function checkOptions(adapter: unknown, options: unknown): FlagTrailProviderOptions {
  if (
    adapter === null ||
    typeof adapter !== 'object' ||
    typeof (adapter as { getAll?: unknown }).getAll !== 'function'
  ) {
    throw new FlagTrailError(
      'INVALID_OPTION',
      `FlagTrailProvider needs a flag adapter (an object with getAll()), got ${describeInput(adapter)}`,
    );
  }
  if (options === undefined || options === null) return {};
  if (typeof options !== 'object' || Array.isArray(options)) {
    throw new FlagTrailError(
      'INVALID_OPTION',
      `FlagTrailProvider options must be an object, got ${describeInput(options)}`,
    );
  }
  const { groups, refreshIntervalMs, random, now } = options as Record<string, unknown>;
  if (groups !== undefined) {
    if (groups === null || typeof groups !== 'object' || Array.isArray(groups)) {
      throw new FlagTrailError(
        'INVALID_OPTION',
        `groups must be an object of functions, got ${describeInput(groups)}`,
      );
    }
    for (const [name, predicate] of Object.entries(groups)) {
      if (typeof predicate !== 'function') {
        throw new FlagTrailError(
          'INVALID_OPTION',
          `group ${describeInput(name)} must be a function (context) => boolean, got ${describeInput(predicate)}`,
        );
      }
    }
  }
  if (
    refreshIntervalMs !== undefined &&
    (typeof refreshIntervalMs !== 'number' ||
      !Number.isInteger(refreshIntervalMs) ||
      refreshIntervalMs < 0 ||
      refreshIntervalMs > 2_147_483_647)
  ) {
    throw new FlagTrailError(
      'INVALID_OPTION',
      `refreshIntervalMs must be an integer number of milliseconds from 0 (off) to 2147483647, got ${describeInput(refreshIntervalMs)}`,
    );
  }
  for (const [field, value] of [
    ['random', random],
    ['now', now],
  ] as const) {
    if (value !== undefined && typeof value !== 'function') {
      throw new FlagTrailError('INVALID_OPTION', `${field} must be a function, got ${describeInput(value)}`);
    }
  }
  return options as FlagTrailProviderOptions;
}

/**
 * An OpenFeature server provider that evaluates the flags of a flagtrail adapter with Ruby
 * Flipper's semantics. Flags are boolean; every evaluation reads an in-memory snapshot.
 *
 * The snapshot is loaded by `initialize()`, reloaded every `refreshIntervalMs`, and, when the
 * adapter is an audited adapter (`withAuditTrail`), updated the moment a write goes through it.
 * Each update emits `ProviderEvents.ConfigurationChanged` naming exactly the flags that changed.
 *
 * @example
 * ```ts
 * const adapter = withAuditTrail(new MemoryFlagAdapter());
 * await OpenFeature.setProviderAndWait(new FlagTrailProvider(adapter, { groups: { admins: (c) => c.role === 'admin' } }));
 * const client = OpenFeature.getClient();
 * await client.getBooleanValue('checkout', false, { targetingKey: '42' });
 * ```
 */
export class FlagTrailProvider implements Provider {
  readonly metadata = { name: 'flagtrail' } as const;
  readonly runsOn = 'server' as const;
  readonly events = new OpenFeatureEventEmitter();

  private readonly adapter: FlagAdapter;
  private readonly options: FlagTrailProviderOptions;
  private readonly refreshIntervalMs: number;
  private readonly evaluateOptions: EvaluateOptions;
  private snapshot = new Map<string, GateValues>();
  private loaded = false;
  private failing = false;
  private closed = true;
  private timer: ReturnType<typeof setTimeout> | undefined;
  private unsubscribe: (() => void) | undefined;
  // Changes delivered by the audited adapter while a reload is in flight: the reload may have
  // read the flags before them, so they are applied again on top of what it returns.
  private readonly inFlight = new Set<Map<string, GateValues | null>>();

  constructor(adapter: FlagAdapter, options: FlagTrailProviderOptions = {}) {
    this.options = checkOptions(adapter, options);
    this.adapter = adapter;
    this.refreshIntervalMs = this.options.refreshIntervalMs ?? DEFAULT_REFRESH_INTERVAL_MS;
    // Group predicates only ever receive the SDK's EvaluationContext from this provider.
    this.evaluateOptions = this.options as EvaluateOptions;
  }

  /** Loads the snapshot of every flag and starts listening for changes. Called by the SDK. */
  async initialize(_context?: EvaluationContext): Promise<void> {
    this.stop();
    this.closed = false;
    if (canSubscribe(this.adapter)) {
      this.unsubscribe = this.adapter.subscribe((change) => this.applyChange(change));
    }
    try {
      await this.load();
    } catch (error) {
      this.failing = true;
      throw new FlagTrailError(
        'ADAPTER_ERROR',
        `flagtrail provider could not load flags from adapter "${this.adapter.name}": ${(error as Error)?.message ?? String(error)}`,
        { cause: error },
      );
    } finally {
      // Even after a failed first load the reload loop runs, so the provider recovers (and
      // emits Ready) once the adapter answers again.
      this.schedule();
    }
  }

  /** Stops the reload loop and the change subscription. Called by the SDK on close or replace. */
  async onClose(): Promise<void> {
    this.stop();
  }

  /**
   * Reloads every flag from the adapter now, emitting `ConfigurationChanged` for the flags whose
   * state differs. A failure keeps the last good snapshot and emits `ProviderEvents.Error`; the
   * next success emits `Ready` again. Never rejects.
   */
  async refresh(): Promise<void> {
    try {
      await this.load();
    } catch (error) {
      this.failing = true;
      if (this.closed) return;
      this.events.emit(ProviderEvents.Error, {
        message: `flagtrail refresh from adapter "${this.adapter.name}" failed: ${(error as Error)?.message ?? String(error)}`,
        errorCode: ErrorCode.GENERAL,
      });
    }
  }

  async resolveBooleanEvaluation(
    flagKey: string,
    _defaultValue: boolean,
    context: EvaluationContext,
  ): Promise<ResolutionDetails<boolean>> {
    return this.resolve<boolean>(flagKey, context, 'boolean');
  }

  async resolveStringEvaluation(
    flagKey: string,
    _defaultValue: string,
    context: EvaluationContext,
  ): Promise<ResolutionDetails<string>> {
    return this.resolve<string>(flagKey, context, 'string');
  }

  async resolveNumberEvaluation(
    flagKey: string,
    _defaultValue: number,
    context: EvaluationContext,
  ): Promise<ResolutionDetails<number>> {
    return this.resolve<number>(flagKey, context, 'number');
  }

  async resolveObjectEvaluation<T extends JsonValue>(
    flagKey: string,
    _defaultValue: T,
    context: EvaluationContext,
  ): Promise<ResolutionDetails<T>> {
    return this.resolve<T>(flagKey, context, 'object');
  }

  // The one resolver behind all four resolve*Evaluation methods. Only boolean resolutions
  // succeed, so T is boolean whenever it returns.
  private resolve<T>(flagKey: string, context: EvaluationContext, type: FlagType): ResolutionDetails<T> {
    if (!this.loaded) throw new ProviderNotReadyError('flagtrail provider has not loaded its flags yet');
    const gates = this.snapshot.get(flagKey);
    if (gates === undefined)
      throw new FlagNotFoundError(`flag ${describeInput(flagKey)} does not exist in flagtrail`);
    if (type !== 'boolean') {
      throw new TypeMismatchError(
        `flag ${describeInput(flagKey)} is a boolean flag; flagtrail flags resolve with getBooleanValue, not as ${type}`,
      );
    }
    const result = evaluateFlag(flagKey, gates, context, this.evaluateOptions);
    const details: ResolutionDetails<boolean> =
      result.gate !== null
        ? {
            value: true,
            variant: 'on',
            reason: REASON_BY_GATE[result.gate],
            flagMetadata: METADATA_BY_GATE[result.gate],
          }
        : {
            value: false,
            variant: 'off',
            // DISABLED: no gate holds anything; DEFAULT: gates are set, none opened for this context.
            reason: isConfiguredOff(gates)
              ? StandardResolutionReasons.DISABLED
              : StandardResolutionReasons.DEFAULT,
          };
    return details as ResolutionDetails<T>;
  }

  private async load(): Promise<void> {
    const pending = new Map<string, GateValues | null>();
    this.inFlight.add(pending);
    let all: Record<string, GateValues>;
    try {
      all = await this.adapter.getAll();
    } finally {
      this.inFlight.delete(pending);
    }
    const next = new Map<string, GateValues>();
    for (const key of Object.keys(all)) {
      const gates = all[key];
      if (gates) next.set(key, cloneGates(gates));
    }
    for (const [key, gates] of pending) {
      if (gates === null) next.delete(key);
      else next.set(key, gates);
    }
    const changed = this.loaded ? diffSnapshots(this.snapshot, next) : [];
    this.snapshot = next;
    this.loaded = true;
    const recovered = this.failing;
    this.failing = false;
    // Nobody listens before initialize or after close; the SDK emits the first Ready itself.
    if (this.closed) return;
    if (recovered) this.events.emit(ProviderEvents.Ready, {});
    if (changed.length > 0) this.events.emit(ProviderEvents.ConfigurationChanged, { flagsChanged: changed });
  }

  private applyChange(change: ChangeNotice): void {
    if (this.closed) return;
    try {
      const { feature, after } = change;
      const next = after.exists ? cloneGates(after.gates) : null;
      for (const pending of this.inFlight) pending.set(feature, next);
      const previous = this.snapshot.get(feature);
      if (next === null) {
        if (previous === undefined) return;
        this.snapshot.delete(feature);
      } else {
        if (previous !== undefined && gatesEqual(previous, next)) return;
        this.snapshot.set(feature, next);
      }
      this.events.emit(ProviderEvents.ConfigurationChanged, { flagsChanged: [feature] });
    } catch {
      // A malformed notification must not fail the write that produced it; the next reload
      // brings the snapshot back in line.
    }
  }

  private schedule(): void {
    if (this.closed || this.refreshIntervalMs === 0 || this.timer !== undefined) return;
    this.timer = setTimeout(() => {
      this.timer = undefined;
      void this.refresh().finally(() => this.schedule());
    }, this.refreshIntervalMs);
    // The reload loop alone must not keep a process alive.
    this.timer.unref?.();
  }

  private stop(): void {
    this.closed = true;
    if (this.timer !== undefined) {
      clearTimeout(this.timer);
      this.timer = undefined;
    }
    this.unsubscribe?.();
    this.unsubscribe = undefined;
  }
}

function diffSnapshots(before: Map<string, GateValues>, after: Map<string, GateValues>): string[] {
  const changed: string[] = [];
  for (const [key, gates] of after) {
    const old = before.get(key);
    if (old === undefined || !gatesEqual(old, gates)) changed.push(key);
  }
  for (const key of before.keys()) if (!after.has(key)) changed.push(key);
  return changed.sort();
}
