import { describeInput, FlagTrailError } from './errors.js';
import { assertValidExpression } from './evaluate/expression.js';
import {
  type Actor,
  type AuditContext,
  GATE_KEYS,
  type GateKey,
  type GateValue,
  type JsonObject,
  type JsonValue,
  type NormalizedHistoryQuery,
  OPERATIONS,
  type Operation,
} from './types.js';

/** Longest feature key, actor id or group name: Flipper's SQL columns are varchar(255). */
export const MAX_KEY_LENGTH = 255;
/** History pages hold at most this many entries. */
export const MAX_HISTORY_LIMIT = 1000;
/** History pages hold this many entries when the query names no limit. */
export const DEFAULT_HISTORY_LIMIT = 100;
/** Nesting deeper than this in a context or expression is refused (and stops runaway recursion). */
export const MAX_JSON_DEPTH = 64;

// C0 controls and DEL: invisible in logs and UIs, a classic way to forge look-alike keys.
// biome-ignore lint/suspicious/noControlCharactersInRegex: the point is to find them
const CONTROL_CHARS = /[\u0000-\u001f\u007f]/;

function checkKey(kind: string, code: 'INVALID_FEATURE' | 'INVALID_VALUE', value: unknown): string {
  if (typeof value !== 'string') {
    throw new FlagTrailError(code, `${kind} must be a string, got ${describeInput(value)}`);
  }
  if (value.length === 0) throw new FlagTrailError(code, `${kind} must not be empty`);
  if (value.length > MAX_KEY_LENGTH) {
    throw new FlagTrailError(
      code,
      `${kind} must be at most ${MAX_KEY_LENGTH} characters, got ${value.length}`,
    );
  }
  if (CONTROL_CHARS.test(value)) {
    throw new FlagTrailError(
      code,
      `${kind} must not contain control characters, got ${describeInput(value)}`,
    );
  }
  return value;
}

/** A feature key: a non-empty string of at most 255 characters without control characters. */
export function validateFeature(feature: unknown): string {
  return checkKey('feature key', 'INVALID_FEATURE', feature);
}

/** Each of a list of feature keys. */
export function validateFeatures(features: unknown): string[] {
  if (!Array.isArray(features)) {
    throw new FlagTrailError('INVALID_FEATURE', `features must be an array, got ${describeInput(features)}`);
  }
  return features.map(validateFeature);
}

/** One of the six gate keys. */
export function validateGate(gate: unknown): GateKey {
  if (typeof gate !== 'string' || !(GATE_KEYS as readonly string[]).includes(gate)) {
    throw new FlagTrailError(
      'INVALID_GATE',
      `unknown gate ${describeInput(gate)}; expected one of ${GATE_KEYS.join(', ')}`,
    );
  }
  return gate as GateKey;
}

/** A percentage: a finite number in 0..100 with at most three decimals; -0 becomes 0. */
export function validatePercentage(value: unknown, gate = 'percentage'): number {
  if (typeof value !== 'number' || !Number.isFinite(value)) {
    throw new FlagTrailError('INVALID_VALUE', `${gate} must be a finite number, got ${describeInput(value)}`);
  }
  if (value < 0 || value > 100) {
    throw new FlagTrailError('INVALID_VALUE', `${gate} must be between 0 and 100, got ${value}`);
  }
  if (Number(value.toFixed(3)) !== value) {
    throw new FlagTrailError('INVALID_VALUE', `${gate} may have at most 3 decimals, got ${value}`);
  }
  return value === 0 ? 0 : value;
}

/**
 * The value of an enable/disable call for a gate, normalized: `true` for boolean enable, a
 * member id for actors/groups, a percentage, or a JSON object for expression.
 */
export function validateGateValue(operation: 'enable' | 'disable', gate: GateKey, value: unknown): GateValue {
  switch (gate) {
    case 'boolean':
      if (typeof value !== 'boolean') {
        throw new FlagTrailError(
          'INVALID_VALUE',
          `boolean gate value must be a boolean, got ${describeInput(value)}`,
        );
      }
      if (operation === 'enable' && value !== true) {
        throw new FlagTrailError(
          'INVALID_VALUE',
          'enabling the boolean gate takes true; use disable to turn it off',
        );
      }
      return value;
    case 'actors':
      return checkKey('actor id', 'INVALID_VALUE', value);
    case 'groups':
      return checkKey('group name', 'INVALID_VALUE', value);
    case 'percentageOfActors':
    case 'percentageOfTime':
      return validatePercentage(value, gate);
    case 'expression': {
      // Disabling clears the gate whatever it held, so the value is not checked as an expression.
      if (operation === 'disable' && (value === null || value === undefined)) return {};
      const expression = toJsonObject(value, 'expression', 'INVALID_EXPRESSION');
      if (operation === 'enable') assertValidExpression(expression);
      return expression;
    }
  }
}

/** An actor: an object with a non-empty string `id` and optional string `label` and `type`. */
export function validateActor(actor: unknown): Actor {
  if (actor === null || typeof actor !== 'object' || Array.isArray(actor)) {
    throw new FlagTrailError(
      'INVALID_ACTOR',
      `actor must be an object with an id, got ${describeInput(actor)}`,
    );
  }
  const { id, label, type } = actor as Record<string, unknown>;
  if (typeof id !== 'string' || id.length === 0) {
    throw new FlagTrailError(
      'INVALID_ACTOR',
      `actor.id must be a non-empty string, got ${describeInput(id)}`,
    );
  }
  if (id.length > MAX_KEY_LENGTH) {
    throw new FlagTrailError('INVALID_ACTOR', `actor.id must be at most ${MAX_KEY_LENGTH} characters`);
  }
  const result: Actor = { id };
  for (const [field, v] of [
    ['label', label],
    ['type', type],
  ] as const) {
    if (v === undefined || v === null) continue;
    if (typeof v !== 'string') {
      throw new FlagTrailError('INVALID_ACTOR', `actor.${field} must be a string, got ${describeInput(v)}`);
    }
    result[field] = v;
  }
  return result;
}

/**
 * A deep, validated copy of a JSON value: no functions, symbols, bigints, non-finite numbers,
 * cycles or excessive nesting; `undefined` object members are dropped; `__proto__` and
 * `constructor` keys are kept as plain data, never as prototypes.
 */
export function toJsonValue(
  value: unknown,
  what = 'value',
  code: 'INVALID_VALUE' | 'INVALID_CONTEXT' | 'INVALID_EXPRESSION' = 'INVALID_VALUE',
): JsonValue {
  const seen = new Set<object>();
  const walk = (v: unknown, path: string, depth: number): JsonValue => {
    if (v === null || typeof v === 'string' || typeof v === 'boolean') return v;
    if (typeof v === 'number') {
      if (!Number.isFinite(v)) throw new FlagTrailError(code, `${path} must be a finite number, got ${v}`);
      return v === 0 ? 0 : v;
    }
    if (v instanceof Date) {
      if (Number.isNaN(v.getTime())) throw new FlagTrailError(code, `${path} is an invalid Date`);
      return v.toISOString();
    }
    if (typeof v !== 'object') {
      throw new FlagTrailError(code, `${path} is not JSON: ${typeof v}`);
    }
    if (depth >= MAX_JSON_DEPTH) {
      throw new FlagTrailError(code, `${path} is nested more than ${MAX_JSON_DEPTH} levels deep`);
    }
    if (seen.has(v)) throw new FlagTrailError(code, `${path} contains a circular reference`);
    seen.add(v);
    let out: JsonValue;
    if (Array.isArray(v)) {
      out = v.map((item, i) => walk(item, `${path}[${i}]`, depth + 1));
    } else {
      const proto = Object.getPrototypeOf(v);
      if (proto !== Object.prototype && proto !== null) {
        throw new FlagTrailError(
          code,
          `${path} must be a plain object, got ${proto?.constructor?.name ?? 'an object'}`,
        );
      }
      const obj: JsonObject = {};
      for (const key of Object.keys(v)) {
        const item = (v as Record<string, unknown>)[key];
        if (item === undefined) continue;
        // defineProperty keeps a "__proto__" key as data instead of replacing the prototype.
        Object.defineProperty(obj, key, {
          value: walk(item, `${path}.${key}`, depth + 1),
          enumerable: true,
          writable: true,
          configurable: true,
        });
      }
      out = obj;
    }
    seen.delete(v);
    return out;
  };
  return walk(value, what, 0);
}

/** A JSON object (not an array, not null), deep-copied and validated like `toJsonValue`. */
export function toJsonObject(
  value: unknown,
  what: string,
  code: 'INVALID_VALUE' | 'INVALID_CONTEXT' | 'INVALID_EXPRESSION',
): JsonObject {
  if (value === null || typeof value !== 'object' || Array.isArray(value) || value instanceof Date) {
    throw new FlagTrailError(code, `${what} must be a JSON object, got ${describeInput(value)}`);
  }
  return toJsonValue(value, what, code) as JsonObject;
}

/** An audit context: a JSON object; the well-known fields, when present, are strings. */
export function validateContext(context: unknown): AuditContext {
  if (context === undefined || context === null) return {};
  const copy = toJsonObject(context, 'context', 'INVALID_CONTEXT') as AuditContext;
  for (const field of ['reason', 'requestId', 'ip', 'userAgent'] as const) {
    const v = copy[field];
    if (v !== undefined && typeof v !== 'string') {
      throw new FlagTrailError(
        'INVALID_CONTEXT',
        `context.${field} must be a string, got ${describeInput(v)}`,
      );
    }
  }
  return copy;
}

function optionalString(query: Record<string, unknown>, field: string): string | undefined {
  const v = query[field];
  if (v === undefined) return undefined;
  if (typeof v !== 'string' || v.length === 0) {
    throw new FlagTrailError(
      'INVALID_QUERY',
      `history ${field} must be a non-empty string, got ${describeInput(v)}`,
    );
  }
  return v;
}

function optionalDate(query: Record<string, unknown>, field: string): Date | undefined {
  const v = query[field];
  if (v === undefined) return undefined;
  let date: Date | undefined;
  if (v instanceof Date) date = new Date(v.getTime());
  else if (typeof v === 'string' && v.length > 0) date = new Date(v);
  else if (typeof v === 'number' && Number.isFinite(v)) date = new Date(v);
  if (date === undefined || Number.isNaN(date.getTime())) {
    throw new FlagTrailError(
      'INVALID_QUERY',
      `history ${field} must be a valid date, got ${describeInput(v)}`,
    );
  }
  return date;
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

/**
 * A history query, validated and normalized: every filter of the right type (an object where a
 * string belongs is refused, never passed to a store), limit 1..1000 defaulting to 100.
 */
export function validateHistoryQuery(query: unknown): NormalizedHistoryQuery {
  if (query === undefined || query === null) return { limit: DEFAULT_HISTORY_LIMIT };
  if (typeof query !== 'object' || Array.isArray(query)) {
    throw new FlagTrailError('INVALID_QUERY', `history query must be an object, got ${describeInput(query)}`);
  }
  const q = query as Record<string, unknown>;
  const known = new Set(['feature', 'actorId', 'operation', 'gate', 'since', 'until', 'limit', 'before']);
  for (const key of Object.keys(q)) {
    if (!known.has(key)) {
      throw new FlagTrailError('INVALID_QUERY', `unknown history filter ${describeInput(key)}`);
    }
  }
  const out: NormalizedHistoryQuery = { limit: DEFAULT_HISTORY_LIMIT };
  const feature = optionalString(q, 'feature');
  if (feature !== undefined) out.feature = feature;
  const actorId = optionalString(q, 'actorId');
  if (actorId !== undefined) out.actorId = actorId;
  if (q.operation !== undefined) {
    const ops = Array.isArray(q.operation) ? q.operation : [q.operation];
    if (ops.length === 0)
      throw new FlagTrailError('INVALID_QUERY', 'history operation list must not be empty');
    for (const op of ops) {
      if (typeof op !== 'string' || !(OPERATIONS as readonly string[]).includes(op)) {
        throw new FlagTrailError(
          'INVALID_QUERY',
          `unknown history operation ${describeInput(op)}; expected one of ${OPERATIONS.join(', ')}`,
        );
      }
    }
    out.operations = [...new Set(ops as Operation[])];
  }
  if (q.gate !== undefined) {
    try {
      out.gate = validateGate(q.gate);
    } catch (error) {
      throw new FlagTrailError('INVALID_QUERY', `history gate: ${(error as Error).message}`);
    }
  }
  const since = optionalDate(q, 'since');
  if (since) out.since = since;
  const until = optionalDate(q, 'until');
  if (until) out.until = until;
  if (q.limit !== undefined) {
    const limit = q.limit;
    if (typeof limit !== 'number' || !Number.isInteger(limit) || limit < 1 || limit > MAX_HISTORY_LIMIT) {
      throw new FlagTrailError(
        'INVALID_QUERY',
        `history limit must be an integer from 1 to ${MAX_HISTORY_LIMIT}, got ${describeInput(limit)}`,
      );
    }
    out.limit = limit;
  }
  if (q.before !== undefined) {
    if (typeof q.before !== 'string' || !UUID.test(q.before)) {
      throw new FlagTrailError(
        'INVALID_QUERY',
        `history cursor "before" must be an entry id (a lowercase UUID), got ${describeInput(q.before)}`,
      );
    }
    out.before = q.before;
  }
  return out;
}
