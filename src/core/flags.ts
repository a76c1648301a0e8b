import { describeInput, FlagTrailError } from './errors.js';
import { readState } from './state.js';
import type { FlagAdapter, FlagState, GateValues, JsonObject } from './types.js';
import { validateFeature } from './validate.js';

/** Options of the `Flags` facade. */
export interface FlagsOptions {
  /** Group predicates for `isEnabled`: `groups.admins(context)` opens the `admins` group gate. */
  groups?: Record<string, (context: FlagsEvaluationContext) => boolean>;
  /** Random source in [0, 1) for the percentage-of-time gate; injectable for tests. */
  random?: () => number;
}

/** What `isEnabled` evaluates against: `targetingKey` is the actor id, other fields feed groups and expressions. */
export interface FlagsEvaluationContext {
  targetingKey?: string;
  [property: string]: unknown;
}

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
}
