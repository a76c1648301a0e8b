import { describeInput, FlagTrailError } from './errors.js';
import { type EvaluateOptions, type EvaluationInput, evaluateFlag } from './evaluate/index.js';
import { readState } from './state.js';
import type { FlagAdapter, FlagState, GateValues, JsonObject } from './types.js';
import { validateFeature } from './validate.js';

/**
 * Options of the `Flags` facade: the groups, random source and clock `isEnabled` evaluates with
 * (the same evaluator as the OpenFeature provider).
 */
export type FlagsOptions = EvaluateOptions;

/** What `isEnabled` evaluates against: `targetingKey` is the actor id, other fields feed groups and expressions. */
export type FlagsEvaluationContext = EvaluationInput;

/**
 * A small typed facade over any adapter (audited or not), for people writing app code.
 *
 * @example
 * ```ts
 * const flags = new Flags(withAuditTrail(new MemoryFlagAdapter()));
 * await flags.enableActor('checkout', '42');
 * await flags.enablePercentageOfActors('checkout', 25);
 * ```
 */
export class Flags {
  readonly adapter: FlagAdapter;
  protected readonly options: FlagsOptions;

  constructor(adapter: FlagAdapter, options: FlagsOptions = {}) {
    if (adapter === null || typeof adapter !== 'object' || typeof adapter.enable !== 'function') {
      throw new FlagTrailError('INVALID_OPTION', `Flags needs a flag adapter, got ${describeInput(adapter)}`);
    }
    this.adapter = adapter;
    this.options = options;
  }

  /** Turns the flag on for everyone (clears every other gate, as in Flipper). */
  enable(feature: string): Promise<void> {
    return this.adapter.enable(feature, 'boolean', true);
  }

  /** Turns the flag off for everyone (clears every gate). */
  disable(feature: string): Promise<void> {
    return this.adapter.disable(feature, 'boolean', false);
  }

  enableActor(feature: string, actorId: string): Promise<void> {
    return this.adapter.enable(feature, 'actors', actorId);
  }

  disableActor(feature: string, actorId: string): Promise<void> {
    return this.adapter.disable(feature, 'actors', actorId);
  }

  enableGroup(feature: string, group: string): Promise<void> {
    return this.adapter.enable(feature, 'groups', group);
  }

  disableGroup(feature: string, group: string): Promise<void> {
    return this.adapter.disable(feature, 'groups', group);
  }

  enablePercentageOfActors(feature: string, percentage: number): Promise<void> {
    return this.adapter.enable(feature, 'percentageOfActors', percentage);
  }

  disablePercentageOfActors(feature: string): Promise<void> {
    return this.adapter.disable(feature, 'percentageOfActors', 0);
  }

  enablePercentageOfTime(feature: string, percentage: number): Promise<void> {
    return this.adapter.enable(feature, 'percentageOfTime', percentage);
  }

  disablePercentageOfTime(feature: string): Promise<void> {
    return this.adapter.disable(feature, 'percentageOfTime', 0);
  }

  enableExpression(feature: string, expression: JsonObject): Promise<void> {
    return this.adapter.enable(feature, 'expression', expression);
  }

  disableExpression(feature: string): Promise<void> {
    return this.adapter.disable(feature, 'expression', {});
  }

  add(feature: string): Promise<void> {
    return this.adapter.add(feature);
  }

  remove(feature: string): Promise<void> {
    return this.adapter.remove(feature);
  }

  clear(feature: string): Promise<void> {
    return this.adapter.clear(feature);
  }

  /** Whether the flag exists and the value of each gate. */
  state(feature: string): Promise<FlagState> {
    return readState(this.adapter, validateFeature(feature));
  }

  /** Every registered flag with its gates. */
  list(): Promise<Record<string, GateValues>> {
    return this.adapter.getAll();
  }

  /**
   * Whether the flag is on for `context`, with Flipper's semantics: boolean, expression, actors
   * (`targetingKey`), percentage of actors, percentage of time, groups. Reads the adapter on every
   * call; for hot paths use the OpenFeature provider, which evaluates an in-memory snapshot.
   *
   * @example
   * ```ts
   * const flags = new Flags(adapter, { groups: { staff: (c) => c.email?.toString().endsWith('@acme.test') === true } });
   * await flags.isEnabled('checkout', { targetingKey: 'User;42', email: 'ada@acme.test' });
   * ```
   */
  async isEnabled(feature: string, context: FlagsEvaluationContext = {}): Promise<boolean> {
    const key = validateFeature(feature);
    return evaluateFlag(key, await this.adapter.get(key), context, this.options).enabled;
  }
}
