import { describeInput, FlagTrailError } from '../errors.js';
import type { GateKey, GateValues } from '../types.js';
import { compiledForRead, type ExpressionScope, inPercentageBucket } from './expression.js';

export { crc32 } from './crc32.js';
export {
  assertValidExpression,
  compileExpression,
  EXPRESSION_OPERATORS,
  type ExpressionOperator,
  inPercentageBucket,
} from './expression.js';

/**
 * What a flag is evaluated against: `targetingKey` is the actor id (Flipper's `flipper_id`); every
 * other property feeds group functions and expression `Property` lookups. An OpenFeature
 * `EvaluationContext` is one.
 */
export interface EvaluationInput {
  targetingKey?: string;
  [property: string]: unknown;
}

/** A group: a predicate over the evaluation context. Only a return of exactly `true` opens the gate. */
export type GroupPredicate = (context: EvaluationInput) => boolean;

/** How to evaluate: registered groups and injectable sources of randomness and time. */
export interface EvaluateOptions {
  /** Group predicates by name; a group without one never opens. */
  groups?: Readonly<Record<string, GroupPredicate>>;
  /** A number in [0, 1) for the percentage-of-time gate and `Random`; default `Math.random`. */
  random?: () => number;
  /** The current time for `Now`; default `new Date()`. */
  now?: () => Date;
}

/** The outcome: whether the flag is on, and which gate opened it (`null` when off). */
export interface Evaluation {
  enabled: boolean;
  gate: GateKey | null;
}

const OFF: Evaluation = Object.freeze({ enabled: false, gate: null });
const OPENED: Readonly<Record<GateKey, Evaluation>> = Object.freeze({
  boolean: Object.freeze({ enabled: true, gate: 'boolean' }),
  expression: Object.freeze({ enabled: true, gate: 'expression' }),
  actors: Object.freeze({ enabled: true, gate: 'actors' }),
  percentageOfActors: Object.freeze({ enabled: true, gate: 'percentageOfActors' }),
  percentageOfTime: Object.freeze({ enabled: true, gate: 'percentageOfTime' }),
  groups: Object.freeze({ enabled: true, gate: 'groups' }),
});

const EMPTY_CONTEXT: EvaluationInput = Object.freeze({});
const defaultNow = (): Date => new Date();

// Large actor lists are looked up through a Set built once per list (snapshots keep their arrays).
const actorSets = new WeakMap<readonly string[], Set<string>>();

function hasActor(actors: readonly string[], id: string): boolean {
  if (actors.length < 16) return actors.includes(id);
  let set = actorSets.get(actors);
  if (!set) {
    set = new Set(actors);
    actorSets.set(actors, set);
  }
  return set.has(id);
}

function actorId(context: EvaluationInput): string | undefined {
  const key = context.targetingKey;
  return typeof key === 'string' && key.length > 0 ? key : undefined;
}

function expressionOpens(
  feature: string,
  gates: GateValues,
  context: EvaluationInput,
  options: EvaluateOptions,
) {
  const expression = gates.expression;
  if (expression === null || typeof expression !== 'object') return false;
  // `{}` is how a disabled expression gate can be stored; Flipper treats an empty one as off.
  let empty = true;
  for (const _ in expression) {
    empty = false;
    break;
  }
  if (empty) return false;
  const scope: ExpressionScope = {
    feature,
    property(name) {
      // Flipper adds the actor's id to its properties as `flipper_id`.
      if (name === 'flipper_id' && !Object.hasOwn(context, 'flipper_id')) return actorId(context);
      return Object.hasOwn(context, name) ? context[name] : undefined;
    },
    random: options.random ?? Math.random,
    now: options.now ?? defaultNow,
  };
  return compiledForRead(expression).evaluate(scope);
}

function groupOpens(groups: readonly string[], context: EvaluationInput, options: EvaluateOptions): boolean {
  const registered = options.groups;
  if (!registered) return false;
  for (const name of groups) {
    if (!Object.hasOwn(registered, name)) continue;
    const predicate = registered[name];
    if (typeof predicate !== 'function') continue;
    try {
      // Exactly true: an async predicate returns a Promise, which must not count as "yes".
      if (predicate(context) === true) return true;
    } catch {
      // A broken group predicate counts as closed rather than failing the evaluation.
    }
  }
  return false;
}

/**
 * Evaluates one flag's gates for a context, in Flipper's order: boolean, expression, actors,
 * percentage of actors, percentage of time, groups. The first gate that opens wins and is named.
 *
 * Never throws for the data it reads: a malformed expression, an expression error Ruby would
 * raise, an unregistered or throwing group all count as a closed gate.
 *
 * @example
 * ```ts
 * evaluateFlag('checkout', gates, { targetingKey: '42', plan: 'pro' }, { groups: { admins: (c) => c.role === 'admin' } });
 * // => { enabled: true, gate: 'actors' }
 * ```
 */
export function evaluateFlag(
  feature: string,
  gates: GateValues,
  context: EvaluationInput = EMPTY_CONTEXT,
  options: EvaluateOptions = {},
): Evaluation {
  if (typeof feature !== 'string') {
    throw new FlagTrailError(
      'INVALID_FEATURE',
      `feature key must be a string, got ${describeInput(feature)}`,
    );
  }
  if (gates === null || typeof gates !== 'object') {
    throw new FlagTrailError(
      'INVALID_VALUE',
      `gates must be a GateValues object, got ${describeInput(gates)}`,
    );
  }
  const ctx = context === null || typeof context !== 'object' ? EMPTY_CONTEXT : context;
  if (gates.boolean === true) return OPENED.boolean;
  if (expressionOpens(feature, gates, ctx, options)) return OPENED.expression;
  const id = actorId(ctx);
  if (id !== undefined) {
    if (gates.actors.length > 0 && hasActor(gates.actors, id)) return OPENED.actors;
    const pct = gates.percentageOfActors;
    if (pct > 0 && (pct >= 100 || inPercentageBucket(feature, id, pct))) return OPENED.percentageOfActors;
  }
  const time = gates.percentageOfTime;
  if (time > 0 && (options.random ?? Math.random)() < time / 100) return OPENED.percentageOfTime;
  if (gates.groups.length > 0 && groupOpens(gates.groups, ctx, options)) return OPENED.groups;
  return OFF;
}

/** True when no gate is set at all: the flag is off for everyone by configuration. */
export function isConfiguredOff(gates: GateValues): boolean {
  return (
    !gates.boolean &&
    gates.actors.length === 0 &&
    gates.groups.length === 0 &&
    gates.percentageOfActors <= 0 &&
    gates.percentageOfTime <= 0 &&
    (gates.expression === null || Object.keys(gates.expression).length === 0)
  );
}
