import { describe, expect, it } from 'vitest';
import { isFlagTrailError } from './errors.js';
import {
  toJsonValue,
  validateActor,
  validateContext,
  validateFeature,
  validateGate,
  validateGateValue,
  validateHistoryQuery,
} from './validate.js';

function codeOf(fn: () => unknown): string | undefined {
  try {
    fn();
  } catch (error) {
    expect(isFlagTrailError(error), String(error)).toBe(true);
    return (error as { code: string }).code;
  }
  return undefined;
}

describe('validation', () => {
  const circular: Record<string, unknown> = { a: 1 };
  circular.self = circular;
  const deep: Record<string, unknown> = {};
  let cursor = deep;
  for (let i = 0; i < 100; i++) {
    cursor.next = {};
    cursor = cursor.next as Record<string, unknown>;
  }

  const table: Array<[string, () => unknown, string]> = [
    ['empty feature key', () => validateFeature(''), 'INVALID_FEATURE'],
    ['number as feature key', () => validateFeature(1), 'INVALID_FEATURE'],
    ['operator object as feature key', () => validateFeature({ $ne: null }), 'INVALID_FEATURE'],
    ['feature key over 255 chars', () => validateFeature('x'.repeat(256)), 'INVALID_FEATURE'],
    ['control character in feature key', () => validateFeature('a\nb'), 'INVALID_FEATURE'],
    ['unknown gate', () => validateGate('percentage'), 'INVALID_GATE'],
    ['gate as object', () => validateGate({}), 'INVALID_GATE'],
    ['percentage 150', () => validateGateValue('enable', 'percentageOfActors', 150), 'INVALID_VALUE'],
    ['percentage -0.001', () => validateGateValue('enable', 'percentageOfTime', -0.001), 'INVALID_VALUE'],
    ['percentage NaN', () => validateGateValue('enable', 'percentageOfTime', Number.NaN), 'INVALID_VALUE'],
    [
      'percentage Infinity',
      () => validateGateValue('enable', 'percentageOfTime', Number.POSITIVE_INFINITY),
      'INVALID_VALUE',
    ],
    [
      'percentage with 4 decimals',
      () => validateGateValue('enable', 'percentageOfActors', 33.3333),
      'INVALID_VALUE',
    ],
    ['percentage as string', () => validateGateValue('enable', 'percentageOfActors', '5'), 'INVALID_VALUE'],
    ['empty actor id', () => validateGateValue('enable', 'actors', ''), 'INVALID_VALUE'],
    ['empty group name', () => validateGateValue('disable', 'groups', ''), 'INVALID_VALUE'],
    ['actor id as object', () => validateGateValue('enable', 'actors', { $gt: '' }), 'INVALID_VALUE'],
    ['boolean enable with false', () => validateGateValue('enable', 'boolean', false), 'INVALID_VALUE'],
    ['boolean as string', () => validateGateValue('enable', 'boolean', 'true'), 'INVALID_VALUE'],
    ['expression as array', () => validateGateValue('enable', 'expression', []), 'INVALID_EXPRESSION'],
    [
      'expression as string',
      () => validateGateValue('enable', 'expression', '{"Boolean":[true]}'),
      'INVALID_EXPRESSION',
    ],
    [
      'expression with a function',
      () => validateGateValue('enable', 'expression', { f: () => 1 }),
      'INVALID_EXPRESSION',
    ],
    ['actor without id', () => validateActor({ label: 'x' }), 'INVALID_ACTOR'],
    ['actor with empty id', () => validateActor({ id: '' }), 'INVALID_ACTOR'],
    ['actor as string', () => validateActor('ada'), 'INVALID_ACTOR'],
    ['actor label as number', () => validateActor({ id: 'a', label: 5 }), 'INVALID_ACTOR'],
    ['circular context', () => validateContext(circular), 'INVALID_CONTEXT'],
    ['context nested 100 deep', () => validateContext(deep), 'INVALID_CONTEXT'],
    ['context with bigint', () => validateContext({ n: 1n }), 'INVALID_CONTEXT'],
    ['context reason as number', () => validateContext({ reason: 5 }), 'INVALID_CONTEXT'],
    ['context as array', () => validateContext(['a']), 'INVALID_CONTEXT'],
    ['context with NaN', () => validateContext({ n: Number.NaN }), 'INVALID_CONTEXT'],
    ['context with a class instance', () => validateContext({ m: new Map() }), 'INVALID_CONTEXT'],
    ['query feature as object', () => validateHistoryQuery({ feature: { $ne: null } }), 'INVALID_QUERY'],
    ['query limit 0', () => validateHistoryQuery({ limit: 0 }), 'INVALID_QUERY'],
    ['query limit 1001', () => validateHistoryQuery({ limit: 1001 }), 'INVALID_QUERY'],
    ['query unparseable since', () => validateHistoryQuery({ since: 'last tuesday' }), 'INVALID_QUERY'],
    ['query invalid Date until', () => validateHistoryQuery({ until: new Date('x') }), 'INVALID_QUERY'],
    ['query unknown operation', () => validateHistoryQuery({ operation: 'delete' }), 'INVALID_QUERY'],
    ['query unknown gate', () => validateHistoryQuery({ gate: 'everyone' }), 'INVALID_QUERY'],
    ['query cursor not an id', () => validateHistoryQuery({ before: '1 OR 1=1' }), 'INVALID_QUERY'],
    ['query unknown filter', () => validateHistoryQuery({ actor: 'ada' }), 'INVALID_QUERY'],
    ['query as array', () => validateHistoryQuery([]), 'INVALID_QUERY'],
  ];

  it.each(table)('%s is refused', (_name, fn, code) => {
    expect(codeOf(fn)).toBe(code);
  });

  it('messages name the problem', () => {
    expect(() => validateGateValue('enable', 'percentageOfActors', 150)).toThrow(
      'percentageOfActors must be between 0 and 100, got 150',
    );
    expect(() => validateGate('everyone')).toThrow(/unknown gate "everyone"; expected one of boolean/);
    expect(() => validateHistoryQuery({ limit: 5000 })).toThrow(
      'history limit must be an integer from 1 to 1000, got 5000',
    );
  });

  it('normalizes what it accepts', () => {
    expect(validateGateValue('enable', 'percentageOfActors', -0)).toBe(0);
    expect(Object.is(validateGateValue('enable', 'percentageOfActors', -0), 0)).toBe(true);
    expect(validateGateValue('enable', 'percentageOfTime', 12.345)).toBe(12.345);
    expect(validateGateValue('disable', 'expression', null)).toEqual({});
    expect(validateActor({ id: 'a', label: null, extra: 1 })).toEqual({ id: 'a' });
    expect(validateHistoryQuery(undefined)).toEqual({ limit: 100 });
    expect(
      validateHistoryQuery({ operation: ['add', 'add'], since: '2026-01-01T00:00:00Z', limit: 5 }),
    ).toEqual({
      operations: ['add'],
      since: new Date('2026-01-01T00:00:00Z'),
      limit: 5,
    });
  });

  it('keeps __proto__ and constructor keys as data', () => {
    const input = JSON.parse('{"__proto__": {"polluted": true}, "constructor": "x"}');
    const copy = toJsonValue(input) as Record<string, unknown>;
    expect(Object.keys(copy)).toEqual(['__proto__', 'constructor']);
    expect(Object.getPrototypeOf(copy)).toBe(Object.prototype);
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
  });
});
