import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { defaultGates } from '../core/gates.js';
import type { AuditEntry, JsonObject, JsonValue } from '../core/types.js';
import { toJsonValue } from '../core/validate.js';
import { makeAuditEntry } from '../testing/entries.js';
import { documentToEntry, entryToDocument } from './documents.js';

const FIXED_FIELDS = new Set([
  '_id',
  'version',
  'feature',
  'operation',
  'gate',
  'value',
  'before',
  'after',
  'exists',
  'gates',
  'boolean',
  'actors',
  'groups',
  'percentageOfActors',
  'percentageOfTime',
  'expression',
  'changes',
  'op',
  'path',
  'from',
  'json',
  'actorId',
  'actorLabel',
  'actorType',
  'context',
  'adapter',
  'createdAt',
]);

function fieldNames(value: unknown, into: string[] = []): string[] {
  if (Array.isArray(value)) for (const item of value) fieldNames(item, into);
  else if (value !== null && typeof value === 'object' && !(value instanceof Date)) {
    for (const [key, item] of Object.entries(value)) {
      into.push(key);
      fieldNames(item, into);
    }
  }
  return into;
}

// Keys users might pick to confuse a query language: operators, paths, prototype names.
const hostileKey = fc.oneof(
  fc.constantFrom('$where', '$ne', 'a.b', '.', '$', '__proto__', 'constructor', '$set.x'),
  fc.string({ minLength: 1, maxLength: 8 }),
);
const json = fc.letrec((tie) => ({
  value: fc.oneof(
    { depthSize: 'small' },
    fc.constant(null),
    fc.boolean(),
    fc.string(),
    fc.double({ noNaN: true, noDefaultInfinity: true }),
    fc.array(tie('value'), { maxLength: 3 }),
    fc.dictionary(hostileKey, tie('value'), { maxKeys: 3 }),
  ),
})).value as fc.Arbitrary<JsonValue>;
const object = fc.dictionary(hostileKey, json, { maxKeys: 4 }) as fc.Arbitrary<JsonObject>;

describe('audit documents', () => {
  it('round-trip any entry exactly, and user keys never become field names', () => {
    fc.assert(
      fc.property(
        json,
        object,
        object,
        fc.array(fc.string({ minLength: 1 }), { maxLength: 4 }),
        (value, context, expression, actors) => {
          const entry = makeAuditEntry({
            gate: 'expression',
            value,
            context: toJsonValue(context) as JsonObject,
            after: {
              exists: true,
              gates: { ...defaultGates(), actors, expression: toJsonValue(expression) as JsonObject },
            },
          });
          const normalized: AuditEntry = { ...entry, value: toJsonValue(value) };
          const doc = entryToDocument(entry);
          for (const name of fieldNames(doc)) expect(FIXED_FIELDS.has(name), name).toBe(true);
          // Through BSON-like structured cloning, as the driver would copy it.
          expect(documentToEntry(structuredClone(doc))).toEqual(normalized);
        },
      ),
      { numRuns: 200 },
    );
  });

  it('keeps dates as Dates and optional actor fields absent', () => {
    const entry = makeAuditEntry({ actor: { id: 'system' }, createdAt: new Date(1_700_000_000_123) });
    const back = documentToEntry(entryToDocument(entry));
    expect(back.createdAt).toEqual(new Date(1_700_000_000_123));
    expect(back.actor).toEqual({ id: 'system' });
    expect(Object.keys(back.actor)).toEqual(['id']);
  });
});
