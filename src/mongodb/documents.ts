import { describeInput, FlagTrailError } from '../core/errors.js';
import {
  type Actor,
  type AuditContext,
  type AuditEntry,
  type FlagState,
  GATE_KEYS,
  type GateKey,
  type GateValues,
  type JsonObject,
  type JsonPatchOperation,
  type JsonValue,
  OPERATIONS,
  type Operation,
} from '../core/types.js';
import { toJsonValue, validateActor, validateContext, validateFeature } from '../core/validate.js';

/**
 * A JSON value as stored: primitives as themselves; objects and arrays as `{ json: '<JSON text>' }`,
 * because their keys come from users (expressions, contexts) and Mongo field names never hold user
 * data: a key such as `$where` or `a.b` is refused or misread by servers and query languages alike.
 */
export type StoredJson = string | number | boolean | null | { json: string };

/** Gates as stored in an entry: fixed field names, sets as sorted arrays, the expression as JSON text. */
export interface StoredGates {
  boolean: boolean;
  actors: string[];
  groups: string[];
  percentageOfActors: number;
  percentageOfTime: number;
  expression: string | null;
}

/** A flag state as stored in an entry. */
export interface StoredState {
  exists: boolean;
  gates: StoredGates;
}

/** One RFC 6902 operation as stored; `value` encoded like every other JSON value. */
export interface StoredChange {
  op: JsonPatchOperation['op'];
  path: string;
  value?: StoredJson;
  from?: string;
}

/** One document of `flagtrail_audit_entries`. `_id` is the entry id, so a second insert of it is refused. */
export interface AuditDocument {
  _id: string;
  version: 1;
  feature: string;
  operation: Operation;
  gate: GateKey | null;
  value: StoredJson;
  before: StoredState;
  after: StoredState;
  changes: StoredChange[];
  actorId: string;
  actorLabel: string | null;
  actorType: string | null;
  /** The audit context as JSON text. */
  context: string;
  adapter: string;
  createdAt: Date;
}

/** Entry ids are lowercase UUIDs (v7 from the trail); the history cursor relies on it. */
export const ENTRY_ID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

const PATCH_OPS = new Set(['add', 'remove', 'replace', 'move', 'copy', 'test']);

type Fail = (field: string, value: unknown, why?: string) => never;

function failWith(prefix: string): Fail {
  return (field, value, why) => {
    throw new FlagTrailError(
      'MALFORMED_ENTRY',
      `${prefix}: ${field} ${why ?? 'is invalid'}, got ${describeInput(value)}`,
    );
  };
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return value !== null && typeof value === 'object' && !Array.isArray(value);
}

function encodeJson(value: JsonValue): StoredJson {
  if (value === null || typeof value !== 'object') return value;
  return { json: JSON.stringify(value) };
}

function decodeJson(stored: unknown, field: string, fail: Fail): JsonValue {
  if (stored === null || typeof stored === 'string' || typeof stored === 'boolean') return stored;
  if (typeof stored === 'number' && Number.isFinite(stored)) return stored;
  if (isPlainObject(stored) && typeof stored.json === 'string' && Object.keys(stored).length === 1) {
    try {
      const parsed: unknown = JSON.parse(stored.json);
      if (parsed !== null && typeof parsed === 'object') return parsed as JsonValue;
    } catch {
      // reported below
    }
  }
  return fail(field, stored, 'is not an encoded JSON value');
}

function checkString(value: unknown, field: string, fail: Fail): string {
  return typeof value === 'string' ? value : fail(field, value, 'must be a string');
}

function checkPercentage(value: unknown, field: string, fail: Fail): number {
  return typeof value === 'number' && Number.isFinite(value) && value >= 0 && value <= 100
    ? value
    : fail(field, value, 'must be a number from 0 to 100');
}

function checkSet(value: unknown, field: string, fail: Fail): string[] {
  if (!Array.isArray(value) || !value.every((m) => typeof m === 'string')) {
    return fail(field, value, 'must be an array of strings');
  }
  return [...value];
}

function checkGates(
  value: unknown,
  field: string,
  fail: Fail,
  expression: (v: unknown) => JsonObject | null,
) {
  if (!isPlainObject(value)) return fail(field, value, 'must be an object');
  if (typeof value.boolean !== 'boolean') fail(`${field}.boolean`, value.boolean, 'must be a boolean');
  return {
    boolean: value.boolean as boolean,
    actors: checkSet(value.actors, `${field}.actors`, fail),
    groups: checkSet(value.groups, `${field}.groups`, fail),
    percentageOfActors: checkPercentage(value.percentageOfActors, `${field}.percentageOfActors`, fail),
    percentageOfTime: checkPercentage(value.percentageOfTime, `${field}.percentageOfTime`, fail),
    expression: expression(value.expression),
  } satisfies GateValues;
}

function checkState(
  value: unknown,
  field: string,
  fail: Fail,
  expression: (v: unknown, field: string) => JsonObject | null,
): FlagState {
  if (!isPlainObject(value)) return fail(field, value, 'must be an object');
  if (typeof value.exists !== 'boolean') fail(`${field}.exists`, value.exists, 'must be a boolean');
  return {
    exists: value.exists as boolean,
    gates: checkGates(value.gates, `${field}.gates`, fail, (v) => expression(v, `${field}.gates.expression`)),
  };
}

function checkOperation(value: unknown, fail: Fail): Operation {
  return typeof value === 'string' && (OPERATIONS as readonly string[]).includes(value)
    ? (value as Operation)
    : fail('operation', value, `must be one of ${OPERATIONS.join(', ')}`);
}

function checkGate(value: unknown, fail: Fail): GateKey | null {
  if (value === null) return null;
  return typeof value === 'string' && (GATE_KEYS as readonly string[]).includes(value)
    ? (value as GateKey)
    : fail('gate', value, `must be null or one of ${GATE_KEYS.join(', ')}`);
}

function checkDate(value: unknown, fail: Fail): Date {
  return value instanceof Date && !Number.isNaN(value.getTime())
    ? new Date(value.getTime())
    : fail('createdAt', value, 'must be a valid Date');
}

/** Re-throws a core validation error as MALFORMED_ENTRY, keeping its message. */
function asMalformed<T>(prefix: string, field: string, check: () => T): T {
  try {
    return check();
  } catch (error) {
    const message = error instanceof Error ? error.message : String(error);
    throw new FlagTrailError('MALFORMED_ENTRY', `${prefix}: ${field}: ${message}`, { cause: error });
  }
}

/**
 * The document for an entry, after checking every field's type: `record` takes entries from custom
 * code too, and nothing of the wrong type may reach the database.
 */
export function entryToDocument(entry: unknown): AuditDocument {
  const prefix = 'MongoAuditStore.record';
  const fail = failWith(prefix);
  if (!isPlainObject(entry)) return fail('entry', entry, 'must be an object');
  const id = entry.id;
  if (typeof id !== 'string' || !ENTRY_ID.test(id)) fail('id', id, 'must be a lowercase UUID');
  if (entry.version !== 1) fail('version', entry.version, 'must be 1');
  const expression = (v: unknown, field: string): JsonObject | null => {
    if (v === null || v === undefined) return null;
    const json = asMalformed(prefix, field, () => toJsonValue(v, field));
    return isPlainObject(json) ? (json as JsonObject) : fail(field, v, 'must be null or a JSON object');
  };
  const before = checkState(entry.before, 'before', fail, expression);
  const after = checkState(entry.after, 'after', fail, expression);
  if (!Array.isArray(entry.changes)) fail('changes', entry.changes, 'must be an array');
  const changes = (entry.changes as unknown[]).map((op, i): StoredChange => {
    const field = `changes[${i}]`;
    if (!isPlainObject(op) || typeof op.op !== 'string' || !PATCH_OPS.has(op.op)) {
      return fail(field, op, 'must be an RFC 6902 operation');
    }
    const stored: StoredChange = {
      op: op.op as JsonPatchOperation['op'],
      path: checkString(op.path, `${field}.path`, fail),
    };
    if ('value' in op && op.value !== undefined) {
      stored.value = encodeJson(asMalformed(prefix, `${field}.value`, () => toJsonValue(op.value, 'value')));
    }
    if (op.from !== undefined) stored.from = checkString(op.from, `${field}.from`, fail);
    return stored;
  });
  const actor: Actor = asMalformed(prefix, 'actor', () => validateActor(entry.actor));
  const context: AuditContext = asMalformed(prefix, 'context', () => validateContext(entry.context));
  const value =
    entry.value === undefined ? null : asMalformed(prefix, 'value', () => toJsonValue(entry.value));
  const storeState = (state: FlagState): StoredState => ({
    exists: state.exists,
    gates: {
      ...state.gates,
      expression: state.gates.expression === null ? null : JSON.stringify(state.gates.expression),
    },
  });
  return {
    _id: id as string,
    version: 1,
    feature: asMalformed(prefix, 'feature', () => validateFeature(entry.feature)),
    operation: checkOperation(entry.operation, fail),
    gate: checkGate(entry.gate ?? null, fail),
    value: encodeJson(value),
    before: storeState(before),
    after: storeState(after),
    changes,
    actorId: actor.id,
    actorLabel: actor.label ?? null,
    actorType: actor.type ?? null,
    context: JSON.stringify(context),
    adapter: checkString(entry.adapter, 'adapter', fail),
    createdAt: checkDate(entry.createdAt, fail),
  };
}

function parseJsonText(text: unknown, field: string, fail: Fail): JsonObject {
  if (typeof text === 'string') {
    try {
      const parsed: unknown = JSON.parse(text);
      if (isPlainObject(parsed)) return parsed as JsonObject;
    } catch {
      // reported below
    }
  }
  return fail(field, text, 'must be a JSON object as text');
}

/**
 * The entry a stored document holds. Every field is checked: a document written by something else
 * (or edited by hand) is reported as MALFORMED_ENTRY, never returned half-read.
 */
export function documentToEntry(doc: unknown): AuditEntry {
  const rawId = isPlainObject(doc) ? doc._id : undefined;
  const prefix = `MongoAuditStore: stored entry ${typeof rawId === 'string' ? rawId : describeInput(rawId)}`;
  const fail = failWith(prefix);
  if (!isPlainObject(doc)) return fail('document', doc, 'must be an object');
  if (typeof rawId !== 'string' || !ENTRY_ID.test(rawId))
    fail('_id', rawId, 'must be a lowercase UUID string');
  if (doc.version !== 1) fail('version', doc.version, 'must be 1');
  const expression = (v: unknown, field: string): JsonObject | null =>
    v === null ? null : parseJsonText(v, field, fail);
  if (!Array.isArray(doc.changes)) fail('changes', doc.changes, 'must be an array');
  const changes = (doc.changes as unknown[]).map((op, i): JsonPatchOperation => {
    const field = `changes[${i}]`;
    if (!isPlainObject(op) || typeof op.op !== 'string' || !PATCH_OPS.has(op.op)) {
      return fail(field, op, 'must be an RFC 6902 operation');
    }
    const out: Record<string, JsonValue> = { op: op.op, path: checkString(op.path, `${field}.path`, fail) };
    if (op.value !== undefined) out.value = decodeJson(op.value, `${field}.value`, fail);
    if (op.from !== undefined) out.from = checkString(op.from, `${field}.from`, fail);
    return out as unknown as JsonPatchOperation;
  });
  const actor: Actor = { id: checkString(doc.actorId, 'actorId', fail) };
  if (actor.id.length === 0) fail('actorId', doc.actorId, 'must not be empty');
  if (doc.actorLabel !== null && doc.actorLabel !== undefined) {
    actor.label = checkString(doc.actorLabel, 'actorLabel', fail);
  }
  if (doc.actorType !== null && doc.actorType !== undefined) {
    actor.type = checkString(doc.actorType, 'actorType', fail);
  }
  const feature = checkString(doc.feature, 'feature', fail);
  if (feature.length === 0) fail('feature', feature, 'must not be empty');
  return {
    id: rawId as string,
    version: 1,
    feature,
    operation: checkOperation(doc.operation, fail),
    gate: checkGate(doc.gate, fail),
    value: decodeJson(doc.value, 'value', fail),
    before: checkState(doc.before, 'before', fail, expression),
    after: checkState(doc.after, 'after', fail, expression),
    changes,
    actor,
    context: parseJsonText(doc.context, 'context', fail) as AuditContext,
    adapter: checkString(doc.adapter, 'adapter', fail),
    createdAt: checkDate(doc.createdAt, fail),
  };
}
