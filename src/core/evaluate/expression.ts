import { describeInput, FlagTrailError } from '../errors.js';
import type { JsonObject } from '../types.js';
import { crc32 } from './crc32.js';
import {
  ExpressionEvaluationError,
  type ExpressionValue,
  parseTime,
  rubyCompare,
  rubyEqual,
  rubyToBoolean,
  rubyToNumber,
  rubyToString,
  truthy,
} from './values.js';

/** What an expression reads while it runs. */
export interface ExpressionScope {
  /** The feature key: PercentageOfActors buckets `feature + id`, as Flipper does. */
  feature: string;
  /** Looks up a context property (`undefined` when absent). */
  property(name: string): ExpressionValue;
  random(): number;
  now(): Date;
}

type Evaluate = (scope: ExpressionScope) => ExpressionValue;

// The static kind of what a node produces; `any` for Property, whose value comes from outside.
type Kind = 'any' | 'boolean' | 'number' | 'string' | 'time';

interface Node {
  evaluate: Evaluate;
  kind: Kind;
  /** Set for literal constants, so arguments can be checked when the expression is written. */
  constant?: string | number | boolean;
}

/** The operators flagtrail evaluates: Flipper's expression functions. */
export const EXPRESSION_OPERATORS = Object.freeze([
  'All',
  'Any',
  'Boolean',
  'Duration',
  'Equal',
  'GreaterThan',
  'GreaterThanOrEqualTo',
  'LessThan',
  'LessThanOrEqualTo',
  'NotEqual',
  'Now',
  'Number',
  'Percentage',
  'PercentageOfActors',
  'Property',
  'Random',
  'String',
  'Time',
] as const);

/** One of Flipper's expression function names. */
export type ExpressionOperator = (typeof EXPRESSION_OPERATORS)[number];

// Seconds per unit, as Flipper's Duration defines them (a month is 1/12 of a Gregorian year).
const SECONDS_PER: Readonly<Record<string, number>> = Object.freeze({
  second: 1,
  minute: 60,
  hour: 3_600,
  day: 86_400,
  week: 604_800,
  month: 2_629_746,
  year: 31_556_952,
});

// Flipper's Duration: `unit.to_s.downcase.chomp("s")`, so "Days", "day" and "days" are one unit.
function durationUnit(unit: string): number | undefined {
  const lower = unit.toLowerCase();
  const key = lower.endsWith('s') ? lower.slice(0, -1) : lower;
  return Object.hasOwn(SECONDS_PER, key) ? SECONDS_PER[key] : undefined;
}

const SCALING_FACTOR = 1_000;

/**
 * Flipper's percentage-of-actors bucket test: `crc32(feature + id) % 100_000 < percentage * 1_000`.
 * The float product is kept as it is (no rounding) because Ruby computes the same IEEE double.
 */
export function inPercentageBucket(feature: string, id: string, percentage: number): boolean {
  return crc32(feature + id) % (100 * SCALING_FACTOR) < percentage * SCALING_FACTOR;
}

function fail(path: string, message: string): never {
  throw new FlagTrailError('INVALID_EXPRESSION', `${path}: ${message}`);
}

type Param = 'any' | 'number' | 'string' | 'ordered' | 'castable' | 'time' | 'unit';

interface Spec {
  min: number;
  max: number;
  kind: Kind;
  param(index: number): Param;
  build(args: Evaluate[]): Evaluate;
}

// Boolean, Number and String: one argument, converted the way Ruby's Flipper converts it.
function cast(kind: Kind, param: Param, convert: (value: ExpressionValue) => ExpressionValue): Spec {
  return {
    min: 1,
    max: 1,
    kind,
    param: () => param,
    build:
      ([v]) =>
      (scope) =>
        convert((v as Evaluate)(scope)),
  };
}

function compareWith(test: (order: number) => boolean): (args: Evaluate[]) => Evaluate {
  return ([left, right]) => {
    const l = left as Evaluate;
    const r = right as Evaluate;
    return (scope) => {
      const order = rubyCompare(l(scope), r(scope));
      return order !== undefined && test(order);
    };
  };
}

function numberArg(value: ExpressionValue, what: string): number {
  if (typeof value !== 'number') {
    throw new ExpressionEvaluationError(`${what} must be a number, got ${describeInput(value)}`);
  }
  return value;
}

const SPECS: Readonly<Record<ExpressionOperator, Spec>> = {
  Any: {
    min: 0,
    max: Number.POSITIVE_INFINITY,
    kind: 'boolean',
    param: () => 'any',
    // Ruby evaluates every argument before `any?`, so an error in a later argument still closes
    // the gate; no short-circuit here either.
    build: (args) => (scope) => {
      let result = false;
      for (const arg of args) if (truthy(arg(scope))) result = true;
      return result;
    },
  },
  All: {
    min: 0,
    max: Number.POSITIVE_INFINITY,
    kind: 'boolean',
    param: () => 'any',
    build: (args) => (scope) => {
      let result = true;
      for (const arg of args) if (!truthy(arg(scope))) result = false;
      return result;
    },
  },
  Equal: {
    min: 2,
    max: 2,
    kind: 'boolean',
    param: () => 'any',
    build:
      ([l, r]) =>
      (scope) =>
        rubyEqual((l as Evaluate)(scope), (r as Evaluate)(scope)),
  },
  NotEqual: {
    min: 2,
    max: 2,
    kind: 'boolean',
    param: () => 'any',
    build:
      ([l, r]) =>
      (scope) =>
        !rubyEqual((l as Evaluate)(scope), (r as Evaluate)(scope)),
  },
  GreaterThan: { min: 2, max: 2, kind: 'boolean', param: () => 'ordered', build: compareWith((o) => o > 0) },
  GreaterThanOrEqualTo: {
    min: 2,
    max: 2,
    kind: 'boolean',
    param: () => 'ordered',
    build: compareWith((o) => o >= 0),
  },
  LessThan: { min: 2, max: 2, kind: 'boolean', param: () => 'ordered', build: compareWith((o) => o < 0) },
  LessThanOrEqualTo: {
    min: 2,
    max: 2,
    kind: 'boolean',
    param: () => 'ordered',
    build: compareWith((o) => o <= 0),
  },
  Property: {
    min: 1,
    max: 1,
    kind: 'any',
    param: () => 'string',
    build:
      ([key]) =>
      (scope) => {
        const value = scope.property(rubyToString((key as Evaluate)(scope)));
        return value === undefined ? null : value;
      },
  },
  Boolean: cast('boolean', 'any', rubyToBoolean),
  Number: cast('number', 'castable', rubyToNumber),
  String: cast('string', 'any', rubyToString),
  Now: { min: 0, max: 0, kind: 'time', param: () => 'any', build: () => (scope) => scope.now() },
  Time: {
    min: 1,
    max: 1,
    kind: 'time',
    param: () => 'time',
    build:
      ([v]) =>
      (scope) => {
        const value = (v as Evaluate)(scope);
        // A Date in the context is already a time; Ruby would only ever see strings here.
        if (value instanceof Date) return value;
        const time = typeof value === 'string' ? parseTime(value) : undefined;
        if (!time) throw new ExpressionEvaluationError(`no time information in ${describeInput(value)}`);
        return time;
      },
  },
  Duration: {
    min: 1,
    max: 2,
    kind: 'number',
    param: (i) => (i === 0 ? 'number' : 'unit'),
    build: ([scalar, unit]) => {
      const s = scalar as Evaluate;
      return (scope) => {
        const n = numberArg(s(scope), 'Duration value');
        const name = unit ? rubyToString(unit(scope)) : 'second';
        const seconds = durationUnit(name);
        if (seconds === undefined)
          throw new ExpressionEvaluationError(`unknown Duration unit ${describeInput(name)}`);
        return n * seconds;
      };
    },
  },
  Random: {
    min: 0,
    max: 1,
    kind: 'number',
    param: () => 'number',
    build: ([max]) => {
      // Kernel#rand(max): below 1 in magnitude, a float in [0, 1); else an integer in [0, |max|).
      return (scope) => {
        const limit = max ? max(scope) : 0;
        if (limit !== null && typeof limit !== 'number') {
          throw new ExpressionEvaluationError(`Random takes a number, got ${describeInput(limit)}`);
        }
        const n = Math.trunc(Math.abs(limit ?? 0));
        const r = scope.random();
        return n === 0 ? r : Math.floor(r * n);
      };
    },
  },
  Percentage: {
    min: 1,
    max: 1,
    kind: 'number',
    param: () => 'number',
    build:
      ([v]) =>
      (scope) =>
        Math.min(100, Math.max(0, rubyToNumber((v as Evaluate)(scope)))),
  },
  PercentageOfActors: {
    min: 2,
    max: 2,
    kind: 'boolean',
    param: (i) => (i === 0 ? 'string' : 'number'),
    build: ([text, percentage]) => {
      const t = text as Evaluate;
      const p = percentage as Evaluate;
      return (scope) => {
        const id = rubyToString(t(scope));
        return inPercentageBucket(scope.feature, id, numberArg(p(scope), 'PercentageOfActors percentage'));
      };
    },
  },
};

function acceptsKind(param: Param, node: Node): boolean {
  const { kind } = node;
  switch (param) {
    case 'any':
      return true;
    case 'number':
      return kind === 'number' || kind === 'any';
    case 'string':
      return kind === 'string' || kind === 'any';
    case 'ordered':
      return kind !== 'boolean';
    case 'castable':
      return kind !== 'boolean';
    case 'time':
      return kind === 'string' || kind === 'time' || kind === 'any';
    case 'unit':
      return kind === 'string' || kind === 'any';
  }
}

const PARAM_WORDS: Readonly<Record<Param, string>> = {
  any: 'a value',
  number: 'a number',
  string: 'a string',
  ordered: 'a number, string or time',
  castable: 'a number, string or time',
  time: 'an ISO 8601 time string',
  unit: `a unit (${Object.keys(SECONDS_PER).join(', ')})`,
};

function describeNode(node: Node): string {
  if (typeof node.constant === 'boolean') return String(node.constant);
  return node.constant !== undefined ? describeInput(node.constant) : `an expression giving ${node.kind}`;
}

function checkArgument(param: Param, node: Node, path: string): void {
  if (!acceptsKind(param, node)) fail(path, `expected ${PARAM_WORDS[param]}, got ${describeNode(node)}`);
  if (param === 'time' && typeof node.constant === 'string' && parseTime(node.constant) === undefined) {
    fail(
      path,
      `expected an ISO 8601 time such as "2025-01-31T12:00:00Z", got ${describeInput(node.constant)}`,
    );
  }
  if (param === 'unit' && typeof node.constant === 'string' && durationUnit(node.constant) === undefined) {
    fail(path, `expected ${PARAM_WORDS.unit}, got ${describeInput(node.constant)}`);
  }
}

function constant(value: string | number | boolean): Node {
  const kind: Kind = typeof value === 'string' ? 'string' : typeof value === 'number' ? 'number' : 'boolean';
  return { evaluate: () => value, kind, constant: value };
}

function compileNode(value: unknown, path: string, depth: number): Node {
  if (typeof value === 'string' || typeof value === 'boolean') return constant(value);
  if (typeof value === 'number') {
    if (!Number.isFinite(value)) fail(path, `numbers must be finite, got ${value}`);
    return constant(value);
  }
  if (value === null || value === undefined) {
    // Flipper's Expression.build refuses nil, so a Rails app sharing the store could not read it.
    fail(path, 'null is not an expression; use a string, number, boolean or function');
  }
  if (Array.isArray(value))
    fail(path, 'an array is not an expression; arguments go inside a function object');
  if (typeof value !== 'object') fail(path, `${typeof value} is not an expression`);
  if (depth > 64) fail(path, 'nested more than 64 levels deep');
  const keys = Object.keys(value);
  if (keys.length !== 1) {
    fail(path, `a function is an object with exactly one key (its name), got ${keys.length} keys`);
  }
  const name = keys[0] as string;
  if (!Object.hasOwn(SPECS, name)) {
    fail(path, `unknown operator ${describeInput(name)}; expected one of ${EXPRESSION_OPERATORS.join(', ')}`);
  }
  const spec = SPECS[name as ExpressionOperator];
  const raw = (value as Record<string, unknown>)[name];
  // Flipper wraps a lone argument in an array (`Array(args)`), so {"Property": "plan"} is valid.
  const rawArgs: unknown[] = Array.isArray(raw) ? raw : raw === null || raw === undefined ? [] : [raw];
  const where = `${path}.${name}`;
  if (rawArgs.length < spec.min || rawArgs.length > spec.max) {
    const expected =
      spec.min === spec.max
        ? `${spec.min}`
        : spec.max === Number.POSITIVE_INFINITY
          ? `at least ${spec.min}`
          : `${spec.min} to ${spec.max}`;
    fail(where, `takes ${expected} argument${expected === '1' ? '' : 's'}, got ${rawArgs.length}`);
  }
  const args = rawArgs.map((arg, i) => {
    const node = compileNode(arg, `${where}[${i}]`, depth + 1);
    checkArgument(spec.param(i), node, `${where}[${i}]`);
    return node;
  });
  if (spec.param(0) === 'ordered') checkOrdered(args[0] as Node, args[1] as Node, where);
  return { evaluate: spec.build(args.map((a) => a.evaluate)), kind: spec.kind };
}

// Two known kinds that Ruby cannot order against each other always raise, so such a comparison
// could never be true: refuse it when it is written.
function checkOrdered(left: Node, right: Node, where: string): void {
  if (left.kind === 'any' || right.kind === 'any' || left.kind === right.kind) return;
  fail(where, `cannot compare ${describeNode(left)} with ${describeNode(right)}`);
}

/** A compiled expression: `evaluate` returns whether the gate opens, and never throws. */
export interface CompiledExpression {
  evaluate(scope: ExpressionScope): boolean;
}

/** Compiles an expression, throwing `FlagTrailError('INVALID_EXPRESSION')` when it is malformed. */
export function compileExpression(expression: JsonObject): CompiledExpression {
  if (expression === null || typeof expression !== 'object' || Array.isArray(expression)) {
    fail(
      'expression',
      `must be a function object such as {"Equal": [...]}, got ${describeInput(expression)}`,
    );
  }
  const root = compileNode(expression, 'expression', 0);
  const run = root.evaluate;
  return {
    evaluate(scope) {
      try {
        // Flipper's gate is `!!expression.evaluate(...)`: Ruby truthiness of whatever comes out.
        return truthy(run(scope));
      } catch {
        // Where Ruby would raise out of `enabled?` the gate stays closed: reads never throw.
        return false;
      }
    },
  };
}

/**
 * Checks that `expression` is a well-formed Flipper expression: known operators, the right number
 * of arguments, arguments of the right type where that is known before evaluation.
 *
 * @throws FlagTrailError with code `INVALID_EXPRESSION`, naming the offending place, such as
 * `expression.Equal[1].Duration: takes 1 to 2 arguments, got 3`.
 */
export function assertValidExpression(expression: JsonObject): void {
  compileExpression(expression);
}

const INVALID: CompiledExpression = { evaluate: () => false };
const cache = new WeakMap<object, CompiledExpression>();

/**
 * The compiled form of a stored expression, cached per object. A malformed expression (one written
 * by another tool or a newer Flipper) compiles to one that never opens.
 */
export function compiledForRead(expression: JsonObject): CompiledExpression {
  let compiled = cache.get(expression);
  if (compiled) return compiled;
  try {
    compiled = compileExpression(expression);
  } catch {
    compiled = INVALID;
  }
  cache.set(expression, compiled);
  return compiled;
}
